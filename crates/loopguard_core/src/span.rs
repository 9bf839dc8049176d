//! Source positions shared by facts and diagnostics.

use serde::{Deserialize, Serialize};

/// A range in one source file.
///
/// Lines and columns are 1-based; columns count Unicode scalar values (characters), which is
/// what SARIF calls `unicodeCodePoints`. Byte offsets are 0-based and half-open.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Span {
    pub start_line: u32,
    pub start_col: u32,
    pub end_line: u32,
    pub end_col: u32,
    pub start_byte: u32,
    pub end_byte: u32,
}

impl Span {
    /// True when `other` lies within `self` (by bytes).
    pub fn contains(&self, other: &Span) -> bool {
        self.start_byte <= other.start_byte && other.end_byte <= self.end_byte
    }
}

/// Converts byte offsets of one text to 1-based line/character columns in O(log n).
pub struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<u32>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = Vec::with_capacity(text.len() / 32 + 1);
        line_starts.push(0);
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push((i + 1) as u32);
            }
        }
        Self { text, line_starts }
    }

    /// 1-based (line, column) of a byte offset; offsets past the end clamp to the end.
    pub fn position(&self, byte: usize) -> (u32, u32) {
        let byte = byte.min(self.text.len());
        let line = match self.line_starts.binary_search(&(byte as u32)) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line] as usize;
        let col = self
            .text
            .get(start..byte)
            .map(|s| s.chars().count())
            .unwrap_or(byte - start);
        (line as u32 + 1, col as u32 + 1)
    }

    /// Byte offset of a 1-based line and 0-based *byte* column (what syn/proc-macro2 give as
    /// character columns is converted by the caller).
    pub fn line_start(&self, line: u32) -> Option<usize> {
        self.line_starts
            .get(line.checked_sub(1)? as usize)
            .map(|s| *s as usize)
    }

    pub fn span(&self, start_byte: usize, end_byte: usize) -> Span {
        let (start_line, start_col) = self.position(start_byte);
        let (end_line, end_col) = self.position(end_byte);
        Span {
            start_line,
            start_col,
            end_line,
            end_col,
            start_byte: start_byte as u32,
            end_byte: end_byte as u32,
        }
    }

    pub fn text(&self) -> &'a str {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let idx = LineIndex::new("ab\nçd\n");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(3), (2, 1));
        // 'ç' is two bytes; 'd' is the second character.
        assert_eq!(idx.position(5), (2, 2));
        assert_eq!(idx.position(999), (3, 1));
    }
}
