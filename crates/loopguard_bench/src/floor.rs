//! The raw parse floor: read every file and parse it (tree-sitter-python or `syn`), in
//! parallel, and nothing else. loopguard cannot be faster than this on the files it parses.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use tree_sitter::Parser;

use crate::Lang;
use crate::corpus::{Input, Skip, read_text};

thread_local! {
    /// One tree-sitter parser per thread, reused across files (as loopguard does).
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Parses Python with tree-sitter-python: `Some(has syntax errors)`, `None` if the parser
/// could not be set up or gave up.
pub fn parse_python(text: &str) -> Option<bool> {
    PARSER.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            let mut parser = Parser::new();
            parser
                .set_language(&tree_sitter_python::LANGUAGE.into())
                .ok()?;
            *slot = Some(parser);
        }
        let tree = slot.as_mut()?.parse(text, None)?;
        Some(tree.root_node().has_error())
    })
}

/// Parses Rust with `syn::parse_file`: true if it parsed.
pub fn parse_rust(text: &str) -> bool {
    let ok = syn::parse_file(text).is_ok();
    // proc-macro2 (with span locations, as the workspace builds it) keeps every lexed text
    // in a thread-local map; without this the map grows with the whole corpus.
    proc_macro2::extra::invalidate_current_thread_spans();
    ok
}

/// What to parse.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub lang: Lang,
    /// Parse only the files loopguard parses first (its byte scan, `RootScan`).
    pub only_async: bool,
    /// Files larger than this are skipped (loopguard's `max-file-size`).
    pub max_size: u64,
}

/// The outcome of a floor run. CPU times are summed over threads; `wall` is elapsed time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub files: usize,
    pub parsed: usize,
    /// Read but not parsed (not picked by the byte scan, with `only_async`).
    pub not_async: usize,
    pub unreadable: usize,
    pub not_utf8: usize,
    pub too_large: usize,
    /// Parsed, with syntax errors (tree-sitter) or refused (syn).
    pub syntax_errors: usize,
    pub bytes_read: u64,
    pub bytes_parsed: u64,
    pub cpu_read: Duration,
    pub cpu_scan: Duration,
    pub cpu_parse: Duration,
    pub wall: Duration,
}

impl Stats {
    pub fn skipped(&self) -> usize {
        self.unreadable + self.not_utf8 + self.too_large
    }

    /// Parsed files per second of wall time.
    pub fn files_per_sec(&self) -> f64 {
        per_sec(self.parsed as f64, self.wall)
    }

    /// Parsed megabytes (10^6 bytes) per second of wall time.
    pub fn mb_per_sec(&self) -> f64 {
        per_sec(self.bytes_parsed as f64 / 1e6, self.wall)
    }

    pub fn to_json(&self, opts: &Options, threads: usize) -> serde_json::Value {
        serde_json::json!({
            "lang": format!("{:?}", opts.lang).to_lowercase(),
            "only_async": opts.only_async,
            "threads": threads,
            "files": self.files,
            "parsed": self.parsed,
            "not_async": self.not_async,
            "skipped": {"unreadable": self.unreadable, "not_utf8": self.not_utf8, "too_large": self.too_large},
            "syntax_errors": self.syntax_errors,
            "bytes_read": self.bytes_read,
            "bytes_parsed": self.bytes_parsed,
            "cpu_seconds": {
                "read": self.cpu_read.as_secs_f64(),
                "scan": self.cpu_scan.as_secs_f64(),
                "parse": self.cpu_parse.as_secs_f64(),
            },
            "seconds": self.wall.as_secs_f64(),
            "files_per_sec": self.files_per_sec(),
            "mb_per_sec": self.mb_per_sec(),
        })
    }
}

fn per_sec(amount: f64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { amount / s } else { 0.0 }
}

#[derive(Default)]
struct Counters {
    parsed: AtomicUsize,
    not_async: AtomicUsize,
    unreadable: AtomicUsize,
    not_utf8: AtomicUsize,
    too_large: AtomicUsize,
    syntax_errors: AtomicUsize,
    bytes_read: AtomicU64,
    bytes_parsed: AtomicU64,
    nanos_read: AtomicU64,
    nanos_scan: AtomicU64,
    nanos_parse: AtomicU64,
}

