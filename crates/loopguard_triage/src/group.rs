//! Grouping findings into triage items by root cause, item ids, fingerprints and priorities.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use loopguard_core::Diagnostic;
use loopguard_core::catalog::Fnv64;
use loopguard_core::diagnostic::Confidence;
use loopguard_core::rules::{self, Rule};

/// The contexts a finding can sit in, most urgent first.
pub const CONTEXTS: [&str; 5] = ["middleware", "dependency", "route", "callback", "async"];

/// `p0` (most urgent) to `p3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(u8);

impl Priority {
    pub const P0: Priority = Priority(0);
    pub const P1: Priority = Priority(1);
    pub const P2: Priority = Priority(2);
    pub const LOWEST: Priority = Priority(3);

    /// Parses `p0`..`p3` (case-insensitive).
    pub fn parse(s: &str) -> Option<Priority> {
        match s.trim().to_ascii_lowercase().as_str() {
            "p0" => Some(Priority(0)),
            "p1" => Some(Priority(1)),
            "p2" => Some(Priority(2)),
            "p3" => Some(Priority(3)),
            _ => None,
        }
    }

    /// 0 for p0 .. 3 for p3.
    pub fn level(self) -> u8 {
        self.0
    }

    /// One level less urgent, never below p3.
    pub fn lowered(self) -> Priority {
        Priority((self.0 + 1).min(Self::LOWEST.0))
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// Why an item has its priority, for the Notes and the Work Log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityReason {
    pub priority: Priority,
    /// The context of the most urgent finding.
    pub context: String,
    /// The priority came from `triage-priority` in the config.
    pub overridden: bool,
    /// Lowered one level: `LG203` or confidence `likely`.
    pub lowered: Option<&'static str>,
}

/// Context -> priority, with `triage-priority` overrides applied.
#[derive(Clone, Debug, Default)]
pub struct PriorityRule {
    pub overrides: BTreeMap<String, Priority>,
}

impl PriorityRule {
    pub fn default_for(context: &str) -> Priority {
        match context {
            "middleware" | "dependency" => Priority::P0,
            "route" => Priority::P1,
            _ => Priority::P2,
        }
    }

    pub fn of(&self, d: &Diagnostic) -> PriorityReason {
        let (base, overridden) = match self.overrides.get(&d.context) {
            Some(p) => (*p, true),
            None => (Self::default_for(&d.context), false),
        };
        // One level for either reason, not two: both mean "less certain to hurt".
        let lowered = if d.code == "LG203" {
            Some("LG203 (a RefCell borrow panics rather than stalls)")
        } else if d.confidence == Confidence::Likely {
            Some("confidence `likely`")
        } else {
            None
        };
        PriorityReason {
            priority: if lowered.is_some() {
                base.lowered()
            } else {
                base
            },
            context: d.context.clone(),
            overridden,
            lowered,
        }
    }
}

/// What findings of one item have in common.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RootCause {
    /// A chain through a sync project helper called from async code (`chain[1].function`).
    Helper { code: String, function: String },
    /// A blocking API called directly in async code.
    Api { code: String, api: String },
    /// LG202/LG203: one guard expression in one function.
    Guard {
        code: String,
        function: String,
        call: String,
    },
    /// LG501: one endpoint.
    Endpoint { code: String, function: String },
}

impl RootCause {
    pub fn of(d: &Diagnostic) -> RootCause {
        let code = d.code.to_string();
        match d.code {
            "LG202" | "LG203" => RootCause::Guard {
                code,
                function: d.function.clone(),
                call: squash_whitespace(&d.call),
            },
            "LG501" => RootCause::Endpoint {
                code,
                function: d.function.clone(),
            },
            _ => match d.chain.get(1) {
                Some(helper) if d.chain.len() >= 2 => RootCause::Helper {
                    code,
                    function: helper.function.clone(),
                },
                _ => RootCause::Api {
                    code,
                    api: d.api.clone(),
                },
            },
        }
    }

    pub fn code(&self) -> &str {
        match self {
            RootCause::Helper { code, .. }
            | RootCause::Api { code, .. }
            | RootCause::Guard { code, .. }
            | RootCause::Endpoint { code, .. } => code,
        }
    }

