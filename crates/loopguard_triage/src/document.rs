//! A triage Markdown file as loopguard sees it: YAML front matter (a list of `key: value`
//! entries kept as raw text) and a body of plain text and generated blocks between
//! `<!-- loopguard:begin NAME -->` / `<!-- loopguard:end NAME -->` marker lines.
//!
//! Parsing keeps every byte: `Document::parse(t)?.render() == t`, so a merge changes only
//! what it means to change.

const BEGIN: &str = "<!-- loopguard:begin ";
const END: &str = "<!-- loopguard:end ";
const CLOSE: &str = " -->";

pub fn begin_marker(name: &str) -> String {
    format!("{BEGIN}{name}{CLOSE}")
}

pub fn end_marker(name: &str) -> String {
    format!("{END}{name}{CLOSE}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker<'a> {
    Begin(&'a str),
    End(&'a str),
}

fn marker_name(rest: &str) -> Option<&str> {
    let name = rest.strip_suffix(CLOSE)?;
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    valid.then_some(name)
}

fn marker(line: &str) -> Option<Marker<'_>> {
    let line = line.trim();
    let name_of = marker_name;
    if let Some(rest) = line.strip_prefix(BEGIN) {
        return name_of(rest).map(Marker::Begin);
    }
    if let Some(rest) = line.strip_prefix(END) {
        return name_of(rest).map(Marker::End);
    }
    None
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text outside markers: never rewritten.
    Text(String),
    /// A generated block; `begin`/`end` are the marker lines as written (with line ends).
    Block {
        name: String,
        begin: String,
        content: String,
        end: String,
    },
}

/// One top-level front matter key with its continuation lines, or a stray line (comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontMatter {
    pub open: String,
    pub entries: Vec<Entry>,
    pub close: String,
}

impl FrontMatter {
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key.as_deref() == Some(key))
    }

    /// A scalar value without quotes or trailing comment.
    pub fn scalar(&self, key: &str) -> Option<String> {
        let value = value_text(self.entry(key)?)?;
        let value = strip_comment(value).trim();
        Some(unquote(value).to_string())
    }

    /// A flow (`[a, b]`) or block (`- a` lines) list as raw tokens (quotes kept);
    /// `None` when the key is missing or its value is not a list.
    pub fn raw_list(&self, key: &str) -> Option<Vec<String>> {
        let entry = self.entry(key)?;
        let value = strip_comment(value_text(entry)?).trim();
        if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
            return Some(split_flow(inner));
        }
        if !value.is_empty() {
            return None;
        }
        let mut items = Vec::new();
        for line in entry.text.lines().skip(1) {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            items.push(line.strip_prefix('-')?.trim().to_string());
        }
        Some(items)
    }

    /// [`Self::raw_list`] with quotes removed.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        Some(
            self.raw_list(key)?
                .iter()
                .map(|t| unquote(t).to_string())
                .collect(),
        )
    }

    /// Replaces the entry of `key` with `line` (which must end in a line break), or appends it.
    pub fn set(&mut self, key: &str, line: String) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.key.as_deref() == Some(key))
        {
            Some(entry) => entry.text = line,
            None => self.entries.push(Entry {
                key: Some(key.to_string()),
                text: line,
            }),
        }
    }

    fn render(&self, out: &mut String) {
        out.push_str(&self.open);
        for e in &self.entries {
            out.push_str(&e.text);
        }
        out.push_str(&self.close);
    }
}

/// The text after `key:` on the entry's first line.
fn value_text(entry: &Entry) -> Option<&str> {
    let first = entry.text.lines().next()?;
    first.split_once(':').map(|(_, v)| v)
}

/// Drops a YAML comment (` #...`) outside quotes.
fn strip_comment(value: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in value.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev_space => return &value[..i],
            None => {}
        }
        prev_space = c.is_whitespace();
    }
    value
}

