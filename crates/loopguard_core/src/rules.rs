//! The rule registry. Codes are stable; names are kebab-case.
//!
//! Each rule's documentation is written once, in `docs/rules/<CODE>.md`, and embedded here:
//! `loopguard rule CODE`, the docs site and the SARIF `help` all read it from this registry,
//! so they cannot drift.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "error" => Ok(Severity::Error),
            "warning" => Ok(Severity::Warning),
            "note" | "info" => Ok(Severity::Note),
            other => Err(format!(
                "unknown severity `{other}`: expected `error`, `warning` or `note`"
            )),
        }
    }
}

/// A rule code such as `LG301`.
pub type RuleCode = &'static str;

#[derive(Debug)]
pub struct Rule {
    pub code: RuleCode,
    pub name: &'static str,
    /// What it reports, one line (SARIF `shortDescription`).
    pub summary: &'static str,
    /// Short category used in messages: "blocking HTTP call".
    pub category: &'static str,
    pub severity: Severity,
    /// The whole Markdown page, `docs/rules/<CODE>.md`.
    pub doc: &'static str,
}

impl Rule {
    /// The body of a `## Heading` section of the rule's page, trimmed.
    pub fn section(&self, heading: &str) -> Option<&'static str> {
        let marker = format!("## {heading}");
        let start = self.doc.find(&marker)? + marker.len();
        let rest = &self.doc[start..];
        let end = rest.find("\n## ").unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

macro_rules! rule {
    ($code:literal, $name:literal, $sev:ident, $category:literal, $summary:literal) => {
        Rule {
            code: $code,
            name: $name,
            summary: $summary,
            category: $category,
            severity: Severity::$sev,
            doc: include_str!(concat!("../../../docs/rules/", $code, ".md")),
        }
    };
}

pub static RULES: &[Rule] = &[
    rule!(
        "LG101",
        "nested-event-loop",
        Error,
        "nested event loop",
        "An event loop is started or driven (asyncio.run, run_until_complete, block_on) from async code"
    ),
    rule!(
        "LG201",
        "blocking-lock",
        Error,
        "blocking lock acquisition",
        "A thread lock (threading.Lock, RLock, Semaphore, Condition) is acquired in async code"
    ),
    rule!(
        "LG202",
        "lock-held-across-await",
        Error,
        "sync lock held across an await",
        "A synchronous lock guard is alive across an await point"
    ),
    rule!(
        "LG203",
        "borrow-held-across-await",
        Warning,
        "RefCell borrow held across an await",
        "A RefCell borrow is alive across an await point"
    ),
    rule!(
        "LG204",
        "blocking-wait",
        Error,
        "blocking wait",
        "A thread join, queue/channel receive, Event.wait, Future.result or Condvar wait in async code"
    ),
    rule!(
        "LG301",
        "blocking-http",
        Error,
        "blocking HTTP call",
        "A synchronous HTTP client call (requests, urllib, httpx.Client, reqwest::blocking, ureq) in async code"
    ),
    rule!(
        "LG302",
        "blocking-db",
        Error,
        "blocking database call",
        "A synchronous database driver or ORM call in async code"
    ),
    rule!(
        "LG303",
        "blocking-file-io",
        Warning,
        "blocking file I/O",
        "Synchronous file-system I/O (open, pathlib, os, shutil, std::fs) in async code"
    ),
    rule!(
        "LG304",
        "blocking-subprocess",
        Error,
        "blocking subprocess call",
        "A synchronous subprocess call (subprocess, os.system, os.wait*, std::process::Command) in async code"
    ),
    rule!(
        "LG305",
        "blocking-sleep",
        Error,
        "blocking sleep",
        "time.sleep / std::thread::sleep in async code"
    ),
    rule!(
        "LG306",
        "blocking-input",
        Error,
        "blocking console input",
        "input() / reading std::io::stdin in async code"
    ),
    rule!(
        "LG501",
        "sync-work-in-async-endpoint",
        Warning,
        "sync work in an async endpoint",
        "A FastAPI/Starlette endpoint or dependency declared async never awaits and does blocking work"
    ),
];

pub fn by_code(code: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code.eq_ignore_ascii_case(code))
}

pub fn by_code_or_name(key: &str) -> Option<&'static Rule> {
    by_code(key).or_else(|| RULES.iter().find(|r| r.name == key))
}

/// True when `s` is a known code or a prefix of one (`LG`, `LG3`, `LG30`, `LG301`), or `ALL`.
pub fn is_selector(s: &str) -> bool {
    s == "ALL"
        || RULES
            .iter()
            .any(|r| r.code.starts_with(&s.to_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_complete_page() {
        for rule in RULES {
            assert!(
                rule.doc.starts_with(&format!("# {} ", rule.code)),
                "{}: page must start with `# {} ({})`",
                rule.code,
                rule.code,
                rule.name
            );
            for section in ["What it does", "Why is this bad?", "Example", "Use instead"] {
                let body = rule.section(section);
                assert!(
                    body.is_some_and(|b| !b.is_empty()),
                    "{}: missing or empty section `{section}`",
                    rule.code
                );
            }
        }
    }

    #[test]
    fn codes_are_unique_and_sorted() {
        let codes: Vec<_> = RULES.iter().map(|r| r.code).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
    }

    #[test]
    fn selectors() {
        assert!(is_selector("LG3"));
        assert!(is_selector("lg301"));
        assert!(!is_selector("LG9"));
        assert!(!is_selector("E501"));
    }
}
