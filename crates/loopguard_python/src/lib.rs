//! The Python front end of loopguard: parses a source file with tree-sitter-python and lowers
//! it to [`loopguard_core::facts`] (functions, call sites with callees resolved through
//! imports and scopes, receiver types, awaits, sync `with` guards, classes, module aliases
//! and typed globals).
//!
//! Lowering is one walk over the tree ([`walk`]) that records bindings and queues the
//! expressions to resolve, then a resolution pass over that queue ([`resolve`]). Syntax
//! errors never stop it: they are reported in [`FileFacts::errors`] and everything that
//! parsed is lowered.

mod builtins;
mod resolve;
mod scope;
mod syntax;
mod walk;

use std::cell::RefCell;

use loopguard_core::FileFacts;
use loopguard_core::facts::{Language, ParseError};
use loopguard_core::span::LineIndex;
use tree_sitter::Parser;

/// Bumped whenever the facts this crate produces for the same source change (a new kind of
/// site, a different resolution): caches of facts should include it in their key, since
/// [`loopguard_core::facts::FACTS_VERSION`] only tracks the shape of facts.
pub const LOWERING_VERSION: u32 = 4;

/// Makes tree-sitter allocate with mimalloc instead of libc `malloc`. Parsing allocates and
/// frees a subtree per token, and glibc's allocator was about 13% of the CPU time of a cold
/// run on Home Assistant core (perf); binaries that also use mimalloc as their global
/// allocator call this once, first thing in `main`.
///
/// # Safety
///
/// Must run before any other tree-sitter call (no parser, tree or node may exist yet) and
/// not concurrently with one; tree-sitter's allocator is process-global.
pub unsafe fn use_mimalloc_for_parser() {
    // SAFETY: one allocator family, aligned like malloc; the wrappers abort instead of
    // returning null (as tree-sitter's own default allocator does), and the caller
    // guarantees that no tree-sitter object exists yet.
    unsafe {
        tree_sitter::set_allocator(Some(tree_sitter::Allocator {
            malloc: parser_alloc::malloc,
            calloc: parser_alloc::calloc,
            realloc: parser_alloc::realloc,
            free: libmimalloc_sys::mi_free,
        }));
    }
}

/// mimalloc behind tree-sitter's contract: never null for a non-zero request.
mod parser_alloc {
    use std::ffi::c_void;

    fn non_null(ptr: *mut c_void, size: usize) -> *mut c_void {
        if ptr.is_null() && size != 0 {
            // Out of memory: tree-sitter's default allocator aborts here too.
            std::process::abort();
        }
        ptr
    }

    pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
        non_null(unsafe { libmimalloc_sys::mi_malloc(size) }, size)
    }

    pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
        non_null(
            unsafe { libmimalloc_sys::mi_calloc(count, size) },
            count.saturating_mul(size),
        )
    }

    pub unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
        non_null(unsafe { libmimalloc_sys::mi_realloc(ptr, size) }, size)
    }
}

thread_local! {
    /// Creating a parser allocates its tables; one per thread is reused across files.
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

fn new_parser() -> Result<Parser, String> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .map_err(|e| format!("cannot load the Python grammar: {e}"))?;
    Ok(parser)
}

fn parse(source: &str) -> Result<tree_sitter::Tree, String> {
    PARSER.with(|cell| {
        // A re-entrant call (impossible today) would find the parser borrowed: use a fresh one
        // rather than panic.
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return new_parser()?
                .parse(source, None)
                .ok_or_else(|| "the parser gave up".to_owned());
        };
        if slot.is_none() {
            *slot = Some(new_parser()?);
        }
        let parser = slot.as_mut().ok_or("no parser")?;
        parser
            .parse(source, None)
            .ok_or_else(|| "the parser gave up".to_owned())
    })
}

