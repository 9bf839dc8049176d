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
}

impl<'s> SourceMap<'s> {
    pub(crate) fn new(text: &'s str) -> Self {
        Self {
            text,
            lines: LineIndex::new(text),
            has_bom: text.starts_with('\u{feff}'),
        }
    }

    /// Byte offset of a proc-macro2 position; positions past the end clamp to the end.
    pub(crate) fn byte(&self, at: LineColumn) -> usize {
        let column = self.column(at);
        let Some(line_start) = self.lines.line_start(at.line as u32) else {
            return if at.line == 0 { 0 } else { self.text.len() };
        };
        let rest = self.text.get(line_start..).unwrap_or("");
        // Fast path: an ASCII prefix has as many bytes as characters.
        if let Some(prefix) = rest.get(..column)
            && prefix.is_ascii()
        {
            return line_start + column;
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
    fn whitespace_is_normalized() {
        assert_eq!(normalize_ws("self.client\n    .get"), "self.client.get");
        assert_eq!(normalize_ws("foo(\n  a,\n  b\n)"), "foo(a, b)");
        assert_eq!(normalize_ws("std :: fs :: read"), "std::fs::read");
    }
}
