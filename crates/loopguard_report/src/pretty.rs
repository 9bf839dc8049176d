//! The `pretty` format: miette snippets for people at a terminal.
//!
//! Each finding shows its code and name, the message, the source with the offending call
//! labelled (plus the chain hops and related spans that lie in the same file), the fix hint,
//! and notes for what a snippet cannot show (the whole chain, spans in other files, likely
//! confidence). When the source cannot be read, a plain `path:line:col: CODE message` line
//! stands in for the snippet.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::sync::Arc;

use loopguard_core::diagnostic::{Confidence, NotificationLevel};
use loopguard_core::{Diagnostic, Severity, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use crate::{Report, SeverityCounts, chain_summary, plural, rule_of};

pub(crate) fn write(report: &Report, color: bool, out: &mut dyn io::Write) -> io::Result<()> {
    let style = Style { color };
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme);
    let mut sources = SourceCache::new(report.source);

    for d in report.diagnostics {
        let rendered = render_snippet(&handler, d, &mut sources);
        let snippet_shown = rendered.is_some();
        match rendered {
            Some(text) => out.write_all(text.as_bytes())?,
            None => writeln!(
                out,
                "{}:{}:{}: {} {}",
                d.path,
                d.span.start_line,
                d.span.start_col,
                style.severity(d.severity, d.code),
                d.message
            )?,
        }
        for line in footer_lines(d, &style, snippet_shown) {
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
    }

    for n in report.notifications {
        let level = style.level(n.level);
        match (&n.path, &n.span) {
            (Some(path), Some(span)) => writeln!(
                out,
                "{level}: {path}:{}:{}: {}",
                span.start_line, span.start_col, n.message
            )?,
            (Some(path), None) => writeln!(out, "{level}: {path}: {}", n.message)?,
            (None, _) => writeln!(out, "{level}: {}", n.message)?,
        }
    }
    if !report.notifications.is_empty() {
        writeln!(out)?;
    }

    if report.statistics && !report.diagnostics.is_empty() {
        write_statistics(report.diagnostics, out)?;
        writeln!(out)?;
    }

    if let Some(fixed) = report.fixed_baseline_entries.filter(|n| *n > 0) {
        let entries = plural(fixed, "baseline entry", "baseline entries");
        let verb = if fixed == 1 { "is" } else { "are" };
        writeln!(
            out,
            "{entries} {verb} no longer found; update the baseline to drop them."
        )?;
    }

    let files = plural(report.files_checked, "file", "files");
    if report.diagnostics.is_empty() {
        writeln!(
            out,
            "{}",
            style.success(&format!("All checks passed! ({files})"))
        )?;
    } else {
        let counts = SeverityCounts::of(report.diagnostics);
        let mut by_severity = vec![
            plural(counts.errors, "error", "errors"),
            plural(counts.warnings, "warning", "warnings"),
        ];
        if counts.notes > 0 {
            by_severity.push(plural(counts.notes, "note", "notes"));
        }
        writeln!(
            out,
            "Found {} ({}) in {files}.",
            plural(report.diagnostics.len(), "finding", "findings"),
            by_severity.join(", ")
        )?;
    }
    Ok(())
}

/// Lines after the snippet (or the plain line): help when miette did not print it, the chain,
/// related spans in other files, and likely confidence.
fn footer_lines(d: &Diagnostic, style: &Style, snippet_shown: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if !snippet_shown && let Some(help) = &d.help {
        lines.push(format!("  {} {help}", style.label("help:")));
    }
    let note = style.label("note:");
    if let Some(chain) = chain_summary(d) {
        lines.push(format!("  {note} {chain}"));
    }
    for label in &d.related {
        // Labels in the finding's own file are drawn in the snippet, unless it was not shown.
        if label.path != d.path || !snippet_shown {
            lines.push(format!(
                "  {note} {} ({}:{}:{})",
                label.message, label.path, label.span.start_line, label.span.start_col
            ));
        }
    }
    if d.confidence == Confidence::Likely {
        lines.push(format!(
            "  {} likely (a call on the way was resolved by name only)",
            style.label("confidence:")
        ));
    }
    lines
}

fn write_statistics(diagnostics: &[Diagnostic], out: &mut dyn io::Write) -> io::Result<()> {
    let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
    for d in diagnostics {
        *by_code.entry(d.code).or_insert(0) += 1;
    }
    let mut rows: Vec<(usize, &str, &str)> = by_code
        .into_iter()
        .map(|(code, count)| {
            let name = loopguard_core::rules::by_code(code)
                .map(|r| r.name)
                .unwrap_or_default();
            (count, code, name)
        })
        .collect();
    // Most frequent first; ties in code order (the BTreeMap order, kept by a stable sort).
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    let count_width = rows
        .iter()
        .map(|(count, ..)| count.to_string().len())
        .max()
        .unwrap_or(0)
        .max("count".len());
    let code_width = rows
        .iter()
        .map(|(_, code, _)| code.len())
        .max()
        .unwrap_or(0)
        .max("code".len());
    writeln!(
        out,
        "{:>count_width$}  {:<code_width$}  name",
        "count", "code"
    )?;
    for (count, code, name) in rows {
        writeln!(out, "{count:>count_width$}  {code:<code_width$}  {name}")?;
    }
    Ok(())
}

/// Source texts by path, read once each, with their line starts.
struct SourceCache<'a> {
    read: &'a dyn Fn(&str) -> Option<Arc<str>>,
    files: HashMap<String, Option<SourceFile>>,
}

