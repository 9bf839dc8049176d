//! The Rust front end of loopguard: lowers a `.rs` file to [`FileFacts`] with `syn`, and
//! knows Cargo's crate layout (crate names, editions, module paths).
//!
//! Paths are resolved through `use` declarations and the file's items and spelled with the
//! crate name (`crate::db::Pool` in crate `my_crate` is `my_crate::db::Pool`); see
//! `docs/architecture.md`, "Naming of paths". The front end reports facts only; the
//! catalog and the findings are `loopguard_analysis`'s business.
//!
//! Facts drop generic arguments. What a lock or cell guards is kept in synthetic twins:
//! a field `conn: Mutex<Connection>` also gives the class a field `conn.<guarded>` typed
//! `Connection` (statics likewise get a global `POOL.<guarded>`), and the result of
//! `self.conn.lock()` is typed as that field, so calls on the guard resolve to `Connection`'s
//! methods with the analysis's ordinary field lookup.

mod layout;
mod lower;
mod macros;
mod names;
mod spans;
mod syntax;

#[cfg(test)]
mod tests;

use loopguard_core::FileFacts;
use loopguard_core::facts::{Language, ParseError};
use proc_macro2::{Delimiter, TokenStream, TokenTree};

pub use layout::{CrateInfo, crate_info_for, module_path};

/// Bumped whenever the facts this crate produces for the same source change (a new kind of
/// site, a different resolution): caches of facts should include it in their key, since
/// [`loopguard_core::facts::FACTS_VERSION`] only tracks the shape of facts.
pub const LOWERING_VERSION: u32 = 1;

use spans::SourceMap;

/// Stack of the thread a file is lowered on. syn's parser, the lowering and the syntax
/// tree's `Drop` recurse once per nesting level; a stack overflow would abort the whole run,
/// so files are lowered on a thread of their own with a large (lazily committed) stack, and
/// files nested deeper than [`Limits`] allow are reported instead of parsed.
pub const LOWERING_STACK: usize = 256 << 20;

/// How deep a file may nest before it is reported as too deep to analyze.
#[derive(Clone, Copy)]
struct Limits {
    /// Delimiter groups inside each other.
    nesting: usize,
    /// Tokens between two separators (`,` `;` or a braced group) of one delimiter level:
    /// a chain of operators, calls, casts or keywords becomes a tree as deep as it is long.
    segment: usize,
}

/// On the dedicated thread: far beyond what people write, well within its stack.
const LIMITS_OWN_THREAD: Limits = Limits {
    nesting: 1024,
    segment: 50_000,
};

/// When no thread could be started: within the default 2 MiB stack of a debug build.
const LIMITS_CALLER_STACK: Limits = Limits {
    nesting: 100,
    segment: 400,
};

/// Lowers one Rust source file.
///
/// `module` is the file's module path (`my_crate::db`; its first segment is the crate name),
/// `edition` the crate's edition (`None` is treated as 2021). A file that does not parse
/// gives facts with a single [`ParseError`] and nothing else.
pub fn lower(path: &str, module: &str, source: &str, edition: Option<u16>) -> FileFacts {
    let spawned = std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("loopguard-rust".to_string())
            .stack_size(LOWERING_STACK)
            .spawn_scoped(scope, || {
                lower_on_this_thread(path, module, source, edition, LIMITS_OWN_THREAD)
            })
            .ok()?;
        Some(handle.join())
    });
    match spawned {
        Some(Ok(facts)) => facts,
        // A bug of ours or of syn: report the file instead of taking the run down.
        Some(Err(_)) => {
            let mut facts = empty_facts(path, module, edition);
            facts.errors.push(ParseError {
                message: "1:1: internal error while lowering this file".to_string(),
                span: loopguard_core::Span::default(),
            });
            facts
        }
        None => lower_on_this_thread(path, module, source, edition, LIMITS_CALLER_STACK),
    }
}

