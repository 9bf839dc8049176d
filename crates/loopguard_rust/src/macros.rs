//! Loose parsing of well-known macro bodies, so calls and awaits inside `format!`,
//! `assert!`, `tokio::join!`, `tokio::select!` and friends are seen. Other macros are
//! opaque. Tokens keep their original spans, so what is found here points into the file.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Macro, Token};

pub(crate) enum MacroKind {
    /// Arguments are comma-separated expressions (`format!`, `assert_eq!`, `info!`).
    Exprs,
    /// Futures awaited together (`join!`, `try_join!`): the macro is an await point.
    Join,
    /// `select!`: branch futures are awaited by the macro, handlers run after.
    Select,
    /// Anything else: skipped.
    Opaque,
}

const EXPR_MACROS: &[&str] = &[
    "format",
    "format_args",
    "print",
    "println",
    "eprint",
    "eprintln",
    "write",
    "writeln",
    "vec",
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "panic",
    "dbg",
    "todo",
    "unimplemented",
    "unreachable",
    "info",
    "warn",
    "error",
    "debug",
    "trace",
    "bail",
    "ensure",
    "anyhow",
    "eyre",
    "matches",
    "assert_matches",
];

pub(crate) fn kind_of(mac: &Macro) -> MacroKind {
    let Some(last) = mac.path.segments.last() else {
        return MacroKind::Opaque;
    };
    let name = last.ident.to_string();
    match name.as_str() {
        "join" | "try_join" => MacroKind::Join,
        "select" => MacroKind::Select,
        n if EXPR_MACROS.contains(&n) => MacroKind::Exprs,
        _ => MacroKind::Opaque,
    }
}

/// The macro's arguments that parse as expressions. Arguments that do not (`target: "x"`,
/// `%value`, patterns) are dropped, not reported.
pub(crate) fn parse_exprs(tokens: &TokenStream) -> Vec<Expr> {
    let whole = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(tokens.clone());
    if let Ok(list) = whole {
        return list.into_iter().collect();
    }
    split_top_level(tokens)
        .into_iter()
        .filter_map(|part| syn::parse2::<Expr>(part).ok())
        .collect()
}

/// Splits at commas and semicolons outside of delimiters (`vec![x; n]`, `info!(a = 1, "m")`).
fn split_top_level(tokens: &TokenStream) -> Vec<TokenStream> {
    let mut parts = Vec::new();
    let mut current = Vec::new();
    for tree in tokens.clone() {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' || p.as_char() == ';' => {
                parts.push(current.drain(..).collect::<TokenStream>());
            }
            _ => current.push(tree),
        }
    }
    if !current.is_empty() {
        parts.push(current.into_iter().collect());
    }
    parts
}

/// The parts of a `select!` body: branch futures (awaited by the macro) and the other
/// expressions (preconditions and handlers).
#[derive(Default)]
pub(crate) struct SelectParts {
    pub futures: Vec<Expr>,
    pub others: Vec<Expr>,
}

/// Parses `[biased;] pat = future [, if cond] => handler[,] ... [else => handler]` as far
/// as it goes; a branch that does not parse ends the parse, keeping the branches before it.
pub(crate) fn parse_select(tokens: &TokenStream) -> SelectParts {
    let mut parts = SelectParts::default();
    let parser = |input: ParseStream| -> syn::Result<()> {
        while !input.is_empty() {
            if input.peek(syn::Ident) && input.peek2(Token![;]) {
                // `biased;`
                input.parse::<syn::Ident>()?;
                input.parse::<Token![;]>()?;
                continue;
            }
            if input.peek(Token![else]) {
                input.parse::<Token![else]>()?;
            } else {
                syn::Pat::parse_multi_with_leading_vert(input)?;
                input.parse::<Token![=]>()?;
                parts.futures.push(input.parse::<Expr>()?);
                if input.peek(Token![,]) && input.peek2(Token![if]) {
                    input.parse::<Token![,]>()?;
                    input.parse::<Token![if]>()?;
                    parts.others.push(input.parse::<Expr>()?);
                }
            }
            input.parse::<Token![=>]>()?;
            parts.others.push(parse_handler(input)?);
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(())
    };
    // A malformed branch only stops the parse: what came before it is kept.
    let _ = parser.parse2(tokens.clone());
    parts
}

/// A branch handler; a braced block is taken alone so that a following pattern starting
/// with `(` is not parsed as a call of the block.
fn parse_handler(input: ParseStream) -> syn::Result<Expr> {
    let starts_with_block = input.cursor().group(Delimiter::Brace).is_some();
    if starts_with_block {
        let block: syn::Block = input.parse()?;
        return Ok(Expr::Block(syn::ExprBlock {
            attrs: Vec::new(),
            label: None,
            block,
        }));
    }
    input.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> TokenStream {
        src.parse().unwrap()
    }

    #[test]
    fn expression_arguments_survive_unparsable_neighbours() {
        let exprs = parse_exprs(&tokens(r#"target: "x", "msg {}", compute(a), %b"#));
        assert_eq!(exprs.len(), 2, "the literal and the call");
        let exprs = parse_exprs(&tokens("make(); 3"));
        assert_eq!(exprs.len(), 2);
    }

    #[test]
    fn select_branches_split_into_futures_and_handlers() {
        let parts = parse_select(&tokens(
            "biased;
             Some(v) = rx.recv(), if ready => { handle(v).await }
             (a, b) = pair() => other(a, b),
             else => fallback(),",
        ));
        assert_eq!(parts.futures.len(), 2);
        assert_eq!(parts.others.len(), 4, "condition and three handlers");
    }
}
