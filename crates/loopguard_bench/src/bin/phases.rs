//! `loopguard-phases`: where a loopguard check spends its time.
//!
//! Runs the engine's public steps one by one with a clock around each (config and catalog,
//! walk, module names, load, index, analysis, filter and report, cache), and splits the
//! load of the requested files into read, byte scan, parse and lowering by redoing them
//! separately. Timing lives here rather than in the engine so that loopguard itself carries
//! no instrumentation.
//!
//! ```text
//! loopguard-phases PATH [--threads N] [--json]
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use loopguard_core::facts::{FileFacts, Language};
use loopguard_engine::{Settings, discover, filter, load};
use rayon::prelude::*;

#[derive(Parser)]
#[command(
    name = "loopguard-phases",
    about = "Times each phase of a loopguard check"
)]
struct Args {
    /// The folder to check (as `loopguard check PATH`).
    path: PathBuf,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Skip the cache phases (which write a cache into a temporary folder).
    #[arg(long)]
    no_cache_phases: bool,
    /// Write the paths of the files the check parsed (one per line) to this file, for
    /// `loopguard-parse-floor --files-from` (the parse floor of exactly those files).
    #[arg(long)]
    parsed_list: Option<PathBuf>,
}

/// Named wall times, in order, plus counts.
#[derive(Default)]
struct Timings {
    phases: Vec<(&'static str, Duration, String)>,
}

impl Timings {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.phases.push((name, start.elapsed(), String::new()));
        out
    }

