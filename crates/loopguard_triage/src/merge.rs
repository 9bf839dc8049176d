//! Re-runs: fold a freshly generated document into the one on disk without losing edits.
//!
//! Owned by loopguard: block contents between markers and the front matter keys
//! `loopguard_id`, `loopguard_priority`, `loopguard_findings`. Owned by people: everything
//! else. Shared, with rules: `priority` (kept when it differs from `loopguard_priority`, the
//! value loopguard wrote last), `tags` (loopguard's own tags are recomputed, others kept),
//! checked acceptance criteria (kept checked when their text is unchanged), the Work Log
//! (only appended to).

use std::collections::BTreeSet;

use loopguard_core::rules;

use crate::document::{Document, Entry, FrontMatter, Segment, unquote};
use crate::group::{CONTEXTS, Item};
use crate::render::{FRONT_KEYS, flow_list, front_line, tags};

/// Text that marks an item whose findings are gone.
pub const GONE_PREFIX: &str = "> No longer detected on ";

/// A tag loopguard writes (and so may remove): `loopguard`, rule codes and names, contexts.
fn is_loopguard_tag(tag: &str) -> bool {
    tag == "loopguard"
        || CONTEXTS.contains(&tag)
        || rules::RULES
            .iter()
            .any(|r| r.code.eq_ignore_ascii_case(tag) || r.name == tag)
}

/// The existing document updated for `item`'s current findings.
pub fn merge_current(
    existing: &Document,
    fresh: &Document,
    item: &Item<'_>,
    today: &str,
) -> String {
    let eol = existing.eol;
    let mut doc = existing.clone();
    let previous = existing
        .front
        .as_ref()
        .and_then(|f| f.list("loopguard_findings"));

    doc.front = Some(merge_front(existing.front.as_ref(), item, eol));

    for segment in &mut doc.body {
        let Segment::Block { name, content, .. } = segment else {
            continue;
        };
        // A block the user deleted stays deleted; one loopguard no longer writes is kept.
        let Some(new) = fresh.block(name) else {
            continue;
        };
        let mut new = new.to_string();
        if name == "acceptance" {
            new = keep_checked(content, &new);
        }
        *content = with_eol(&new, eol);
    }

    if let Some(previous) = previous {
        let before: BTreeSet<&str> = previous.iter().map(String::as_str).collect();
        let after: BTreeSet<&str> = item.fingerprints.iter().map(String::as_str).collect();
        if before != after {
            let again = if previous.is_empty() {
                ", detected again"
            } else {
                ""
            };
            doc.append_work_log(&format!(
                "- {today}: findings changed: {} -> {}{again} (loopguard)",
                previous.len(),
                item.fingerprints.len()
            ));
        }
    }
    doc.render()
}

/// The existing document of an item with no findings left, or `None` when it is already
/// marked (nothing to write).
pub fn mark_gone(existing: &Document, today: &str) -> Option<String> {
    let eol = existing.eol;
    let previous = existing
        .front
        .as_ref()
        .and_then(|f| f.list("loopguard_findings"));
    let marked = gone_since(existing).is_some();
    match &previous {
        Some(p) if p.is_empty() => return None,
        None if marked => return None,
        _ => {}
    }
    let mut doc = existing.clone();
    // The empty list is what makes the next run leave the file alone, so it is written even
    // when the front matter was deleted.
    let front = doc.front.get_or_insert_with(|| FrontMatter {
        open: format!("---{eol}"),
        entries: Vec::new(),
        close: format!("---{eol}"),
    });
    front.set("loopguard_findings", format!("loopguard_findings: []{eol}"));
    if !marked {
        for segment in &mut doc.body {
            if let Segment::Block { name, content, .. } = segment
                && name == "title"
            {
                if !content.is_empty() && !content.ends_with('\n') {
                    content.push_str(eol);
                }
                content.push_str(&format!("{eol}{GONE_PREFIX}{today}.{eol}"));
                break;
            }
        }
    }
    let line = match previous {
        Some(p) => format!(
            "- {today}: findings changed: {} -> 0, no longer detected (loopguard)",
            p.len()
        ),
        None => format!("- {today}: no longer detected (loopguard)"),
    };
    doc.append_work_log(&line);
    Some(doc.render())
}