impl<'a> SourceCache<'a> {
    fn new(read: &'a dyn Fn(&str) -> Option<Arc<str>>) -> Self {
        Self {
            read,
            files: HashMap::new(),
        }
    }

    fn get(&mut self, path: &str) -> Option<&SourceFile> {
        if !self.files.contains_key(path) {
            let file = (self.read)(path).map(SourceFile::new);
            self.files.insert(path.to_string(), file);
        }
        self.files.get(path).and_then(Option::as_ref)
    }
}

struct SourceFile {
    text: Arc<str>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    fn new(text: Arc<str>) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self { text, line_starts }
    }

    /// The byte range of `span` in this text: its byte offsets when they agree with its
    /// line/column (the text may have changed since it was analyzed), else the offsets of its
    /// line/column. `None` when neither fits the text.
    fn byte_range(&self, span: &Span) -> Option<(usize, usize)> {
        let (start, end) = (span.start_byte as usize, span.end_byte as usize);
        let bytes_fit = start <= end
            && end <= self.text.len()
            && self.text.is_char_boundary(start)
            && self.text.is_char_boundary(end);
        if bytes_fit && self.position(start) == Some((span.start_line, span.start_col)) {
            return Some((start, end));
        }
        let start = self.offset(span.start_line, span.start_col)?;
        let end = self
            .offset(span.end_line, span.end_col)
            .filter(|end| *end >= start)
            .unwrap_or(start);
        Some((start, end))
    }

    /// 1-based line and character column of a byte offset on a character boundary.
    fn position(&self, byte: usize) -> Option<(u32, u32)> {
        let line = self.line_starts.partition_point(|start| *start <= byte);
        let line_start = *self.line_starts.get(line.checked_sub(1)?)?;
        let column = self.text.get(line_start..byte)?.chars().count() + 1;
        Some((u32::try_from(line).ok()?, u32::try_from(column).ok()?))
    }

    /// Byte offset of a 1-based line and character column; a column past the end of the line
    /// clamps to the line's end.
    fn offset(&self, line: u32, column: u32) -> Option<usize> {
        let index = usize::try_from(line.checked_sub(1)?).ok()?;
        let line_start = *self.line_starts.get(index)?;
        let line_end = self
            .line_starts
            .get(index + 1)
            .map(|next| next - 1)
            .unwrap_or(self.text.len());
        let line_text = self.text.get(line_start..line_end)?;
        let skip = usize::try_from(column.saturating_sub(1)).ok()?;
        let within = line_text
            .char_indices()
            .nth(skip)
            .map(|(i, _)| i)
            .unwrap_or(line_text.len());
        Some(line_start + within)
    }
}

