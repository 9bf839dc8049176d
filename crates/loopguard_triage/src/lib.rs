//! Triage documents: one Markdown file per root cause of loopguard findings, in the format
//! people already write by hand (front matter with status/priority/tags, Problem Statement,
//! Findings, Proposed Solutions, Acceptance Criteria, Work Log), plus a `README.md` index.
//!
//! Findings are grouped by root cause (the first sync helper of a call chain, the blocking
//! API of a direct call, the guard or endpoint); each item has an id derived from that root
//! cause, so it survives lines moving. Re-running merges into the existing files: generated
//! text lives between `<!-- loopguard:begin NAME -->` / `<!-- loopguard:end NAME -->`
//! markers and is the only text rewritten; status, human priority and tags, the Work Log and
//! everything outside markers are kept. See `docs/triage.md`.

mod document;
mod fsio;
mod group;
mod md;
mod merge;
mod readme;
mod render;
#[cfg(test)]
mod test_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use loopguard_core::Diagnostic;

use document::{Document, ParseError};
use group::{CONTEXTS, Item, Priority, PriorityRule};

/// Where and how to write triage documents.
#[derive(Clone, Debug, Default)]
pub struct TriageOptions {
    /// The triage directory (created if missing).
    pub out_dir: PathBuf,
    /// Today's date, `YYYY-MM-DD`, for Work Log entries (injected so runs are reproducible).
    pub today: String,
    /// Context (`middleware`, `dependency`, `route`, `callback`, `async`) -> `p0`..`p3`,
    /// from the config's `triage-priority` table.
    pub priority_overrides: BTreeMap<String, String>,
}

/// What a run did. Item lists hold ids and are sorted; each current item is in exactly one
/// of `created`, `updated`, `unchanged` or (when its file was left alone) only in
/// `left_alone`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TriageSummary {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    /// Items with a file but no findings any more (marked in this run or before); their
    /// files are kept.
    pub no_longer_detected: Vec<String>,
    /// Files in the directory that look like items (or the README) but were not touched:
    /// no loopguard markers, unbalanced markers, not UTF-8.
    pub left_alone: Vec<LeftAlone>,
    /// Temp files of an interrupted earlier run, deleted.
    pub stale_temp_files_removed: Vec<PathBuf>,
    /// Findings in current items.
    pub findings: usize,
    /// Current items by the priority their files now carry (human edits included).
    pub items_by_priority: BTreeMap<String, usize>,
    pub readme: FileOutcome,
}

impl TriageSummary {
    /// Current items (whatever happened to their files).
    pub fn items(&self) -> usize {
        self.created.len()
            + self.updated.len()
            + self.unchanged.len()
            + self.left_alone.iter().filter(|l| l.item.is_some()).count()
    }
}

/// A file loopguard did not touch, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftAlone {
    pub path: PathBuf,
    /// The current item whose file this is, if any (that item was not updated).
    pub item: Option<String>,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FileOutcome {
    Created,
    Updated,
    #[default]
    Unchanged,
    LeftAlone,
}

#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    #[error("cannot create triage directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot list triage directory {path}: {source}")]
    ListDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid date `{0}`: expected YYYY-MM-DD")]
    InvalidDate(String),
    #[error("`triage-priority`: {0}")]
    InvalidPriority(String),
}

const README: &str = "README.md";

