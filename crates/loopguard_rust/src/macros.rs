//! Loose parsing of well-known macro bodies, so calls and awaits inside `format!`,
//! `assert!`, `tokio::join!`, `tokio::select!` and friends are seen. Other macros are
//! opaque. Tokens keep their original spans, so what is found here points into the file.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Item, Macro, Token};

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

/// Deepest `cfg_if!` nesting unwrapped.
const MAX_WRAPPED_DEPTH: u32 = 4;

/// The items an item-position macro invocation wraps: its body when that parses as items
/// (`cfg_rt! { pub fn f() {} }`), or the items in its braced groups (`cfg_if! { if
/// #[cfg(x)] { .. } else { .. } }`). Nested wrappers are unwrapped too. Empty for
/// `macro_rules!`, for `lazy_static!`/`thread_local!` (statics, handled apart) and for
/// bodies that are not items.
pub(crate) fn wrapped_items(item: &Item) -> Vec<Item> {
    let Item::Macro(m) = item else {
        return Vec::new();
    };
    let is_declaration = m.ident.is_some();
    let is_static = m
        .mac
        .path
        .segments
        .last()
        .is_some_and(|s| s.ident == "lazy_static" || s.ident == "thread_local");
    if is_declaration || is_static {
        return Vec::new();
    }
    let mut out = Vec::new();
    unwrap_items(&m.mac.tokens, 0, &mut out);
    out
}

fn unwrap_items(tokens: &TokenStream, depth: u32, out: &mut Vec<Item>) {
    if depth > MAX_WRAPPED_DEPTH {
        return;
    }
    if let Ok(file) = syn::parse2::<syn::File>(tokens.clone()) {
        for item in file.items {
            let inner = wrapped_items(&item);
            if inner.is_empty() {
                out.push(item);
            } else {
                out.extend(inner);
            }
        }
        return;
    }
    for tree in tokens.clone() {
        if let TokenTree::Group(g) = tree
            && g.delimiter() == Delimiter::Brace
        {
            unwrap_items(&g.stream(), depth + 1, out);
        }
    }
}

/// The macro's arguments that parse as expressions, and whether all of them did. Arguments
/// that do not (`target: "x"`, `%value`, patterns) are dropped, not reported.
pub(crate) fn parse_exprs(tokens: &TokenStream) -> (Vec<Expr>, bool) {
    if let Some(list) = parse_expr_list(tokens) {
        return (list, true);
    }
    let mut complete = true;
    let exprs = split_top_level(tokens)
        .into_iter()
        .filter_map(|part| {
            let parsed = syn::parse2::<Expr>(part).ok();
            complete &= parsed.is_some();
            parsed
        })
        .collect();
    (exprs, complete)
}

/// The tokens as a comma-separated list of expressions, if that is what they are.
pub(crate) fn parse_expr_list(tokens: &TokenStream) -> Option<Vec<Expr>> {
    let list = Punctuated::<Expr, Token![,]>::parse_terminated
        .parse2(tokens.clone())
        .ok()?;
    Some(list.into_iter().collect())
}

/// The `.` and `await` tokens of every `.await` in `tokens`, outside `async` blocks (which
/// are futures of their own). For macro bodies that did not parse.
pub(crate) fn await_tokens(tokens: &TokenStream) -> Vec<(proc_macro2::Span, proc_macro2::Span)> {
    let mut out = Vec::new();
    let mut stack = vec![tokens.clone().into_iter()];
    // The last two tokens seen at the current level: `.` then `await`; `async [move] {`.
    let mut previous: Vec<(Option<TokenTree>, bool)> = vec![(None, false)];
    while let Some(iter) = stack.last_mut() {
        let Some(tree) = iter.next() else {
            stack.pop();
            previous.pop();
            continue;
        };
        let Some((last, after_async)) = previous.last_mut() else {
            break;
        };
        match &tree {
            TokenTree::Ident(ident) if ident == "await" => {
                if let Some(TokenTree::Punct(dot)) = last
                    && dot.as_char() == '.'
                {
                    out.push((dot.span(), ident.span()));
                }
            }
            TokenTree::Group(g) => {
                let skip = *after_async && g.delimiter() == Delimiter::Brace;
                *after_async = false;
                *last = Some(tree.clone());
                if !skip {
                    stack.push(g.stream().into_iter());
                    previous.push((None, false));
                }
                continue;
            }
            _ => {}
        }
        *after_async = match &tree {
            TokenTree::Ident(ident) if ident == "async" => true,
            TokenTree::Ident(ident) if ident == "move" => *after_async,
            _ => false,
        };
        *last = Some(tree);
    }
    out
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
    /// Every branch parsed.
    pub complete: bool,
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
    let complete = parser.parse2(tokens.clone()).is_ok();
    parts.complete = complete;
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
        let (exprs, complete) = parse_exprs(&tokens(r#"target: "x", "msg {}", compute(a), %b"#));
        assert_eq!(exprs.len(), 2, "the literal and the call");
        assert!(!complete);
        let (exprs, complete) = parse_exprs(&tokens("make(); 3"));
        assert_eq!(exprs.len(), 2);
        assert!(complete);
    }

    #[test]
    fn awaits_are_found_in_unparsed_tokens_outside_async_blocks() {
        let found = await_tokens(&tokens(
            "x = %f().await, [g(a.await)], async move { h().await }, async { i().await }, k.await",
        ));
        assert_eq!(found.len(), 3);
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
