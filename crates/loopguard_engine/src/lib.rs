//! The engine: config resolution, file discovery, the demand-driven parallel parse, the
//! analysis, and filtering (select/ignore, per-file ignores, noqa, confidence).
//!
//! Parse only what can matter: a byte scan picks the requested files that contain async
//! code; they are parsed first; the modules their calls and types name are parsed next,
//! transitively; nothing else is parsed.

pub mod baseline;
pub mod cache;
pub mod demand;
pub mod discover;
pub mod filter;
pub mod fix;
pub mod load;
pub mod memory;
mod same_files;
mod shift;

use rustc_hash::FxHashMap as HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use loopguard_analysis::chains::{self, HotFunction, hot_function};
use loopguard_analysis::kept;
use loopguard_analysis::resolve::{Resolution, external_call_resolution, offloads_alone};
use loopguard_analysis::{direct_findings, may_switch};
use loopguard_core::catalog::{Catalog, LanguageCatalog};
use loopguard_core::config::{self, Config};
use loopguard_core::diagnostic::{Confidence, Diagnostic, Hop, Notification, NotificationLevel};
use loopguard_core::facts::{
    Alias, CallKind, CallSite, Callee, FileFacts, Function, FunctionKind, Language, rsplit_path,
};
use rustc_hash::FxHashSet;

pub use discover::SourceFile;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad command line or config: exit status 2.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("the built-in catalog is invalid (this is a bug in loopguard): {0}")]
    Catalog(String),
    #[error("{0}")]
    Internal(String),
}

/// What the command line asks for.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub paths: Vec<PathBuf>,
    pub config_file: Option<PathBuf>,
    pub no_config: bool,
    pub threads: Option<usize>,
    pub select: Option<Vec<String>>,
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
    pub confidence: Option<Confidence>,
    pub direct_only: bool,
    /// Do not read or write the cache.
    pub no_cache: bool,
    /// Cache folder (overrides `LOOPGUARD_CACHE_DIR` and the config).
    pub cache_dir: Option<PathBuf>,
}

/// The resolved configuration of a run.
pub struct Resolved {
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub root: PathBuf,
    pub catalog: Catalog,
}

/// The result of a check.
pub struct Outcome {
    /// Sorted, filtered findings.
    pub diagnostics: Vec<Diagnostic>,
    /// Sorted notifications (unreadable, non-UTF-8, oversized and unparsable files).
    pub notifications: Vec<Notification>,
    /// Requested files considered (read and scanned).
    pub files_checked: usize,
    /// Files parsed (requested ones with async code, plus the modules they reach).
    pub files_parsed: usize,
    pub root: PathBuf,
    pub config: Config,
    /// How the cache served this run.
    pub cache: CacheUse,
}

/// How the cache served a run (shown by `--verbose`-style tooling and asserted in tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// `--no-cache`.
    Off,
    /// Nothing had changed: the stored results were used; nothing was read or parsed.
    Results,
    /// Nothing had changed, but `files` files had new stat keys (a fresh checkout, a
    /// `touch`): each was read and its content hash matched, and the stored results were
    /// used.
    Touched { files: usize },
    /// Facts of unchanged files came from the cache; `parsed` files were parsed now.
    /// `kept_resolutions`: the files analysed were those of the last run and the changed
    /// ones define what they did, give or take definitions no other file can reach, so the
    /// call sites of the others kept their resolutions from the last run (see
    /// `loopguard_analysis::kept::renumbering`).
    Facts {
        parsed: usize,
        kept_resolutions: bool,
    },
    /// As `Facts`, and the files analysed were those of the last run: the `parsed` files
    /// that changed (Python) mention nothing new that demand follows, so demand did not
    /// run again (see `same_files`).
    /// `kept_resolutions`: the changed files define what they did, so the call sites of
    /// the others kept their resolutions from the last run (see
    /// `loopguard_analysis::kept`).
    SameFiles {
        parsed: usize,
        kept_resolutions: bool,
    },
    /// The stored results were reused, positions shifted: the `changed` files that changed
    /// since only moved code (their new facts equal the cached ones up to an
    /// order-preserving shift of positions) or, in Python files, changed code no finding
    /// reads (see `shift::shift_with_leeway`), so the analysis did not run again.
    Shifted { changed: usize },
}

impl Outcome {
    /// Reads a reported file's text, for snippets in pretty output.
    pub fn source(&self, rel: &str) -> Option<Arc<str>> {
        std::fs::read_to_string(self.root.join(rel))
            .ok()
            .map(Arc::from)
    }
}

/// Finds and reads the config, the project root and the catalog for these settings.
pub fn resolve(settings: &Settings) -> Result<Resolved, EngineError> {
    let first = settings
        .paths
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    for p in &settings.paths {
        if !p.exists() {
            return Err(EngineError::Usage(format!(
                "{}: no such file or directory",
                p.display()
            )));
        }
    }
    let (config, config_path) = if settings.no_config {
        (Config::default(), None)
    } else if let Some(file) = &settings.config_file {
        match Config::from_file(file)? {
            Some(c) => (c, Some(file.clone())),
            None => {
                return Err(EngineError::Usage(format!(
                    "{}: has no [tool.loopguard] section",
                    file.display()
                )));
            }
        }
    } else {
        match config::discover(&first)? {
            Some((path, c)) => (c, Some(path)),
            None => (Config::default(), None),
        }
    };
    let config_dir = config_path
        .as_ref()
        .and_then(|p| p.parent())
        .map(discover::absolute);
    let root = discover::project_root(&first, config_dir.as_deref());
    let mut catalog = Catalog::builtin().map_err(|e| EngineError::Catalog(e.to_string()))?;
    if !config.extend_blocking.is_empty() {
        let source = config_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config".into());
        catalog
            .extend_blocking(&source, &config.extend_blocking)
            .map_err(|e| EngineError::Usage(e.to_string()))?;
    }
    let mut config = config;
    if let Some(sel) = &settings.select {
        config.select = Some(sel.clone());
    }
    config
        .extend_select
        .extend(settings.extend_select.iter().cloned());
    config.ignore.extend(settings.ignore.iter().cloned());
    if settings.confidence.is_some() {
        config.confidence = settings.confidence;
    }
    if settings.direct_only {
        config.direct_only = true;
    }
    config.validate().map_err(EngineError::Usage)?;
    Ok(Resolved {
        config,
        config_path,
        root,
        catalog,
    })
}

/// Runs a check.
pub fn check(settings: &Settings) -> Result<Outcome, EngineError> {
    let resolved = resolve(settings)?;
    let threads = settings.threads.unwrap_or(0);
    // Worker stacks are large enough for the Rust front end's nesting limits, so it lowers
    // in place instead of starting a thread per file (the memory is reserved, not used).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(loopguard_rust::LOWERING_STACK)
        .start_handler(|_| load::BIG_STACK.with(|b| b.set(true)))
        .build()
        .map_err(|e| EngineError::Internal(format!("cannot start worker threads: {e}")))?;
    pool.install(|| run(settings, resolved, threads))
}

/// Findings and notifications of a run, as stored in the results cache.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredResults {
    diagnostics: Vec<Diagnostic>,
    notifications: Vec<Notification>,
    files_checked: usize,
    files_parsed: usize,
    /// By file (its index in the run's file list, which the results key covers; sorted),
    /// the functions the findings were read from or demand followed (sorted indices into
    /// the file's facts): an edit elsewhere in the file may keep the findings (see
    /// [`shift::shift_with_leeway`]).
    pinned: Vec<(u32, Vec<u32>)>,
    /// By file (as `pinned`): the functions demand followed (sorted), for a later run that
    /// analyses the same files without running demand (see `same_files`).
    live: Vec<(u32, Vec<u32>)>,
    /// The hashes of every name the parsed files mention ([`shift::mentioned_names`]) and
    /// of their paths' segment pairs ([`shift::path_pair_hashes`]), sorted, each stored as
    /// its difference from the one before (short varints).
    name_deltas: Vec<u32>,
    /// By file (as `pinned`): the functions whose findings name a context other than
    /// `async` (`loopguard_analysis::Reads::contexts`), with it, sorted by function.
    contexts: Vec<(u32, Vec<(u32, String)>)>,
}

impl StoredResults {
    /// The live functions as the load reports them: (file, function), sorted.
    fn live_pairs(&self) -> Vec<(usize, u32)> {
        self.live
            .iter()
            .flat_map(|(f, fns)| fns.iter().map(move |&g| (*f as usize, g)))
            .collect()
    }

    /// The mentioned-name hashes, sorted.
    fn names(&self) -> Vec<u32> {
        let mut at = 0u32;
        self.name_deltas
            .iter()
            .map(|d| {
                at = at.wrapping_add(*d);
                at
            })
            .collect()
    }

    fn set_names(&mut self, sorted: &[u32]) {
        let mut at = 0u32;
        self.name_deltas = sorted
            .iter()
            .map(|&h| {
                let d = h.wrapping_sub(at);
                at = h;
                d
            })
            .collect();
    }
}

/// The list of `file` in a list sorted by file (empty if it has none).
fn list_of(lists: &[(u32, Vec<u32>)], file: usize) -> &[u32] {
    lists
        .binary_search_by_key(&file, |(f, _)| *f as usize)
        .map_or(&[], |i| &lists[i].1)
}

/// Sets the list of `file` in a list sorted by file.
fn set_of(lists: &mut Vec<(u32, Vec<u32>)>, file: usize, list: Vec<u32>) {
    let file = file as u32;
    match lists.binary_search_by_key(&file, |(f, _)| *f) {
        Ok(i) => lists[i].1 = list,
        Err(i) => lists.insert(i, (file, list)),
    }
}

/// (file, function) pairs, sorted, grouped by file.
fn by_file(pairs: &[(usize, u32)]) -> Vec<(u32, Vec<u32>)> {
    let mut out: Vec<(u32, Vec<u32>)> = Vec::new();
    for &(file, func) in pairs {
        match out.last_mut() {
            Some((f, fns)) if *f as usize == file => fns.push(func),
            _ => out.push((file as u32, vec![func])),
        }
    }
    out
}

/// The pinned functions of each parsed file, which the stored results need besides the
/// findings (see [`StoredResults`]): the analysis' reads and the demand's live functions.
fn pinned_functions(
    parsed_ids: &[usize],
    hot: Vec<Vec<u32>>,
    live: &[(usize, u32)],
) -> Vec<(u32, Vec<u32>)> {
    parsed_ids
        .iter()
        .zip(hot)
        .map(|(&i, mut fns)| {
            let from = live.partition_point(|(f, _)| *f < i);
            let to = live.partition_point(|(f, _)| *f <= i);
            fns.extend(live[from..to].iter().map(|(_, func)| *func));
            fns.sort_unstable();
            fns.dedup();
            (i as u32, fns)
        })
        .filter(|(_, fns)| !fns.is_empty())
        .collect()
}