/// The date of the "No longer detected" line in the title block.
pub fn gone_since(doc: &Document) -> Option<String> {
    doc.block("title")?.lines().find_map(|l| {
        l.trim()
            .strip_prefix(GONE_PREFIX)
            .map(|rest| rest.trim_end_matches('.').trim().to_string())
    })
}

fn merge_front(existing: Option<&FrontMatter>, item: &Item<'_>, eol: &str) -> FrontMatter {
    let line = |key: &str| with_eol(&front_line(item, key), eol);
    let Some(existing) = existing else {
        // The front matter was deleted: start a new one (there was nothing human in it).
        return FrontMatter {
            open: format!("---{eol}"),
            entries: FRONT_KEYS
                .iter()
                .map(|k| Entry {
                    key: Some((*k).to_string()),
                    text: line(k),
                })
                .collect(),
            close: format!("---{eol}"),
        };
    };
    let human_priority = match (
        existing.scalar("priority"),
        existing.scalar("loopguard_priority"),
    ) {
        (Some(p), Some(generated)) => p != generated,
        // No record of what loopguard wrote: the value is someone's.
        (Some(_), None) => true,
        (None, _) => false,
    };
    let mut front = existing.clone();
    for entry in &mut front.entries {
        let Some(key) = entry.key.as_deref() else {
            continue;
        };
        match key {
            "priority" if !human_priority => entry.text = line("priority"),
            "tags" => {
                if let Some(merged) = merge_tags(existing, item) {
                    entry.text = with_eol(&format!("tags: {merged}\n"), eol);
                }
            }
            "loopguard_id" | "loopguard_priority" | "loopguard_findings" => {
                entry.text = line(key);
            }
            _ => {}
        }
    }
    for key in FRONT_KEYS {
        if front.entry(key).is_none() {
            front.entries.push(Entry {
                key: Some(key.to_string()),
                text: line(key),
            });
        }
    }
    front
}

/// loopguard's tags for `item` followed by the human ones already there; `None` when the
/// existing value is not a list (left as is).
fn merge_tags(existing: &FrontMatter, item: &Item<'_>) -> Option<String> {
    let raw = existing.raw_list("tags")?;
    let mut tokens = tags(item);
    let ours: BTreeSet<String> = tokens.iter().map(|t| unquote(t).to_string()).collect();
    for token in raw {
        let value = unquote(&token);
        if !is_loopguard_tag(value) && !ours.contains(value) && !tokens.contains(&token) {
            tokens.push(token);
        }
    }
    Some(flow_list(&tokens))
}

