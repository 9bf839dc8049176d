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
pub const LOWERING_VERSION: u32 = 3;

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