/// [`StoredResults::contexts`] of the analysis' contexts (by place among the parsed files).
fn contexts_by_file(
    parsed_ids: &[usize],
    contexts: &[(u32, u32, &'static str)],
) -> Vec<(u32, Vec<(u32, String)>)> {
    let mut out: Vec<(u32, Vec<(u32, String)>)> = Vec::new();
    for &(at, func, context) in contexts {
        let Some(&file) = parsed_ids.get(at as usize) else {
            continue;
        };
        let file = file as u32;
        match out.last_mut() {
            Some((f, list)) if *f == file => list.push((func, context.to_string())),
            _ => out.push((file, vec![(func, context.to_string())])),
        }
    }
    out
}

/// The names the parsed files mention (sorted hashes), which the stored results need
/// besides the findings (see [`StoredResults`]).
fn mentioned_name_hashes(facts: &[FileFacts]) -> Vec<u32> {
    use rayon::prelude::*;
    // The parsed modules: only an alias of a path under one of them may rename a module
    // (see `shift::path_pair_hashes`).
    let modules: FxHashSet<&str> = facts.iter().map(|f| f.module.as_str()).collect();
    let is_module = |m: &str| modules.contains(m);
    // Into a set per worker: a big project mentions a few hundred thousand names, millions of
    // times, and this runs beside the analysis, at the run's peak of memory.
    let names = facts
        .par_iter()
        .fold(FxHashSet::default, |mut names, f| {
            shift::mention_hashes_into(f, Some(&is_module), &mut |h| {
                names.insert(h);
            });
            names
        })
        .reduce(FxHashSet::default, |a, b| {
            let (mut big, small) = if a.len() < b.len() { (b, a) } else { (a, b) };
            big.extend(small);
            big
        });
    let mut names: Vec<u32> = names.into_iter().collect();
    names.sort_unstable();
    names
}

/// Where the cache lives: `--cache-dir`, `LOOPGUARD_CACHE_DIR`, the config's `cache-dir`
/// (relative to the project root), else `.loopguard_cache` at the root.
pub fn cache_dir(settings: &Settings, config: &Config, root: &Path) -> PathBuf {
    if let Some(d) = &settings.cache_dir {
        return d.clone();
    }
    if let Some(d) = std::env::var_os("LOOPGUARD_CACHE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    match &config.cache_dir {
        Some(d) => root.join(d),
        None => root.join(".loopguard_cache"),
    }
}

fn run(settings: &Settings, resolved: Resolved, threads: usize) -> Result<Outcome, EngineError> {
    let Resolved {
        config,
        root,
        catalog,
        ..
    } = resolved;
    let requested: Vec<PathBuf> = if settings.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        settings.paths.clone()
    };
    let mut excludes = config.exclude.clone();
    excludes.extend(config.extend_exclude.iter().cloned());
    let walk_threads = if threads == 0 {
        rayon::current_num_threads()
    } else {
        threads
    };
    let discovered = discover::discover(&root, &requested, &excludes, walk_threads)?;
    let files = discovered.files;
    let mut cache = (!settings.no_cache)
        .then(|| cache::Cache::open(&cache_dir(settings, &config, &root), &config.src));

    // Everything besides file contents that the results depend on.
    let config_json = serde_json::to_string(&config).unwrap_or_default();
    let mut file_list = Vec::new();
    for f in &files {
        file_list.extend_from_slice(f.rel.as_bytes());
        file_list.push(if f.requested { 1 } else { 0 });
    }
    let settings_hash = cache::settings_key(&[
        env!("CARGO_PKG_VERSION").as_bytes(),
        catalog.fingerprint.as_bytes(),
        config_json.as_bytes(),
        &file_list,
    ]);
    if let Some(c) = cache.as_mut() {
        c.select_run(settings_hash);
        // A run from a cache that knows most files decodes their facts instead of parsing
        // them: huge pages then save page faults and cost little memory (see `memory`).
        if c.index.entries.len() * 2 >= files.len() {
            memory::huge_pages(true);
        }
    }
    let scan = load::RootScan::new(&catalog);
    // Configured source roots, then requested folders foreign to the root (checking
    // `lib/python3.11` inside an ignored folder makes `os.py` the module `os`).
    let mut src_roots: Vec<PathBuf> = config.src.iter().map(|s| root.join(s)).collect();
    src_roots.extend(discovered.foreign_roots);
    // Module names, made early where a core would otherwise wait (see below).
    let mut early_infos: Option<Vec<load::ModuleInfo>> = None;
    let by_rel: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.rel.as_str(), i))
        .collect();

    // Fast path: nothing the last results depended on has changed.
    let mut retry: Option<same_files::Retry> = None;
    if let Some(c) = cache.as_mut() {
        let mut deps: Vec<usize> = files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.requested)
            .map(|(i, _)| i)
            .collect();
        deps.extend(
            c.index
                .last_parsed
                .iter()
                .filter_map(|r| by_rel.get(r.as_str()).copied()),
        );
        deps.sort_unstable();
        deps.dedup();
        let stats = dep_stats(&files, &deps);
        let mut over = key_over(c, &files, &deps, &stats, settings_hash);
        if over
            .as_ref()
            .is_some_and(|(key, _)| c.index.results_key != Some(*key))
        {
            over = roll_back_to_results(c, &files, &deps, &stats, settings_hash).or(over);
        }
        let reused = match over {
            Some((key, changed)) if changed.is_empty() => c
                .results::<StoredResults>(key)
                .map(|stored| (stored, CacheUse::Results)),
            Some((key, changed)) => {
                let touched_before = changed.len();
                let max_size = config
                    .max_file_size
                    .unwrap_or(loopguard_core::config::DEFAULT_MAX_FILE_SIZE);
                let changed = confirm_touched(c, &files, &deps, &stats, changed, max_size);
                let touched = touched_before - changed.len();
                if changed.is_empty() {
                    // Their entries now hold the new stat keys: the next run is warm.
                    let stored = c.results::<StoredResults>(key);
                    c.save(&|rel| by_rel.contains_key(rel));
                    stored.map(|stored| (stored, CacheUse::Touched { files: touched }))
                } else {
                    let dep = Deps {
                        files: &files,
                        deps: &deps,
                        stats: &stats,
                        settings_hash,
                        scan: &scan,
                        catalog: &catalog,
                        root: &root,
                        src_roots: &src_roots,
                    };
                    let mut lowered = load::Lowered::default();
                    // Lowering the changed files keeps one core busy; the module names,
                    // which every path after a failed shift needs, are made on the other.
                    let (shifted, infos) = rayon::join(
                        || reuse_shifted(c, &dep, key, &changed, &config, &by_rel, &mut lowered),
                        || load::module_infos(&files, &root, &src_roots),
                    );
                    early_infos = Some(infos);
                    let shifted =
                        shifted.map(|(stored, changed)| (stored, CacheUse::Shifted { changed }));
                    if shifted.is_none() {
                        retry = Some(same_files::Retry {
                            key,
                            changed: changed.iter().map(|&p| (deps[p], stats[p])).collect(),
                            lowered,
                        });
                    }
                    shifted
                }
            }
            None => None,
        };
        if let Some((stored, how)) = reused {
            let mut notifications = stored.notifications;
            notifications.append(&mut c.notifications);
            notifications.sort();
            return Ok(Outcome {
                diagnostics: stored.diagnostics,
                notifications,
                files_checked: stored.files_checked,
                files_parsed: stored.files_parsed,
                root,
                config,
                cache: how,
            });
        }
    }

    let infos = early_infos.unwrap_or_else(|| load::module_infos(&files, &root, &src_roots));
    // An edit that leaves the files demand reaches as they were loads those files
    // without running demand again.
    let retry_key = retry.as_ref().map(|r| r.key);
    let same = match (retry.as_mut(), cache.as_mut()) {
        (Some(retry), Some(c)) => same_files::load(
            c,
            &same_files::Project {
                files: &files,
                infos: &infos,
                by_rel: &by_rel,
                scan: &scan,
                max_size: config
                    .max_file_size
                    .unwrap_or(loopguard_core::config::DEFAULT_MAX_FILE_SIZE),
            },
            retry,
        ),
        _ => None,
    };
    let same_files_used = same.is_some();
    let retry_key = retry_key.filter(|_| !same_files_used);

    let mut loaded = match same {
        Some(loaded) => loaded,
        None => {
            let lowered = retry.map(|r| r.lowered).unwrap_or_default();
            load::load_project_with(&files, infos, &config, &scan, cache.as_mut(), lowered)?
        }
    };
    if let (Some(key), Some(c)) = (retry_key, cache.as_mut()) {
        loaded.prior = keep_across_additions(c, key, &files, &mut loaded);
    }
    let kept_resolutions = loaded.prior.keeps_any();
    let parsed_ids: Vec<usize> = loaded.facts.iter().map(|(i, _)| *i).collect();
    let parsed_now = loaded.parsed_now;
    let facts: Vec<FileFacts> = loaded.facts.into_iter().map(|(_, f)| f).collect();
    let options = loopguard_analysis::Options {
        max_depth: config.max_depth(),
        direct_only: config.direct_only,
    };
    // Only a cache can reuse the results; the names it needs are gathered while the
    // analysis runs (it has serial steps that leave a core idle).
    let with_cache = cache.is_some();
    let known_names = loaded.mentioned.take();
    let ((diagnostics, reads), names) = rayon::join(
        || {
            loopguard_analysis::analyze_reusing(
                &facts,
                &catalog,
                &options,
                &loaded.prior,
                with_cache,
            )
        },
        || match known_names {
            Some(names) => names,
            None if with_cache => mentioned_name_hashes(&facts),
            None => Vec::new(),
        },
    );
    let requested_paths: FxHashSet<&str> = files
        .iter()
        .filter(|f| f.requested)
        .map(|f| f.rel.as_str())
        .collect();
    let filter = filter::Filter::new(&config, &root)?;
    let diagnostics = filter.apply(diagnostics, &facts, &requested_paths);
    let mut notifications = loaded.notifications;
    for facts in &facts {
        if !requested_paths.contains(facts.path.as_str()) {
            continue;
        }
        for e in &facts.errors {
            notifications.push(Notification {
                level: NotificationLevel::Warning,
                kind: "parse-error".into(),
                path: Some(facts.path.clone()),
                span: Some(e.span),
                message: format!("{} (the rest of the file was still checked)", e.message),
            });
        }
    }
    notifications.retain(|n| {
        n.path
            .as_deref()
            .is_none_or(|p| requested_paths.contains(p))
    });
    notifications.sort();
    notifications.dedup();
    let pinned = if with_cache {
        pinned_functions(&parsed_ids, reads.hot, &loaded.live)
    } else {
        Vec::new()
    };
    let mut stored = StoredResults {
        diagnostics,
        notifications,
        files_checked: loaded.requested_scanned,
        files_parsed: facts.len(),
        pinned,
        live: if with_cache {
            by_file(&loaded.live)
        } else {
            Vec::new()
        },
        name_deltas: Vec::new(),
        contexts: if with_cache {
            contexts_by_file(&parsed_ids, &reads.contexts)
        } else {
            Vec::new()
        },
    };
    stored.set_names(&names);
    if let Some(c) = cache.as_mut() {
        c.index.last_parsed = parsed_ids.iter().map(|&i| files[i].rel.clone()).collect();
        // Kept resolutions go by place in `last_parsed`: only this run's may be kept now.
        c.index.kept = None;
        let mut deps: Vec<usize> = files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.requested)
            .map(|(i, _)| i)
            .chain(parsed_ids.iter().copied())
            .collect();
        deps.sort_unstable();
        deps.dedup();
        if let Some(key) = results_key(c, &files, &deps, settings_hash) {
            c.store_results(key, &stored);
            let kept = Some(&reads.resolutions).filter(|r| !r.is_empty());
            c.store_kept_resolutions(key, kept);
            c.store_kept_chains(&reads.chains);
        }
        // The facts go back into the cache (moved, not copied) before it is saved.
        for (&i, f) in parsed_ids.iter().zip(facts) {
            c.restore(&files[i].rel, f);
        }
        c.save(&|rel| by_rel.contains_key(rel));
    } else {
        drop_in_background(facts);
    }
    let mut notifications = stored.notifications;
    if let Some(c) = cache.as_mut() {
        notifications.append(&mut c.notifications);
        notifications.sort();
    }
    drop_in_background(cache);
    Ok(Outcome {
        diagnostics: stored.diagnostics,
        notifications,
        files_checked: stored.files_checked,
        files_parsed: stored.files_parsed,
        root,
        config,
        cache: if settings.no_cache {
            CacheUse::Off
        } else if same_files_used {
            CacheUse::SameFiles {
                parsed: parsed_now,
                kept_resolutions,
            }
        } else {
            CacheUse::Facts {
                parsed: parsed_now,
                kept_resolutions,
            }
        },
    })
}