    /// The text hashed into the id. Changing it changes every id: keep it stable.
    fn key(&self) -> String {
        match self {
            RootCause::Helper { code, function } => format!("{code}|helper|{function}"),
            RootCause::Api { code, api } => format!("{code}|api|{api}"),
            RootCause::Guard {
                code,
                function,
                call,
            } => format!("{code}|guard|{function}|{call}"),
            RootCause::Endpoint { code, function } => format!("{code}|endpoint|{function}"),
        }
    }

    /// The readable part of the id.
    fn slug_source(&self) -> String {
        match self {
            RootCause::Helper { function, .. } | RootCause::Endpoint { function, .. } => {
                short_name(function)
            }
            RootCause::Api { api, .. } => api.clone(),
            RootCause::Guard { function, call, .. } => {
                format!("{} {call}", short_name(function))
            }
        }
    }
}

/// One triage document: the findings sharing a root cause.
#[derive(Clone, Debug)]
pub struct Item<'d> {
    pub id: String,
    pub cause: RootCause,
    pub rule: Option<&'static Rule>,
    /// Sorted by [`Diagnostic::sort_key`].
    pub findings: Vec<&'d Diagnostic>,
    /// One per finding, sorted.
    pub fingerprints: Vec<String>,
    pub priority: PriorityReason,
}

impl Item<'_> {
    pub fn code(&self) -> &str {
        self.cause.code()
    }

    /// Distinct contexts of the findings, most urgent first.
    pub fn contexts(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self.findings.iter().map(|d| d.context.as_str()).collect();
        let mut out: Vec<&str> = set.into_iter().collect();
        out.sort_by_key(|c| (context_rank(c), *c));
        out
    }

    /// Distinct paths of the reported call sites.
    pub fn finding_paths(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self.findings.iter().map(|d| d.path.as_str()).collect();
        set.into_iter().collect()
    }

    /// Distinct paths of call sites and every chain hop.
    pub fn affected_paths(&self) -> Vec<&str> {
        let mut set: BTreeSet<&str> = BTreeSet::new();
        for d in &self.findings {
            set.insert(&d.path);
            for hop in &d.chain {
                set.insert(&hop.path);
            }
        }
        set.into_iter().collect()
    }

    /// Distinct blocking APIs.
    pub fn apis(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self.findings.iter().map(|d| d.api.as_str()).collect();
        set.into_iter().collect()
    }

    pub fn language(&self) -> Language {
        self.findings
            .first()
            .map(|d| Language::of_path(&d.path))
            .unwrap_or(Language::Python)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Python,
    Rust,
}

impl Language {
    pub fn of_path(path: &str) -> Language {
        if path.ends_with(".rs") {
            Language::Rust
        } else {
            Language::Python
        }
    }
}

pub fn context_rank(context: &str) -> usize {
    CONTEXTS
        .iter()
        .position(|c| *c == context)
        .unwrap_or(CONTEXTS.len())
}

