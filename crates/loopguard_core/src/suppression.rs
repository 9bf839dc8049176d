//! `noqa` suppression comments, ruff syntax: `# noqa` silences every rule on its line,
//! `# noqa: LG301, LG305` only those codes (prefixes such as `LG3` are accepted too).
//! Rust files use `// noqa` / `// noqa: LG202`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// 1-based line the comment is on.
    pub line: u32,
    /// `None`: all rules; otherwise the listed codes or prefixes.
    pub codes: Option<Vec<String>>,
}

impl Suppression {
    pub fn covers(&self, code: &str) -> bool {
        match &self.codes {
            None => true,
            Some(codes) => codes.iter().any(|c| code.starts_with(c.as_str())),
        }
    }
}

/// Finds `noqa` comments in a source text. A cheap byte search first: most files have none.
pub fn scan(text: &str) -> Vec<Suppression> {
    let mut out = Vec::new();
    if !text.contains("noqa") {
        return out;
    }
    for (i, line) in text.lines().enumerate() {
        if let Some(codes) = parse_line(line) {
            let suppression = Suppression {
                line: i as u32 + 1,
                codes,
            };
            // `# noqa: PLC0415` is another linter's: it silences nothing here, and a
            // comment kept for nothing would tie the cache's shifts to its line.
            if crate::rules::RULES
                .iter()
                .any(|r| suppression.covers(r.code))
            {
                out.push(suppression);
            }
        }
    }
    out
}

/// `Some(None)` for a bare `noqa`, `Some(Some(codes))` for `noqa: A, B`, `None` when the line
/// has no noqa comment.
fn parse_line(line: &str) -> Option<Option<Vec<String>>> {
    let lower = line.to_ascii_lowercase();
    let mut search_from = 0;
    while let Some(rel) = lower[search_from..].find("noqa") {
        let at = search_from + rel;
        search_from = at + 4;
        let before = lower[..at].trim_end();
        let is_comment = before.ends_with('#') || before.ends_with("//");
        if !is_comment {
            continue;
        }
        let rest = &line[at + 4..];
        let Some(list) = rest.trim_start().strip_prefix(':') else {
            return Some(None);
        };
        let codes: Vec<String> = list
            .split([',', ' ', '\t'])
            .map(str::trim)
            .take_while(|c| c.is_empty() || is_code_like(c))
            .filter(|c| !c.is_empty())
            .map(str::to_ascii_uppercase)
            .collect();
        return Some(if codes.is_empty() { None } else { Some(codes) });
    }
    None
}

/// `LG301`, `lg3`, or a bare upper-case prefix such as `LG`; not an ordinary word.
fn is_code_like(s: &str) -> bool {
    let letters = s.chars().take_while(|c| c.is_ascii_alphabetic()).count();
    let digits = &s[letters..];
    letters > 0
        && digits.chars().all(|c| c.is_ascii_digit())
        && (!digits.is_empty() || s.chars().all(|c| c.is_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_coded() {
        let s = scan(
            "a = 1  # noqa\nb()  # noqa: LG301, lg305 trailing words\nc = '# x'\nd() // noqa:LG2\n",
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].codes, None);
        assert_eq!(s[1].codes, Some(vec!["LG301".into(), "LG305".into()]));
        assert!(s[2].covers("LG202") && !s[2].covers("LG301"));
    }

    #[test]
    fn another_linters_codes_are_not_kept() {
        let s = scan("import a  # noqa: PLC0415\nb()  # noqa: E501, LG3\nc()  # noqa: L\n");
        assert_eq!(s.iter().map(|s| s.line).collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn noqa_outside_a_comment_is_ignored() {
        assert!(scan("noqa = 1\nprint('noqa')\n").is_empty());
    }
}