/// Frees a large value (every file's facts) on a thread of its own: it takes a noticeable
/// share of a run on a big tree, and nothing waits for it (at exit it is simply dropped).
pub(crate) fn drop_in_background<T: Send + 'static>(value: T) {
    // If no thread can be started, the closure and the value are dropped here instead.
    let _ = std::thread::Builder::new()
        .name("loopguard-drop".into())
        .spawn(move || drop(value));
}

/// The results key over `deps` (file indices): `None` unless every one of them has a cache
/// entry whose stat key matches the file on disk now.
fn results_key(
    c: &cache::Cache,
    files: &[SourceFile],
    deps: &[usize],
    settings_hash: u64,
) -> Option<u64> {
    let stats = dep_stats(files, deps);
    let (key, changed) = key_over(c, files, deps, &stats, settings_hash)?;
    changed.is_empty().then_some(key)
}

fn dep_stats(files: &[SourceFile], deps: &[usize]) -> Vec<Option<cache::StatKey>> {
    use rayon::prelude::*;
    deps.par_iter()
        .map(|&i| {
            std::fs::metadata(&files[i].abs)
                .ok()
                .map(|m| cache::StatKey::of(&m))
        })
        .collect()
}

/// The results key over `deps` as the cache index knows them (their cached content
/// hashes), and the positions in `deps` of those whose stat key differs from the cached
/// one (they may have changed). `None` if a dep has no usable entry.
fn key_over(
    c: &cache::Cache,
    files: &[SourceFile],
    deps: &[usize],
    stats: &[Option<cache::StatKey>],
    settings_hash: u64,
) -> Option<(u64, Vec<usize>)> {
    key_over_entries(c, files, deps, stats, settings_hash, &|rel| {
        c.index.entries.get(rel)
    })
}

/// [`key_over`], with each file's entry as `entry_of` gives it.
fn key_over_entries<'c>(
    c: &'c cache::Cache,
    files: &[SourceFile],
    deps: &[usize],
    stats: &[Option<cache::StatKey>],
    settings_hash: u64,
    entry_of: &dyn Fn(&str) -> Option<&'c cache::IndexEntry>,
) -> Option<(u64, Vec<usize>)> {
    let mut h = loopguard_core::catalog::Fnv64::default();
    h.write(&settings_hash.to_le_bytes());
    let mut changed = Vec::new();
    for (p, (&i, stat)) in deps.iter().zip(stats).enumerate() {
        let rel = files[i].rel.as_str();
        h.write(rel.as_bytes());
        match entry_of(rel) {
            Some(entry) => {
                h.write(&entry.hash);
                if Some(entry.stat) != *stat {
                    changed.push(p);
                }
            }
            // A file that could not be used last time: unchanged since, or to be confirmed
            // by `confirm_touched`.
            None => match (c.index.skipped.get(rel), stat) {
                (Some(skipped), Some(stat)) => {
                    h.write(b"skipped");
                    if skipped.stat != *stat {
                        changed.push(p);
                    }
                }
                _ => return None,
            },
        }
    }
    Some((h.finish(), changed))
}

/// When runs of other settings parsed changes since these settings' results were stored
/// (a pre-commit hook checked the edited files, then the whole tree is checked), the
/// results are about the files as they were: if the entries those files had before
/// ([`cache::Previous`]) give the results' key, they and their facts are put back, and
/// the key with the positions in `deps` of the files that changed since is returned, as
/// [`key_over`] gives them had no other run come between. `None` (and the cache as it was)
/// otherwise.
fn roll_back_to_results(
    c: &mut cache::Cache,
    files: &[SourceFile],
    deps: &[usize],
    stats: &[Option<cache::StatKey>],
    settings_hash: u64,
) -> Option<(u64, Vec<usize>)> {
    let target = c.index.results_key?;
    let since = c.index.results_at;
    let changed_since = |rel: &str| {
        (c.index.previous.get(rel))
            .filter(|p| p.changed_at > since)
            .map(|p| &p.entry)
    };
    let rolled: Vec<usize> = (0..deps.len())
        .filter(|&p| changed_since(&files[deps[p]].rel).is_some())
        .collect();
    if rolled.is_empty() || rolled.len() > MAX_SHIFTED_FILES {
        return None;
    }
    let entry_of = |rel: &str| changed_since(rel).or_else(|| c.index.entries.get(rel));
    let (key, mut changed) = key_over_entries(c, files, deps, stats, settings_hash, &entry_of)?;
    let rels: Vec<&str> = rolled
        .iter()
        .map(|&p| files[deps[p]].rel.as_str())
        .collect();
    if key != target || !c.roll_back(&rels) {
        return None;
    }
    // Changed even where the stat key happens to be the old one.
    changed.extend(rolled);
    changed.sort_unstable();
    changed.dedup();
    Some((key, changed))
}

/// Of `changed` (positions in `deps` of files whose stat key differs from the cached one),
/// those whose content is as cached (a fresh clone or checkout, `touch`, a branch switched
/// and back) get their new stat key in the cache index; the others are returned. A file is
/// read and hashed only if its size is the cached one: a touch keeps the size, and an edit
/// that keeps it is rare (it is then read again where it is compared). A skipped file is
/// confirmed when it is still over `max_size` with the same size, or still has the bytes
/// that were not UTF-8: its notification would be the same.
fn confirm_touched(
    c: &mut cache::Cache,
    files: &[SourceFile],
    deps: &[usize],
    stats: &[Option<cache::StatKey>],
    changed: Vec<usize>,
    max_size: u64,
) -> Vec<usize> {
    use rayon::prelude::*;
    enum Confirmed {
        Entry(cache::IndexEntry),
        Skipped(cache::Skipped),
    }
    let index = &c.index;
    let same_bytes = |file: &SourceFile, hash: &[u8; 32]| {
        std::fs::read(&file.abs).is_ok_and(|bytes| cache::content_hash(&bytes) == *hash)
    };
    let confirmed: Vec<Option<Confirmed>> = changed
        .par_iter()
        .map(|&p| {
            let file = &files[deps[p]];
            let stat = stats[p]?;
            let rel = file.rel.as_str();
            if let Some(entry) = index.entries.get(rel) {
                return (entry.stat.size == stat.size && same_bytes(file, &entry.hash)).then(
                    || {
                        Confirmed::Entry(cache::IndexEntry {
                            stat,
                            ..entry.clone()
                        })
                    },
                );
            }
            let skipped = index.skipped.get(rel)?;
            let still = skipped.stat.size == stat.size
                && match &skipped.hash {
                    None => stat.size > max_size,
                    Some(hash) => same_bytes(file, hash),
                };
            still.then_some(Confirmed::Skipped(cache::Skipped { stat, ..*skipped }))
        })
        .collect();
    let mut still = Vec::new();
    for (p, confirmed) in changed.into_iter().zip(confirmed) {
        let rel = files[deps[p]].rel.as_str();
        match confirmed {
            Some(Confirmed::Entry(entry)) => c.store(rel, entry, false),
            Some(Confirmed::Skipped(skipped)) => c.store_skipped(rel, skipped),
            None => still.push(p),
        }
    }
    still
}

/// At most this many changed files are compared with their cached facts before a run
/// gives up on reusing the stored results (files whose content is as cached do not count).
pub const MAX_SHIFTED_FILES: usize = 16;

/// The files the stored results depend on, with their stat keys now.
struct Deps<'a> {
    files: &'a [SourceFile],
    deps: &'a [usize],
    stats: &'a [Option<cache::StatKey>],
    settings_hash: u64,
    scan: &'a load::RootScan,
    catalog: &'a Catalog,
    root: &'a Path,
    /// The configured and discovered source roots (module names of files without a cache
    /// entry are made from them, as the load makes them).
    src_roots: &'a [PathBuf],
}

/// The kept resolutions as a run over the files of the last run takes them (by place in
/// `last_parsed`): without those the cache's state drops or `changed` says changed, and
/// renumbered as the state records.
pub(crate) fn kept_prior(
    list: Vec<kept::KeptFile>,
    state: cache::KeptState,
    changed: &dyn Fn(usize) -> bool,
) -> kept::Prior {
    let files = (0..)
        .zip(list)
        .map(|(at, f): (u32, _)| {
            let dropped = state.dropped.binary_search(&at).is_ok() || changed(at as usize);
            (!dropped).then_some(f)
        })
        .collect();
    kept::Prior {
        files,
        renumbered: state.renumbered,
    }
}

