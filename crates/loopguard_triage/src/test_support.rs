//! Builders for diagnostics in unit tests.

use loopguard_core::diagnostic::{Confidence, Diagnostic, Hop};
use loopguard_core::rules::{self, Severity};
use loopguard_core::span::Span;

pub fn span(line: u32) -> Span {
    Span {
        start_line: line,
        start_col: 5,
        end_line: line,
        end_col: 20,
        start_byte: line * 10,
        end_byte: line * 10 + 15,
    }
}

fn code_of(code: &str) -> &'static str {
    rules::by_code(code).map(|r| r.code).unwrap_or("LG301")
}

pub fn direct_finding(
    code: &str,
    path: &str,
    line: u32,
    function: &str,
    api: &str,
    context: &str,
) -> Diagnostic {
    Diagnostic {
        code: code_of(code),
        severity: Severity::Error,
        confidence: Confidence::Certain,
        message: format!("blocking call `{api}` in async function `{function}`"),
        path: path.to_string(),
        span: span(line),
        help: Some("use an async client".to_string()),
        function: function.to_string(),
        call: api.to_string(),
        chain: Vec::new(),
        api: api.to_string(),
        related: Vec::new(),
        context: context.to_string(),
    }
}

/// An async `function` in `path` calling `_check_in_memory_rate_limit`, which takes a
/// `threading.Lock` in `app/core/rate_limit.py`.
pub fn chained(code: &str, path: &str, line: u32, function: &str, context: &str) -> Diagnostic {
    let mut d = direct_finding(
        code,
        path,
        line,
        function,
        "threading.Lock.__enter__",
        context,
    );
    d.call = "_check_in_memory_rate_limit".to_string();
    d.chain = vec![
        Hop {
            function: function.to_string(),
            path: path.to_string(),
            span: span(line),
            call: "_check_in_memory_rate_limit".to_string(),
        },
        Hop {
            function: "app.core.rate_limit._check_in_memory_rate_limit".to_string(),
            path: "app/core/rate_limit.py".to_string(),
            span: span(129),
            call: "_rate_limit_lock".to_string(),
        },
    ];
    d
}