pub fn unquote(token: &str) -> &str {
    let t = token.trim();
    for q in ['"', '\''] {
        if let Some(inner) = t.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    t
}

/// Splits `a, "b, c", d` at commas outside quotes.
fn split_flow(inner: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in inner.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                current.push(c);
            }
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                current.push(c);
            }
            None if c == ',' => {
                items.push(current.trim().to_string());
                current.clear();
            }
            None => current.push(c),
        }
    }
    items.push(current.trim().to_string());
    items.retain(|t| !t.is_empty());
    items
}

/// A YAML-safe token: bare when it is a plain word, double-quoted otherwise.
pub fn yaml_token(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
    if plain {
        value.to_string()
    } else {
        yaml_string(value)
    }
}

/// Always double-quoted (ids, fingerprints: never read as numbers).
pub fn yaml_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Why a file in the triage directory was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No loopguard marker at all: not a generated file (or one truncated before them).
    NoMarkers,
    /// Markers present but unbalanced, nested, or an unclosed front matter.
    Malformed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub front: Option<FrontMatter>,
    pub body: Vec<Segment>,
    /// The file's line ending, used for inserted lines.
    pub eol: &'static str,
}

impl Document {
    pub fn parse(text: &str) -> Result<Document, ParseError> {
        let eol = match text.find('\n') {
            Some(i) if text[..i].ends_with('\r') => "\r\n",
            _ => "\n",
        };
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        // Checked first: a file cut short before its first marker is "not ours", whatever
        // state its front matter is in.
        if !lines.iter().any(|l| marker(l).is_some()) {
            return Err(ParseError::NoMarkers);
        }
        let (front, body_start) = parse_front_matter(&lines)?;
        let mut body: Vec<Segment> = Vec::new();
        let mut text_buf = String::new();
        let mut open: Option<(String, String, String)> = None; // name, begin line, content
        for (offset, line) in lines.iter().enumerate().skip(body_start) {
            let lineno = offset + 1;
            match (marker(line), &mut open) {
                (Some(Marker::Begin(name)), None) => {
                    if !text_buf.is_empty() {
                        body.push(Segment::Text(std::mem::take(&mut text_buf)));
                    }
                    open = Some((name.to_string(), (*line).to_string(), String::new()));
                }
                (Some(Marker::Begin(name)), Some((outer, _, _))) => {
                    return Err(ParseError::Malformed(format!(
                        "line {lineno}: `{name}` begins inside `{outer}`"
                    )));
                }
                (Some(Marker::End(name)), None) => {
                    return Err(ParseError::Malformed(format!(
                        "line {lineno}: `{name}` ends without a begin marker"
                    )));
                }
                (Some(Marker::End(name)), Some((outer, _, _))) if name != outer.as_str() => {
                    return Err(ParseError::Malformed(format!(
                        "line {lineno}: `{name}` ends inside `{outer}`"
                    )));
                }
                (Some(Marker::End(_)), Some(_)) => {
                    if let Some((name, begin, content)) = open.take() {
                        body.push(Segment::Block {
                            name,
                            begin,
                            content,
                            end: (*line).to_string(),
                        });
                    }
                }
                (None, Some((_, _, content))) => content.push_str(line),
                (None, None) => text_buf.push_str(line),
            }
        }
        if let Some((name, _, _)) = open {
            return Err(ParseError::Malformed(format!(
                "`{name}` has no end marker (truncated file?)"
            )));
        }
        if !text_buf.is_empty() {
            body.push(Segment::Text(text_buf));
        }
        Ok(Document { front, body, eol })
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(front) = &self.front {
            front.render(&mut out);
        }
        for segment in &self.body {
            match segment {
                Segment::Text(text) => out.push_str(text),
                Segment::Block {
                    begin,
                    content,
                    end,
                    ..
                } => {
                    out.push_str(begin);
                    out.push_str(content);
                    out.push_str(end);
                }
            }
        }
        out
    }