/// The kept resolutions a full load can take (see [`CacheUse::Facts`]): when it loaded the
/// files of the run that kept them under `key`, in the same order, and every file parsed
/// again is a Python file that defines what it did, give or take definitions no lookup from
/// another file can reach ([`kept::renumbering`]). The old facts of those files are taken
/// out of the cache to compare (the new ones replace them when the run ends). Empty
/// otherwise. When it keeps them, the names mentioned last time and those the parsed files
/// mention now go to `loaded.mentioned`, as on the same-files path: a superset of what the
/// facts mention, which is safe, and the run need not list them all again.
fn keep_across_additions(
    c: &mut cache::Cache,
    key: u64,
    files: &[SourceFile],
    loaded: &mut load::Loaded,
) -> kept::Prior {
    let same_list = loaded.facts.len() == c.index.last_parsed.len()
        && (loaded.facts.iter())
            .zip(&c.index.last_parsed)
            .all(|((i, _), rel)| files[*i].rel == *rel);
    if c.index.results_key != Some(key)
        || !same_list
        || loaded.reparsed.is_empty()
        || loaded.reparsed.len() > MAX_SHIFTED_FILES
    {
        return kept::Prior::default();
    }
    let kept = (|| {
        let stored = c.results::<StoredResults>(key)?.names();
        let (list, state) = c.kept_resolutions(key)?;
        let mut prior = kept_prior(list, state, &|_| false);
        let mut changed = Vec::with_capacity(loaded.reparsed.len());
        for &i in &loaded.reparsed {
            let at = loaded.facts.binary_search_by_key(&i, |(j, _)| *j).ok()?;
            let old = c.take_facts(&files[i].rel)?.decode().ok()?;
            changed.push((at, old));
        }
        // A name counts as mentioned when a file not parsed again mentions it, or the
        // definitions of one parsed again, old or new: lookups from other files read those,
        // not their call sites, which are resolved again.
        let mut definitions = FxHashSet::default();
        for (at, old) in &changed {
            let mut add = |n: &str| {
                definitions.insert(shift::name_hash(n));
            };
            shift::definition_mentions(old, &mut add);
            shift::definition_mentions(&loaded.facts[*at].1, &mut add);
        }
        // The stored names cover what every file mentioned then, the parsed ones' call
        // sites included: a name among them is taken as unmentioned for now, and the other
        // files are searched for it below.
        let unsure: std::cell::RefCell<Vec<String>> = Default::default();
        let mentioned = |n: &str| {
            let h = shift::name_hash(n);
            if stored.binary_search(&h).is_ok() && !definitions.contains(&h) {
                unsure.borrow_mut().push(n.to_string());
            }
            definitions.contains(&h)
        };
        for (at, old) in &changed {
            let new_of_old = kept::renumbering(old, &loaded.facts[*at].1, &mentioned)?;
            *prior.files.get_mut(*at)? = None;
            prior.renumber(u32::try_from(*at).ok()?, &new_of_old);
        }
        let mut unsure = unsure.into_inner();
        unsure.sort_unstable();
        unsure.dedup();
        let others = || {
            use rayon::prelude::*;
            let changed = &changed;
            (loaded.facts.par_iter().enumerate())
                .filter(move |(at, _)| !changed.iter().any(|(c, _)| c == at))
                .map(|(_, (_, f))| f)
        };
        if !unsure.is_empty() && mentions_any(others(), &unsure) {
            return None;
        }
        let mut mentioned = stored;
        for (at, _) in &changed {
            mentioned.extend(shift::mention_hashes(&loaded.facts[*at].1));
        }
        mentioned.sort_unstable();
        mentioned.dedup();
        Some((prior, mentioned))
    })();
    match kept {
        Some((prior, mentioned)) => {
            loaded.mentioned = Some(mentioned);
            prior
        }
        None => kept::Prior::default(),
    }
}

/// Whether any of `facts` mentions one of `names` (a few: compared as they are, which is
/// cheaper than hashing every name the facts mention).
fn mentions_any<'f>(
    facts: impl rayon::iter::ParallelIterator<Item = &'f FileFacts>,
    names: &[String],
) -> bool {
    facts.any(|f| {
        let mut hit = false;
        shift::mentioned_names(f, &mut |n| hit |= names.iter().any(|u| u == n));
        hit
    })
}