/// Writes one `<id>.md` per root cause of `diagnostics` and `README.md` into
/// `opts.out_dir`, merging with what is already there. Output is deterministic: the same
/// diagnostics, directory contents and `today` give the same bytes.
pub fn write_triage(
    diagnostics: &[Diagnostic],
    opts: &TriageOptions,
) -> Result<TriageSummary, TriageError> {
    check_date(&opts.today)?;
    let rule = priority_rule(&opts.priority_overrides)?;
    let items = group::items(diagnostics, &rule);
    let dir = opts.out_dir.as_path();
    std::fs::create_dir_all(dir).map_err(|source| TriageError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;

    let mut summary = TriageSummary::default();
    let existing = scan_dir(dir, &mut summary)?;
    let mut rows: Vec<readme::Row> = Vec::new();

    let current: BTreeSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    for item in &items {
        summary.findings += item.findings.len();
        let path = dir.join(format!("{}.md", item.id));
        let fresh_text = render::document(item, &opts.today);
        let row = match read_if_exists(&path)? {
            None => {
                write(&path, &fresh_text)?;
                summary.created.push(item.id.clone());
                row_of(&parse_own(&fresh_text)?, item)
            }
            Some(Err(reason)) => {
                left_alone(&mut summary, &path, Some(item), reason);
                fallback_row(item, None)
            }
            Some(Ok(text)) => match Document::parse(&text) {
                Err(e) => {
                    let front = document::front_matter_of(&text);
                    left_alone(&mut summary, &path, Some(item), describe(&e));
                    fallback_row(item, front.as_ref())
                }
                Ok(existing) => {
                    let fresh = parse_own(&fresh_text)?;
                    let merged = merge::merge_current(&existing, &fresh, item, &opts.today);
                    if merged == text {
                        summary.unchanged.push(item.id.clone());
                    } else {
                        write(&path, &merged)?;
                        summary.updated.push(item.id.clone());
                    }
                    row_of(&parse_own(&merged)?, item)
                }
            },
        };
        rows.push(row);
    }

    for name in &existing {
        let Some(id) = name.strip_suffix(".md") else {
            continue;
        };
        if current.contains(id) {
            continue;
        }
        let path = dir.join(name);
        let text = match read_if_exists(&path)? {
            Some(Ok(text)) => text,
            Some(Err(reason)) => {
                if looks_like_item_id(id) {
                    left_alone(&mut summary, &path, None, reason);
                }
                continue;
            }
            None => continue,
        };
        // Only item files are ours to mark; someone's own notes in the same folder (even a
        // copy of README.md with its markers) are none of our business.
        let ours = looks_like_item_id(id)
            || document::front_matter_of(&text).is_some_and(|f| f.entry("loopguard_id").is_some());
        if !ours {
            continue;
        }
        let doc = match Document::parse(&text) {
            Ok(doc) => doc,
            Err(e) => {
                left_alone(&mut summary, &path, None, describe(&e));
                continue;
            }
        };
        let doc = match merge::mark_gone(&doc, &opts.today) {
            Some(marked) => {
                write(&path, &marked)?;
                parse_own(&marked)?
            }
            None => doc,
        };
        summary.no_longer_detected.push(id.to_string());
        rows.push(gone_row(&doc, id));
    }

    for row in rows.iter().filter(|r| r.gone_since.is_none()) {
        *summary
            .items_by_priority
            .entry(row.priority.clone())
            .or_default() += 1;
    }
    summary.left_alone.sort_by(|a, b| a.path.cmp(&b.path));
    let notes: Vec<(String, String)> = summary
        .left_alone
        .iter()
        .map(|l| {
            let name = l
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, l.reason.clone())
        })
        .collect();
    let readme_text = readme::summary(&rows, &notes);
    summary.readme = write_readme(dir, &readme_text, &mut summary)?;
    for list in [
        &mut summary.created,
        &mut summary.updated,
        &mut summary.unchanged,
        &mut summary.no_longer_detected,
    ] {
        list.sort();
    }
    Ok(summary)
}

fn check_date(today: &str) -> Result<(), TriageError> {
    let b = today.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let valid = b.len() == 10
        && digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10);
    if valid {
        Ok(())
    } else {
        Err(TriageError::InvalidDate(today.to_string()))
    }
}

fn priority_rule(overrides: &BTreeMap<String, String>) -> Result<PriorityRule, TriageError> {
    let mut rule = PriorityRule::default();
    for (context, value) in overrides {
        if !CONTEXTS.contains(&context.as_str()) {
            return Err(TriageError::InvalidPriority(format!(
                "unknown context `{context}` (expected {})",
                CONTEXTS.join(", ")
            )));
        }
        let Some(priority) = Priority::parse(value) else {
            return Err(TriageError::InvalidPriority(format!(
                "`{context}` = `{value}` is not a priority (expected p0, p1, p2 or p3)"
            )));
        };
        rule.overrides.insert(context.clone(), priority);
    }
    Ok(rule)
}

/// Sorted names of the directory's files; removes stale temp files on the way.
fn scan_dir(dir: &Path, summary: &mut TriageSummary) -> Result<Vec<String>, TriageError> {
    let list_err = |source| TriageError::ListDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_err)? {
        let entry = entry.map_err(list_err)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if fsio::is_temp_name(&name) {
            // Best effort: a temp file we cannot delete is still never read.
            if std::fs::remove_file(entry.path()).is_ok() {
                summary.stale_temp_files_removed.push(entry.path());
            }
            continue;
        }
        if name.ends_with(".md") && name != README {
            names.push(name);
        }
    }
    names.sort();
    summary.stale_temp_files_removed.sort();
    Ok(names)
}