    /// The content of the first block called `name`.
    pub fn block(&self, name: &str) -> Option<&str> {
        self.body.iter().find_map(|s| match s {
            Segment::Block {
                name: n, content, ..
            } if n == name => Some(content.as_str()),
            _ => None,
        })
    }

    /// The first `# ` heading of the body.
    pub fn title(&self) -> Option<String> {
        self.body
            .iter()
            .flat_map(|s| match s {
                Segment::Text(t) => t.lines(),
                Segment::Block { content, .. } => content.lines(),
            })
            .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_string()))
    }

    pub fn scalar(&self, key: &str) -> Option<String> {
        self.front.as_ref()?.scalar(key)
    }

    /// Appends `line` (without line end) at the end of the `## Work Log` section, or adds the
    /// section at the end of the document.
    pub fn append_work_log(&mut self, line: &str) {
        let eol = self.eol;
        for segment in &mut self.body {
            let Segment::Text(text) = segment else {
                continue;
            };
            if let Some(updated) = append_to_section(text, "work log", line, eol) {
                *text = updated;
                return;
            }
        }
        let mut tail = String::new();
        let rendered = self.render();
        if !rendered.is_empty() && !rendered.ends_with('\n') {
            tail.push_str(eol);
        }
        tail.push_str(&format!("{eol}## Work Log{eol}{eol}{line}{eol}"));
        self.body.push(Segment::Text(tail));
    }
}

/// The front matter of any text, markers or not (`None` if absent or unclosed).
pub fn front_matter_of(text: &str) -> Option<FrontMatter> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    parse_front_matter(&lines).ok()?.0
}

fn parse_front_matter(lines: &[&str]) -> Result<(Option<FrontMatter>, usize), ParseError> {
    let Some(first) = lines.first() else {
        return Ok((None, 0));
    };
    if first.trim_end() != "---" {
        return Ok((None, 0));
    }
    let Some(close) = lines
        .iter()
        .skip(1)
        .position(|l| matches!(l.trim_end(), "---" | "..."))
        .map(|i| i + 1)
    else {
        return Err(ParseError::Malformed(
            "front matter has no closing `---`".to_string(),
        ));
    };
    let mut entries: Vec<Entry> = Vec::new();
    for line in &lines[1..close] {
        let starts_entry = line
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '-' && c != '#')
            && line.contains(':');
        if starts_entry {
            let key = line
                .split_once(':')
                .map(|(k, _)| k.trim().to_string())
                .unwrap_or_default();
            entries.push(Entry {
                key: Some(key),
                text: (*line).to_string(),
            });
        } else if let Some(last) = entries.last_mut() {
            last.text.push_str(line);
        } else {
            entries.push(Entry {
                key: None,
                text: (*line).to_string(),
            });
        }
    }
    Ok((
        Some(FrontMatter {
            open: lines[0].to_string(),
            entries,
            close: lines[close].to_string(),
        }),
        close + 1,
    ))
}