/// Reuses the stored results when every file that changed since they were computed only
/// moved code (see [`shift`]): each is lowered again and compared with its cached facts,
/// and the findings' positions in it are shifted. `changed`: positions in `dep.deps` of
/// the files whose stat key changed. Returns the results and how many files changed;
/// `None` (and the cache as it was) when anything else changed.
fn reuse_shifted(
    c: &mut cache::Cache,
    dep: &Deps,
    old_key: u64,
    changed: &[usize],
    config: &Config,
    by_rel: &HashMap<&str, usize>,
    lowered: &mut load::Lowered,
) -> Option<(StoredResults, usize)> {
    let (files, deps, stats) = (dep.files, dep.deps, dep.stats);
    if c.index.results_key != Some(old_key) || changed.len() > MAX_SHIFTED_FILES {
        return None;
    }
    let mut stored: StoredResults = c.results(old_key)?;
    let max_size = config
        .max_file_size
        .unwrap_or(loopguard_core::config::DEFAULT_MAX_FILE_SIZE);
    // (file, new entry, whether it was lowered again: its new facts are in `lowered`)
    let mut updates: Vec<(usize, cache::IndexEntry, bool)> = Vec::new();
    let mut taken: Vec<(usize, FileFacts)> = Vec::new();
    let mut names: Option<Vec<u32>> = None;
    // Changed files that number their functions anew (inert functions added or removed):
    // by old number, the new one (`None`: removed), for the kept call-site resolutions.
    let mut renumberings: Vec<(usize, Vec<Option<u32>>)> = Vec::new();
    // The kept resolutions, read when a changed file is parsed: they tell which calls reach
    // nothing, and carry over to the new facts (see `KeptAtShift`).
    let mut kept_at_shift: Option<Option<KeptAtShift>> = None;
    // Changed files whose kept resolutions carried over to their new facts.
    let mut carried: Vec<(usize, kept::KeptFile)> = Vec::new();
    // The project's Python modules, when a shift needs to know which paths are its own.
    let mut modules: Option<PythonModules> = None;
    // The chains kept with the resolutions (see `loopguard_analysis::chains`), read when a
    // call of a project function is added or removed in an async function, or at the end
    // (their hops in the changed files move with them).
    let single = changed.len() == 1;
    let mut project_chains: Option<Option<chains::KeptChains>> = None;
    // By place in `last_parsed`: the file's index in `files`.
    let mut places: Option<Vec<Option<usize>>> = None;
    // Each changed file's shift, for the chains' hops.
    let mut shifts: Vec<(String, shift::Shift)> = Vec::new();
    let ok = (|| {
        for &p in changed {
            let i = deps[p];
            let file = &files[i];
            let stat = stats[p]?;
            // Files touched but not changed were confirmed before (`confirm_touched`).
            let (entry, new_entry, text) = reread(c, file, stat, max_size, dep.scan)?;
            if !entry.parsed {
                // Only scanned for async code, and still without it.
                updates.push((i, new_entry, false));
                continue;
            }
            let info = load::ModuleInfo {
                name: entry.module.clone(),
                is_init: file.abs.file_stem().is_some_and(|s| s == "__init__"),
                edition: entry.edition,
            };
            // Kept in `lowered`: into the cache if the results are kept, else handed over
            // (see `same_files`).
            let new = load::lower_file(file, &info, &text);
            let new = &lowered
                .entry(i)
                .insert_entry((new_entry.hash, new))
                .into_mut()
                .1;
            let old = match c.take_old_facts(&file.rel)?.decode() {
                Ok(f) => f,
                Err(what) => {
                    c.damaged(&file.rel, &what);
                    return None;
                }
            };
            taken.push((i, old));
            let old = &taken.last()?.1;
            // Python: edits in functions the findings never read are allowed too (Rust's
            // demand follows every function of a parsed file, so nothing is unpinned).
            let at_shift = kept_at_shift
                .get_or_insert_with(|| KeptAtShift::read(c, old_key))
                .as_ref();
            let decoded = at_shift.and_then(|k| k.decoded(&c.index.last_parsed, &file.rel));
            let calls = decoded.as_ref().and_then(|d| kept::KeptCalls::read(d, old));
            // Findings this run makes again itself (see `rechecked`), filtered as a run's are.
            let mut remade: Vec<Diagnostic> = Vec::new();
            let moved = if file.language == Language::Python {
                let names = names.get_or_insert_with(|| stored.names());
                let old_pinned = list_of(&stored.pinned, i).to_vec();
                let mut leeway = shift::Leeway {
                    pinned: &old_pinned,
                    mentioned: &|n| names.binary_search(&shift::name_hash(n)).is_ok(),
                    inert: None,
                    added: &[],
                    removed: &[],
                    alias: None,
                    awaits_unread: None,
                };
                let mut reshaped = shift::shift_with_leeway(old, new, &leeway);
                // Helpers the edit added and calls from async code: pinned from now on.
                let mut pinned_helpers: Vec<u32> = Vec::new();
                // Async functions the edit added (demand's seeds, live from now on) and
                // removed.
                let mut live_added: Vec<u32> = Vec::new();
                let mut live_removed: Vec<u32> = Vec::new();
                // Calls that change no finding, added to or removed from code the findings
                // read, and library calls in async functions, whose findings this run makes
                // again: when demand reads the file as before, every other finding stays.
                if reshaped.is_none() {
                    let modules = modules.get_or_insert_with(|| python_modules(c, dep));
                    let in_project = |p: &str| modules.follows(p);
                    let python = dep.catalog.language(Language::Python);
                    let dependencies = dependencies_named(python, leeway.mentioned, new);
                    let recheck = |f: &Function| rechecked(f, dependencies);
                    let switches = python.nonblocking_after.last_names();
                    let switch = |site: &CallSite| may_switch(&switches, site);
                    // A method call's findings after a switch on its receiver are dropped
                    // (`sock.setblocking(False)`): not made here in such a function.
                    let method_in_switching = |f: &Function, site: &CallSite| {
                        matches!(site.callee, Callee::Method { .. }) && f.calls.iter().any(switch)
                    };
                    // Plain sync helpers this edit added, or removed, and calls from async
                    // functions, with their chains (see `local_helpers`).
                    let unique = single && modules.unique(&new.module);
                    let search = HelperSearch {
                        mentioned: leeway.mentioned,
                        rechecked: &recheck,
                        unique,
                        catalog: python,
                        resolve_alone: &|site| external_call_resolution(python, site, &in_project),
                    };
                    let (added_helpers, removed_helpers) = (
                        search.local_helpers((old, new), &switch),
                        search.local_helpers((new, old), &switch),
                    );
                    // An awaited offload that passes callables by reference only, as the
                    // file's kept resolutions say or the catalog alone (a library's): it
                    // gives no finding (an awaited call has none) and no role (a callable
                    // passed by reference to an offload gets none).
                    let offloads = |site: &CallSite| {
                        site.awaited
                            && !shift::passes_code(site)
                            && !site.callable_args.is_empty()
                            && match calls.as_ref().and_then(|k| k.repeated(site)) {
                                Some(res) => res.only_offloads(),
                                None => offloads_alone(python, site, &in_project),
                            }
                    };
                    // Helpers the edit added, or removed, that the file only hands to
                    // such offloads (see `offloaded_helpers`).
                    let (added_offloaded, removed_offloaded) = (
                        search.offloaded_helpers((old, new), &offloads),
                        search.offloaded_helpers((new, old), &offloads),
                    );
                    // An offload of one of them: its findings are made (none) here.
                    let offloads_helpers = |site: &CallSite| {
                        offloads(site)
                            && site.callable_args.iter().all(|c| {
                                matches!(c, Callee::Path(p)
                                    if named_among(new, &added_offloaded, p)
                                        || named_among(old, &removed_offloaded, p))
                            })
                    };
                    // Async functions the edit added, or removed, that only calls of them
                    // reach (see `HelperSearch::async_functions`), and such a call: it
                    // gives no finding.
                    let (added_async, removed_async) = (
                        search.async_functions((old, new)),
                        search.async_functions((new, old)),
                    );
                    let calls_new_async = |site: &CallSite| {
                        matches!(&site.callee, Callee::Path(p)
                            if calls_by_path(site, p)
                                && (named_among(new, &added_async, p)
                                    || named_among(old, &removed_async, p)))
                    };
                    // A call of one: the helper's chains.
                    let helper_of = |site: &CallSite| -> Option<&HotFunction> {
                        let Callee::Path(p) = &site.callee else {
                            return None;
                        };
                        if site.kind != CallKind::Call {
                            return None;
                        }
                        let named = |facts: &FileFacts, j: &u32| named_among(facts, &[*j], p);
                        (added_helpers.iter().find(|(j, _)| named(new, j)))
                            .or_else(|| removed_helpers.iter().find(|(j, _)| named(old, j)))
                            .map(|(_, chains)| chains)
                    };
                    // (A helper named nowhere may be taken by both.)
                    let sorted = |mut v: Vec<u32>| {
                        v.sort_unstable();
                        v.dedup();
                        v
                    };
                    let added = sorted(
                        (added_helpers.iter().map(|(j, _)| *j))
                            .chain(added_offloaded.iter().copied())
                            .chain(added_async.iter().copied())
                            .collect(),
                    );
                    let removed = sorted(
                        (removed_helpers.iter().map(|(j, _)| *j))
                            .chain(removed_offloaded.iter().copied())
                            .chain(removed_async.iter().copied())
                            .collect(),
                    );
                    // Functions of the project a kept resolution names, with their
                    // chains: only those the last analysing run read and that are pinned
                    // still (their calls changed since only in ways that change no chain),
                    // and only when this file alone changed (a chain through another
                    // changed file would need that file's shift too).
                    if single && project_chains.is_none() {
                        project_chains = Some(c.kept_chains(old_key));
                    }
                    let hot = project_chains.as_ref().and_then(Option::as_ref);
                    let places = places.get_or_insert_with(|| {
                        (c.index.last_parsed.iter())
                            .map(|rel| by_rel.get(rel.as_str()).copied())
                            .collect::<Vec<_>>()
                    });
                    let pinned_lists = &stored.pinned;
                    let vouched = |place: u32, func: u32| -> Option<&HotFunction> {
                        let now = match at_shift?.renumbered.iter().find(|(f, _)| *f == place) {
                            Some((_, new_of_old)) => (*new_of_old.get(func as usize)?)?,
                            None => func,
                        };
                        let file = (*places.get(place as usize)?)?;
                        list_of(pinned_lists, file).binary_search(&now).ok()?;
                        hot_function(hot?, place, func)
                    };
                    let project_call = |site: &CallSite| {
                        calls
                            .as_ref()
                            .and_then(|k| k.repeated(site))
                            .is_some_and(|res| {
                                hot.is_some() && chains::reaches_only_known(res, &vouched)
                            })
                    };
                    // A parameter passed on makes an offload wrapper only of a function whose
                    // call offloads or reaches a wrapper: neither a call the catalog resolves
                    // alone (`_LOGGER.debug("%s", path)`) nor one of a helper added here,
                    // whose calls are such calls, does.
                    let library = |site: &CallSite| {
                        external_call_resolution(python, site, &in_project).is_some()
                    };
                    let direct = |f: &Function, site: &CallSite| {
                        recheck(f)
                            && site.closure_args.is_empty()
                            && !switch(site)
                            && !method_in_switching(f, site)
                            && (library(site)
                                || helper_of(site).is_some()
                                || offloads_helpers(site)
                                || calls_new_async(site)
                                || (site.param_args.is_empty() && project_call(site)))
                    };
                    // Reaches nothing whatever its arguments.
                    let library_inert = |site: &CallSite| {
                        external_call_resolution(python, site, &in_project)
                            .is_some_and(|r| r.targets.is_empty() && !r.arg_sensitive)
                    };
                    // A kept call that reaches nothing may yet reach a wrapper: not when it
                    // passes a parameter on.
                    let inert = |f: &Function, site: &CallSite| {
                        let kept_inert = calls.as_ref().is_some_and(|k| k.is_inert(site))
                            && site.param_args.is_empty();
                        ((kept_inert || library_inert(site)) && !switch(site)) || direct(f, site)
                    };
                    leeway.inert = Some(&inert);
                    leeway.added = &added;
                    leeway.removed = &removed;
                    // Imports added or removed, under a name no lookup from another file
                    // starts from: no parsed file mentions the pair `m.x` (see
                    // `shift::path_pair_hashes`), nor do the new facts, whose calls through
                    // `m.x` the index would resolve anew; and where an alias names `m`
                    // under another name (`shift::renamed_hash`), no path has `x` after
                    // its first segment (`shift::inner_hash`). An import that demand follows (of
                    // a project module, or hiding a variable) changes the file's demand
                    // signature, which is compared below.
                    let module_last = loopguard_core::facts::last_segment(&new.module);
                    let new_pairs = std::cell::OnceCell::new();
                    let unreached = |a: &Alias| {
                        let h = shift::pair_hash(module_last, &a.name);
                        let new_pairs = new_pairs.get_or_init(|| {
                            let mut set = FxHashSet::default();
                            shift::path_pair_hashes(new, None, &mut |h| {
                                set.insert(h);
                            });
                            set
                        });
                        let mentioned =
                            |h: u32| names.binary_search(&h).is_ok() || new_pairs.contains(&h);
                        let through_a_rename = mentioned(shift::renamed_hash(module_last))
                            && mentioned(shift::inner_hash(&a.name));
                        !(mentioned(h) || through_a_rename)
                    };
                    leeway.alias = Some(&unreached);
                    // LG501 reads whether a function awaits only where it may apply.
                    let awaits_unread = |f: &Function| no_endpoint(f, dependencies);
                    leeway.awaits_unread = Some(&awaits_unread);
                    let callbacks = dep.scan.python_callback_names();
                    let live_lists = &stored.live;
                    reshaped = shift::shift_with_leeway(old, new, &leeway).filter(|r| {
                        let live = list_of(live_lists, i);
                        // Live functions are pinned, so each has a number in the new facts,
                        // bar async functions removed here.
                        let live_now = (live.iter())
                            .filter(|f| removed_async.binary_search(f).is_err())
                            .map(|&f| r.new_of_old.get(f as usize).copied().flatten())
                            .collect::<Option<Vec<u32>>>();
                        // A function that calls a helper added or removed has its findings
                        // made again only if it is pinned.
                        let pinned_callers = |facts: &FileFacts, pinned: &[u32]| {
                            (0u32..).zip(&facts.functions).all(|(j, g)| {
                                !g.calls.iter().any(|c| helper_of(c).is_some())
                                    || pinned.contains(&j)
                            })
                        };
                        // Every call of an async function added or removed is one whose
                        // findings this run makes (or that makes none).
                        let accounted = |facts: &FileFacts, ids: &[u32]| {
                            ids.iter().all(|&j| {
                                facts.functions.get(j as usize).is_some_and(|g| {
                                    (g.calls.iter())
                                        .all(|site| site.closure_args.is_empty() && inert(g, site))
                                })
                            })
                        };
                        accounted(new, &added_async)
                            && accounted(old, &removed_async)
                            && pinned_callers(old, &old_pinned)
                            && pinned_callers(new, &r.pinned)
                            && live_now.is_some_and(|live_now| {
                                let leads = |p: &str| modules.leads_into(p);
                                // The helpers count as live: called from live code, demand
                                // needs their paths (`open(self._path)` names the class's
                                // own `_path`), which must be needed already.
                                let before =
                                    demand::Signature::of(old, callbacks, &in_project, &leads)
                                        .pooling_live(&[live, removed.as_slice()].concat())
                                        .without_members_of_needed_classes(old)
                                        .leaving_out_some_seeds(&removed, &removed_async);
                                before.is_some()
                                    && before
                                        == demand::Signature::of(
                                            new,
                                            callbacks,
                                            &in_project,
                                            &leads,
                                        )
                                        .pooling_live(&[live_now.as_slice(), &added].concat())
                                        .without_members_of_needed_classes(new)
                                        .leaving_out_some_seeds(&added, &added_async)
                            })
                    });
                    if let Some(r) = &reshaped {
                        let findings =
                            |f: &Function,
                             site: &CallSite,
                             context: &str,
                             move_hop: &dyn Fn(&mut Hop) -> bool| {
                                if offloads_helpers(site) || calls_new_async(site) {
                                    return Some(Vec::new());
                                }
                                if let Some(res) =
                                    external_call_resolution(python, site, &in_project)
                                {
                                    return Some(direct_findings(
                                        f, &file.rel, site, &res, context,
                                    ));
                                }
                                if let Some(helper) = helper_of(site) {
                                    return chains::helper_call_findings(
                                        f,
                                        &file.rel,
                                        site,
                                        helper,
                                        python,
                                        config.direct_only,
                                        context,
                                    );
                                }
                                let targets = chains::KeptCallTargets {
                                    function: &vouched,
                                    move_hop,
                                    direct_only: config.direct_only,
                                };
                                let res = calls.as_ref()?.repeated(site)?;
                                chains::kept_call_findings(
                                    f, &file.rel, site, res, python, &targets, context,
                                )
                            };
                        let rechecked_calls = RecheckedCalls {
                            function: &recheck,
                            direct: &direct,
                            findings: &findings,
                        };
                        remade = remake_call_findings(
                            (&mut stored.diagnostics, &stored.contexts),
                            i,
                            file,
                            (old, new),
                            (&old_pinned, r, &added),
                            &rechecked_calls,
                            &filter::Filter::new(config, dep.root).ok()?,
                        )?;
                        pinned_helpers = added;
                        live_added = added_async;
                        live_removed = removed_async;
                    }
                }
                let reshaped = reshaped?;
                let mut pinned = reshaped.pinned;
                pinned.extend(&pinned_helpers);
                pinned.sort_unstable();
                pinned.dedup();
                set_of(&mut stored.pinned, i, pinned);
                // Live functions are pinned, so each has a number in the new facts.
                let mut live = list_of(&stored.live, i)
                    .iter()
                    .filter(|f| live_removed.binary_search(f).is_err())
                    .map(|&f| reshaped.new_of_old.get(f as usize).copied().flatten())
                    .collect::<Option<Vec<u32>>>()?;
                live.extend(&live_added);
                live.sort_unstable();
                set_of(&mut stored.live, i, live);
                if reshaped.new_of_old.len() != new.functions.len()
                    || (0..).zip(&reshaped.new_of_old).any(|(k, j)| *j != Some(k))
                {
                    renumber_contexts(&mut stored.contexts, i, &reshaped.new_of_old);
                    renumberings.push((i, reshaped.new_of_old.clone()));
                }
                // What the new text mentions is mentioned from now on (a superset is safe),
                // bar the names of the helpers added here: only the calls made again here
                // name them (see `local_helpers`), so that a later shift may remove them too.
                let helper_names: Vec<&str> = (pinned_helpers.iter())
                    .filter_map(|&j| Some(new.functions.get(j as usize)?.name.as_str()))
                    .collect();
                shift::mentioned_names(new, &mut |n| {
                    if !helper_names.contains(&n) {
                        names.push(shift::name_hash(n));
                    }
                });
                shift::path_pair_hashes(new, None, &mut |h| names.push(h));
                names.sort_unstable();
                names.dedup();
                reshaped.shift
            } else {
                shift::shift(old, new)?
            };
            if !shift::apply(
                &file.rel,
                &moved,
                &mut stored.diagnostics,
                &mut stored.notifications,
            ) {
                return None;
            }
            shifts.push((file.rel.clone(), moved));
            stored.diagnostics.append(&mut remade);
            let python = dep.catalog.language(Language::Python);
            let modules = modules.as_ref();
            let alone = |site: &CallSite| {
                let m = modules.filter(|_| file.language == Language::Python)?;
                external_call_resolution(python, site, &|p| m.follows(p))
            };
            let catalog = dep.catalog.language(file.language);
            if let Some(kf) = calls.and_then(|k| k.carry_over(new, &alone, catalog)) {
                carried.push((i, kf));
            }
            updates.push((i, new_entry, true));
        }
        Some(())
    })();
    if ok.is_none() {
        for (i, old) in taken {
            c.restore(&files[i].rel, old);
        }
        return None;
    }
    if let Some(names) = names {
        stored.set_names(&names);
    }
    let n = updates.len();
    let changed_files: Vec<usize> = updates.iter().map(|(i, _, _)| *i).collect();
    for (i, entry, reparsed) in updates {
        c.store(&files[i].rel, entry, reparsed);
    }
    for (i, (_, facts)) in lowered.drain() {
        c.restore(&files[i].rel, facts);
    }
    filter::sort_and_dedup(&mut stored.diagnostics);
    // The kept resolutions go on with the results: a shift leaves every definition as it
    // was, bar inert functions added or removed. Those of the changed files are dropped
    // (calls in functions no finding reads may have changed; they are resolved again when
    // next needed), and a changed file that numbers its functions anew is renumbered for
    // the resolutions pointing into it (see `kept_prior`).
    let at: HashMap<&str, u32> = (c.index.last_parsed.iter())
        .zip(0..)
        .map(|(rel, k)| (rel.as_str(), k))
        .collect();
    let dropped: Vec<u32> = changed_files
        .iter()
        .filter(|&&i| !carried.iter().any(|(j, _)| *j == i))
        .filter_map(|&i| at.get(files[i].rel.as_str()).copied())
        .collect();
    let carried: Vec<(u32, kept::KeptFile)> = carried
        .into_iter()
        .filter_map(|(i, kf)| Some((*at.get(files[i].rel.as_str())?, kf)))
        .collect();
    let renumbered: Option<Vec<(u32, Vec<Option<u32>>)>> = renumberings
        .into_iter()
        .map(|(i, map)| Some((*at.get(files[i].rel.as_str())?, map)))
        .collect();
    // The entries now hold the stat keys read above.
    if let Some((key, still)) = key_over(c, files, deps, stats, dep.settings_hash)
        && still.is_empty()
    {
        // Read under the key the results had (storing the new ones changes it).
        let mut chains = project_chains.unwrap_or_else(|| c.kept_chains(old_key));
        c.store_results(key, &stored);
        match renumbered {
            Some(renumbered) => {
                c.shift_kept(&dropped, &renumbered, carried);
                if let Some(chains) = chains.as_mut() {
                    let moved = |hop: &Hop| match shifts.iter().find(|(rel, _)| *rel == hop.path) {
                        Some((_, s)) => s.span(&hop.span).map(Some),
                        None => Some(None),
                    };
                    match chains::move_hops(chains, &moved) {
                        Some(false) => {}
                        Some(true) => c.store_kept_chains(chains),
                        // Forgotten: a later shift then makes no chain findings.
                        None => c.store_kept_chains(&chains::KeptChains::new()),
                    }
                }
            }
            None => c.store_kept_resolutions::<()>(key, None),
        }
    }
    c.save(&|rel| by_rel.contains_key(rel));
    Some((stored, n))
}

