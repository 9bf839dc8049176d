//! `loopguard-parse-floor`: the raw parse floor loopguard is compared with, and the no-panic
//! sweep of its front ends.
//!
//! ```text
//! loopguard-parse-floor --lang python [--only-async] [--threads N] [--json] PATH...
//! loopguard-parse-floor --lang rust --sweep PATH...
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use loopguard_bench::{Lang, corpus, floor, pool, secs, sweep};
use loopguard_core::config::DEFAULT_MAX_FILE_SIZE;

#[derive(Parser)]
#[command(
    name = "loopguard-parse-floor",
    about = "Reads and parses every file (tree-sitter-python or syn) in parallel and prints \
             files, bytes, seconds, files/s and MB/s: the floor loopguard is compared with"
)]
struct Args {
    /// Files or folders (folders are walked as loopguard walks them).
    #[arg(required_unless_present = "files_from")]
    paths: Vec<PathBuf>,
    /// Also parse the files listed in this file, one path per line (e.g. the files a
    /// check parsed, from `loopguard-phases --parsed-list`).
    #[arg(long)]
    files_from: Option<PathBuf>,
    #[arg(long, value_enum)]
    lang: Lang,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Parse only the files loopguard parses first (its byte scan: Python `async def/with/for`
    /// or loop callbacks beside async code; Rust `async`).
    #[arg(long)]
    only_async: bool,
    /// Skip files larger than this many bytes (loopguard's default `max-file-size`).
    #[arg(long, default_value_t = DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Print one JSON object instead of a line of text.
    #[arg(long)]
    json: bool,
    /// Lower every file with loopguard's front end and report each file that panics (or
    /// crashes its worker process); exit status 1 if any does.
    #[arg(long)]
    sweep: bool,
    /// Files per sweep worker process.
    #[arg(long, default_value_t = 1000)]
    sweep_chunk: usize,
    /// Allocator of the tree-sitter parser: mimalloc, as loopguard uses, or libc malloc.
    #[arg(long, value_enum, default_value_t = ParserAlloc::Mimalloc)]
    parser_alloc: ParserAlloc,
    /// Internal: be a sweep worker (encoded inputs on stdin, outcomes on stdout).
    #[arg(long, hide = true)]
    sweep_worker: bool,
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, clap::ValueEnum)]
enum ParserAlloc {
    Mimalloc,
    Libc,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let ParserAlloc::Mimalloc = args.parser_alloc {
        // SAFETY: no tree-sitter object exists yet (argument parsing does not create one)
        // and no other thread runs.
        unsafe { loopguard_python::use_mimalloc_for_parser() };
    }
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("loopguard-parse-floor: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<ExitCode, String> {
    let pool = pool(args.threads)?;
    let threads = pool.current_num_threads();
    if args.sweep_worker {
        let stdin = std::io::stdin();
        let stdout = std::io::stdout();
        pool.install(|| {
            sweep::run_worker(
                &mut stdin.lock(),
                &mut stdout.lock(),
                args.lang,
                args.max_file_size,
            )
        })
        .map_err(|e| format!("sweep worker: {e}"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let walk_start = Instant::now();
    let mut paths = args.paths.clone();
    if let Some(list) = &args.files_from {
        let text = std::fs::read_to_string(list).map_err(|e| format!("{}: {e}", list.display()))?;
        paths.extend(text.lines().filter(|l| !l.is_empty()).map(PathBuf::from));
    }
    let inputs = corpus::collect(&paths, args.lang, threads)?;
    let walk = walk_start.elapsed();
    if args.sweep {
        return Ok(run_sweep(args, threads, &inputs));
    }
    let opts = floor::Options {
        lang: args.lang,
        only_async: args.only_async,
        max_size: args.max_file_size,
    };
    let stats = pool.install(|| floor::run(&inputs, &opts));
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let mut json = stats.to_json(&opts, threads);
        json["walk_seconds"] = serde_json::json!(walk.as_secs_f64());
        writeln!(out, "{json}")
    } else {
        writeln!(
            out,
            "{lang:?}{which}: files {files} parsed {parsed} (not async {na}, skipped {sk}, with \
             syntax errors {se}) bytes {bytes} walk {walk:.3}s seconds {wall:.3} ({fps:.0} files/s, \
             {mbs:.1} MB/s on {threads} threads; cpu: read {r:.3}s scan {sc:.3}s parse {p:.3}s)",
            lang = args.lang,
            which = if args.only_async { " async-only" } else { "" },
            files = stats.files,
            parsed = stats.parsed,
            na = stats.not_async,
            sk = stats.skipped(),
            se = stats.syntax_errors,
            bytes = stats.bytes_parsed,
            walk = secs(walk),
            wall = secs(stats.wall),
            fps = stats.files_per_sec(),
            mbs = stats.mb_per_sec(),
            r = secs(stats.cpu_read),
            sc = secs(stats.cpu_scan),
            p = secs(stats.cpu_parse),
        )
    };
    written.map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

fn run_sweep(args: &Args, threads: usize, inputs: &[corpus::Input]) -> ExitCode {
    let lang = format!("{:?}", args.lang).to_lowercase();
    let worker = sweep::self_command(vec![
        "--sweep-worker".into(),
        "--lang".into(),
        lang,
        "--threads".into(),
        threads.to_string(),
        "--max-file-size".into(),
        args.max_file_size.to_string(),
        // Required by the argument parser; the worker reads its files from stdin.
        ".".into(),
    ]);
    let start = Instant::now();
    let report = sweep::supervise(
        &worker,
        inputs,
        args.lang,
        args.max_file_size,
        args.sweep_chunk,
    );
    println!(
        "sweep {:?}: {} files, {} lowered, {} skipped (unreadable, not UTF-8 or too large), \
         {} panics, {} crashes in {:.1}s",
        args.lang,
        report.files,
        report.lowered,
        report.skipped,
        report.panics.len(),
        report.crashes.len(),
        start.elapsed().as_secs_f64()
    );
    for (file, message) in &report.panics {
        println!("PANIC {file}: {message}");
    }
    for (file, how) in &report.crashes {
        println!("CRASH {file}: {how}");
    }
    if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
