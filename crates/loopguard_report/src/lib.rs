//! loopguard's reporters: `pretty` (miette), `json`, `sarif` and `github` workflow commands.
//!
//! Reporters know nothing about parsing or analysis: they print the [`Report`] the engine
//! hands them, already filtered and sorted. Every format is deterministic (no timestamps, no
//! hash-map ordering), so outputs can be snapshot-tested and diffed between runs.
//!
//! The JSON and SARIF layouts and the exit codes are documented in `docs/output-formats.md`.

use std::io;
use std::sync::Arc;

use loopguard_core::rules::{self, Rule};
use loopguard_core::{Diagnostic, Notification, Severity};

mod fingerprint;
mod github;
mod json;
mod pretty;
mod sarif;

pub use fingerprint::{fingerprint, fingerprints};
pub use json::JSON_SCHEMA_VERSION;
pub use sarif::{SARIF_SCHEMA_URI, help_uri};

/// Where loopguard's documentation lives; SARIF rule `helpUri`s point into it.
pub const INFORMATION_URI: &str = "https://github.com/loopguard/loopguard";

/// Everything a reporter prints.
pub struct Report<'a> {
    /// Findings, already sorted by the engine ([`Diagnostic::sort_key`]).
    pub diagnostics: &'a [Diagnostic],
    pub notifications: &'a [Notification],
    pub files_checked: usize,
    pub tool_version: &'a str,
    /// Reads a project-relative path's source text (for snippets); None if unavailable.
    pub source: &'a dyn Fn(&str) -> Option<Arc<str>>,
    /// `file://` URI of the project root for SARIF `originalUriBaseIds`, if known.
    pub root_uri: Option<String>,
    /// pretty: add a per-rule count table.
    pub statistics: bool,
    /// pretty/json: how many baseline entries matched no finding any more.
    pub fixed_baseline_entries: Option<usize>,
}

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pretty { color: bool },
    Json,
    Sarif,
    Github,
}

impl Format {
    /// Names accepted by [`Format::from_name`], for CLI help.
    pub const NAMES: &'static [&'static str] = &["pretty", "json", "sarif", "github"];

    /// Parses a format name (`pretty`, `json`, `sarif`, `github`); `color` only matters for
    /// `pretty`.
    pub fn from_name(name: &str, color: bool) -> Option<Format> {
        match name {
            "pretty" => Some(Format::Pretty { color }),
            "json" => Some(Format::Json),
            "sarif" => Some(Format::Sarif),
            "github" => Some(Format::Github),
            _ => None,
        }
    }
}

/// Writes `report` in `format` to `out`.
pub fn write(format: &Format, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    match format {
        Format::Pretty { color } => pretty::write(report, *color, out),
        Format::Json => json::write(report, out),
        Format::Sarif => sarif::write(report, out),
        Format::Github => github::write(report, out),
    }
}

/// Counts of findings by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SeverityCounts {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
}

impl SeverityCounts {
    pub(crate) fn of(diagnostics: &[Diagnostic]) -> Self {
        let mut counts = SeverityCounts::default();
        for d in diagnostics {
            match d.severity {
                Severity::Error => counts.errors += 1,
                Severity::Warning => counts.warnings += 1,
                Severity::Note => counts.notes += 1,
            }
        }
        counts
    }
}

pub(crate) fn rule_of(d: &Diagnostic) -> Option<&'static Rule> {
    rules::by_code(d.code)
}

/// The chain after the reported call site, in one line:
/// `via app.svc.get_agent (app/svc.py:12:9) -> app.db.connect (app/db.py:40:12) -> psycopg2.connect`.
///
/// Each function is followed by the position of its call to the next element; the last
/// element is the blocking API. `None` for direct findings.
pub(crate) fn chain_summary(d: &Diagnostic) -> Option<String> {
    // The first hop is the reported call site itself (already the primary location).
    let hops = d.chain.get(1..).filter(|hops| !hops.is_empty())?;
    let mut parts: Vec<String> = hops
        .iter()
        .map(|hop| {
            format!(
                "{} ({}:{}:{})",
                hop.function, hop.path, hop.span.start_line, hop.span.start_col
            )
        })
        .collect();
    let last_call = hops.last().map(|hop| hop.call.as_str()).unwrap_or_default();
    let api = if d.api.is_empty() { last_call } else { &d.api };
    if !api.is_empty() {
        parts.push(api.to_string());
    }
    Some(format!("via {}", parts.join(" -> ")))
}

/// `n thing` / `n things`.
pub(crate) fn plural(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

#[cfg(test)]
pub(crate) mod test_support {
    use loopguard_core::diagnostic::{Confidence, Hop, Label};
    use loopguard_core::{Diagnostic, Severity, Span};

    pub fn span(line: u32, col: u32, end_col: u32) -> Span {
        Span {
            start_line: line,
            start_col: col,
            end_line: line,
            end_col,
            start_byte: 0,
            end_byte: 0,
        }
    }

    pub fn diagnostic(code: &'static str, path: &str, call: &str) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            confidence: Confidence::Certain,
            message: format!("blocking call `{call}` in async function `handler`"),
            path: path.to_string(),
            span: span(3, 5, 17),
            help: Some("use an async client".to_string()),
            function: "app.routes.handler".to_string(),
            call: call.to_string(),
            chain: Vec::new(),
            api: call.to_string(),
            related: Vec::<Label>::new(),
            context: "route".to_string(),
        }
    }

    pub fn hop(function: &str, path: &str, line: u32, call: &str) -> Hop {
        Hop {
            function: function.to_string(),
            path: path.to_string(),
            span: span(line, 9, 9 + call.chars().count() as u32),
            call: call.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn chain_summary_lists_hops_after_the_call_site_then_the_api() {
        let mut d = diagnostic("LG302", "app/routes.py", "svc.get_agent");
        assert_eq!(chain_summary(&d), None);
        d.api = "psycopg2.connect".to_string();
        d.chain = vec![
            hop("app.routes.handler", "app/routes.py", 3, "svc.get_agent"),
            hop("app.svc.get_agent", "app/svc.py", 12, "connect"),
            hop("app.db.connect", "app/db.py", 40, "psycopg2.connect"),
        ];
        assert_eq!(
            chain_summary(&d).as_deref(),
            Some(
                "via app.svc.get_agent (app/svc.py:12:9) -> app.db.connect (app/db.py:40:9) \
                 -> psycopg2.connect"
            )
        );
    }

    #[test]
    fn format_names_round_trip() {
        for name in Format::NAMES {
            assert!(Format::from_name(name, false).is_some(), "{name}");
        }
        assert_eq!(
            Format::from_name("pretty", true),
            Some(Format::Pretty { color: true })
        );
        assert_eq!(Format::from_name("xml", false), None);
    }

    #[test]
    fn severity_counts() {
        let mut warn = diagnostic("LG303", "a.py", "open");
        warn.severity = Severity::Warning;
        let err = diagnostic("LG301", "a.py", "requests.get");
        let counts = SeverityCounts::of(&[err.clone(), warn, err]);
        assert_eq!(
            counts,
            SeverityCounts {
                errors: 2,
                warnings: 1,
                notes: 0
            }
        );
    }
}