/// Parses `source` and lowers it to facts.
///
/// `path` is stored as given; `module` is the file's dotted module name (`app.services.db`);
/// `is_package_init` is true for `__init__.py`, whose relative imports resolve against the
/// package itself. Never panics: syntax errors become [`FileFacts::errors`] entries and the
/// rest of the file is still lowered.
pub fn lower(path: &str, module: &str, is_package_init: bool, source: &str) -> FileFacts {
    // tree-sitter-python 0.25 does not know PEP 696 type-parameter defaults yet; they hold
    // no calls, so they are blanked (same length: every offset stays valid).
    let blanked = blank_type_param_defaults(source);
    let source: &str = &blanked;
    let lines = LineIndex::new(source);
    let tree = match parse(source) {
        Ok(tree) => tree,
        Err(message) => {
            return FileFacts {
                path: path.to_owned(),
                language: Some(Language::Python),
                module: module.to_owned(),
                errors: vec![ParseError {
                    message,
                    span: lines.span(0, 0),
                }],
                ..FileFacts::default()
            };
        }
    };
    let root = tree.root_node();
    let walked = walk::Walker::walk(root, source, module, is_package_init, &lines);
    let mut facts = resolve::finish(walked, source, &lines, path, module);
    facts.errors = syntax::collect_errors(root, source, &lines);
    facts
}

/// Replaces PEP 696 defaults in type-parameter lists (`class C[T = int]:`,
/// `def f[T = str]()`) with spaces. Only `class`/`def` headers are touched; a file without
/// one is returned as is, without copying.
fn blank_type_param_defaults(source: &str) -> std::borrow::Cow<'_, str> {
    let bytes = source.as_bytes();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for keyword in ["class ", "def "] {
        // memchr's SIMD search: this scans every parsed file twice, `str::find` showed in
        // cold profiles (1% of a run).
        for at in memchr::memmem::find_iter(bytes, keyword) {
            let mut j = at + keyword.len();
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            let name_start = j;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            if j == name_start || bytes.get(j) != Some(&b'[') {
                continue;
            }
            // At the start of a statement: only spaces (or `async `) before it on its line.
            let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
            let before = source.get(line_start..at).unwrap_or("x").trim_start();
            if !(before.is_empty() || before == "async ") {
                continue;
            }
            type_param_defaults(bytes, j, &mut ranges);
        }
    }
    if ranges.is_empty() {
        return std::borrow::Cow::Borrowed(source);
    }
    let mut out = bytes.to_vec();
    for (a, b) in ranges {
        for byte in &mut out[a..b] {
            // Keep line breaks so lines and columns stay put.
            if *byte != b'\n' && *byte != b'\r' {
                *byte = b' ';
            }
        }
    }
    // Only ASCII bytes of the defaults were replaced by spaces... unless a default held
    // non-ASCII text, which then loses its multi-byte tail: fall back to the original.
    match String::from_utf8(out) {
        Ok(s) => std::borrow::Cow::Owned(s),
        Err(_) => std::borrow::Cow::Borrowed(source),
    }
}

/// Byte ranges of `= default` parts in the bracketed list starting at `open` (`[`).
fn type_param_defaults(bytes: &[u8], open: usize, ranges: &mut Vec<(usize, usize)>) {
    let mut depth = 0usize;
    let mut default_start: Option<usize> = None;
    let limit = (open + 4096).min(bytes.len());
    let mut k = open;
    while k < limit {
        let c = bytes[k];
        match c {
            b'[' | b'(' | b'{' => depth += 1,
            b']' | b')' | b'}' => {
                if depth == 1 {
                    if let Some(s) = default_start.take() {
                        ranges.push((s, k));
                    }
                    return;
                }
                depth = depth.saturating_sub(1);
            }
            b',' if depth == 1 => {
                if let Some(s) = default_start.take() {
                    ranges.push((s, k));
                }
            }
            b'=' if depth == 1 && default_start.is_none() => {
                let prev = bytes.get(k.wrapping_sub(1)).copied().unwrap_or(b' ');
                let next = bytes.get(k + 1).copied().unwrap_or(b' ');
                if !matches!(prev, b'=' | b'!' | b'<' | b'>') && next != b'=' {
                    default_start = Some(k);
                }
            }
            b'#' | b'"' | b'\'' => return,
            _ => {}
        }
        k += 1;
    }
}
