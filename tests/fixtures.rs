//! The fixture runner: every folder under `fixtures/` is a small project whose sources carry
//! their expected findings inline, on the line where the finding must be reported:
//!
//! ```python
//! requests.get(url)            # expect: LG301
//! service.load()               # expect: LG302 via services.py:14 db.py:31
//! with _lock:                  # expect: LG201; LG202
//! repo.fetch_all()             # expect: LG302(likely) via repo.py:9
//! ```
//!
//! `via` lists the chain's hops after the call site, as `file:line` relative to the fixture
//! folder. `(likely)` asserts the finding's confidence (default: certain). Lines without an
//! `expect:` comment must produce nothing. On a mismatch the test prints a diff of expected vs
//! actual findings for every fixture.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use loopguard_engine::Settings;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    path: String,
    line: u32,
    code: String,
    likely: bool,
    via: Vec<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.code)?;
        if self.likely {
            write!(f, "(likely)")?;
        }
        if !self.via.is_empty() {
            write!(f, " via {}", self.via.join(" "))?;
        }
        Ok(())
    }
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            source_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "py" || x == "rs") {
            out.push(p);
        }
    }
}

fn expectations(fixture: &Path) -> BTreeSet<Finding> {
    let mut files = Vec::new();
    source_files(fixture, &mut files);
    let mut out = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let rel = rel_to(fixture, &file);
        for (i, line) in text.lines().enumerate() {
            let Some(at) = line.find("expect:") else {
                continue;
            };
            for item in line[at + "expect:".len()..].split(';') {
                let mut words = item.split_whitespace();
                let Some(code) = words.next() else { continue };
                let (code, likely) = match code.strip_suffix("(likely)") {
                    Some(c) => (c, true),
                    None => (code, false),
                };
                let via: Vec<String> = match words.next() {
                    Some("via") => words.map(str::to_string).collect(),
                    _ => Vec::new(),
                };
                out.insert(Finding {
                    path: rel.clone(),
                    line: i as u32 + 1,
                    code: code.to_string(),
                    likely,
                    via,
                });
            }
        }
    }
    out
}

fn rel_to(base: &Path, p: &Path) -> String {
    p.strip_prefix(base)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

fn actual(fixture: &Path) -> BTreeSet<Finding> {
    let settings = Settings {
        paths: vec![fixture.to_path_buf()],
        threads: Some(2),
        no_cache: true,
        ..Default::default()
    };
    let outcome = loopguard_engine::check(&settings)
        .unwrap_or_else(|e| panic!("{}: check failed: {e}", fixture.display()));
    let to_fixture = |p: &str| rel_to(fixture, &outcome.root.join(p));
    outcome
        .diagnostics
        .iter()
        .map(|d| Finding {
            path: to_fixture(&d.path),
            line: d.span.start_line,
            code: d.code.to_string(),
            likely: d.confidence == loopguard_core::diagnostic::Confidence::Likely,
            via: d
                .chain
                .iter()
                .skip(1)
                .map(|h| format!("{}:{}", to_fixture(&h.path), h.span.start_line))
                .collect(),
        })
        .collect()
}

#[test]
fn fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no fixtures found");
    let mut report = String::new();
    let mut total = 0;
    for dir in &dirs {
        let want = expectations(dir);
        let got = actual(dir);
        total += want.len();
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        if missing.is_empty() && extra.is_empty() {
            continue;
        }
        report.push_str(&format!("\n== fixtures/{}\n", rel_to(&root, dir)));
        for m in missing {
            report.push_str(&format!("- expected, not reported: {m}\n"));
        }
        for e in extra {
            report.push_str(&format!("+ reported, not expected: {e}\n"));
        }
    }
    assert!(report.is_empty(), "fixture mismatches:{report}");
    assert!(total > 0, "fixtures expect no findings at all");
    eprintln!(
        "{} fixture projects, {total} expected findings: all matched",
        dirs.len()
    );
}