fn add_time(counter: &AtomicU64, since: Instant) -> Instant {
    let now = Instant::now();
    let nanos = u64::try_from(now.duration_since(since).as_nanos()).unwrap_or(u64::MAX);
    counter.fetch_add(nanos, Ordering::Relaxed);
    now
}

/// Reads, scans and parses `inputs` on the current rayon pool.
pub fn run(inputs: &[Input], opts: &Options) -> Stats {
    let c = Counters::default();
    let start = Instant::now();
    inputs.par_iter().for_each(|input| {
        let t0 = Instant::now();
        let text = match read_text(&input.abs, opts.max_size) {
            Ok(t) => t,
            Err(skip) => {
                match skip {
                    Skip::Unreadable => &c.unreadable,
                    Skip::NotUtf8 => &c.not_utf8,
                    Skip::TooLarge => &c.too_large,
                }
                .fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let bytes = text.len() as u64;
        c.bytes_read.fetch_add(bytes, Ordering::Relaxed);
        let t1 = add_time(&c.nanos_read, t0);
        if opts.only_async {
            let is_async = crate::picked_by_byte_scan(opts.lang.core(), &text);
            add_time(&c.nanos_scan, t1);
            if !is_async {
                c.not_async.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let t2 = Instant::now();
        let clean = match opts.lang {
            Lang::Python => parse_python(&text) == Some(false),
            Lang::Rust => parse_rust(&text),
        };
        add_time(&c.nanos_parse, t2);
        c.parsed.fetch_add(1, Ordering::Relaxed);
        c.bytes_parsed.fetch_add(bytes, Ordering::Relaxed);
        if !clean {
            c.syntax_errors.fetch_add(1, Ordering::Relaxed);
        }
    });
    let nanos = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
    Stats {
        files: inputs.len(),
        parsed: c.parsed.load(Ordering::Relaxed),
        not_async: c.not_async.load(Ordering::Relaxed),
        unreadable: c.unreadable.load(Ordering::Relaxed),
        not_utf8: c.not_utf8.load(Ordering::Relaxed),
        too_large: c.too_large.load(Ordering::Relaxed),
        syntax_errors: c.syntax_errors.load(Ordering::Relaxed),
        bytes_read: c.bytes_read.load(Ordering::Relaxed),
        bytes_parsed: c.bytes_parsed.load(Ordering::Relaxed),
        cpu_read: nanos(&c.nanos_read),
        cpu_scan: nanos(&c.nanos_scan),
        cpu_parse: nanos(&c.nanos_parse),
        wall: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::collect;

    fn write(dir: &std::path::Path, name: &str, text: &[u8]) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn parsers_tell_good_from_bad() {
        assert_eq!(parse_python("async def f():\n    await g()\n"), Some(false));
        assert_eq!(parse_python("def f(:\n"), Some(true));
        assert!(parse_rust("async fn f() { g().await; }"));
        assert!(!parse_rust("fn f( {"));
        // Unbalanced delimiters are a lexer error in syn, not a panic.
        assert!(!parse_rust("}}}}"));
    }

    #[test]
    fn counts_parsed_async_and_skipped_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.py", b"async def f():\n    pass\n");
        write(dir.path(), "b.py", b"def g():\n    pass\n");
        write(dir.path(), "c.py", b"def h(:\n");
        write(dir.path(), "d.py", b"x = '\xff'\n");
        let inputs = collect(&[dir.path().to_path_buf()], Lang::Python, 1).unwrap();
        let all = Options {
            lang: Lang::Python,
            only_async: false,
            max_size: 1 << 20,
        };
        let stats = run(&inputs, &all);
        assert_eq!(stats.files, 4);
        assert_eq!(stats.parsed, 3);
        assert_eq!(stats.not_utf8, 1);
        assert_eq!(stats.skipped(), 1);
        assert_eq!(stats.syntax_errors, 1);
        assert_eq!(stats.not_async, 0);
        let only_async = Options {
            only_async: true,
            ..all
        };
        let stats = run(&inputs, &only_async);
        assert_eq!(stats.parsed, 1);
        assert_eq!(stats.not_async, 2);
        assert_eq!(stats.bytes_parsed, 24);
        let json = stats.to_json(&only_async, 1);
        assert_eq!(json["parsed"], 1);
        assert_eq!(json["lang"], "python");
    }
}