/// Renders `d` as a miette snippet; `None` when its source or span is unavailable.
fn render_snippet(
    handler: &GraphicalReportHandler,
    d: &Diagnostic,
    sources: &mut SourceCache,
) -> Option<String> {
    let file = sources.get(&d.path)?;
    let (start, end) = file.byte_range(&d.span)?;
    let rule = rule_of(d);

    let primary_text = match (rule, d.chain.len() > 1) {
        (Some(rule), false) => rule.category.to_string(),
        (Some(rule), true) => format!("reaches a {}", rule.category),
        (None, _) => d.message.clone(),
    };
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        Some(primary_text),
        (start, end - start),
    )];
    // The first hop is the reported call site itself.
    for hop in d.chain.iter().skip(1).filter(|hop| hop.path == d.path) {
        if let Some((start, end)) = file.byte_range(&hop.span) {
            labels.push(LabeledSpan::new_with_span(
                Some(format!("then calls `{}`", hop.call)),
                (start, end - start),
            ));
        }
    }
    for label in d.related.iter().filter(|label| label.path == d.path) {
        if let Some((start, end)) = file.byte_range(&label.span) {
            labels.push(LabeledSpan::new_with_span(
                Some(label.message.clone()),
                (start, end - start),
            ));
        }
    }

    let snippet = Snippet {
        header: match rule {
            Some(rule) => format!("{} {}", d.code, rule.name),
            None => d.code.to_string(),
        },
        message: d.message.clone(),
        severity: match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Note => miette::Severity::Advice,
        },
        source: NamedSource::new(&d.path, Arc::clone(&file.text)),
        labels,
        help: d.help.clone(),
    };
    let mut text = String::new();
    // miette refuses spans it cannot read; the caller then prints the plain form.
    handler.render_report(&mut text, &snippet).ok()?;
    Some(text)
}

/// One finding in miette's terms.
struct Snippet {
    header: String,
    message: String,
    severity: miette::Severity,
    source: NamedSource<Arc<str>>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
}

impl fmt::Debug for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snippet")
            .field("header", &self.header)
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Snippet {}

impl miette::Diagnostic for Snippet {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.header))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
}