/// `new` with `- [ ]` turned into `- [x]` where `old` had the same criterion checked.
fn keep_checked(old: &str, new: &str) -> String {
    let checked: BTreeSet<&str> = old
        .lines()
        .filter_map(|l| {
            let t = l.trim();
            t.strip_prefix("- [x]")
                .or_else(|| t.strip_prefix("- [X]"))
                .map(str::trim)
        })
        .collect();
    let mut out = String::with_capacity(new.len());
    for line in new.split_inclusive('\n') {
        match line.trim().strip_prefix("- [ ]").map(str::trim) {
            Some(text) if checked.contains(text) => {
                out.push_str(&line.replacen("- [ ]", "- [x]", 1));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Generated text uses `\n`; a file written with `\r\n` gets its own line ending.
fn with_eol(text: &str, eol: &str) -> String {
    if eol == "\n" {
        text.to_string()
    } else {
        text.replace('\n', eol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{PriorityRule, items};
    use crate::render::document;
    use crate::test_support::*;

    fn fresh_and_item() -> (Vec<loopguard_core::Diagnostic>, PriorityRule) {
        (
            vec![direct_finding(
                "LG301",
                "a.py",
                3,
                "a.f",
                "requests.get",
                "route",
            )],
            PriorityRule::default(),
        )
    }

    #[test]
    fn human_tags_priority_and_checks_survive() {
        let (diags, rule) = fresh_and_item();
        let item = &items(&diags, &rule)[0];
        let text = document(item, "2026-01-01")
            .replace("\npriority: p1\n", "\npriority: p3\n")
            .replace("route]", "route, \"needs owner\", perf]")
            .replace("- [ ] Tests pass", "- [x] Tests pass");
        let existing = Document::parse(&text).unwrap();
        let fresh = Document::parse(&document(item, "2026-02-02")).unwrap();
        let merged = merge_current(&existing, &fresh, item, "2026-02-02");
        assert!(merged.contains("\npriority: p3\n"), "{merged}");
        assert!(merged.contains("loopguard_priority: p1\n"));
        assert!(
            merged.contains(
                "tags: [loopguard, LG301, blocking-http, route, \"needs owner\", perf]\n"
            )
        );
        assert!(merged.contains("- [x] Tests pass\n"));
        // Same findings: nothing logged, and the text is what was there.
        assert_eq!(merged, text);
    }

    #[test]
    fn loopguard_priority_follows_the_findings_unless_edited() {
        let (mut diags, rule) = fresh_and_item();
        let old = document(&items(&diags, &rule)[0], "2026-01-01");
        diags[0].context = "middleware".into();
        let item = &items(&diags, &rule)[0];
        let fresh = Document::parse(&document(item, "2026-02-02")).unwrap();
        let merged = merge_current(&Document::parse(&old).unwrap(), &fresh, item, "2026-02-02");
        assert!(merged.contains("\npriority: p0\n"), "{merged}");
        assert!(merged.contains("tags: [loopguard, LG301, blocking-http, middleware]\n"));
    }

    #[test]
    fn gone_items_are_marked_once() {
        let (diags, rule) = fresh_and_item();
        let item = &items(&diags, &rule)[0];
        let doc = Document::parse(&document(item, "2026-01-01")).unwrap();
        let marked = mark_gone(&doc, "2026-03-03").unwrap();
        assert!(
            marked
                .contains("\n\n> No longer detected on 2026-03-03.\n<!-- loopguard:end title -->")
        );
        assert!(marked.contains("loopguard_findings: []\n"));
        assert!(
            marked.contains(
                "- 2026-03-03: findings changed: 1 -> 0, no longer detected (loopguard)\n"
            )
        );
        let again = Document::parse(&marked).unwrap();
        assert_eq!(gone_since(&again).as_deref(), Some("2026-03-03"));
        assert_eq!(mark_gone(&again, "2026-03-04"), None);
    }

    #[test]
    fn gone_items_without_front_matter_or_title_are_marked_once() {
        let doc = Document::parse(
            "<!-- loopguard:begin findings -->\n- x\n<!-- loopguard:end findings -->\n",
        )
        .unwrap();
        let marked = mark_gone(&doc, "2026-03-03").unwrap();
        assert!(
            marked.starts_with("---\nloopguard_findings: []\n---\n"),
            "{marked}"
        );
        assert!(marked.ends_with("## Work Log\n\n- 2026-03-03: no longer detected (loopguard)\n"));
        assert_eq!(
            mark_gone(&Document::parse(&marked).unwrap(), "2026-03-04"),
            None
        );
    }

    #[test]
    fn crlf_files_keep_crlf() {
        let (diags, rule) = fresh_and_item();
        let item = &items(&diags, &rule)[0];
        let text = document(item, "2026-01-01").replace('\n', "\r\n");
        let fresh = Document::parse(&document(item, "2026-01-01")).unwrap();
        let merged = merge_current(&Document::parse(&text).unwrap(), &fresh, item, "2026-01-02");
        assert_eq!(merged, text);
    }

    #[test]
    fn tag_ownership() {
        assert!(is_loopguard_tag("loopguard"));
        assert!(is_loopguard_tag("LG301"));
        assert!(is_loopguard_tag("blocking-http"));
        assert!(is_loopguard_tag("route"));
        assert!(!is_loopguard_tag("performance"));
    }
}
