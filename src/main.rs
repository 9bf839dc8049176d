//! The `loopguard` command line: parses arguments and hands over to the engine and the
//! reporters. Exit status: 0 no findings, 1 findings, 2 usage, config or internal error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use loopguard_core::diagnostic::Confidence;
use loopguard_core::rules::{self, RULES};
use loopguard_engine::baseline::Baseline;
use loopguard_engine::{EngineError, Settings};
use loopguard_report::{Format, Report};

#[derive(Parser)]
#[command(
    name = "loopguard",
    version,
    about = "Finds code that stalls an event loop: blocking calls, blocking locks and nested \
             event loops reached from async Python and Rust",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check files or folders (default: the current folder).
    Check(CheckArgs),
    /// Explain a rule: what it reports, why, an example and the fix.
    Rule {
        /// Rule code (LG301) or name (blocking-http).
        code: String,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        output_format: ListFormat,
    },
    /// List all rules.
    Rules {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        output_format: ListFormat,
    },
    /// Write one Markdown triage document per root cause of the findings, plus a README
    /// index; re-running updates them and keeps every human edit.
    Triage {
        #[command(flatten)]
        check: CheckArgs,
        /// The triage folder.
        #[arg(long)]
        out: PathBuf,
        /// Date for Work Log entries (YYYY-MM-DD; default: today, UTC).
        #[arg(long)]
        date: Option<String>,
    },
    /// Remove the cache of the project containing PATH (default: the current folder).
    Clean {
        path: Option<PathBuf>,
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ListFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutputFormat {
    Pretty,
    Json,
    Sarif,
    Github,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ConfidenceArg {
    Certain,
    Likely,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Files or folders to check.
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Pretty)]
    output_format: OutputFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Only these rule codes or prefixes (comma-separated; overrides the config's `select`).
    #[arg(long, value_delimiter = ',')]
    select: Option<Vec<String>>,
    /// Add rule codes or prefixes to the selection.
    #[arg(long, value_delimiter = ',')]
    extend_select: Vec<String>,
    /// Rule codes or prefixes to turn off.
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Exit 0 even when there are findings.
    #[arg(long)]
    exit_zero: bool,
    /// Show a count of findings per rule, and (on stderr) how many files were checked and
    /// parsed and how the cache served the run.
    #[arg(long)]
    statistics: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Use this config file instead of searching for one.
    #[arg(long, conflicts_with = "no_config")]
    config: Option<PathBuf>,
    /// Ignore config files.
    #[arg(long)]
    no_config: bool,
    /// Print nothing but findings (pretty: no summary line).
    #[arg(long, short)]
    quiet: bool,
    /// Hide findings below this confidence (`certain` hides name-based matches).
    #[arg(long, value_enum)]
    confidence: Option<ConfidenceArg>,
    /// Report only blocking calls written directly in async code (no call chains).
    #[arg(long)]
    direct_only: bool,
    /// Report only findings not recorded in this baseline file.
    #[arg(long, conflicts_with = "write_baseline")]
    baseline: Option<PathBuf>,
    /// Record the current findings in this baseline file (then exit 0).
    #[arg(long)]
    write_baseline: Option<PathBuf>,
    /// Apply safe fixes (LG501: `async def` endpoints that never await become `def`).
    #[arg(long)]
    fix: bool,
    /// Print the fixes as a unified diff instead of applying them.
    #[arg(long)]
    diff: bool,
    /// Do not read or write the cache (.loopguard_cache/).
    #[arg(long)]
    no_cache: bool,
    /// Cache folder (default: `.loopguard_cache` at the project root; also
    /// `LOOPGUARD_CACHE_DIR` or `cache-dir` in the config).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
}

/// mimalloc: parsing and lowering allocate many small, short-lived objects, and glibc's
/// allocator cost about 13% of a cold run (perf, Home Assistant core).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // No transparent huge pages unless the run starts from a cache (see `memory`).
    loopguard_engine::memory::huge_pages(false);
    // SAFETY: no tree-sitter object exists yet and no other thread runs.
    unsafe { loopguard_python::use_mimalloc_for_parser() };
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check(args),
        Command::Rule {
            code,
            output_format,
        } => explain_rule(&code, output_format),
        Command::Rules { output_format } => list_rules(output_format),
        Command::Clean { path, cache_dir } => clean(path, cache_dir),
        Command::Triage { check, out, date } => triage(check, out, date),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loopguard: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn settings_of(args: &CheckArgs) -> Result<Settings, EngineError> {
    if args.threads == Some(0) {
        return Err(EngineError::Usage("--threads must be at least 1".into()));
    }
    Ok(Settings {
        paths: if args.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.paths.clone()
        },
        config_file: args.config.clone(),
        no_config: args.no_config,
        threads: args.threads,
        select: args.select.clone(),
        extend_select: args.extend_select.clone(),
        ignore: args.ignore.clone(),
        confidence: args.confidence.map(|c| match c {
            ConfidenceArg::Certain => Confidence::Certain,
            ConfidenceArg::Likely => Confidence::Likely,
        }),
        direct_only: args.direct_only,
        no_cache: args.no_cache,
        cache_dir: args.cache_dir.clone(),
    })
}