/// Inserts `line` after the last non-blank line of the `## <heading>` section in `text`
/// (the section ends at the next `#`/`##` heading outside code fences, or at the end of
/// `text`). `None` when `text` has no such heading.
fn append_to_section(text: &str, heading: &str, line: &str, eol: &str) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = lines.iter().position(|l| {
        l.trim_end()
            .strip_prefix("## ")
            .is_some_and(|h| h.trim().eq_ignore_ascii_case(heading))
    })?;
    let mut end = lines.len();
    let mut in_fence = false;
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        let t = l.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence && (t.starts_with("# ") || t.starts_with("## ")) {
            end = i;
            break;
        }
    }
    let last_content = (start + 1..end)
        .rev()
        .find(|&i| lines.get(i).is_some_and(|l| !l.trim().is_empty()));
    let mut out = String::with_capacity(text.len() + line.len() + 4);
    let insert_after = last_content.unwrap_or(start);
    for (i, l) in lines.iter().enumerate() {
        out.push_str(l);
        if i == insert_after {
            if !l.ends_with('\n') {
                out.push_str(eol);
            }
            if last_content.is_none() {
                // Right under the heading: keep a blank line between them.
                out.push_str(eol);
            }
            out.push_str(line);
            out.push_str(eol);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "---\nstatus: pending # triaged\ntags: [loopguard, \"a, b\", perf]\ndeps:\n  - x\n  - 'y'\n---\n\n<!-- loopguard:begin title -->\n# Title\n<!-- loopguard:end title -->\n\nuser text\n\n## Work Log\n\n### 2026-01-01 - Detected\n- one\n\n```python\n# not a heading\n```\n\n## Notes\n<!-- loopguard:begin notes -->\nx\n<!-- loopguard:end notes -->\n";

    #[test]
    fn round_trips_byte_for_byte() {
        let doc = Document::parse(DOC).unwrap();
        assert_eq!(doc.render(), DOC);
        assert_eq!(doc.block("title"), Some("# Title\n"));
        assert_eq!(doc.title().as_deref(), Some("Title"));
        let crlf = DOC.replace('\n', "\r\n");
        let doc = Document::parse(&crlf).unwrap();
        assert_eq!(doc.eol, "\r\n");
        assert_eq!(doc.render(), crlf);
    }

    #[test]
    fn reads_front_matter_values() {
        let doc = Document::parse(DOC).unwrap();
        let front = doc.front.as_ref().unwrap();
        assert_eq!(front.scalar("status").as_deref(), Some("pending"));
        assert_eq!(
            front.list("tags").unwrap(),
            vec!["loopguard", "a, b", "perf"]
        );
        assert_eq!(front.list("deps").unwrap(), vec!["x", "y"]);
        assert_eq!(front.list("status"), None);
        assert_eq!(front.list("missing"), None);
    }

    #[test]
    fn rejects_unbalanced_markers_and_files_without_markers() {
        assert_eq!(
            Document::parse("---\nstatus: done\n---\n# Mine\n"),
            Err(ParseError::NoMarkers)
        );
        assert_eq!(Document::parse(""), Err(ParseError::NoMarkers));
        for bad in [
            "<!-- loopguard:begin a -->\nx\n",
            "<!-- loopguard:end a -->\n",
            "<!-- loopguard:begin a -->\n<!-- loopguard:begin b -->\n",
            "<!-- loopguard:begin a -->\n<!-- loopguard:end b -->\n",
            "---\nstatus: pending\n<!-- loopguard:begin a -->\n",
        ] {
            assert!(
                matches!(Document::parse(bad), Err(ParseError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn work_log_lines_go_at_the_end_of_the_section() {
        let mut doc = Document::parse(DOC).unwrap();
        doc.append_work_log("- 2026-02-02: changed");
        let text = doc.render();
        assert!(
            text.contains("```python\n# not a heading\n```\n- 2026-02-02: changed\n\n## Notes"),
            "{text}"
        );
    }

    #[test]
    fn work_log_section_is_added_when_missing() {
        let mut doc =
            Document::parse("<!-- loopguard:begin a -->\n<!-- loopguard:end a -->").unwrap();
        doc.append_work_log("- line");
        assert_eq!(
            doc.render(),
            "<!-- loopguard:begin a -->\n<!-- loopguard:end a -->\n\n## Work Log\n\n- line\n"
        );
        let mut doc =
            Document::parse("<!-- loopguard:begin a -->\n<!-- loopguard:end a -->\n## Work Log\n")
                .unwrap();
        doc.append_work_log("- line");
        assert!(doc.render().ends_with("## Work Log\n\n- line\n"));
    }

    #[test]
    fn yaml_tokens() {
        assert_eq!(yaml_token("blocking-http"), "blocking-http");
        assert_eq!(yaml_token("LG301"), "LG301");
        assert_eq!(yaml_token("needs review"), "\"needs review\"");
        assert_eq!(yaml_token("0123"), "\"0123\"");
        assert_eq!(yaml_string("a\"b"), "\"a\\\"b\"");
    }
}
