//! Small Markdown helpers.

/// An inline code span that survives backticks and newlines in `text`.
pub fn code(text: &str) -> String {
    let text = crate::group::squash_whitespace(text);
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    if longest_run == 0 {
        return format!("`{text}`");
    }
    let fence = "`".repeat(longest_run + 1);
    format!("{fence} {text} {fence}")
}

/// Text for a table cell: no line breaks, `|` escaped.
pub fn cell(text: &str) -> String {
    crate::group::squash_whitespace(text).replace('|', "\\|")
}

pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` as a sentence: capitalized, ending in a period.
pub fn sentence(text: &str) -> String {
    let text = capitalize(text.trim());
    if text.ends_with(['.', '!', '?']) {
        text
    } else {
        format!("{text}.")
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `1 finding`, `2 findings`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_escape_backticks() {
        assert_eq!(code("requests.get"), "`requests.get`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("f(\n    x)"), "`f( x)`");
    }

    #[test]
    fn text_helpers() {
        assert_eq!(cell("a | b\nc"), "a \\| b c");
        assert_eq!(sentence("use asyncio.Lock"), "Use asyncio.Lock.");
        assert_eq!(sentence("done."), "Done.");
        assert_eq!(
            join_and(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
        assert_eq!(count(1, "file", "files"), "1 file");
        assert_eq!(count(3, "file", "files"), "3 files");
    }
}
