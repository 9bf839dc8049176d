//! Reading and parsing files, demand-driven, in parallel, through the cache.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use loopguard_core::config::{Config, DEFAULT_MAX_FILE_SIZE};
use loopguard_core::diagnostic::{Notification, NotificationLevel};
use loopguard_core::facts::{FileFacts, Language};
use rayon::prelude::*;

use crate::EngineError;
use crate::cache::{Cache, IndexEntry, StatKey, content_hash};
use crate::demand;
use crate::discover::{PythonModules, RustModules, SourceFile};

pub struct Loaded {
    /// (file index, facts) of every parsed file, sorted by file index (deterministic).
    pub facts: Vec<(usize, FileFacts)>,
    pub notifications: Vec<Notification>,
    /// Requested files that were considered (read and scanned, or known from the cache).
    pub requested_scanned: usize,
}

/// A file's module name and edition.
pub struct ModuleInfo {
    pub name: String,
    pub is_init: bool,
    pub edition: Option<u16>,
}

/// The outcome of looking at one file.
enum Looked {
    /// Parsed now or taken from the cache: has async code (or was demanded).
    Facts(Box<FileFacts>),
    /// Read and scanned: no async code, not parsed.
    NoAsync,
    Skipped(Notification),
}

struct Work<'a> {
    files: &'a [SourceFile],
    infos: Vec<ModuleInfo>,
    max_size: u64,
}

/// Does this source contain async code (or anything that runs on the loop)?
pub fn has_async(text: &str) -> bool {
    text.contains("async")
}

impl Work<'_> {
    fn skipped(&self, i: usize, kind: &str, message: String) -> Looked {
        Looked::Skipped(Notification {
            level: NotificationLevel::Warning,
            kind: kind.to_string(),
            path: Some(self.files[i].rel.clone()),
            span: None,
            message,
        })
    }

    fn stat(&self, i: usize) -> Result<StatKey, Looked> {
        match std::fs::metadata(&self.files[i].abs) {
            Ok(m) if m.len() > self.max_size => Err(self.skipped(
                i,
                "too-large",
                format!(
                    "skipped: {} bytes is over the {}-byte limit (raise `max-file-size` in the config to lint it)",
                    m.len(),
                    self.max_size
                ),
            )),
            Ok(m) => Ok(StatKey::of(&m)),
            Err(e) => Err(self.skipped(i, "read-error", format!("cannot read: {e}"))),
        }
    }

    /// Reads and (if `always` or it has async code) parses a file.
    fn read_and_lower(&self, i: usize, always: bool) -> (Looked, Option<([u8; 32], bool)>) {
        let file = &self.files[i];
        let bytes = match std::fs::read(&file.abs) {
            Ok(b) => b,
            Err(e) => {
                return (
                    self.skipped(i, "read-error", format!("cannot read: {e}")),
                    None,
                );
            }
        };
        let hash = content_hash(&bytes);
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                return (
                    self.skipped(
                        i,
                        "not-utf8",
                        format!(
                            "skipped: not valid UTF-8 (invalid byte at offset {}); loopguard reads UTF-8 sources only",
                            e.utf8_error().valid_up_to()
                        ),
                    ),
                    None,
                );
            }
        };
        let is_async = has_async(&text);
        if !is_async && !always {
            return (Looked::NoAsync, Some((hash, false)));
        }
        (
            Looked::Facts(Box::new(self.lower(i, &text))),
            Some((hash, is_async)),
        )
    }

    fn lower(&self, i: usize, text: &str) -> FileFacts {
        let file = &self.files[i];
        let info = &self.infos[i];
        let mut facts = match file.language {
            Language::Python => loopguard_python::lower(&file.rel, &info.name, info.is_init, text),
            Language::Rust => loopguard_rust::lower(&file.rel, &info.name, text, info.edition),
        };
        facts.suppressions = loopguard_core::suppression::scan(text);
        facts
    }
}

pub fn module_infos(files: &[SourceFile], root: &Path, src_roots: &[PathBuf]) -> Vec<ModuleInfo> {
    let py = PythonModules::new(files, root, src_roots);
    let mut rs = RustModules::default();
    files
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
        .collect()
}

