//! Configuration: `loopguard.toml` (or `.loopguard.toml`), or `[tool.loopguard]` in
//! `pyproject.toml`, the one nearest to the checked path. Documented in
//! `docs/configuration.md`; every key is checked (a typo is an error, not a silent no-op).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::BlockingSpec;
use crate::diagnostic::Confidence;
use crate::rules::{self, Severity};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Rule codes or prefixes to enable (default: all).
    pub select: Option<Vec<String>>,
    #[serde(default)]
    pub extend_select: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Glob patterns (gitignore-style, relative to the config file) of paths not to lint.
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub extend_exclude: Vec<String>,
    /// Glob -> codes ignored in matching files.
    #[serde(default)]
    pub per_file_ignores: BTreeMap<String, Vec<String>>,
    /// User APIs that block, e.g. a company HTTP wrapper.
    #[serde(default)]
    pub extend_blocking: Vec<BlockingSpec>,
    /// Severity overrides by rule code.
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
    /// Python source roots (besides the project root, `src/` and folders with
    /// `__init__.py` packages), relative to the config file.
    #[serde(default)]
    pub src: Vec<String>,
    /// How many sync hops a call chain may have (default 8).
    pub max_depth: Option<usize>,
    /// Report only blocking calls written directly in async code (no call chains).
    #[serde(default)]
    pub direct_only: bool,
    /// Hide findings below this confidence.
    pub confidence: Option<Confidence>,
    /// Where the facts cache lives (default `.loopguard_cache` at the project root).
    pub cache_dir: Option<String>,
    /// Files larger than this many bytes are skipped with a notification (default 4 MiB).
    pub max_file_size: Option<u64>,
    /// Triage priority per context (`middleware`, `dependency`, `route`, `callback`, `async`)
    /// -> `p0`..`p3`.
    #[serde(default)]
    pub triage_priority: BTreeMap<String, String>,
}

pub const DEFAULT_MAX_DEPTH: usize = 8;
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// A config and where it came from.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file it was read from; `None` for defaults.
    pub path: Option<PathBuf>,
    /// The directory the config's relative paths are relative to (its folder, or the
    /// project root when there is no config).
    pub root: PathBuf,
}

impl Config {
    /// Parses a config file. `pyproject.toml` is read from `[tool.loopguard]`; a pyproject
    /// without that table gives `Ok(None)`.
    pub fn from_file(path: &Path) -> Result<Option<Config>, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let config = if is_pyproject {
            let doc: toml::Table = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
            let Some(section) = doc.get("tool").and_then(|t| t.get("loopguard")).cloned() else {
                return Ok(None);
            };
            section
                .try_into::<Config>()
                .map_err(|e| invalid(format!("in [tool.loopguard]: {e}")))?
        } else {
            toml::from_str::<Config>(&text).map_err(|e| invalid(e.to_string()))?
        };
        config.validate().map_err(invalid)?;
        Ok(Some(config))
    }

    /// Checks what serde cannot: rule selectors and severity keys name real rules.
    pub fn validate(&self) -> Result<(), String> {
        let lists = [
            ("select", self.select.clone().unwrap_or_default()),
            ("extend-select", self.extend_select.clone()),
            ("ignore", self.ignore.clone()),
        ];
        for (key, list) in lists {
            for code in list {
                if !rules::is_selector(&code) {
                    return Err(format!(
                        "`{key}`: `{code}` is not a rule code or prefix (expected e.g. `LG3` or `LG301`; see `loopguard rules`)"
                    ));
                }
            }
        }
        for (glob, codes) in &self.per_file_ignores {
            for code in codes {
                if !rules::is_selector(code) {
                    return Err(format!(
                        "`per-file-ignores`.`{glob}`: `{code}` is not a rule code or prefix"
                    ));
                }
            }
        }
        for code in self.severity.keys() {
            if rules::by_code(code).is_none() {
                return Err(format!("`severity`: `{code}` is not a rule code"));
            }
        }
        for (ctx, prio) in &self.triage_priority {
            if !["middleware", "dependency", "route", "callback", "async"].contains(&ctx.as_str()) {
                return Err(format!(
                    "`triage-priority`: unknown context `{ctx}` (expected middleware, dependency, route, callback or async)"
                ));
            }
            if !["p0", "p1", "p2", "p3"].contains(&prio.as_str()) {
                return Err(format!(
                    "`triage-priority`.`{ctx}`: `{prio}` is not a priority (expected p0, p1, p2 or p3)"
                ));
            }
        }
        for (i, b) in self.extend_blocking.iter().enumerate() {
            if rules::by_code(&b.rule).is_none() {
                return Err(format!(
                    "`extend-blocking`[{i}]: `rule = \"{}\"` is not a rule code",
                    b.rule
                ));
            }
            if b.paths.is_empty() && b.methods.is_empty() {
                return Err(format!(
                    "`extend-blocking`[{i}]: needs `paths` or `methods`"
                ));
            }
        }
        Ok(())
    }

    /// Is `code` enabled by select/extend-select/ignore? The most specific selector wins
    /// (`select = ["LG3"]`, `ignore = ["LG305"]` disables LG305 only); on a tie, ignore wins.
    pub fn is_enabled(&self, code: &str) -> bool {
        let best = |list: &[String]| -> Option<usize> {
            list.iter()
                .filter_map(|s| {
                    let s = s.to_ascii_uppercase();
                    if s == "ALL" {
                        Some(0)
                    } else if code.starts_with(&s) {
                        Some(s.len())
                    } else {
                        None
                    }
                })
                .max()
        };
        let mut selected: Vec<String> = self.select.clone().unwrap_or_else(|| vec!["ALL".into()]);
        selected.extend(self.extend_select.iter().cloned());
        match (best(&selected), best(&self.ignore)) {
            (Some(s), Some(i)) => s > i,
            (Some(_), None) => true,
            _ => false,
        }
    }

    pub fn severity_of(&self, code: &str, default: Severity) -> Severity {
        self.severity.get(code).copied().unwrap_or(default)
    }

    pub fn max_depth(&self) -> usize {
        self.max_depth.unwrap_or(DEFAULT_MAX_DEPTH)
    }
}