    fn note(&mut self, note: String) {
        if let Some(last) = self.phases.last_mut() {
            last.2 = note;
        }
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // SAFETY: first statement of main: no tree-sitter object exists yet, no other thread.
    unsafe { loopguard_python::use_mimalloc_for_parser() };
    let args = Args::parse();
    let pool = match loopguard_bench::pool(args.threads) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("loopguard-phases: {e}");
            return ExitCode::from(2);
        }
    };
    match pool.install(|| run(&args)) {
        Ok(t) => {
            print(&t, args.json);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loopguard-phases: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<Timings, String> {
    let mut t = Timings::default();
    let settings = Settings {
        paths: vec![args.path.clone()],
        threads: Some(args.threads),
        no_cache: true,
        ..Settings::default()
    };
    let resolved = t
        .time("config + catalog", || loopguard_engine::resolve(&settings))
        .map_err(|e| e.to_string())?;
    let threads = rayon::current_num_threads();
    let mut excludes = resolved.config.exclude.clone();
    excludes.extend(resolved.config.extend_exclude.iter().cloned());
    let requested = [args.path.clone()];
    let discovered = t
        .time("walk (discover)", || {
            discover::discover(&resolved.root, &requested, &excludes, threads)
        })
        .map_err(|e| e.to_string())?;
    let files = discovered.files;
    let n_requested = files.iter().filter(|f| f.requested).count();
    t.note(format!("{} files, {n_requested} requested", files.len()));
    let mut src_roots: Vec<PathBuf> = resolved
        .config
        .src
        .iter()
        .map(|s| resolved.root.join(s))
        .collect();
    src_roots.extend(discovered.foreign_roots.iter().cloned());
    let infos = t.time("module names", || {
        load::module_infos(&files, &resolved.root, &src_roots)
    });

    // The first round, redone step by step on the requested files.
    let wanted: Vec<usize> = (0..files.len()).filter(|&i| files[i].requested).collect();
    let texts: Vec<Option<String>> = t.time("  read requested", || {
        wanted
            .par_iter()
            .map(|&i| {
                std::fs::read(&files[i].abs)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
            })
            .collect()
    });
    let bytes: usize = texts.iter().flatten().map(String::len).sum();
    t.note(format!("{bytes} bytes"));
    let scan = load::RootScan::new(&resolved.catalog);
    let is_async: Vec<bool> = t.time("  byte scan", || {
        texts
            .par_iter()
            .zip(&wanted)
            .map(|(s, &i)| {
                s.as_deref()
                    .is_some_and(|s| scan.may_have_roots(files[i].language, s))
            })
            .collect()
    });
    let firsts: Vec<(usize, &str)> = wanted
        .iter()
        .zip(&texts)
        .zip(&is_async)
        .filter(|(_, a)| **a)
        .filter_map(|((&i, s), _)| s.as_deref().map(|s| (i, s)))
        .collect();
    let async_bytes: usize = firsts.iter().map(|(_, s)| s.len()).sum();
    t.time("  parse async files", || {
        firsts.par_iter().for_each(|(i, s)| {
            match files[*i].language {
                Language::Python => {
                    loopguard_bench::floor::parse_python(s);
                }
                Language::Rust => {
                    loopguard_bench::floor::parse_rust(s);
                }
            };
        })
    });
    t.note(format!("{} files, {async_bytes} bytes", firsts.len()));
    let first_facts: Vec<FileFacts> = t.time("  parse + lower async files", || {
        firsts
            .par_iter()
            .map(|(i, s)| {
                let (f, info) = (&files[*i], &infos[*i]);
                let mut facts = match f.language {
                    Language::Python => {
                        loopguard_python::lower(&f.rel, &info.name, info.is_init, s)
                    }
                    Language::Rust => loopguard_rust::lower(&f.rel, &info.name, s, info.edition),
                };
                facts.suppressions = loopguard_core::suppression::scan(s);
                facts
            })
            .collect()
    });
    drop(first_facts);
    let first_count = firsts.len();
    drop(firsts);
    drop(texts);

    // The engine's own load: the first round plus demanded modules, no cache.
    let infos_again = load::module_infos(&files, &resolved.root, &src_roots);
    let loaded = t
        .time("load (engine, with demand)", || {
            load::load_project(&files, infos_again, &resolved.config, &scan, None)
        })
        .map_err(|e| e.to_string())?;
    if let Some(list) = &args.parsed_list {
        let text: String = loaded
            .facts
            .iter()
            .map(|(i, _)| format!("{}\n", files[*i].abs.display()))
            .collect();
        std::fs::write(list, text).map_err(|e| format!("{}: {e}", list.display()))?;
    }
    let parsed_paths: Vec<PathBuf> = loaded
        .facts
        .iter()
        .map(|(i, _)| files[*i].abs.clone())
        .collect();
    let facts: Vec<FileFacts> = loaded.facts.into_iter().map(|(_, f)| f).collect();
    let demanded = facts.len().saturating_sub(first_count);
    t.note(format!("{} parsed ({demanded} demanded)", facts.len()));
    let same_bytes = t.time("  floor: read + parse the same files", || {
        parsed_paths
            .par_iter()
            .map(|p| {
                let Ok(text) = std::fs::read_to_string(p) else {
                    return 0;
                };
                match loopguard_core::facts::Language::from_path(p) {
                    Some(Language::Python) => {
                        loopguard_bench::floor::parse_python(&text);
                    }
                    Some(Language::Rust) => {
                        loopguard_bench::floor::parse_rust(&text);
                    }
                    None => {}
                }
                text.len()
            })
            .sum::<usize>()
    });
    t.note(format!("{} files, {same_bytes} bytes", parsed_paths.len()));
    let n_functions: usize = facts.iter().map(|f| f.functions.len()).sum();
    let n_calls: usize = facts
        .iter()
        .flat_map(|f| &f.functions)
        .map(|f| f.calls.len())
        .sum();
    t.time("index", || {
        drop(loopguard_analysis::index::Index::build(&facts));
    });
    t.note(format!("{n_functions} functions, {n_calls} call sites"));
    let options = loopguard_analysis::Options {
        max_depth: resolved.config.max_depth(),
        direct_only: resolved.config.direct_only,
    };
    let diagnostics = t.time("analysis (incl. index)", || {
        loopguard_analysis::analyze(&facts, &resolved.catalog, &options)
    });
    t.note(format!("{} raw diagnostics", diagnostics.len()));
    let requested_paths: HashSet<&str> = files
        .iter()
        .filter(|f| f.requested)
        .map(|f| f.rel.as_str())
        .collect();
    let filter =
        filter::Filter::new(&resolved.config, &resolved.root).map_err(|e| e.to_string())?;
    let diagnostics = t.time("filter + sort", || {
        filter.apply(diagnostics, &facts, &requested_paths)
    });
    let report_bytes = t.time("report (json)", || {
        let source = |_: &str| -> Option<Arc<str>> { None };
        let report = loopguard_report::Report {
            diagnostics: &diagnostics,
            notifications: &[],
            files_checked: n_requested,
            tool_version: "bench",
            source: &source,
            root_uri: None,
            statistics: false,
            fixed_baseline_entries: None,
        };
        let mut out = Vec::new();
        let _ = loopguard_report::write(&loopguard_report::Format::Json, &report, &mut out);
        out.len()
    });
    t.note(format!(
        "{} diagnostics, {report_bytes} bytes",
        diagnostics.len()
    ));
    if !args.no_cache_phases {
        cache_phases(&mut t, &args.path, args.threads, &files)?;
    }
    Ok(t)
}

/// Whole checks through the engine with a cache in a temporary folder: the first one
/// writes it, the second finds nothing changed, and the parts of the cache on their own.
fn cache_phases(
    t: &mut Timings,
    path: &Path,
    threads: usize,
    files: &[loopguard_engine::SourceFile],
) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("loopguard-phases-{}", std::process::id()));
    let settings = Settings {
        paths: vec![path.to_path_buf()],
        threads: Some(threads),
        cache_dir: Some(dir.clone()),
        ..Settings::default()
    };
    let result = (|| {
        t.time("check, cache empty (writes it)", || {
            loopguard_engine::check(&settings)
        })
        .map_err(|e| e.to_string())?;
        t.time("check, nothing changed", || {
            loopguard_engine::check(&settings)
        })
        .map_err(|e| e.to_string())?;
        let mut cache = t.time("  cache: open (index)", || {
            loopguard_engine::cache::Cache::open(&dir, &[])
        });
        t.note(format!("{} entries", cache.index.entries.len()));
        t.time("  cache: stat every file", || {
            files.par_iter().for_each(|f| {
                let _ = std::fs::metadata(&f.abs);
            })
        });
        let rels: Vec<String> = cache
            .index
            .entries
            .iter()
            .filter(|(_, e)| e.parsed)
            .map(|(r, _)| r.clone())
            .collect();
        let mut got = 0;
        // Facts are decoded when a run takes them, in parallel, as the engine's load does.
        t.time("  cache: load and decode all facts", || {
            let taken: Vec<_> = rels.iter().filter_map(|r| cache.take_facts(r)).collect();
            got = taken
                .into_par_iter()
                .map(|f| usize::from(f.decode().is_ok()))
                .sum();
        });
        t.note(format!("{got} files' facts"));
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn print(t: &Timings, json: bool) {
    if json {
        let phases: Vec<serde_json::Value> = t
            .phases
            .iter()
            .map(|(name, d, note)| {
                serde_json::json!({"phase": shown_name(name), "seconds": d.as_secs_f64(), "note": note})
            })
            .collect();
        println!("{}", serde_json::Value::Array(phases));
        return;
    }
    println!("| phase | seconds | |");
    println!("|---|---:|---|");
    for (name, d, note) in &t.phases {
        println!("| {} | {:.3} | {note} |", shown_name(name), d.as_secs_f64());
    }
}

/// Sub-steps are indented with two spaces in their names; shown with a leading dot.
fn shown_name(name: &str) -> String {
    match name.strip_prefix("  ") {
        Some(sub) => format!("· {sub}"),
        None => name.to_string(),
    }
}