/// [`lower`] on the calling thread, which must have at least [`LOWERING_STACK`] bytes of
/// stack (the engine's worker threads do): saves starting a thread per file. A panic of ours
/// or of syn still becomes an "internal error" entry for the file.
pub fn lower_on_big_stack(
    path: &str,
    module: &str,
    source: &str,
    edition: Option<u16>,
) -> FileFacts {
    let lowered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lower_on_this_thread(path, module, source, edition, LIMITS_OWN_THREAD)
    }));
    lowered.unwrap_or_else(|_| {
        let mut facts = empty_facts(path, module, edition);
        facts.errors.push(ParseError {
            message: "1:1: internal error while lowering this file".to_string(),
            span: loopguard_core::Span::default(),
        });
        facts
    })
}

fn empty_facts(path: &str, module: &str, edition: Option<u16>) -> FileFacts {
    FileFacts {
        path: path.to_string(),
        language: Some(Language::Rust),
        module: module.to_string(),
        edition,
        ..FileFacts::default()
    }
}

fn lower_on_this_thread(
    path: &str,
    module: &str,
    source: &str,
    edition: Option<u16>,
    limits: Limits,
) -> FileFacts {
    let mut facts = empty_facts(path, module, edition);
    let map = SourceMap::new(source);
    match parse(&map, source, limits) {
        Ok(file) => {
            let lowered = lower::Lowerer::new(&map, module, edition).lower_file(&file);
            facts.functions = lowered.functions;
            facts.classes = lowered.classes;
            facts.aliases = lowered.aliases;
            facts.globals = lowered.globals;
        }
        Err(error) => facts.errors.push(error),
    }
    // proc-macro2 keeps every parsed text in a thread-local map for span lookups; all spans
    // of this file are dead now, so release it in case this thread lowers more files.
    proc_macro2::extra::invalidate_current_thread_spans();
    facts
}

fn parse(map: &SourceMap<'_>, source: &str, limits: Limits) -> Result<syn::File, ParseError> {
    // What `syn::parse_file` does, with a depth check between lexing and parsing.
    let mut text = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut shebang = None;
    if let Some(after) = text.strip_prefix("#!")
        && !after.trim_start().starts_with('[')
    {
        let line_end = text.find('\n').unwrap_or(text.len());
        let (line, rest) = text.split_at(line_end);
        shebang = Some(line.to_string());
        // Keep the newline so that line numbers stay those of the file.
        text = rest;
    }
    let tokens: TokenStream = text.parse().map_err(|e: proc_macro2::LexError| {
        let s = e.span();
        error(map, s.start(), s.end(), &e.to_string())
    })?;
    if let Some((at, why)) = too_deep(&tokens, limits) {
        return Err(error(map, at.start(), at.end(), why));
    }
    let mut file: syn::File = syn::parse2(tokens).map_err(|e| {
        let s = e.span();
        error(map, s.start(), s.end(), &e.to_string())
    })?;
    file.shebang = shebang;
    Ok(file)
}

fn error(
    map: &SourceMap<'_>,
    start: proc_macro2::LineColumn,
    end: proc_macro2::LineColumn,
    message: &str,
) -> ParseError {
    let span = map.span_of(start, end);
    ParseError {
        message: format!("{}:{}: {message}", span.start_line, span.start_col),
        span,
    }
}

/// Finds nesting or token chains too deep to parse safely, without recursion.
fn too_deep(tokens: &TokenStream, limits: Limits) -> Option<(proc_macro2::Span, &'static str)> {
    let mut stack = vec![(tokens.clone().into_iter(), 0usize)];
    while let Some((iter, segment)) = stack.last_mut() {
        let Some(tree) = iter.next() else {
            stack.pop();
            continue;
        };
        *segment += 1;
        if *segment > limits.segment {
            return Some((tree.span(), "expression too long to analyze"));
        }
        match tree {
            TokenTree::Group(g) => {
                if g.delimiter() == Delimiter::Brace {
                    *segment = 0;
                }
                if stack.len() > limits.nesting {
                    return Some((g.span_open(), "delimiters nested too deeply to analyze"));
                }
                stack.push((g.stream().into_iter(), 0));
            }
            TokenTree::Punct(p) if matches!(p.as_char(), ',' | ';') => *segment = 0,
            _ => {}
        }
    }
    None
}
