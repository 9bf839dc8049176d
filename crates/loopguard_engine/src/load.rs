//! Reading and parsing files, demand-driven, in parallel.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use loopguard_core::config::{Config, DEFAULT_MAX_FILE_SIZE};
use loopguard_core::diagnostic::{Notification, NotificationLevel};
use loopguard_core::facts::{FileFacts, Language};
use rayon::prelude::*;

use crate::EngineError;
use crate::demand;
use crate::discover::{PythonModules, RustModules, SourceFile};

pub struct Loaded {
    /// Facts of every parsed file, in file order (deterministic).
    pub facts: Vec<FileFacts>,
    pub notifications: Vec<Notification>,
    /// Requested files that were read and scanned.
    pub requested_scanned: usize,
}

/// Where a file's module name and edition come from.
struct ModuleInfo {
    name: String,
    is_init: bool,
    edition: Option<u16>,
}

enum ReadResult {
    Text(String),
    Skipped(Notification),
}

fn read_source(file: &SourceFile, max_size: u64) -> ReadResult {
    let skipped = |kind: &str, message: String| {
        ReadResult::Skipped(Notification {
            level: NotificationLevel::Warning,
            kind: kind.to_string(),
            path: Some(file.rel.clone()),
            span: None,
            message,
        })
    };
    match std::fs::metadata(&file.abs) {
        Ok(m) if m.len() > max_size => {
            return skipped(
                "too-large",
                format!(
                    "skipped: {} bytes is over the {max_size}-byte limit (raise `max-file-size` in the config to lint it)",
                    m.len()
                ),
            );
        }
        Ok(_) => {}
        Err(e) => return skipped("read-error", format!("cannot read: {e}")),
    }
    match std::fs::read(&file.abs) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => ReadResult::Text(text),
            Err(e) => skipped(
                "not-utf8",
                format!(
                    "skipped: not valid UTF-8 (invalid byte at offset {}); loopguard reads UTF-8 sources only",
                    e.utf8_error().valid_up_to()
                ),
            ),
        },
        Err(e) => skipped("read-error", format!("cannot read: {e}")),
    }
}

/// Does this source contain async code (or anything that runs on the loop)?
fn has_async(text: &str) -> bool {
    text.contains("async")
}

fn lower(file: &SourceFile, info: &ModuleInfo, text: &str) -> FileFacts {
    let mut facts = match file.language {
        Language::Python => loopguard_python::lower(&file.rel, &info.name, info.is_init, text),
        Language::Rust => loopguard_rust::lower(&file.rel, &info.name, text, info.edition),
    };
    facts.suppressions = loopguard_core::suppression::scan(text);
    facts
}

pub fn load_project(
    files: &[SourceFile],
    root: &Path,
    src_roots: &[PathBuf],
    config: &Config,
) -> Result<Loaded, EngineError> {
    let max_size = config.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE);
    let py = PythonModules::new(files, root, src_roots);
    let mut rs = RustModules::default();
    let infos: Vec<ModuleInfo> = files
        .iter()
        .map(|f| match f.language {
            Language::Python => {
                let (name, is_init) = py.module_of(&f.abs);
                ModuleInfo {
                    name,
                    is_init,
                    edition: None,
                }
            }
            Language::Rust => {
                let (name, edition) = rs.module_of(&f.abs);
                ModuleInfo {
                    name,
                    is_init: false,
                    edition,
                }
            }
        })
        .collect();
    let mut by_module: HashMap<(&str, Language), Vec<usize>> = HashMap::new();
    for (i, (f, info)) in files.iter().zip(&infos).enumerate() {
        by_module
            .entry((info.name.as_str(), f.language))
            .or_default()
            .push(i);
    }

    // Round 0: requested files, read and scanned; those with async code are parsed.
    let requested: Vec<usize> = (0..files.len()).filter(|&i| files[i].requested).collect();
    let scanned: Vec<(usize, Option<FileFacts>, Option<Notification>)> = requested
        .par_iter()
        .map(|&i| match read_source(&files[i], max_size) {
            ReadResult::Text(text) => {
                if has_async(&text) {
                    (i, Some(lower(&files[i], &infos[i], &text)), None)
                } else {
                    (i, None, None)
                }
            }
            ReadResult::Skipped(n) => (i, None, Some(n)),
        })
        .collect();
    let mut notifications = Vec::new();
    let mut parsed: Vec<(usize, FileFacts)> = Vec::new();
    let mut visited: HashSet<usize> = requested.iter().copied().collect();
    for (i, facts, note) in scanned {
        if let Some(n) = note {
            notifications.push(n);
        }
        if let Some(f) = facts {
            parsed.push((i, f));
        }
    }

    // Next rounds: modules named by what was parsed, transitively.
    let mut frontier: Vec<usize> = parsed.iter().map(|(i, _)| *i).collect();
    while !frontier.is_empty() {
        let mut next: Vec<usize> = Vec::new();
        {
            let by_index: HashMap<usize, &FileFacts> =
                parsed.iter().map(|(i, f)| (*i, f)).collect();
            for i in &frontier {
                let Some(facts) = by_index.get(i) else {
                    continue;
                };
                let lang = files[*i].language;
                let sep = lang.separator();
                demand::for_each_path(facts, &mut |path| {
                    for prefix in demand::module_prefixes(path, sep) {
                        if let Some(targets) = by_module.get(&(prefix, lang)) {
                            for &t in targets {
                                if visited.insert(t) {
                                    next.push(t);
                                }
                            }
                            break;
                        }
                    }
                });
                // A package's `__init__` re-exports; parents of a parsed module are cheap
                // and often hold the aliases its importers use.
            }
        }
        next.sort_unstable();
        let round: Vec<(usize, Option<FileFacts>)> = next
            .par_iter()
            .map(|&i| match read_source(&files[i], max_size) {
                ReadResult::Text(text) => (i, Some(lower(&files[i], &infos[i], &text))),
                ReadResult::Skipped(_) => (i, None),
            })
            .collect();
        frontier.clear();
        for (i, facts) in round {
            if let Some(f) = facts {
                frontier.push(i);
                parsed.push((i, f));
            }
        }
    }
    parsed.sort_by_key(|(i, _)| *i);
    Ok(Loaded {
        facts: parsed.into_iter().map(|(_, f)| f).collect(),
        notifications,
        requested_scanned: requested.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_scan() {
        assert!(has_async("async def f(): pass"));
        assert!(!has_async("def f(): pass"));
    }
}
