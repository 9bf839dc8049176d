//! The `github` format: GitHub Actions workflow commands, which become annotations on the
//! pull request's diff.

use std::io;

use loopguard_core::diagnostic::NotificationLevel;
use loopguard_core::{Severity, Span};

use crate::{Report, chain_summary, rule_of};

pub(crate) fn write(report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    for d in report.diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let title = match rule_of(d) {
            Some(rule) => format!("{} {}", d.code, rule.name),
            None => d.code.to_string(),
        };
        let mut message = d.message.clone();
        if let Some(chain) = chain_summary(d) {
            message.push_str(&format!(" ({chain})"));
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        writeln!(
            out,
            "::{command} file={},{},title={}::{}",
            escape_property(&d.path),
            position(&d.span),
            escape_property(&title),
            escape_data(&message)
        )?;
    }
    for n in report.notifications {
        let command = match n.level {
            NotificationLevel::Error => "error",
            NotificationLevel::Warning => "warning",
            NotificationLevel::Note => "notice",
        };
        let mut properties = Vec::new();
        if let Some(path) = &n.path {
            properties.push(format!("file={}", escape_property(path)));
            if let Some(span) = &n.span {
                properties.push(position(span));
            }
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("loopguard {}", n.kind))
        ));
        writeln!(
            out,
            "::{command} {}::{}",
            properties.join(","),
            escape_data(&n.message)
        )?;
    }
    Ok(())
}

fn position(span: &Span) -> String {
    format!(
        "line={},col={},endLine={},endColumn={}",
        span.start_line, span.start_col, span.end_line, span.end_col
    )
}

/// Escapes a command's message as the Actions runner expects (`escapeData` in
/// `@actions/core`): `%`, CR and LF.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`escapeProperty` in `@actions/core`): the data escapes plus
/// `:` and `,`, which delimit properties.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use loopguard_core::Notification;

    use super::*;
    use crate::test_support::*;

    fn no_source(_: &str) -> Option<Arc<str>> {
        None
    }

    #[test]
    fn escapes_follow_the_actions_toolkit() {
        assert_eq!(escape_data("100%\r\nok: a,b"), "100%25%0D%0Aok: a,b");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn one_command_per_finding_and_notification() {
        let mut warning = diagnostic("LG303", "dir,x/a:b.py", "open");
        warning.severity = Severity::Warning;
        warning.help = None;
        let diagnostics = [diagnostic("LG301", "a.py", "requests.get"), warning];
        let notifications = [Notification {
            level: NotificationLevel::Warning,
            kind: "read-error".to_string(),
            path: Some("c.py".to_string()),
            span: None,
            message: "permission denied".to_string(),
        }];
        let report = Report {
            diagnostics: &diagnostics,
            notifications: &notifications,
            files_checked: 3,
            tool_version: "0.1.0",
            source: &no_source,
            root_uri: None,
            statistics: false,
            fixed_baseline_entries: None,
        };
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "::error file=a.py,line=3,col=5,endLine=3,endColumn=17,title=LG301 blocking-http\
                 ::blocking call `requests.get` in async function `handler`%0Ahelp: use an async client",
                "::warning file=dir%2Cx/a%3Ab.py,line=3,col=5,endLine=3,endColumn=17,\
                 title=LG303 blocking-file-io::blocking call `open` in async function `handler`",
                "::warning file=c.py,title=loopguard read-error::permission denied",
            ]
        );
    }
}