fn triage(args: CheckArgs, out: PathBuf, date: Option<String>) -> Result<ExitCode, EngineError> {
    let settings = settings_of(&args)?;
    let outcome = loopguard_engine::check(&settings)?;
    let options = loopguard_triage::TriageOptions {
        out_dir: out.clone(),
        today: date.unwrap_or_else(today_utc),
        priority_overrides: outcome.config.triage_priority.clone(),
    };
    let summary = loopguard_triage::write_triage(&outcome.diagnostics, &options)
        .map_err(|e| EngineError::Usage(e.to_string()))?;
    for left in &summary.left_alone {
        eprintln!(
            "loopguard: warning: left {} alone: {}",
            left.path.display(),
            left.reason
        );
    }
    eprintln!(
        "loopguard: {} finding(s) in {} item(s) under {}: {} created, {} updated, {} unchanged, {} no longer detected",
        summary.findings,
        summary.created.len() + summary.updated.len() + summary.unchanged.len(),
        out.display(),
        summary.created.len(),
        summary.updated.len(),
        summary.unchanged.len(),
        summary.no_longer_detected.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Today's date in UTC as `YYYY-MM-DD` (civil-from-days, Howard Hinnant's algorithm).
fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn check(args: CheckArgs) -> Result<ExitCode, EngineError> {
    let settings = settings_of(&args)?;
    let mut outcome = loopguard_engine::check(&settings)?;
    if let Some(path) = &args.write_baseline {
        let baseline = Baseline::from_diagnostics(&outcome.diagnostics);
        baseline.write(path)?;
        eprintln!(
            "loopguard: wrote {} finding(s) to baseline {}",
            baseline.entries.len(),
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if args.statistics {
        eprintln!(
            "loopguard: {} file(s) checked, {} parsed or taken from the cache; cache: {}",
            outcome.files_checked,
            outcome.files_parsed,
            cache_use(outcome.cache)
        );
    }
    let mut fixed_baseline_entries = None;
    if let Some(path) = &args.baseline {
        let baseline = Baseline::read(path)?;
        let (kept, fixed) = baseline.filter(std::mem::take(&mut outcome.diagnostics));
        outcome.diagnostics = kept;
        fixed_baseline_entries = Some(fixed);
    }
    if args.fix || args.diff {
        let fixes = loopguard_engine::fix::plan(&outcome.diagnostics, &outcome.root);
        if args.diff {
            let mut out = std::io::stdout().lock();
            for f in &fixes {
                write!(out, "{}", loopguard_engine::fix::unified_diff(f))
                    .map_err(|e| EngineError::Internal(e.to_string()))?;
            }
            return Ok(if fixes.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        let n = loopguard_engine::fix::apply(&fixes, &outcome.root)
            .map_err(|e| EngineError::Internal(format!("cannot write a fix: {e}")))?;
        if n > 0 {
            eprintln!("loopguard: fixed {n} finding(s)");
        }
        let fixed_paths: std::collections::HashSet<&str> =
            fixes.iter().map(|f| f.path.as_str()).collect();
        outcome
            .diagnostics
            .retain(|d| !(d.code == "LG501" && fixed_paths.contains(d.path.as_str())));
    }
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let format = match args.output_format {
        OutputFormat::Pretty => Format::Pretty { color },
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Github => Format::Github,
    };
    let source = |rel: &str| outcome.source(rel);
    let root_uri = root_uri(&outcome.root);
    let version = env!("CARGO_PKG_VERSION");
    let report = Report {
        diagnostics: &outcome.diagnostics,
        notifications: &outcome.notifications,
        files_checked: outcome.files_checked,
        tool_version: version,
        source: &source,
        root_uri,
        statistics: args.statistics,
        fixed_baseline_entries,
    };
    let write_err =
        |e: std::io::Error| EngineError::Internal(format!("cannot write the report: {e}"));
    match &args.output {
        Some(path) => {
            let mut buf = Vec::new();
            loopguard_report::write(&format, &report, &mut buf).map_err(write_err)?;
            std::fs::write(path, buf)
                .map_err(|e| EngineError::Usage(format!("cannot write {}: {e}", path.display())))?;
        }
        None => {
            // Buffered: stdout is line-buffered, and a JSON report of thousands of findings
            // would cost a write call per line.
            let mut lock = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            let quiet_clean = args.quiet
                && matches!(format, Format::Pretty { .. })
                && outcome.diagnostics.is_empty();
            let written = if quiet_clean {
                Ok(())
            } else {
                loopguard_report::write(&format, &report, &mut lock)
            };
            match written.and_then(|()| lock.flush()) {
                // The reader went away (`loopguard check | head`): not an error of ours.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.map_err(write_err)?,
            }
        }
    }
    Ok(if outcome.diagnostics.is_empty() || args.exit_zero {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// How the cache served a run, for `--statistics`.
fn cache_use(how: loopguard_engine::CacheUse) -> String {
    use loopguard_engine::CacheUse;
    match how {
        CacheUse::Off => "off".into(),
        CacheUse::Results => "nothing changed, stored findings reused".into(),
        CacheUse::Touched { files } => format!(
            "nothing changed ({files} file(s) with a new modification time, contents as cached), stored findings reused"
        ),
        CacheUse::Shifted { changed } => format!(
            "{changed} changed file(s) matched to their cached facts, stored findings reused without the analysis (positions moved, findings of changed calls made again)"
        ),
        CacheUse::Facts {
            parsed,
            kept_resolutions,
        } => format!(
            "{parsed} file(s) parsed, the rest from the cache; analysis run{}",
            if kept_resolutions {
                ", with the other files' call sites resolved as before"
            } else {
                ""
            }
        ),
        CacheUse::SameFiles {
            parsed,
            kept_resolutions,
        } => format!(
            "{parsed} file(s) parsed, the rest from the cache; the files of the last run analysed again{}",
            if kept_resolutions {
                ", with the other files' call sites resolved as before"
            } else {
                ""
            }
        ),
    }
}

fn clean(path: Option<PathBuf>, cache_dir: Option<PathBuf>) -> Result<ExitCode, EngineError> {
    let settings = Settings {
        paths: vec![path.unwrap_or_else(|| PathBuf::from("."))],
        cache_dir,
        ..Default::default()
    };
    let resolved = loopguard_engine::resolve(&settings)?;
    let dir = loopguard_engine::cache_dir(&settings, &resolved.config, &resolved.root);
    match loopguard_engine::cache::clean(&dir) {
        Ok(true) => eprintln!("loopguard: removed {}", dir.display()),
        Ok(false) => eprintln!("loopguard: no cache at {}", dir.display()),
        Err(e) => return Err(EngineError::Usage(format!("cannot remove the cache: {e}"))),
    }
    Ok(ExitCode::SUCCESS)
}

/// `file:///abs/root/` for SARIF's `%SRCROOT%`.
fn root_uri(root: &std::path::Path) -> Option<String> {
    let abs = std::path::absolute(root).ok()?;
    let s = abs.to_str()?;
    let mut uri = String::from("file://");
    for c in s.chars() {
        match c {
            ' ' => uri.push_str("%20"),
            '%' => uri.push_str("%25"),
            '#' => uri.push_str("%23"),
            '?' => uri.push_str("%3F"),
            '\\' => uri.push('/'),
            c => uri.push(c),
        }
    }
    if !uri.ends_with('/') {
        uri.push('/');
    }
    Some(uri)
}

fn explain_rule(code: &str, format: ListFormat) -> Result<ExitCode, EngineError> {
    let Some(rule) = rules::by_code_or_name(code) else {
        return Err(EngineError::Usage(format!(
            "unknown rule `{code}`; `loopguard rules` lists them"
        )));
    };
    let mut out = std::io::stdout().lock();
    let res = match format {
        ListFormat::Text => writeln!(out, "{}", rule.doc.trim_end()),
        ListFormat::Json => writeln!(out, "{}", rule_json(rule)),
    };
    res.map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

fn rule_json(rule: &rules::Rule) -> serde_json::Value {
    serde_json::json!({
        "code": rule.code,
        "name": rule.name,
        "summary": rule.summary,
        "category": rule.category,
        "severity": rule.severity.as_str(),
        "doc": rule.doc,
    })
}

fn list_rules(format: ListFormat) -> Result<ExitCode, EngineError> {
    let mut out = std::io::stdout().lock();
    let res = match format {
        ListFormat::Text => RULES.iter().try_for_each(|r| {
            writeln!(
                out,
                "{:<6} {:<28} {:<8} {}",
                r.code,
                r.name,
                r.severity.as_str(),
                r.summary
            )
        }),
        ListFormat::Json => {
            let all: Vec<_> = RULES.iter().map(rule_json).collect();
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".into())
            )
        }
    };
    res.map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}