/// The kept call-site resolutions as a shifted reuse reads them, by place in `last_parsed`.
struct KeptAtShift {
    list: Vec<kept::KeptFile>,
    /// Places whose kept resolutions no longer hold (sorted).
    dropped: Vec<u32>,
    /// Places that number their functions anew (see `cache::KeptState::renumbered`).
    renumbered: Vec<(u32, Vec<Option<u32>>)>,
}

impl KeptAtShift {
    fn read(c: &mut cache::Cache, key: u64) -> Option<KeptAtShift> {
        let (list, state) = c.kept_resolutions(key)?;
        Some(KeptAtShift {
            list,
            dropped: state.dropped,
            renumbered: state.renumbered,
        })
    }

    /// File `rel`'s kept resolutions, decoded, if they still hold for its cached facts.
    fn decoded(&self, last_parsed: &[String], rel: &str) -> Option<kept::DecodedKept> {
        let at = last_parsed.iter().position(|r| r == rel)?;
        if self.dropped.binary_search(&u32::try_from(at).ok()?).is_ok() {
            return None;
        }
        self.list.get(at)?.decoded()
    }
}

/// The findings of a call in a function with the given context word, the hops of kept
/// chains moved as the given function says; `None` if they cannot be made.
type CallFindings<'a> =
    dyn Fn(&Function, &CallSite, &str, &dyn Fn(&mut Hop) -> bool) -> Option<Vec<Diagnostic>> + 'a;

/// Per file, per function: the context word of its findings (see [`StoredResults`]).
type Contexts = [(u32, Vec<(u32, String)>)];

/// The calls whose findings a shifted reuse makes again (see [`rechecked`]): library calls
/// the catalog resolves alone, and calls that repeat a kept resolution reaching functions
/// whose chains are kept (see `loopguard_analysis::chains`).
struct RecheckedCalls<'a> {
    /// Whether a function is rechecked ([`rechecked`]).
    function: &'a dyn Fn(&Function) -> bool,
    /// Whether a call of a (rechecked) function is one.
    direct: &'a dyn Fn(&Function, &CallSite) -> bool,
    /// Its findings.
    findings: &'a CallFindings<'a>,
}

/// Drops from `diagnostics` the findings of the rechecked calls in the pinned, rechecked
/// functions of `file`'s old facts and returns those of its new facts, made again and
/// filtered as a run filters its findings; `None` if one cannot be made. `pinned`: the old
/// facts' pinned functions, the reshape that numbers the new ones and moves their
/// positions, and the functions of the new facts the caller vouches for as added.
fn remake_call_findings(
    (diagnostics, contexts): (&mut Vec<Diagnostic>, &Contexts),
    i: usize,
    file: &SourceFile,
    (old, new): (&FileFacts, &FileFacts),
    (old_pinned, r, added): (&[u32], &shift::Reshaped, &[u32]),
    calls: &RecheckedCalls,
    filter: &filter::Filter,
) -> Option<Vec<Diagnostic>> {
    // The findings of the old calls go: each is known by its place, rule, message (which
    // names the API, the call and the function) and chain, so that no other finding at
    // the same place goes with it.
    let mut gone: Vec<Diagnostic> = Vec::new();
    for (k, f) in (0u32..).zip(&old.functions) {
        if old_pinned.binary_search(&k).is_err() {
            continue;
        }
        for site in f.calls.iter().filter(|s| (calls.direct)(f, s)) {
            gone.extend((calls.findings)(f, site, "async", &|_| true)?);
        }
    }
    diagnostics.retain(|d| {
        !(d.path == file.rel
            && d.related.is_empty()
            && gone.iter().any(|g| {
                d.span == g.span && d.code == g.code && d.message == g.message && d.chain == g.chain
            }))
    });
    let mut old_of_new: Vec<Option<u32>> = vec![None; new.functions.len()];
    for (k, j) in (0u32..).zip(&r.new_of_old) {
        if let Some(slot) = j.and_then(|j| old_of_new.get_mut(j as usize)) {
            *slot = Some(k);
        }
    }
    // A hop of a kept chain in this file is where the old facts had it.
    let move_hop = |hop: &mut Hop| {
        if hop.path != file.rel {
            return true;
        }
        match r.shift.span(&hop.span) {
            Some(span) => {
                hop.span = span;
                true
            }
            None => false,
        }
    };
    let contexts = list_of_contexts(contexts, i);
    let mut made = Vec::new();
    for (j, f) in (0u32..).zip(&new.functions) {
        let vouched = r.pinned.binary_search(&j).is_ok() || added.binary_search(&j).is_ok();
        if !vouched || !(calls.function)(f) {
            continue;
        }
        let context = old_of_new[j as usize]
            .and_then(|k| contexts.iter().find(|(g, _)| *g == k))
            .map_or("async", |(_, c)| c.as_str());
        for site in f.calls.iter().filter(|s| (calls.direct)(f, s)) {
            made.extend((calls.findings)(f, site, context, &move_hop)?);
        }
    }
    if made.is_empty() {
        return Some(made);
    }
    let requested: FxHashSet<&str> = file
        .requested
        .then_some(file.rel.as_str())
        .into_iter()
        .collect();
    Some(filter.apply(made, std::slice::from_ref(new), &requested))
}