/// Looks at files `batch` in parallel, using the cache where the stat key (or, when that
/// changed, the content hash) matches. `always`: parse even without async code (demanded).
fn look_batch(
    work: &Work,
    batch: &[usize],
    always: bool,
    cache: &mut Option<&mut Cache>,
) -> Vec<(usize, Looked)> {
    // Stat in parallel; decide hits against the cache index.
    let stats: Vec<(usize, Result<StatKey, Looked>)> =
        batch.par_iter().map(|&i| (i, work.stat(i))).collect();
    let mut out = Vec::with_capacity(batch.len());
    let mut misses = Vec::new();
    let mut stat_of: HashMap<usize, StatKey> = HashMap::new();
    for (i, st) in stats {
        let stat = match st {
            Ok(s) => s,
            Err(looked) => {
                out.push((i, looked));
                continue;
            }
        };
        stat_of.insert(i, stat);
        let rel = work.files[i].rel.as_str();
        let hit = cache.as_deref_mut().and_then(|c| {
            let e = c.index.entries.get(rel)?.clone();
            (e.stat == stat).then_some(e)
        });
        match hit {
            Some(e) if !e.has_async && !always => out.push((i, Looked::NoAsync)),
            Some(e) if e.parsed => match cache.as_deref_mut().and_then(|c| c.facts(rel)) {
                Some(f) => out.push((i, Looked::Facts(Box::new(f)))),
                None => misses.push(i),
            },
            _ => misses.push(i),
        }
    }
    let parsed: Vec<(usize, Looked, Option<([u8; 32], bool)>)> = misses
        .par_iter()
        .map(|&i| {
            let (looked, meta) = work.read_and_lower(i, always);
            (i, looked, meta)
        })
        .collect();
    for (i, looked, meta) in parsed {
        if let (Some(c), Some((hash, has_async)), Some(stat)) =
            (cache.as_deref_mut(), meta, stat_of.get(&i))
        {
            let facts = match &looked {
                Looked::Facts(f) => Some(f.as_ref()),
                _ => None,
            };
            c.store(
                &work.files[i].rel,
                IndexEntry {
                    stat: *stat,
                    hash,
                    has_async,
                    parsed: facts.is_some(),
                },
                facts,
            );
        }
        out.push((i, looked));
    }
    out
}

pub fn load_project(
    files: &[SourceFile],
    infos: Vec<ModuleInfo>,
    config: &Config,
    mut cache: Option<&mut Cache>,
) -> Result<Loaded, EngineError> {
    let work = Work {
        files,
        infos,
        max_size: config.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE),
    };
    let mut by_module: HashMap<(&str, Language), Vec<usize>> = HashMap::new();
    for (i, (f, info)) in files.iter().zip(&work.infos).enumerate() {
        by_module
            .entry((info.name.as_str(), f.language))
            .or_default()
            .push(i);
    }

    // Round 0: requested files, scanned; those with async code are parsed.
    let requested: Vec<usize> = (0..files.len()).filter(|&i| files[i].requested).collect();
    // Files parsed or queued for parsing. Requested files without async code are only
    // scanned in round 0, so a later round may still demand (and parse) them.
    let mut visited: HashSet<usize> = HashSet::new();
    let mut notifications = Vec::new();
    let mut parsed: Vec<(usize, FileFacts)> = Vec::new();
    let mut batch = requested.clone();
    let mut always = false;
    while !batch.is_empty() {
        let looked = look_batch(&work, &batch, always, &mut cache);
        let start = parsed.len();
        for (i, l) in looked {
            match l {
                Looked::Facts(f) => {
                    visited.insert(i);
                    parsed.push((i, *f));
                }
                Looked::NoAsync => {}
                Looked::Skipped(n) => notifications.push(n),
            }
        }
        // Next round: modules named by what was just parsed, transitively.
        let mut next: Vec<usize> = Vec::new();
        for (i, facts) in &parsed[start..] {
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
        }
        next.sort_unstable();
        batch = next;
        always = true;
    }
    parsed.sort_by_key(|(i, _)| *i);
    Ok(Loaded {
        facts: parsed,
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