/// ANSI styling of the lines loopguard writes itself (miette styles its own).
struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, text: &str, sgr: &str) -> String {
        if self.color {
            format!("\x1b[{sgr}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn severity(&self, severity: Severity, text: &str) -> String {
        match severity {
            Severity::Error => self.paint(text, "1;31"),
            Severity::Warning => self.paint(text, "1;33"),
            Severity::Note => self.paint(text, "1;36"),
        }
    }

    fn level(&self, level: NotificationLevel) -> String {
        match level {
            NotificationLevel::Error => self.paint("error", "1;31"),
            NotificationLevel::Warning => self.paint("warning", "1;33"),
            NotificationLevel::Note => self.paint("note", "1;36"),
        }
    }

    fn label(&self, text: &str) -> String {
        self.paint(text, "1;36")
    }

    fn success(&self, text: &str) -> String {
        self.paint(text, "1;32")
    }
}

#[cfg(test)]
mod tests {
    use loopguard_core::Hop;

    use super::*;
    use crate::test_support::*;

    fn file(text: &str) -> SourceFile {
        SourceFile::new(Arc::from(text))
    }

    #[test]
    fn positions_and_offsets_count_characters() {
        let f = file("ab\nçd\r\nx");
        assert_eq!(f.position(0), Some((1, 1)));
        // 'ç' is two bytes; 'd' is the second character of line 2.
        assert_eq!(f.position(5), Some((2, 2)));
        assert_eq!(f.offset(2, 2), Some(5));
        // Past the end of a line clamps to the line's end (before its newline).
        assert_eq!(f.offset(1, 99), Some(2));
        assert_eq!(f.offset(3, 1), Some(8));
        assert_eq!(f.offset(4, 1), None);
        assert_eq!(f.offset(0, 1), None);
        // Inside a multi-byte character is no position.
        assert_eq!(f.position(4), None);
    }

    #[test]
    fn byte_range_prefers_consistent_offsets_and_rejects_garbage() {
        let f = file("let x = 1;\nlet y = 2;\n");
        let good = Span {
            start_line: 2,
            start_col: 5,
            end_line: 2,
            end_col: 6,
            start_byte: 15,
            end_byte: 16,
        };
        assert_eq!(f.byte_range(&good), Some((15, 16)));
        let stale_bytes = Span {
            start_byte: 3,
            end_byte: 4,
            ..good
        };
        assert_eq!(f.byte_range(&stale_bytes), Some((15, 16)));
        assert_eq!(f.byte_range(&Span::default()), None);
        let huge = Span {
            start_line: u32::MAX,
            start_col: u32::MAX,
            end_line: u32::MAX,
            end_col: u32::MAX,
            start_byte: u32::MAX,
            end_byte: 0,
        };
        assert_eq!(f.byte_range(&huge), None);
    }

    #[test]
    fn unknown_spans_print_the_plain_form() {
        let mut d = diagnostic("LG305", "a.py", "time.sleep");
        d.span = Span::default();
        let diagnostics = [d];
        let read = |_: &str| Some(Arc::<str>::from("import time\n"));
        let report = Report {
            diagnostics: &diagnostics,
            notifications: &[],
            files_checked: 1,
            tool_version: "0",
            source: &read,
            root_uri: None,
            statistics: false,
            fixed_baseline_entries: None,
        };
        let mut out = Vec::new();
        write(&report, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("a.py:0:0: LG305 blocking call"), "{text}");
    }

    #[test]
    fn statistics_sort_by_count_then_code() {
        let diagnostics = [
            diagnostic("LG305", "a.py", "time.sleep"),
            diagnostic("LG301", "a.py", "requests.get"),
            diagnostic("LG303", "a.py", "open"),
            diagnostic("LG305", "b.py", "time.sleep"),
        ];
        let mut out = Vec::new();
        write_statistics(&diagnostics, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "count  code   name\n    \
                 2  LG305  blocking-sleep\n    \
                 1  LG301  blocking-http\n    \
                 1  LG303  blocking-file-io\n"
        );
    }

    #[test]
    fn arbitrary_spans_on_awkward_sources_never_panic() {
        let sources = [
            "",
            "\n",
            "x",
            "a\r\nb\r\n",
            "\tif x:\n\t\tçé = requests.get(u)  # 日本語\n",
            "no newline at end",
            "\u{feff}line\n\n\n",
        ];
        let mut snippets = 0;
        // A small deterministic generator: the test must be reproducible.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |bound: u32| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % u64::from(bound)) as u32
        };
        for text in sources {
            let text: Arc<str> = Arc::from(text);
            for _ in 0..200 {
                let mut random_span = || Span {
                    start_line: next(5),
                    start_col: next(40),
                    end_line: next(5),
                    end_col: next(40),
                    start_byte: next(60),
                    end_byte: next(60),
                };
                let mut d = diagnostic("LG301", "a.py", "requests.get");
                d.span = random_span();
                d.chain = vec![
                    hop("f", "a.py", 1, "g"),
                    Hop {
                        span: random_span(),
                        ..hop("g", "a.py", 1, "h")
                    },
                ];
                d.related = vec![loopguard_core::diagnostic::Label {
                    path: "a.py".to_string(),
                    span: random_span(),
                    message: "here".to_string(),
                }];
                let diagnostics = [d];
                let text = Arc::clone(&text);
                let read = move |_: &str| Some(Arc::clone(&text));
                let report = Report {
                    diagnostics: &diagnostics,
                    notifications: &[],
                    files_checked: 1,
                    tool_version: "0",
                    source: &read,
                    root_uri: None,
                    statistics: true,
                    fixed_baseline_entries: None,
                };
                let mut out = Vec::new();
                write(&report, false, &mut out).unwrap();
                let out = String::from_utf8(out).unwrap();
                if out.contains("╭─[a.py:") {
                    snippets += 1;
                }
            }
        }
        // Both paths are exercised: snippets for spans that fit, the plain form otherwise.
        assert!(snippets > 50, "{snippets} snippets");
        assert!(snippets < 1400, "{snippets} snippets");
    }
}