/// Whether a shifted reuse makes the findings of `f`'s library calls again itself
/// (`loopguard_analysis::direct_findings`): an async function (not a closure or an async
/// block: its role is `Async`) that LG501, which reads a function's calls as a whole,
/// cannot apply to. LG501 skips a function that awaits, and needs a `route` or
/// `dependency` context, which a function without decorators (a route's comes from its
/// own) cannot have while the project names no dependency API of the catalog
/// (`Depends`, `Security`: a dependency's comes from a parameter default `Depends(f)`
/// elsewhere; see [`dependencies_named`]). `dispatch` and `__call__` may take a
/// middleware's context, by name.
fn rechecked(f: &Function, dependencies_named: bool) -> bool {
    f.is_async
        && matches!(f.kind, FunctionKind::Function | FunctionKind::Method)
        && (!f.awaits.is_empty() || f.has_async_syntax || no_endpoint(f, dependencies_named))
}

/// Whether `f` cannot have a `route`, `dependency` or `middleware` context (see
/// [`rechecked`]), so that LG501 never applies to it, whether it awaits or not.
fn no_endpoint(f: &Function, dependencies_named: bool) -> bool {
    !dependencies_named && f.decorators.is_empty() && f.name != "dispatch" && f.name != "__call__"
}

/// Whether the names the last run's files mention (`mentioned`) or `new` mentions include
/// one of the catalog's dependency APIs (`fastapi.Depends` ...); `true` when a wildcard
/// entry makes any name one.
fn dependencies_named(
    catalog: &LanguageCatalog,
    mentioned: &dyn Fn(&str) -> bool,
    new: &FileFacts,
) -> bool {
    let Some(names) = catalog
        .endpoints
        .last_names_of(|k| *k == loopguard_core::catalog::EndpointKind::Dependency)
    else {
        return true;
    };
    let mut named = names.iter().any(|n| mentioned(n));
    shift::mentioned_names(new, &mut |n| named |= names.contains(&n));
    named
}

/// What the search for helpers an edit added or removed (see
/// [`HelperSearch::local_helpers`] and [`HelperSearch::offloaded_helpers`]) goes by: whether
/// a name is mentioned by the last run's files, which async functions a shifted reuse
/// rechecks, whether the file's module is the only one of its name, the catalog, and the
/// resolution of a call by the catalog alone.
#[derive(Clone, Copy)]
struct HelperSearch<'a, 'c> {
    mentioned: &'a dyn Fn(&str) -> bool,
    rechecked: &'a dyn Fn(&Function) -> bool,
    unique: bool,
    catalog: &'c LanguageCatalog,
    resolve_alone: &'a dyn Fn(&CallSite) -> Option<Resolution<'c>>,
}

impl<'c> HelperSearch<'_, 'c> {
    /// The functions of `new` that are not in `old` (by qualified name) and are plain sync
    /// helpers whose chains a shifted reuse can make itself (`chains::local_chains`), with
    /// those chains: those an edit added (or, with the sides swapped, removed). Such a helper
    /// is a [`HelperSearch::candidates`] each of whose calls is a library call the catalog resolves
    /// alone (`resolve_alone`) that hands nothing over (bar attributes of its own class, read
    /// as arguments) and switches nothing; and the file names it only in calls of it from
    /// `rechecked` async functions, whose findings the run makes again. Nothing else
    /// reaches it: its role is `Sync`, and demand follows nothing from it that it did not
    /// follow already (the caller compares the demand signatures).
    fn local_helpers(
        &self,
        (old, new): (&FileFacts, &FileFacts),
        switch: &dyn Fn(&CallSite) -> bool,
    ) -> Vec<(u32, HotFunction)> {
        let HelperSearch {
            rechecked,
            catalog,
            resolve_alone,
            ..
        } = *self;
        let mut out: Vec<(u32, HotFunction)> = Vec::new();
        for j in self.candidates((old, new)) {
            let f = &new.functions[j as usize];
            let resolutions = (f.calls.iter())
                .map(|site| {
                    // A parameter passed on makes an offload wrapper only of a function whose
                    // call offloads or reaches a wrapper: these calls do neither.
                    if !site.closure_args.is_empty()
                        || !site.callable_args.iter().all(|c| own_attribute(f, c))
                        || switch(site)
                    {
                        return None;
                    }
                    let res = resolve_alone(site)?;
                    (!res.offload && !res.loop_callback && res.endpoint.is_none()).then_some(res)
                })
                .collect::<Option<Vec<_>>>();
            if let Some(chains) =
                resolutions.and_then(|r| chains::local_chains(f, &new.path, &r, catalog))
            {
                out.push((j, chains));
            }
        }
        // Named only by calls of it in rechecked functions.
        named_only_by(new, out, &|qualname| {
            (new.functions.iter())
                .filter(|g| rechecked(g))
                .flat_map(|g| &g.calls)
                .filter(|site| {
                    matches!(&site.callee, Callee::Path(p) if p == qualname)
                        && site.kind == CallKind::Call
                })
                .count()
        })
    }

    /// The functions of `new` that are not in `old` and that the file only hands to offloads
    /// (`await hass.async_add_executor_job(self._read)`, `await asyncio.to_thread(_load, p)`):
    /// [`HelperSearch::candidates`] named in the file only as callables passed by reference to the
    /// calls `offloads` vouches for (awaited offloads that pass no closure or parameter, in
    /// `rechecked` async functions; the caller makes their findings, none, itself). Such a
    /// helper runs on a worker thread only: a callable passed by reference to an offload gets
    /// no role (the analysis' `role_effects`), so its role is `Sync`, and no code on the loop
    /// calls it, so it has no findings and its calls need no chains. Its calls matter only to
    /// demand, which the caller compares, and to roles: each must pass no closure, and no
    /// callable but attributes of its own class to calls `resolve_alone` vouches schedule
    /// nothing.
    fn offloaded_helpers(
        &self,
        (old, new): (&FileFacts, &FileFacts),
        offloads: &dyn Fn(&CallSite) -> bool,
    ) -> Vec<u32> {
        let HelperSearch {
            rechecked,
            resolve_alone,
            ..
        } = *self;
        // A parameter passed on may make the helper an offload wrapper, which changes only
        // what calls of it do: there are none.
        let hands_nothing_over = |f: &Function, site: &CallSite| {
            site.closure_args.is_empty()
                && (site.callable_args.is_empty()
                    || site.callable_args.iter().all(|c| own_attribute(f, c))
                        && resolve_alone(site).is_some_and(|r| {
                            !r.offload && !r.loop_callback && r.endpoint.is_none()
                        }))
        };
        let out: Vec<(u32, ())> = (self.candidates((old, new)).into_iter())
            .filter(|&j| {
                let f = &new.functions[j as usize];
                f.calls.iter().all(|site| hands_nothing_over(f, site))
            })
            .map(|j| (j, ()))
            .collect();
        named_only_by(new, out, &|qualname| {
            (new.functions.iter())
                .filter(|g| rechecked(g))
                .flat_map(|g| &g.calls)
                .filter(|site| offloads(site))
                .flat_map(|site| &site.callable_args)
                .filter(|c| matches!(c, Callee::Path(p) if p == qualname))
                .count()
        })
        .into_iter()
        .map(|(j, ())| j)
        .collect()
    }

    /// The async functions of `new` that are not in `old` (by qualified name) and that no
    /// code reaches but calls of them, which give no finding (`check_calls` follows no call
    /// of an async function; the calls must hand nothing over): an undecorated module-level
    /// `async def`, or such a method of a class the old and new facts both define, under a
    /// name no file of the last run mentions and no other function of the file goes by, not
    /// a dunder, `dispatch` or `__call__`, without guards, attributes, nested functions or
    /// parameter defaults that call, that a shifted reuse rechecks, and that the file names
    /// only in such calls (see [`named_only_by`]). Candidates: the caller checks that each of
    /// its calls is one whose findings it makes itself (or that makes none).
    fn async_functions(&self, (old, new): (&FileFacts, &FileFacts)) -> Vec<u32> {
        let HelperSearch {
            mentioned,
            rechecked,
            unique,
            catalog,
            ..
        } = *self;
        if !unique {
            return Vec::new();
        }
        let placed = |f: &Function| match f.class.as_deref() {
            None => f.kind == FunctionKind::Function,
            Some(class) => {
                f.kind == FunctionKind::Method
                    && [old, new]
                        .iter()
                        .all(|facts| facts.classes.iter().any(|c| c.qualname == class))
            }
        };
        let named_alike = |f: &Function| {
            (old.functions.iter().chain(&new.functions))
                .any(|g| g.name == f.name && !std::ptr::eq(g, f))
        };
        let out: Vec<(u32, ())> = added_functions(old, new)
            .filter(|&(j, f)| {
                f.is_async
                    && placed(f)
                    && f.parent.is_none()
                    && f.decorators.is_empty()
                    && f.guards.is_empty()
                    && f.attributes.is_empty()
                    && !f.is_dunder()
                    && f.name != "dispatch"
                    && f.name != "__call__"
                    && rechecked(f)
                    && !mentioned(&f.name)
                    && !in_catalog(catalog, &f.qualname)
                    && (f.params.iter())
                        .all(|p| p.default_call.is_none() && p.default_args.is_empty())
                    && !named_alike(f)
                    && !new.functions.iter().any(|g| g.parent == Some(j))
            })
            .map(|(j, _)| (j, ()))
            .collect();
        named_only_by(new, out, &|qualname| {
            (new.functions.iter())
                .flat_map(|g| &g.calls)
                .filter(|site| calls_by_path(site, qualname))
                .count()
        })
        .into_iter()
        .map(|(j, ())| j)
        .collect()
    }

    /// The functions of `new` that are not in `old` (by qualified name) and may be helpers
    /// of [`HelperSearch::local_helpers`] and [`HelperSearch::offloaded_helpers`]: a
    /// module-level `def` or a plain method ([`plain_method`]) (no decorators, parameter
    /// defaults, nested functions, awaits, guards or attributes) under a name no file of the
    /// last run mentions, not in the catalog, the only function of its qualified name in a
    /// module no other file goes by (`unique`).
    fn candidates(&self, (old, new): (&FileFacts, &FileFacts)) -> Vec<u32> {
        let HelperSearch {
            mentioned,
            unique,
            catalog,
            ..
        } = *self;
        if !unique {
            return Vec::new();
        }
        let mut out = Vec::new();
        // Only what the edit added (`plain_method` scans the file).
        for (j, f) in added_functions(old, new) {
            let plain = (shift::is_plain_sync(f) && f.kind == FunctionKind::Function
                || plain_method(f, (old, new)))
                && f.parent.is_none()
                && (f.params.iter()).all(|p| p.default_call.is_none() && p.default_args.is_empty());
            if plain
                && !mentioned(&f.name)
                && !in_catalog(catalog, &f.qualname)
                && !(new.functions.iter()).any(|g| {
                    g.parent == Some(j) || (g.qualname == f.qualname && !std::ptr::eq(g, f))
                })
            {
                out.push(j);
            }
        }
        out
    }
}

