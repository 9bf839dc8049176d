//! Benchmark helpers for loopguard.
//!
//! - [`floor`]: the raw parse floor (read + parse every file with tree-sitter-python or
//!   `syn`, in parallel, nothing else) that loopguard's own timings are compared with.
//! - [`sweep`]: runs a front end's `lower` over many files and reports every panic, so a
//!   whole corpus (the cargo registry, the stdlib) can be shown to lower without one.
//! - [`corpus`]: which files a run looks at (exactly the files loopguard discovers) and
//!   their module names.
//!
//! Nothing here panics on a file's content: unreadable, non-UTF-8 and oversized files are
//! skipped and counted.

pub mod corpus;
pub mod floor;
pub mod sweep;

use std::time::Duration;

/// The language a run parses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Python,
    Rust,
}

impl Lang {
    pub fn core(self) -> loopguard_core::facts::Language {
        match self {
            Lang::Python => loopguard_core::facts::Language::Python,
            Lang::Rust => loopguard_core::facts::Language::Rust,
        }
    }
}

/// The same byte scan loopguard uses to pick the files it parses first (with the built-in
/// catalog).
pub fn picked_by_byte_scan(lang: loopguard_core::facts::Language, text: &str) -> bool {
    static SCAN: std::sync::OnceLock<Option<loopguard_engine::load::RootScan>> =
        std::sync::OnceLock::new();
    match SCAN.get_or_init(|| {
        loopguard_core::catalog::Catalog::builtin()
            .ok()
            .map(|c| loopguard_engine::load::RootScan::new(&c))
    }) {
        Some(scan) => scan.may_have_roots(lang, text),
        // Cannot happen with the catalog compiled in; parse rather than skip.
        None => true,
    }
}

/// Seconds with millisecond precision, for human-readable lines.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// A rayon pool for a run: `threads` 0 means one per core. Stacks are large (lazily
/// committed) because syn recurses once per nesting level of the file it parses.
pub fn pool(threads: usize) -> Result<rayon::ThreadPool, String> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(64 << 20)
        .build()
        .map_err(|e| format!("cannot start worker threads: {e}"))
}