/// Groups findings into items, sorted by id.
pub fn items<'d>(diagnostics: &'d [Diagnostic], rule: &PriorityRule) -> Vec<Item<'d>> {
    let mut groups: BTreeMap<RootCause, Vec<&'d Diagnostic>> = BTreeMap::new();
    for d in diagnostics {
        groups.entry(RootCause::of(d)).or_default().push(d);
    }
    let causes: Vec<&RootCause> = groups.keys().collect();
    let ids = assign_ids(&causes);
    let mut out: Vec<Item<'d>> = Vec::with_capacity(groups.len());
    for ((cause, mut findings), id) in groups.into_iter().zip(ids) {
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let fingerprints = fingerprints(&findings);
        // The most urgent finding decides; ties go to the first in sort order.
        let priority = findings
            .iter()
            .map(|d| rule.of(d))
            .min_by_key(|r| (r.priority, context_rank(&r.context)))
            .unwrap_or(PriorityReason {
                priority: Priority::P2,
                context: "async".to_string(),
                overridden: false,
                lowered: None,
            });
        out.push(Item {
            id,
            rule: rules::by_code(cause.code()),
            cause,
            findings,
            fingerprints,
            priority,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// `<code>-<slug>-<4 hex>`; ids that would collide get 8 hex digits instead (deterministic
/// for a given set of root causes).
fn assign_ids(causes: &[&RootCause]) -> Vec<String> {
    let short: Vec<String> = causes.iter().map(|c| id_with(c, 4)).collect();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &short {
        *seen.entry(id.as_str()).or_default() += 1;
    }
    causes
        .iter()
        .zip(&short)
        .map(|(cause, id)| {
            if seen.get(id.as_str()).copied().unwrap_or(0) > 1 {
                id_with(cause, 8)
            } else {
                id.clone()
            }
        })
        .collect()
}

fn id_with(cause: &RootCause, hex_digits: usize) -> String {
    let mut hasher = Fnv64::default();
    hasher.write(cause.key().as_bytes());
    let h = hasher.finish();
    // Fold the 64-bit hash so the short form depends on every bit.
    let hash = if hex_digits <= 4 {
        format!("{:04x}", (h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48)) & 0xffff)
    } else {
        format!("{:08x}", (h ^ (h >> 32)) & 0xffff_ffff)
    };
    format!(
        "{}-{}-{hash}",
        cause.code().to_ascii_lowercase(),
        slug(&cause.slug_source(), 40)
    )
}

/// Lowercase ASCII words joined by `-`; camelCase is split. Never empty.
pub fn slug(text: &str, max_len: usize) -> String {
    let mut out = String::new();
    let mut prev_lower_or_digit = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower_or_digit {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower_or_digit = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            prev_lower_or_digit = false;
        }
    }
    if out.len() > max_len {
        // All ASCII, so any byte index is a char boundary; cut at a word boundary if there
        // is one.
        out.truncate(max_len);
        if let Some(cut) = out.rfind('-')
            && cut > max_len / 2
        {
            out.truncate(cut);
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "item".to_string()
    } else {
        trimmed.to_string()
    }
}

/// A qualified name as people say it: `app.db.Service.get` -> `Service.get`,
/// `app.rate._check` -> `_check`, `app.m.outer.<locals>.inner` -> `inner`,
/// `my_crate::db::Pool::get` -> `Pool::get`.
pub fn short_name(qualname: &str) -> String {
    let sep = if qualname.contains("::") { "::" } else { "." };
    let segments: Vec<&str> = qualname
        .split(sep)
        .filter(|s| !s.is_empty() && *s != "<locals>")
        .collect();
    let Some((last, rest)) = segments.split_last() else {
        return qualname.to_string();
    };
    let synthetic = last.starts_with('<') || last.starts_with('{');
    match rest.last() {
        Some(owner)
            if synthetic || owner.chars().next().is_some_and(|c| c.is_ascii_uppercase()) =>
        {
            format!("{owner}{sep}{last}")
        }
        _ => (*last).to_string(),
    }
}

/// Collapses whitespace runs (a call split over lines) into single spaces.
pub fn squash_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fingerprints of sorted findings (repeats numbered, as in baselines), sorted.
fn fingerprints(findings: &[&Diagnostic]) -> Vec<String> {
    let mut out = loopguard_core::diagnostic::fingerprints(findings.iter().copied());
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[test]
    fn chain_findings_group_by_first_helper() {
        let a = chained(
            "LG201",
            "app/mw.py",
            10,
            "app.mw.Limit.dispatch",
            "middleware",
        );
        let mut b = chained("LG201", "app/routes.py", 30, "app.routes.items", "route");
        b.chain[0].function = "app.routes.items".to_string();
        let direct = direct_finding("LG301", "app/x.py", 5, "app.x.f", "requests.get", "route");
        let diags = vec![a, b, direct];
        let items = items(&diags, &PriorityRule::default());
        assert_eq!(items.len(), 2);
        let helper = items.iter().find(|i| i.code() == "LG201").unwrap();
        assert_eq!(helper.findings.len(), 2);
        assert!(
            helper.id.starts_with("lg201-check-in-memory-rate-limit-"),
            "{}",
            helper.id
        );
        assert_eq!(helper.priority.priority, Priority::P0);
        assert_eq!(helper.contexts(), vec!["middleware", "route"]);
    }

    #[test]
    fn direct_findings_group_by_code_and_api() {
        let diags = vec![
            direct_finding("LG301", "a.py", 1, "a.f", "requests.get", "async"),
            direct_finding("LG301", "b.py", 2, "b.g", "requests.get", "route"),
            direct_finding("LG301", "b.py", 3, "b.g", "requests.post", "route"),
        ];
        let items = items(&diags, &PriorityRule::default());
        let sizes: Vec<_> = items
            .iter()
            .map(|i| {
                (
                    i.id.split('-').nth(2).unwrap().to_string(),
                    i.findings.len(),
                )
            })
            .collect();
        assert_eq!(sizes, vec![("get".into(), 2), ("post".into(), 1)]);
    }

    #[test]
    fn guards_and_endpoints_have_their_own_keys() {
        let mut g1 = direct_finding("LG202", "a.py", 1, "a.C.f", "self._lock", "async");
        g1.call = "self._lock".into();
        let mut g2 = g1.clone();
        g2.span = span(9);
        let mut g3 = g1.clone();
        g3.call = "self._other".into();
        let mut e = direct_finding("LG501", "a.py", 1, "a.items", "a.items", "route");
        e.call = "items".into();
        let diags = vec![g1, g2, g3, e];
        let items = items(&diags, &PriorityRule::default());
        assert_eq!(items.len(), 3);
        assert!(
            items
                .iter()
                .any(|i| i.id.starts_with("lg202-c-f-self-lock-"))
        );
        assert!(items.iter().any(|i| i.id.starts_with("lg501-items-")));
    }

    #[test]
    fn ids_ignore_lines_and_depend_on_the_root_cause() {
        let a = chained(
            "LG201",
            "app/mw.py",
            10,
            "app.mw.Limit.dispatch",
            "middleware",
        );
        let mut moved = a.clone();
        moved.span = span(99);
        moved.chain[1].span = span(300);
        let id = |d: &Diagnostic| {
            items(std::slice::from_ref(d), &PriorityRule::default())[0]
                .id
                .clone()
        };
        assert_eq!(id(&a), id(&moved));
        let mut other = a.clone();
        other.chain[1].function = "app.other._check_in_memory_rate_limit".into();
        assert_ne!(id(&a), id(&other));
        // Same slug, different hash.
        assert_eq!(
            id(&a)[..id(&a).len() - 4],
            id(&other)[..id(&other).len() - 4]
        );
    }

    #[test]
    fn priority_rule() {
        let rule = PriorityRule::default();
        let mut d = direct_finding("LG301", "a.py", 1, "a.f", "requests.get", "dependency");
        assert_eq!(rule.of(&d).priority, Priority::P0);
        d.context = "route".into();
        assert_eq!(rule.of(&d).priority, Priority::P1);
        d.context = "callback".into();
        assert_eq!(rule.of(&d).priority, Priority::P2);
        d.confidence = Confidence::Likely;
        assert_eq!(rule.of(&d).priority, Priority::LOWEST);
        d.context = "async".into();
        d.code = "LG203";
        // Both reasons lower one level only, and never below p3.
        assert_eq!(rule.of(&d).priority, Priority::LOWEST);
        let overridden = PriorityRule {
            overrides: [("route".to_string(), Priority::P0)].into(),
        };
        let mut r = direct_finding("LG301", "a.py", 1, "a.f", "requests.get", "route");
        assert_eq!(overridden.of(&r).priority, Priority::P0);
        assert!(overridden.of(&r).overridden);
        r.confidence = Confidence::Likely;
        assert_eq!(overridden.of(&r).priority, Priority::P1);
    }

    #[test]
    fn slugs_and_short_names() {
        assert_eq!(
            slug("_check_in_memory_rate_limit", 40),
            "check-in-memory-rate-limit"
        );
        assert_eq!(
            slug("DatabaseService.get_agent", 40),
            "database-service-get-agent"
        );
        assert_eq!(slug("threading.Lock.__enter__", 40), "threading-lock-enter");
        assert_eq!(slug("___", 40), "item");
        assert_eq!(
            slug("a_very_long_function_name_that_goes_on", 20),
            "a-very-long"
        );
        assert_eq!(
            short_name("app.db.DatabaseService.get_agent"),
            "DatabaseService.get_agent"
        );
        assert_eq!(short_name("app.rate._check"), "_check");
        assert_eq!(short_name("app.m.outer.<locals>.inner"), "inner");
        assert_eq!(short_name("app.m.outer.<lambda>"), "outer.<lambda>");
        assert_eq!(short_name("my_crate::db::Pool::get"), "Pool::get");
        assert_eq!(short_name("my_crate::db::connect"), "connect");
    }

    #[test]
    fn fingerprints_ignore_lines_and_count_duplicates() {
        let a = direct_finding("LG301", "a.py", 1, "a.f", "requests.get", "async");
        let mut b = a.clone();
        b.span = span(7);
        assert_eq!(
            loopguard_core::diagnostic::fingerprint(&a),
            loopguard_core::diagnostic::fingerprint(&b)
        );
        let fps = fingerprints(&[&a, &b]);
        assert_eq!(fps.len(), 2);
        assert_eq!(fps[1], format!("{}:2", fps[0]));
    }
}
