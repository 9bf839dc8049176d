//! The `json` format: a versioned schema documented in `docs/output-formats.md`.
//!
//! Serialized from structs (not `serde_json::Value`) so the key order is the documented one
//! whatever serde_json features other crates enable.

use std::collections::BTreeMap;
use std::io;

use loopguard_core::{Diagnostic, Notification, Span};
use serde::Serialize;

use crate::{Report, SeverityCounts, fingerprints, rule_of};

/// Bumped on any incompatible change of the JSON layout (removed or renamed fields, changed
/// meaning). Added fields do not bump it.
pub const JSON_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    tool: Tool<'a>,
    findings: Vec<Finding<'a>>,
    notifications: Vec<JsonNotification<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct Finding<'a> {
    code: &'a str,
    name: &'a str,
    severity: &'static str,
    confidence: &'static str,
    category: &'a str,
    message: &'a str,
    path: &'a str,
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
    help: Option<&'a str>,
    function: &'a str,
    call: &'a str,
    api: &'a str,
    context: &'a str,
    chain: Vec<ChainHop<'a>>,
    related: Vec<Related<'a>>,
    fingerprint: String,
}

#[derive(Serialize)]
struct ChainHop<'a> {
    function: &'a str,
    path: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    call: &'a str,
}

#[derive(Serialize)]
struct Related<'a> {
    path: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonNotification<'a> {
    level: &'static str,
    kind: &'a str,
    path: Option<&'a str>,
    line: Option<u32>,
    column: Option<u32>,
    message: &'a str,
}

#[derive(Serialize)]
struct Summary {
    findings: usize,
    files: usize,
    by_rule: BTreeMap<String, usize>,
    errors: usize,
    warnings: usize,
    notes: usize,
    fixed_baseline_entries: Option<usize>,
}

pub(crate) fn write(report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    let value = build(report);
    serde_json::to_writer_pretty(&mut *out, &value).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

fn build<'a>(report: &'a Report) -> JsonReport<'a> {
    let fingerprints = fingerprints(report.diagnostics);
    let findings = report
        .diagnostics
        .iter()
        .zip(fingerprints)
        .map(|(d, fingerprint)| finding(d, fingerprint))
        .collect();
    let notifications = report.notifications.iter().map(notification).collect();
    let mut by_rule = BTreeMap::new();
    for d in report.diagnostics {
        *by_rule.entry(d.code.to_string()).or_insert(0) += 1;
    }
    let counts = SeverityCounts::of(report.diagnostics);
    JsonReport {
        version: JSON_SCHEMA_VERSION,
        tool: Tool {
            name: "loopguard",
            version: report.tool_version,
        },
        findings,
        notifications,
        summary: Summary {
            findings: report.diagnostics.len(),
            files: report.files_checked,
            by_rule,
            errors: counts.errors,
            warnings: counts.warnings,
            notes: counts.notes,
            fixed_baseline_entries: report.fixed_baseline_entries,
        },
    }
}

fn finding(d: &Diagnostic, fingerprint: String) -> Finding<'_> {
    let rule = rule_of(d);
    let Span {
        start_line,
        start_col,
        end_line,
        end_col,
        ..
    } = d.span;
    Finding {
        code: d.code,
        name: rule.map(|r| r.name).unwrap_or_default(),
        severity: d.severity.as_str(),
        confidence: d.confidence.as_str(),
        category: rule.map(|r| r.category).unwrap_or_default(),
        message: &d.message,
        path: &d.path,
        start_line,
        start_column: start_col,
        end_line,
        end_column: end_col,
        help: d.help.as_deref(),
        function: &d.function,
        call: &d.call,
        api: &d.api,
        context: &d.context,
        chain: d
            .chain
            .iter()
            .map(|hop| ChainHop {
                function: &hop.function,
                path: &hop.path,
                line: hop.span.start_line,
                column: hop.span.start_col,
                end_line: hop.span.end_line,
                end_column: hop.span.end_col,
                call: &hop.call,
            })
            .collect(),
        related: d
            .related
            .iter()
            .map(|label| Related {
                path: &label.path,
                line: label.span.start_line,
                column: label.span.start_col,
                end_line: label.span.end_line,
                end_column: label.span.end_col,
                message: &label.message,
            })
            .collect(),
        fingerprint,
    }
}

fn notification(n: &Notification) -> JsonNotification<'_> {
    JsonNotification {
        level: n.level.as_str(),
        kind: &n.kind,
        path: n.path.as_deref(),
        line: n.span.map(|s| s.start_line),
        column: n.span.map(|s| s.start_col),
        message: &n.message,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use loopguard_core::diagnostic::NotificationLevel;

    use super::*;
    use crate::test_support::*;

    fn no_source(_: &str) -> Option<Arc<str>> {
        None
    }

    fn render(report: &Report) -> serde_json::Value {
        let mut out = Vec::new();
        write(report, &mut out).unwrap();
        assert!(out.ends_with(b"}\n"));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn findings_summary_and_notifications() {
        let diagnostics = [
            diagnostic("LG301", "a.py", "requests.get"),
            diagnostic("LG301", "a.py", "requests.get"),
        ];
        let notifications = [Notification {
            level: NotificationLevel::Warning,
            kind: "parse-error".to_string(),
            path: Some("b.py".to_string()),
            span: None,
            message: "unexpected token".to_string(),
        }];
        let report = Report {
            diagnostics: &diagnostics,
            notifications: &notifications,
            files_checked: 2,
            tool_version: "0.1.0",
            source: &no_source,
            root_uri: None,
            statistics: false,
            fixed_baseline_entries: Some(3),
        };
        let json = render(&report);
        assert_eq!(json["version"], 1);
        assert_eq!(json["tool"]["name"], "loopguard");
        let first = &json["findings"][0];
        assert_eq!(first["name"], "blocking-http");
        assert_eq!(first["category"], "blocking HTTP call");
        assert_eq!(first["start_line"], 3);
        assert_eq!(first["end_column"], 17);
        let fp0 = first["fingerprint"].as_str().unwrap();
        let fp1 = json["findings"][1]["fingerprint"].as_str().unwrap();
        assert_eq!(fp1, format!("{fp0}:2"));
        assert_eq!(json["notifications"][0]["kind"], "parse-error");
        assert_eq!(json["notifications"][0]["line"], serde_json::Value::Null);
        assert_eq!(json["summary"]["by_rule"]["LG301"], 2);
        assert_eq!(json["summary"]["errors"], 2);
        assert_eq!(json["summary"]["files"], 2);
        assert_eq!(json["summary"]["fixed_baseline_entries"], 3);
    }
}
