//! The Rust front end of loopguard: lowers a `.rs` file to [`FileFacts`] with `syn`, and
//! knows Cargo's crate layout (crate names, editions, module paths).
//!
//! Paths are resolved through `use` declarations and the file's items and spelled with the
//! crate name (`crate::db::Pool` in crate `my_crate` is `my_crate::db::Pool`); see
//! `docs/architecture.md`, "Naming of paths". The front end reports facts only; the
//! catalog and the findings are `loopguard_analysis`'s business.

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
use proc_macro2::{TokenStream, TokenTree};

pub use layout::{CrateInfo, crate_info_for, module_path};

use spans::SourceMap;

/// Deepest nesting of delimiters parsed: syn and the lowering recurse once per level (and
/// more in expressions), and a stack overflow would abort the whole run.
const MAX_NESTING: usize = 128;

/// Most operator tokens (`.`, `+`, `&&`, ...) between two separators of one delimiter level:
/// such a chain becomes a tree as deep as it is long.
const MAX_CHAIN: usize = 1024;

/// Lowers one Rust source file.
///
/// `module` is the file's module path (`my_crate::db`; its first segment is the crate name),
/// `edition` the crate's edition (`None` is treated as 2021). A file that does not parse
/// gives facts with a single [`ParseError`] and nothing else.
pub fn lower(path: &str, module: &str, source: &str, edition: Option<u16>) -> FileFacts {
    let mut facts = FileFacts {
        path: path.to_string(),
        language: Some(Language::Rust),
        module: module.to_string(),
        edition,
        ..FileFacts::default()
    };
    let map = SourceMap::new(source);
    match parse(&map, source) {
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
    // of this file are dead now, so release it (the engine lowers thousands of files per
    // thread).
    proc_macro2::extra::invalidate_current_thread_spans();
    facts
}

fn parse(map: &SourceMap<'_>, source: &str) -> Result<syn::File, ParseError> {
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
    if let Some((at, why)) = too_deep(&tokens) {
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

/// Finds nesting or operator chains too deep to parse safely, without recursion.
fn too_deep(tokens: &TokenStream) -> Option<(proc_macro2::Span, &'static str)> {
    let mut stack = vec![(tokens.clone().into_iter(), 0usize)];
    while let Some((iter, chain)) = stack.last_mut() {
        match iter.next() {
            Some(TokenTree::Group(g)) => {
                if stack.len() > MAX_NESTING {
                    return Some((g.span_open(), "delimiters nested too deeply to analyze"));
                }
                stack.push((g.stream().into_iter(), 0));
            }
            Some(TokenTree::Punct(p)) => match p.as_char() {
                ',' | ';' => *chain = 0,
                '.' | '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<' | '>' | '?' => {
                    *chain += 1;
                    if *chain > MAX_CHAIN {
                        return Some((p.span(), "expression too long to analyze"));
                    }
                }
                _ => {}
            },
            Some(_) => {}
            None => {
                stack.pop();
            }
        }
    }
    None
}