/// Config file names, in the order they are looked for in each directory.
pub const CONFIG_FILES: &[&str] = &["loopguard.toml", ".loopguard.toml", "pyproject.toml"];

/// Finds the config nearest to `start` (a file or directory), walking up to the root.
pub fn discover(start: &Path) -> Result<Option<(PathBuf, Config)>, ConfigError> {
    let start = if start.is_file() {
        start.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        start.to_path_buf()
    };
    let start = start.canonicalize().unwrap_or(start);
    for dir in start.ancestors() {
        for name in CONFIG_FILES {
            let candidate = dir.join(name);
            if candidate.is_file()
                && let Some(config) = Config::from_file(&candidate)?
            {
                return Ok(Some((candidate, config)));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_selector_wins() {
        let c = Config {
            select: Some(vec!["LG3".into()]),
            ignore: vec!["LG305".into()],
            ..Default::default()
        };
        assert!(c.is_enabled("LG301"));
        assert!(!c.is_enabled("LG305"));
        assert!(!c.is_enabled("LG101"));
        let c = Config {
            select: Some(vec!["LG305".into()]),
            ignore: vec!["LG3".into()],
            ..Default::default()
        };
        assert!(c.is_enabled("LG305"));
        assert!(!c.is_enabled("LG301"));
        assert!(Config::default().is_enabled("LG501"));
    }

    #[test]
    fn unknown_keys_and_codes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("loopguard.toml");
        std::fs::write(&p, "selct = [\"LG3\"]\n").unwrap();
        let err = Config::from_file(&p).unwrap_err().to_string();
        assert!(
            err.contains("loopguard.toml") && err.contains("selct"),
            "{err}"
        );
        std::fs::write(&p, "select = [\"E501\"]\n").unwrap();
        let err = Config::from_file(&p).unwrap_err().to_string();
        assert!(err.contains("E501"), "{err}");
    }

    #[test]
    fn pyproject_without_section_is_not_a_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pyproject.toml");
        std::fs::write(&p, "[project]\nname = \"x\"\n").unwrap();
        assert!(Config::from_file(&p).unwrap().is_none());
        std::fs::write(&p, "[tool.loopguard]\nignore = [\"LG305\"]\n").unwrap();
        let c = Config::from_file(&p).unwrap().unwrap();
        assert!(!c.is_enabled("LG305"));
    }
}
