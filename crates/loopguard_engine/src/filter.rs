//! Which findings the user sees: rule selection, per-file ignores, `noqa`, confidence,
//! severity overrides, requested paths; then sorted and de-duplicated.

use rustc_hash::FxHashMap as HashMap;
use std::collections::HashSet;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use loopguard_core::config::Config;
use loopguard_core::diagnostic::{Confidence, Diagnostic};
use loopguard_core::facts::FileFacts;
use loopguard_core::rules;

use crate::EngineError;

pub struct Filter<'c> {
    config: &'c Config,
    per_file: Vec<(GlobSet, Vec<String>)>,
}

impl<'c> Filter<'c> {
    pub fn new(config: &'c Config, _root: &Path) -> Result<Self, EngineError> {
        let mut per_file = Vec::new();
        for (pattern, codes) in &config.per_file_ignores {
            let mut b = GlobSetBuilder::new();
            // `tests/*.py` should match at any depth below the root as ruff does for bare names.
            for p in [pattern.clone(), format!("**/{pattern}")] {
                b.add(Glob::new(&p).map_err(|e| {
                    EngineError::Usage(format!("`per-file-ignores`: invalid glob `{pattern}`: {e}"))
                })?);
            }
            let set = b.build().map_err(|e| {
                EngineError::Usage(format!("`per-file-ignores`: invalid glob `{pattern}`: {e}"))
            })?;
            per_file.push((set, codes.iter().map(|c| c.to_ascii_uppercase()).collect()));
        }
        Ok(Filter { config, per_file })
    }

    fn per_file_ignored(&self, path: &str, code: &str) -> bool {
        self.per_file.iter().any(|(set, codes)| {
            set.is_match(path)
                && codes
                    .iter()
                    .any(|c| c == "ALL" || code.starts_with(c.as_str()))
        })
    }

    pub fn apply(
        &self,
        diagnostics: Vec<Diagnostic>,
        facts: &[FileFacts],
        requested: &HashSet<&str, impl std::hash::BuildHasher>,
    ) -> Vec<Diagnostic> {
        let suppressions: HashMap<&str, &FileFacts> =
            facts.iter().map(|f| (f.path.as_str(), f)).collect();
        let min_confidence = self.config.confidence.unwrap_or(Confidence::Likely);
        let mut out: Vec<Diagnostic> = diagnostics
            .into_iter()
            .filter(|d| requested.contains(d.path.as_str()))
            .filter(|d| self.config.is_enabled(d.code))
            .filter(|d| d.confidence <= min_confidence)
            .filter(|d| !self.per_file_ignored(&d.path, d.code))
            .filter(|d| {
                suppressions.get(d.path.as_str()).is_none_or(|f| {
                    !f.suppressions
                        .iter()
                        .any(|s| s.line == d.span.start_line && s.covers(d.code))
                })
            })
            .map(|mut d| {
                let default = rules::by_code(d.code)
                    .map(|r| r.severity)
                    .unwrap_or(d.severity);
                d.severity = self.config.severity_of(d.code, default);
                d
            })
            .collect();
        sort_and_dedup(&mut out);
        out
    }
}

/// The order of reported findings (and duplicates dropped): by position, then chain.
pub fn sort_and_dedup(out: &mut Vec<Diagnostic>) {
    out.sort_by(|a, b| {
        a.sort_key()
            .cmp(&b.sort_key())
            .then_with(|| a.chain.cmp(&b.chain))
    });
    out.dedup_by(|a, b| a.sort_key() == b.sort_key() && a.chain == b.chain);
}
