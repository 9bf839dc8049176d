//! Baselines: adopt loopguard in a large legacy codebase by recording today's findings and
//! reporting only new ones. Entries are keyed by fingerprint (rule, path, enclosing
//! function, call text), so they survive lines moving.

use std::collections::HashMap;
use std::path::Path;

use loopguard_core::diagnostic::{Diagnostic, fingerprints};
use serde::{Deserialize, Serialize};

use crate::EngineError;

pub const BASELINE_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Baseline {
    pub version: u32,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub fingerprint: String,
    pub code: String,
    pub path: String,
    pub function: String,
    pub call: String,
}

impl Baseline {
    pub fn from_diagnostics(diagnostics: &[Diagnostic]) -> Baseline {
        let mut entries: Vec<Entry> = diagnostics
            .iter()
            .zip(fingerprints(diagnostics))
            .map(|(d, fingerprint)| Entry {
                fingerprint,
                code: d.code.to_string(),
                path: d.path.clone(),
                function: d.function.clone(),
                call: d.call.clone(),
            })
            .collect();
        entries.sort();
        Baseline {
            version: BASELINE_VERSION,
            entries,
        }
    }

    pub fn read(path: &Path) -> Result<Baseline, EngineError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            EngineError::Usage(format!("cannot read baseline {}: {e}", path.display()))
        })?;
        let b: Baseline = serde_json::from_str(&text).map_err(|e| {
            EngineError::Usage(format!(
                "baseline {} is not a loopguard baseline: {e} (write one with --write-baseline)",
                path.display()
            ))
        })?;
        if b.version != BASELINE_VERSION {
            return Err(EngineError::Usage(format!(
                "baseline {} has version {}, this loopguard reads version {BASELINE_VERSION}: re-create it with --write-baseline",
                path.display(),
                b.version
            )));
        }
        Ok(b)
    }

    /// Writes atomically (temp file + rename), so an interrupted run never leaves half a file.
    pub fn write(&self, path: &Path) -> Result<(), EngineError> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| EngineError::Internal(format!("cannot encode baseline: {e}")))?;
        text.push('\n');
        crate::atomic_write(path, text.as_bytes()).map_err(|e| {
            EngineError::Usage(format!("cannot write baseline {}: {e}", path.display()))
        })
    }

    /// Drops findings recorded in the baseline; returns the rest and how many baseline
    /// entries no longer occur (fixed).
    pub fn filter(&self, diagnostics: Vec<Diagnostic>) -> (Vec<Diagnostic>, usize) {
        let mut remaining: HashMap<&str, usize> = HashMap::new();
        for e in &self.entries {
            *remaining.entry(e.fingerprint.as_str()).or_insert(0) += 1;
        }
        let prints = fingerprints(&diagnostics);
        let mut kept = Vec::new();
        for (d, fp) in diagnostics.into_iter().zip(prints) {
            match remaining.get_mut(fp.as_str()) {
                Some(n) if *n > 0 => *n -= 1,
                _ => kept.push(d),
            }
        }
        let fixed = remaining.values().sum();
        (kept, fixed)
    }
}