/// The functions of `new` (numbered) that `old` does not define by qualified name.
fn added_functions<'f>(
    old: &FileFacts,
    new: &'f FileFacts,
) -> impl Iterator<Item = (u32, &'f Function)> {
    let old_names: FxHashSet<&str> = (old.functions.iter())
        .map(|f| f.qualname.as_str())
        .collect();
    (0u32..)
        .zip(&new.functions)
        .filter(move |(_, f)| !old_names.contains(f.qualname.as_str()))
}

/// Whether the catalog names `qualname` (as opaque, an offload, a loop callback or an
/// endpoint): a function it names is looked up by more than its calls.
fn in_catalog(catalog: &LanguageCatalog, qualname: &str) -> bool {
    catalog.opaque.path(qualname, None).is_some()
        || catalog.offloads.path(qualname, None).is_some()
        || catalog.loop_callbacks.path(qualname, None).is_some()
        || catalog.endpoints.path(qualname, None).is_some()
}

/// Whether one of the functions `ids` of `facts` has the qualified name `path`.
fn named_among(facts: &FileFacts, ids: &[u32], path: &str) -> bool {
    (ids.iter()).any(|&j| (facts.functions.get(j as usize)).is_some_and(|f| f.qualname == path))
}

/// A plain call of `qualname` by path that hands nothing over (`self._async_load()`).
fn calls_by_path(site: &CallSite, qualname: &str) -> bool {
    matches!(&site.callee, Callee::Path(p) if p == qualname)
        && site.kind == CallKind::Call
        && !shift::has_effects(site)
}

/// `open(self._path)` in a method of `C`: an attribute of its own class passed to a call
/// that neither offloads nor schedules it is no callable handed over, and demand finds
/// nothing new in this very file.
fn own_attribute(f: &Function, c: &Callee) -> bool {
    match (c, &f.class) {
        (Callee::Path(p), Some(class)) => {
            rsplit_path(p, ".").is_some_and(|(owner, name)| owner == class && !name.is_empty())
        }
        _ => false,
    }
}

/// The helpers of `out` (functions of `new`, by number) that the file names only in the
/// uses `uses` counts by qualified name: each use mentions the name once, and so does the
/// definition of a method of a class with bases (a possible override, see
/// [`shift::mentioned_names`]).
fn named_only_by<T>(
    new: &FileFacts,
    mut out: Vec<(u32, T)>,
    uses: &dyn Fn(&str) -> usize,
) -> Vec<(u32, T)> {
    if out.is_empty() {
        return out;
    }
    let mut mentions = vec![0usize; out.len()];
    let name = |k: usize| &new.functions[out[k].0 as usize];
    let subclasses = shift::classes_with_bases(new);
    let allowed: Vec<usize> = (0..out.len())
        .map(|k| {
            let f = name(k);
            usize::from(f.class.as_deref().is_some_and(|c| subclasses.contains(c)))
                + uses(&f.qualname)
        })
        .collect();
    shift::mentioned_names(new, &mut |n| {
        for (k, m) in mentions.iter_mut().enumerate() {
            *m += usize::from(n == name(k).name);
        }
    });
    let mut k = 0;
    out.retain(|_| {
        k += 1;
        mentions[k - 1] == allowed[k - 1]
    });
    out
}

/// A plain sync method [`HelperSearch::local_helpers`] may take for a helper: a plain body
/// ([`shift::has_plain_sync_body`]), in a class both sides define, under a name no other
/// function of either side goes by, and neither a dunder ([`Function::is_dunder`]) nor
/// `dispatch` (a middleware's, by name, in the analysis' `role_effects`). Its unmentioned
/// name (see [`shift::mentioned_names`]) keeps lookups by name and overrides in subclasses
/// away; `self.m()` in its class names it by path.
fn plain_method(f: &Function, (old, new): (&FileFacts, &FileFacts)) -> bool {
    let Some(class) = f.class.as_deref() else {
        return false;
    };
    let in_both = |facts: &FileFacts| facts.classes.iter().any(|c| c.qualname == class);
    let elsewhere = |facts: &FileFacts| {
        (facts.functions.iter()).any(|g| g.name == f.name && !std::ptr::eq(g, f))
    };
    f.kind == FunctionKind::Method
        && shift::has_plain_sync_body(f)
        && !f.is_dunder()
        && f.name != "dispatch"
        && in_both(old)
        && in_both(new)
        && !elsewhere(old)
        && !elsewhere(new)
}

/// The contexts of `file` in [`StoredResults::contexts`] (empty if it has none).
fn list_of_contexts(lists: &[(u32, Vec<(u32, String)>)], file: usize) -> &[(u32, String)] {
    lists
        .binary_search_by_key(&file, |(f, _)| *f as usize)
        .map_or(&[], |i| &lists[i].1)
}

/// Renumbers the functions of `file` in [`StoredResults::contexts`] (`new_of_old`: by old
/// number, the new one; `None`: removed).
fn renumber_contexts(
    lists: &mut [(u32, Vec<(u32, String)>)],
    file: usize,
    new_of_old: &[Option<u32>],
) {
    if let Ok(at) = lists.binary_search_by_key(&file, |(f, _)| *f as usize) {
        let list = std::mem::take(&mut lists[at].1);
        lists[at].1 = list
            .into_iter()
            .filter_map(|(k, c)| Some((new_of_old.get(k as usize).copied().flatten()?, c)))
            .collect();
    }
}

/// The module names of the project's Python files, as the load names them (see
/// [`python_modules`]; the results key covers the file list and the entries' module names,
/// see `reread`).
struct PythonModules {
    all: FxHashSet<String>,
    /// Every proper prefix of a name in `all` that is not in `all` itself (a package
    /// without an `__init__.py`).
    packages: FxHashSet<String>,
    /// Names more than one parsed file (one with a cache entry) goes by.
    repeated: FxHashSet<String>,
}

impl PythonModules {
    /// Whether demand can follow `path`: as `load::followed_by_demand`.
    fn follows(&self, path: &str) -> bool {
        demand::module_prefixes(path, ".").any(|prefix| self.all.contains(prefix))
    }

    /// Whether demand can follow `path`, or a module's name starts with it (see
    /// `demand::Signature::of`).
    fn leads_into(&self, path: &str) -> bool {
        self.follows(path) || self.packages.contains(path)
    }

    /// Whether no other file that defines anything goes by module name `module` (then a
    /// qualified name of its functions is theirs alone).
    fn unique(&self, module: &str) -> bool {
        !self.repeated.contains(module)
    }
}

/// [`PythonModules`] of the project's files: the module names their cache entries record,
/// and for a file without one (unreadable, not UTF-8, too large: never parsed, so it
/// defines nothing) the name the load gives it (`discover::PythonModules`, made only
/// then), so that demand's view of which paths are the project's is the load's.
fn python_modules(c: &cache::Cache, dep: &Deps) -> PythonModules {
    let mut namer: Option<discover::PythonModules> = None;
    let mut modules = PythonModules {
        all: FxHashSet::default(),
        packages: FxHashSet::default(),
        repeated: FxHashSet::default(),
    };
    let mut parsed: FxHashSet<&str> = FxHashSet::default();
    for f in dep.files.iter().filter(|f| f.language == Language::Python) {
        match c.index.entries.get(&f.rel) {
            Some(e) => {
                if !parsed.insert(e.module.as_str()) {
                    modules.repeated.insert(e.module.clone());
                }
                modules.all.insert(e.module.clone());
            }
            None => {
                let namer = namer.get_or_insert_with(|| {
                    discover::PythonModules::new(dep.files, dep.root, dep.src_roots)
                });
                modules.all.insert(namer.module_of(&f.abs).0);
            }
        }
    }
    modules.packages = load::packages_of(modules.all.iter().map(String::as_str));
    modules
}

/// A changed file read again: its cache entry, the entry it gets now (new stat key and
/// content hash) and its text; `None` unless it is still what the cache took it for
/// (known, under the size limit, UTF-8, the same answer from the byte scan).
pub(crate) fn reread(
    c: &cache::Cache,
    file: &SourceFile,
    stat: cache::StatKey,
    max_size: u64,
    scan: &load::RootScan,
) -> Option<(cache::IndexEntry, cache::IndexEntry, String)> {
    let entry = c.index.entries.get(file.rel.as_str())?.clone();
    if stat.size > max_size {
        return None;
    }
    let bytes = std::fs::read(&file.abs).ok()?;
    let hash = cache::content_hash(&bytes);
    let text = String::from_utf8(bytes).ok()?;
    if scan.may_have_roots(file.language, &text) != entry.may_have_roots {
        return None;
    }
    let new_entry = cache::IndexEntry {
        stat,
        hash,
        ..entry.clone()
    };
    Some((entry, new_entry, text))
}

/// Writes a file atomically: a temp file in the same folder, flushed to disk, then a rename
/// over the target. For files people own (baselines, fixed sources).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_via_temp(path, bytes, true)
}

/// Atomic like [`atomic_write`] but without waiting for the disk: for the cache, which is
/// checked on read and rebuilt when damaged, and where a sync per run would cost more than it
/// protects.
pub fn atomic_write_unsynced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_via_temp(path, bytes, false)
}

fn write_via_temp(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    // Unique per process and call, so concurrent runs never share a temp file.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
