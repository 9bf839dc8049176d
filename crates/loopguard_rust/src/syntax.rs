//! Small syntax helpers: where an expression starts and ends without turning it back into
//! tokens (`Spanned::span` re-tokenizes the whole subtree, which is quadratic on long method
//! chains), and peeling of parentheses.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, Member, Path, Type};

/// The first token of `expr`.
pub(crate) fn start_of(expr: &Expr) -> Span {
    match expr {
        Expr::MethodCall(e) => start_of(&e.receiver),
        Expr::Call(e) => start_of(&e.func),
        Expr::Field(e) => start_of(&e.base),
        Expr::Await(e) => start_of(&e.base),
        Expr::Try(e) => start_of(&e.expr),
        Expr::Index(e) => start_of(&e.expr),
        Expr::Cast(e) => start_of(&e.expr),
        Expr::Binary(e) => start_of(&e.left),
        Expr::Assign(e) => start_of(&e.left),
        Expr::Path(e) => match &e.qself {
            Some(q) => q.lt_token.span,
            None => path_start(&e.path),
        },
        Expr::Struct(e) => match &e.qself {
            Some(q) => q.lt_token.span,
            None => path_start(&e.path),
        },
        Expr::Macro(e) => path_start(&e.mac.path),
        Expr::Paren(e) => e.paren_token.span.open(),
        Expr::Tuple(e) => e.paren_token.span.open(),
        Expr::Array(e) => e.bracket_token.span.open(),
        Expr::Reference(e) => e.and_token.span,
        Expr::Unary(e) => e.op.span(),
        Expr::Lit(e) => e.lit.span(),
        Expr::Async(e) => e.async_token.span,
        Expr::Block(e) => match &e.label {
            Some(l) => l.name.apostrophe,
            None => e.block.brace_token.span.open(),
        },
        Expr::Unsafe(e) => e.unsafe_token.span,
        Expr::If(e) => e.if_token.span,
        Expr::Match(e) => e.match_token.span,
        Expr::Let(e) => e.let_token.span,
        Expr::Return(e) => e.return_token.span,
        Expr::Closure(e) => closure_start(e),
        Expr::ForLoop(e) => match &e.label {
            Some(l) => l.name.apostrophe,
            None => e.for_token.span,
        },
        Expr::While(e) => match &e.label {
            Some(l) => l.name.apostrophe,
            None => e.while_token.span,
        },
        Expr::Loop(e) => match &e.label {
            Some(l) => l.name.apostrophe,
            None => e.loop_token.span,
        },
        Expr::Range(e) => match &e.start {
            Some(start) => start_of(start),
            None => e.limits.span(),
        },
        Expr::Break(e) => e.break_token.span,
        Expr::Continue(e) => e.continue_token.span,
        Expr::Repeat(e) => e.bracket_token.span.open(),
        Expr::TryBlock(e) => e.try_token.span,
        Expr::Const(e) => e.const_token.span,
        Expr::Yield(e) => e.yield_token.span,
        Expr::RawAddr(e) => e.and_token.span,
        Expr::Infer(e) => e.underscore_token.span,
        _ => expr.span(),
    }
}

/// The last token of `expr`.
pub(crate) fn end_of(expr: &Expr) -> Span {
    match expr {
        Expr::MethodCall(e) => e.paren_token.span.close(),
        Expr::Call(e) => e.paren_token.span.close(),
        Expr::Field(e) => match &e.member {
            Member::Named(i) => i.span(),
            Member::Unnamed(i) => i.span,
        },
        Expr::Await(e) => e.await_token.span,
        Expr::Try(e) => e.question_token.span,
        Expr::Index(e) => e.bracket_token.span.close(),
        Expr::Binary(e) => end_of(&e.right),
        Expr::Assign(e) => end_of(&e.right),
        Expr::Unary(e) => end_of(&e.expr),
        Expr::Reference(e) => end_of(&e.expr),
        Expr::Path(e) => path_end(&e.path),
        Expr::Struct(e) => e.brace_token.span.close(),
        Expr::Macro(e) => e.mac.delimiter.span().close(),
        Expr::Paren(e) => e.paren_token.span.close(),
        Expr::Tuple(e) => e.paren_token.span.close(),
        Expr::Array(e) => e.bracket_token.span.close(),
        Expr::Lit(e) => e.lit.span(),
        Expr::Async(e) => e.block.brace_token.span.close(),
        Expr::Block(e) => e.block.brace_token.span.close(),
        Expr::Unsafe(e) => e.block.brace_token.span.close(),
        Expr::Loop(e) => e.body.brace_token.span.close(),
        Expr::While(e) => e.body.brace_token.span.close(),
        Expr::ForLoop(e) => e.body.brace_token.span.close(),
        Expr::Match(e) => e.brace_token.span.close(),
        Expr::If(e) => match &e.else_branch {
            Some((_, other)) => end_of(other),
            None => e.then_branch.brace_token.span.close(),
        },
        Expr::Let(e) => end_of(&e.expr),
        Expr::Closure(e) => end_of(&e.body),
        Expr::Return(e) => match &e.expr {
            Some(inner) => end_of(inner),
            None => e.return_token.span,
        },
        Expr::Cast(e) => type_end(&e.ty),
        _ => expr.span(),
    }
}

pub(crate) fn closure_start(e: &syn::ExprClosure) -> Span {
    if let Some(l) = &e.lifetimes {
        l.for_token.span
    } else if let Some(t) = &e.constness {
        t.span
    } else if let Some(t) = &e.movability {
        t.span
    } else if let Some(t) = &e.asyncness {
        t.span
    } else if let Some(t) = &e.capture {
        t.span
    } else {
        e.or1_token.span
    }
}

pub(crate) fn path_start(path: &Path) -> Span {
    match (&path.leading_colon, path.segments.first()) {
        (Some(colon), _) => colon.spans[0],
        (None, Some(first)) => first.ident.span(),
        (None, None) => Span::call_site(),
    }
}

pub(crate) fn path_end(path: &Path) -> Span {
    match path.segments.last() {
        Some(last) => match &last.arguments {
            syn::PathArguments::AngleBracketed(a) => a.gt_token.span,
            syn::PathArguments::Parenthesized(p) => p.paren_token.span.close(),
            syn::PathArguments::None => last.ident.span(),
        },
        None => Span::call_site(),
    }
}

fn type_end(ty: &Type) -> Span {
    match ty {
        Type::Path(p) => path_end(&p.path),
        _ => ty.span(),
    }
}

/// `(((e)))` -> `e`.
pub(crate) fn peel_parens(mut expr: &Expr) -> &Expr {
    loop {
        match expr {
            Expr::Paren(p) => expr = &p.expr,
            Expr::Group(g) => expr = &g.expr,
            _ => return expr,
        }
    }
}

/// The segments of a path as strings (generic arguments dropped).
pub(crate) fn segments(path: &Path) -> Vec<String> {
    path.segments.iter().map(|s| ident_name(&s.ident)).collect()
}

/// `POOL`, `MAX_SIZE`: the spelling of statics and constants.
pub(crate) fn is_screaming_case(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `Foo`, `HashMap`: the spelling of types, traits and enum variants.
pub(crate) fn is_type_like(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_uppercase())
}

/// Identifier text without the `r#` prefix of raw identifiers.
pub(crate) fn ident_name(ident: &proc_macro2::Ident) -> String {
    let text = ident.to_string();
    match text.strip_prefix("r#") {
        Some(rest) => rest.to_string(),
        None => text,
    }
}
