//! proc-macro2 positions (1-based lines, 0-based character columns) to [`Span`]s with byte
//! offsets, and source text slices.

use loopguard_core::Span;
use loopguard_core::span::LineIndex;
use proc_macro2::LineColumn;

pub(crate) struct SourceMap<'s> {
    text: &'s str,
    lines: LineIndex<'s>,
    /// syn strips a leading byte-order mark before tokenizing, so columns on line 1 are one
    /// character short.
    has_bom: bool,
    /// Per line (0-based): all ASCII, so a character column is a byte column.
    ascii_lines: Vec<bool>,
}

impl<'s> SourceMap<'s> {
    pub(crate) fn new(text: &'s str) -> Self {
        Self {
            text,
            lines: LineIndex::new(text),
            has_bom: text.starts_with('\u{feff}'),
            ascii_lines: text.split('\n').map(str::is_ascii).collect(),
        }
    }

    /// Byte offset of a proc-macro2 position; positions past the end clamp to the end.
    pub(crate) fn byte(&self, at: LineColumn) -> usize {
        let column = self.column(at);
        let Some(line_start) = self.lines.line_start(at.line as u32) else {
            return if at.line == 0 { 0 } else { self.text.len() };
        };
        let rest = self.text.get(line_start..).unwrap_or("");
        let line_is_ascii = self
            .ascii_lines
            .get(at.line.saturating_sub(1))
            .copied()
            .unwrap_or(false);
        if line_is_ascii {
            let line_end = self
                .lines
                .line_start(at.line as u32 + 1)
                .map_or(self.text.len(), |next| next.saturating_sub(1));
            return (line_start + column).min(line_end);
        }
        let within = rest
            .char_indices()
            .take_while(|(_, c)| *c != '\n')
            .nth(column)
            .map(|(i, _)| i)
            .unwrap_or_else(|| rest.find('\n').unwrap_or(rest.len()));
        line_start + within
    }

    fn column(&self, at: LineColumn) -> usize {
        if self.has_bom && at.line == 1 {
            at.column + 1
        } else {
            at.column
        }
    }

    /// The span from the start of `lo` to the end of `hi`.
    pub(crate) fn span(&self, lo: proc_macro2::Span, hi: proc_macro2::Span) -> Span {
        self.span_of(lo.start(), hi.end())
    }

    pub(crate) fn span_of(&self, start: LineColumn, end: LineColumn) -> Span {
        let start_byte = self.byte(start);
        let end_byte = self.byte(end).max(start_byte);
        Span {
            start_line: start.line as u32,
            start_col: self.column(start) as u32 + 1,
            end_line: end.line as u32,
            end_col: self.column(end) as u32 + 1,
            start_byte: start_byte as u32,
            end_byte: end_byte as u32,
        }
    }

    /// Source text between two byte offsets ("" when they do not delimit text).
    pub(crate) fn slice(&self, start: usize, end: usize) -> &'s str {
        self.text.get(start..end).unwrap_or("")
    }
}

impl SourceMap<'_> {
    /// Whitespace-normalized text between two byte offsets; beyond `max_chars`, only its end
    /// is kept, after a `…`. Only the end is read, so long chains cost no more than short.
    pub(crate) fn tail_text(&self, start: usize, end: usize, max_chars: usize) -> String {
        let budget = max_chars.saturating_mul(4);
        let mut from = start.max(end.saturating_sub(budget));
        while from < end && !self.text.is_char_boundary(from) {
            from += 1;
        }
        let text = normalize_ws(self.slice(from, end));
        let chars = text.chars().count();
        if from == start && chars <= max_chars {
            return text;
        }
        let keep = max_chars.saturating_sub(1);
        let tail: String = text.chars().skip(chars.saturating_sub(keep)).collect();
        format!("…{tail}")
    }
}

/// Collapses whitespace in an expression's text: line breaks and indentation inside
/// `client\n    .get(url)` vanish, other runs become one space.
pub(crate) fn normalize_ws(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space {
            let glued_before = out
                .chars()
                .next_back()
                .is_none_or(|p| matches!(p, '(' | '[' | '{' | '.' | ':' | '<' | '&'));
            let glued_after = matches!(c, ')' | ']' | '}' | '.' | ',' | ':' | '?' | '>' | ';');
            if !glued_before && !glued_after {
                out.push(' ');
            }
            pending_space = false;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_offsets_count_characters_on_the_line() {
        let text = "fn a() {}\nlet ç = x;\n";
        let map = SourceMap::new(text);
        assert_eq!(map.byte(LineColumn { line: 1, column: 3 }), 3);
        // 'ç' is two bytes, so the 5th character of line 2 starts 1 byte later.
        assert_eq!(map.byte(LineColumn { line: 2, column: 6 }), 10 + 7);
        assert_eq!(map.byte(LineColumn { line: 9, column: 0 }), text.len());
        let span = map.span_of(
            LineColumn { line: 2, column: 4 },
            LineColumn { line: 2, column: 5 },
        );
        assert_eq!((span.start_col, span.end_col), (5, 6));
        assert_eq!(
            map.slice(span.start_byte as usize, span.end_byte as usize),
            "ç"
        );
    }

    #[test]
    fn long_texts_keep_their_end() {
        let text = format!("a{}.route", ".b()".repeat(100));
        let map = SourceMap::new(&text);
        let tail = map.tail_text(0, text.len(), 20);
        assert_eq!(tail.chars().count(), 20);
        assert!(
            tail.starts_with('…') && tail.ends_with(".b().route"),
            "{tail}"
        );
        assert_eq!(map.tail_text(0, 5, 20), "a.b()");
    }

    #[test]
    fn whitespace_is_normalized() {
        assert_eq!(normalize_ws("self.client\n    .get"), "self.client.get");
        assert_eq!(normalize_ws("foo(\n  a,\n  b\n)"), "foo(a, b)");
        assert_eq!(normalize_ws("std :: fs :: read"), "std::fs::read");
    }
}