/// `None` if missing; `Some(Err(reason))` if not UTF-8.
fn read_if_exists(path: &Path) -> Result<Option<Result<String, String>>, TriageError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(
            String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TriageError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write(path: &Path, text: &str) -> Result<(), TriageError> {
    fsio::write_atomic(path, text).map_err(|source| TriageError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses text this crate generated or merged (always has markers).
fn parse_own(text: &str) -> Result<Document, TriageError> {
    Document::parse(text).map_err(|e| {
        // Unreachable unless rendering is broken; report it rather than panic.
        TriageError::Write {
            path: PathBuf::from("<generated>"),
            source: std::io::Error::other(describe(&e)),
        }
    })
}

fn describe(e: &ParseError) -> String {
    match e {
        ParseError::NoMarkers => {
            "no loopguard markers (written by hand, or truncated); delete it to regenerate"
                .to_string()
        }
        ParseError::Malformed(why) => format!("unbalanced loopguard markers: {why}"),
    }
}

fn left_alone(summary: &mut TriageSummary, path: &Path, item: Option<&Item<'_>>, reason: String) {
    summary.left_alone.push(LeftAlone {
        path: path.to_path_buf(),
        item: item.map(|i| i.id.clone()),
        reason,
    });
}

/// `lg301-some-slug-1a2b` (4 or 8 hex digits at the end).
fn looks_like_item_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("lg") else {
        return false;
    };
    let code_ok = rest.len() > 4
        && rest
            .as_bytes()
            .get(..3)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && rest.as_bytes().get(3) == Some(&b'-');
    let hash = id.rsplit('-').next().unwrap_or("");
    code_ok && matches!(hash.len(), 4 | 8) && hash.chars().all(|c| c.is_ascii_hexdigit())
}

fn item_files(item: &Item<'_>) -> Vec<(String, usize)> {
    let mut files: BTreeMap<String, usize> = BTreeMap::new();
    for d in &item.findings {
        *files.entry(d.path.clone()).or_default() += 1;
    }
    files.into_iter().collect()
}

fn row_of(doc: &Document, item: &Item<'_>) -> readme::Row {
    readme::Row {
        id: item.id.clone(),
        priority: doc
            .scalar("priority")
            .unwrap_or_else(|| item.priority.priority.to_string()),
        status: doc.scalar("status").unwrap_or_else(|| "?".to_string()),
        rule: item.code().to_string(),
        title: doc.title().unwrap_or_else(|| render::title(item)),
        files: item_files(item),
        findings: item.findings.len(),
        gone_since: None,
    }
}

fn fallback_row(item: &Item<'_>, front: Option<&document::FrontMatter>) -> readme::Row {
    readme::Row {
        id: item.id.clone(),
        priority: front
            .and_then(|f| f.scalar("priority"))
            .unwrap_or_else(|| item.priority.priority.to_string()),
        status: front
            .and_then(|f| f.scalar("status"))
            .unwrap_or_else(|| "?".to_string()),
        rule: item.code().to_string(),
        title: render::title(item),
        files: item_files(item),
        findings: item.findings.len(),
        gone_since: None,
    }
}

fn gone_row(doc: &Document, id: &str) -> readme::Row {
    let rule = id
        .split('-')
        .next()
        .map(str::to_ascii_uppercase)
        .unwrap_or_default();
    readme::Row {
        id: id.to_string(),
        priority: doc.scalar("priority").unwrap_or_else(|| "?".to_string()),
        status: doc.scalar("status").unwrap_or_else(|| "?".to_string()),
        rule,
        title: doc.title().unwrap_or_else(|| id.to_string()),
        files: Vec::new(),
        findings: 0,
        // Marked by hand or with the title block removed: still no longer detected.
        gone_since: Some(merge::gone_since(doc).unwrap_or_else(|| "?".to_string())),
    }
}

fn write_readme(
    dir: &Path,
    summary_text: &str,
    summary: &mut TriageSummary,
) -> Result<FileOutcome, TriageError> {
    let path = dir.join(README);
    let text = match read_if_exists(&path)? {
        None => {
            write(&path, &readme::document(summary_text))?;
            return Ok(FileOutcome::Created);
        }
        Some(Err(reason)) => {
            left_alone(summary, &path, None, reason);
            return Ok(FileOutcome::LeftAlone);
        }
        Some(Ok(text)) => text,
    };
    let mut doc = match Document::parse(&text) {
        Ok(doc) => doc,
        Err(e) => {
            left_alone(summary, &path, None, describe(&e));
            return Ok(FileOutcome::LeftAlone);
        }
    };
    let eol = doc.eol;
    for segment in &mut doc.body {
        if let document::Segment::Block { name, content, .. } = segment
            && name == "summary"
        {
            *content = if eol == "\n" {
                summary_text.to_string()
            } else {
                summary_text.replace('\n', eol)
            };
        }
    }
    let merged = doc.render();
    if merged == text {
        Ok(FileOutcome::Unchanged)
    } else {
        write(&path, &merged)?;
        Ok(FileOutcome::Updated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_overrides_are_validated() {
        assert!(check_date("2026-03-01").is_ok());
        for bad in ["2026-3-01", "today", "2026-03-01x", ""] {
            assert!(check_date(bad).is_err(), "{bad}");
        }
        let ok: BTreeMap<String, String> = [("route".to_string(), "P0".to_string())].into();
        assert_eq!(
            priority_rule(&ok).unwrap().overrides.get("route"),
            Some(&Priority::P0)
        );
        let bad_ctx: BTreeMap<String, String> = [("worker".to_string(), "p0".to_string())].into();
        assert!(
            priority_rule(&bad_ctx)
                .unwrap_err()
                .to_string()
                .contains("worker")
        );
        let bad_value: BTreeMap<String, String> =
            [("route".to_string(), "high".to_string())].into();
        assert!(
            priority_rule(&bad_value)
                .unwrap_err()
                .to_string()
                .contains("high")
        );
    }

    #[test]
    fn item_id_shape() {
        assert!(looks_like_item_id("lg301-requests-get-1a2b"));
        assert!(looks_like_item_id("lg201-x-0123abcd"));
        assert!(!looks_like_item_id("lg301-requests-get"));
        assert!(!looks_like_item_id("notes-1a2b"));
        assert!(!looks_like_item_id("lgx01-a-1a2b"));
    }
}
