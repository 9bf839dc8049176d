//! `--fix` for LG501: an async endpoint that never awaits becomes a plain `def`, so the
//! framework runs it in its threadpool. Only applied when the analysis saw no `await`,
//! `async for` or `async with` in the function (LG501 is only reported then).

use std::collections::BTreeMap;
use std::path::Path;

use loopguard_core::diagnostic::Diagnostic;

/// The new text of one file.
pub struct FileFix {
    pub path: String,
    pub original: String,
    pub fixed: String,
    pub fixes: usize,
}

/// Computes fixes for the LG501 findings among `diagnostics` (files read from `root`).
pub fn plan(diagnostics: &[Diagnostic], root: &Path) -> Vec<FileFix> {
    let mut by_file: BTreeMap<&str, Vec<&Diagnostic>> = BTreeMap::new();
    for d in diagnostics.iter().filter(|d| d.code == "LG501") {
        by_file.entry(d.path.as_str()).or_default().push(d);
    }
    let mut out = Vec::new();
    for (path, diags) in by_file {
        let Ok(original) = std::fs::read_to_string(root.join(path)) else {
            continue;
        };
        let mut starts: Vec<usize> = diags
            .iter()
            .filter_map(|d| async_keyword_before(&original, d.span.start_byte as usize))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        if starts.is_empty() {
            continue;
        }
        let mut fixed = original.clone();
        // Back to front, so earlier offsets stay valid.
        for &start in starts.iter().rev() {
            let end = start + "async".len();
            let ws_end = fixed[end..]
                .find(|c: char| !c.is_whitespace())
                .map_or(end, |i| end + i);
            fixed.replace_range(start..ws_end, "");
        }
        out.push(FileFix {
            path: path.to_string(),
            original,
            fixed,
            fixes: starts.len(),
        });
    }
    out
}

/// The byte offset of the `async` in `async def <name>` where `name_start` is the name's
/// offset; `None` unless the text is exactly `async <ws> def <ws>` before the name.
fn async_keyword_before(text: &str, name_start: usize) -> Option<usize> {
    let before = text.get(..name_start)?;
    let before = before.trim_end_matches([' ', '\t']);
    let before = before.strip_suffix("def")?;
    let trimmed = before.trim_end_matches([' ', '\t']);
    if trimmed.len() == before.len() {
        return None;
    }
    let start = trimmed.strip_suffix("async")?.len();
    // `async` must be a whole word.
    let prev = text[..start].chars().next_back();
    if prev.is_some_and(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    Some(start)
}

/// A unified diff of a fix, for `--diff`.
pub fn unified_diff(fix: &FileFix) -> String {
    similar::TextDiff::from_lines(&fix.original, &fix.fixed)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{}", fix.path), &format!("b/{}", fix.path))
        .to_string()
}

/// Writes the fixes atomically; returns how many functions were fixed.
pub fn apply(fixes: &[FileFix], root: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for f in fixes {
        crate::atomic_write(&root.join(&f.path), f.fixed.as_bytes())?;
        n += f.fixes;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_async_keyword() {
        let text = "@app.get('/')\nasync  def items():\n    pass\n";
        let name = text.find("items").unwrap();
        let start = async_keyword_before(text, name).unwrap();
        assert_eq!(&text[start..start + 5], "async");
        let text2 = "def items(): pass";
        assert_eq!(async_keyword_before(text2, 4), None);
        let text3 = "notasync def items(): pass";
        assert_eq!(
            async_keyword_before(text3, text3.find("items").unwrap()),
            None
        );
    }
}
