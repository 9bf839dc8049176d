//! Reading and parsing files, demand-driven, in parallel, through the cache.

use std::path::{Path, PathBuf};

use loopguard_core::catalog::Catalog;
use loopguard_core::config::{Config, DEFAULT_MAX_FILE_SIZE};
use loopguard_core::diagnostic::{Notification, NotificationLevel};
use loopguard_core::facts::{FileFacts, Language};
use rayon::prelude::*;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

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
    /// Files parsed in this run (not served from the cache).
    pub parsed_now: usize,
}

/// A file's module name and edition.
pub struct ModuleInfo {
    pub name: String,
    pub is_init: bool,
    pub edition: Option<u16>,
}

thread_local! {
    /// Set on the engine's worker threads, whose stacks are `loopguard_rust::LOWERING_STACK`.
    pub(crate) static BIG_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A file's text and content hash.
type Source = (String, [u8; 32]);

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
    scan: &'a RootScan,
}

/// The byte scan that picks the files the first round parses: those that may hold a root of
/// the analysis, code that runs on the event loop. Other files are parsed only when a root
/// reaches them (demand), so a file that merely says "asyncio" or "asynchronous" costs a scan,
/// not a parse.
pub struct RootScan {
    /// Names that can register a plain `def` to run on the loop (`call_soon`, HA's
    /// `@callback`): the last segments of the catalog's `[[loop-callback]]` entries. `None`
    /// when a wildcard entry makes any name possible.
    python_callback_names: Option<Vec<String>>,
}

impl RootScan {
    pub fn new(catalog: &Catalog) -> RootScan {
        let names = catalog
            .language(Language::Python)
            .loop_callbacks
            .last_names();
        RootScan {
            python_callback_names: names
                .map(|names| names.into_iter().map(str::to_owned).collect()),
        }
    }

    /// The names of the catalog's Python loop-callback APIs; `None` when any name may be one.
    pub fn python_callback_names(&self) -> Option<&[String]> {
        self.python_callback_names.as_deref()
    }

    /// Whether `text` may hold a root: Python `async def`/`async with`/`async for`, or a
    /// loop-callback name in a file that mentions async code; Rust `async` anywhere (`async
    /// fn`, blocks, closures).
    ///
    /// The callback names count only beside the word `async` (`asyncio`, HA's `async_*`
    /// helpers): that is where callbacks are registered, and it keeps files that merely
    /// say "callback" unparsed.
    pub fn may_have_roots(&self, language: Language, text: &str) -> bool {
        match language {
            Language::Rust => text.contains("async"),
            Language::Python => {
                has_async_keyword(text)
                    || (text.contains("async")
                        && self
                            .python_callback_names
                            .as_ref()
                            .is_none_or(|names| names.iter().any(|n| text.contains(n.as_str()))))
            }
        }
    }
}

/// Python's `async` keyword before `def`, `with` or `for`, anywhere in the text (strings and
/// comments included: a false match only costs a parse). Spaces, line breaks and line
/// continuations may separate the two words (`[x async\n for x in y]` inside brackets); a
/// comment between them counts as a match.
fn has_async_keyword(text: &str) -> bool {
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    text.match_indices("async").any(|(at, _)| {
        if at > 0 && is_word(bytes[at - 1]) {
            return false;
        }
        let mut j = at + "async".len();
        let gap_start = j;
        while j < bytes.len() && matches!(bytes[j], b' ' | b'\t' | b'\x0c' | b'\r' | b'\n' | b'\\')
        {
            j += 1;
        }
        if j == gap_start || j >= bytes.len() {
            return false;
        }
        if bytes[j] == b'#' {
            return true;
        }
        ["def", "with", "for"].iter().any(|kw| {
            bytes[j..].starts_with(kw.as_bytes())
                && bytes.get(j + kw.len()).is_none_or(|&b| !is_word(b))
        })
    })
}

impl Work<'_> {
    fn same_module(&self, i: usize, e: &IndexEntry) -> bool {
        e.module == self.infos[i].name && e.edition == self.infos[i].edition
    }

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

    /// Reads a file: its text and content hash.
    fn read(&self, i: usize) -> Result<Source, Looked> {
        let file = &self.files[i];
        let bytes = std::fs::read(&file.abs)
            .map_err(|e| self.skipped(i, "read-error", format!("cannot read: {e}")))?;
        let hash = content_hash(&bytes);
        let text = String::from_utf8(bytes).map_err(|e| {
            self.skipped(
                i,
                "not-utf8",
                format!(
                    "skipped: not valid UTF-8 (invalid byte at offset {}); loopguard reads UTF-8 sources only",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        Ok((text, hash))
    }

    fn lower(&self, i: usize, text: &str) -> FileFacts {
        lower_file(&self.files[i], &self.infos[i], text)
    }
}

/// Lowers one file with its front end, `noqa` comments included.
pub(crate) fn lower_file(file: &SourceFile, info: &ModuleInfo, text: &str) -> FileFacts {
    let mut facts = match file.language {
        Language::Python => loopguard_python::lower(&file.rel, &info.name, info.is_init, text),
        // The engine's workers have the stack the Rust lowering needs (see `check`);
        // elsewhere the front end starts a thread of its own.
        Language::Rust if BIG_STACK.with(|b| b.get()) => {
            loopguard_rust::lower_on_big_stack(&file.rel, &info.name, text, info.edition)
        }
        Language::Rust => loopguard_rust::lower(&file.rel, &info.name, text, info.edition),
    };
    facts.suppressions = loopguard_core::suppression::scan(text);
    facts
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
) -> (Vec<(usize, Looked)>, usize) {
    // Stat in parallel; decide hits against the cache index.
    let stats: Vec<(usize, Result<StatKey, Looked>)> =
        batch.par_iter().map(|&i| (i, work.stat(i))).collect();
    let mut out = Vec::with_capacity(batch.len());
    let mut misses = Vec::new();
    let mut stat_of: HashMap<usize, StatKey> = HashMap::default();
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
            Some(e) if !e.may_have_roots && !always => out.push((i, Looked::NoAsync)),
            Some(e) if e.parsed => match cache.as_deref_mut().and_then(|c| c.take_facts(rel)) {
                Some(f) => out.push((i, Looked::Facts(Box::new(f)))),
                None => misses.push(i),
            },
            _ => misses.push(i),
        }
    }
    // Read and hash the misses in parallel; a file whose content hash matches its entry
    // (touched, or copied back) keeps its cached facts.
    let read: Vec<(usize, Result<Source, Looked>)> =
        misses.par_iter().map(|&i| (i, work.read(i))).collect();
    let mut to_parse: Vec<(usize, String, [u8; 32], bool)> = Vec::new();
    for (i, r) in read {
        let (text, hash) = match r {
            Ok(x) => x,
            Err(looked) => {
                if let (Some(c), Some(stat)) = (cache.as_deref_mut(), stat_of.get(&i)) {
                    c.store_skipped(&work.files[i].rel, *stat);
                }
                out.push((i, looked));
                continue;
            }
        };
        let rel = work.files[i].rel.as_str();
        let is_async = work.scan.may_have_roots(work.files[i].language, &text);
        let stat = stat_of.get(&i).copied();
        let same = cache.as_deref_mut().and_then(|c| {
            let e = c.index.entries.get(rel)?.clone();
            (e.hash == hash && work.same_module(i, &e)).then_some(e)
        });
        if !is_async && !always {
            if let (Some(c), Some(stat)) = (cache.as_deref_mut(), stat) {
                c.store(
                    rel,
                    IndexEntry {
                        stat,
                        hash,
                        may_have_roots: false,
                        parsed: same.is_some_and(|e| e.parsed),
                        module: work.infos[i].name.clone(),
                        edition: work.infos[i].edition,
                    },
                    false,
                );
            }
            out.push((i, Looked::NoAsync));
            continue;
        }
        if let Some(e) = same
            && e.parsed
            && let Some(c) = cache.as_deref_mut()
            && let Some(f) = c.take_facts(rel)
        {
            if let Some(stat) = stat {
                c.store(rel, IndexEntry { stat, ..e }, false);
            }
            out.push((i, Looked::Facts(Box::new(f))));
            continue;
        }
        to_parse.push((i, text, hash, is_async));
    }
    let parsed: Vec<(usize, FileFacts, [u8; 32], bool)> = to_parse
        .into_par_iter()
        .map(|(i, text, hash, is_async)| (i, work.lower(i, &text), hash, is_async))
        .collect();
    let parsed_now = parsed.len();
    for (i, facts, hash, may_have_roots) in parsed {
        if let (Some(c), Some(stat)) = (cache.as_deref_mut(), stat_of.get(&i)) {
            c.store(
                &work.files[i].rel,
                IndexEntry {
                    stat: *stat,
                    hash,
                    may_have_roots,
                    parsed: true,
                    module: work.infos[i].name.clone(),
                    edition: work.infos[i].edition,
                },
                true,
            );
        }
        out.push((i, Looked::Facts(Box::new(facts))));
    }
    (out, parsed_now)
}

pub fn load_project(
    files: &[SourceFile],
    infos: Vec<ModuleInfo>,
    config: &Config,
    scan: &RootScan,
    mut cache: Option<&mut Cache>,
) -> Result<Loaded, EngineError> {
    let work = Work {
        files,
        infos,
        max_size: config.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE),
        scan,
    };
    let mut by_module: HashMap<(&str, Language), Vec<usize>> = HashMap::default();
    for (i, (f, info)) in files.iter().zip(&work.infos).enumerate() {
        by_module
            .entry((info.name.as_str(), f.language))
            .or_default()
            .push(i);
    }

    if let Some(c) = cache.as_deref_mut() {
        c.preload_shards();
    }
    // Round 0: requested files, scanned; those with async code are parsed.
    let requested: Vec<usize> = (0..files.len()).filter(|&i| files[i].requested).collect();
    // Files parsed or queued for parsing. Requested files without async code are only
    // scanned in round 0, so a later round may still demand (and parse) them.
    let mut visited: HashSet<usize> = HashSet::default();
    let mut notifications = Vec::new();
    let mut parsed: Vec<(usize, FileFacts)> = Vec::new();
    let mut batch = requested.clone();
    let mut parsed_now = 0;
    let mut always = false;
    // Python: symbol-level demand (only what live functions need); Rust: module-level
    // (impl blocks of one type spread over modules, so a symbol does not name its file).
    let mut demand = demand::SymbolDemand::default();
    let mut symbols: HashMap<usize, demand::FileSymbols> = HashMap::default();
    let mut position: HashMap<usize, usize> = HashMap::default();
    let mut waiting: HashMap<usize, Vec<Box<str>>> = HashMap::default();
    while !batch.is_empty() {
        let (looked, n) = look_batch(&work, &batch, always, &mut cache);
        parsed_now += n;
        let start = parsed.len();
        for (i, l) in looked {
            match l {
                Looked::Facts(f) => {
                    visited.insert(i);
                    position.insert(i, parsed.len());
                    parsed.push((i, *f));
                }
                Looked::NoAsync => {}
                Looked::Skipped(n) => notifications.push(n),
            }
        }
        let mut next: Vec<usize> = Vec::new();
        // Symbol tables are per file: built in parallel, used in file order below.
        // Seeds too, for round 0.
        let new_symbols: Vec<Option<(demand::FileSymbols, Option<demand::Seeds>)>> = parsed
            [start..]
            .par_iter()
            .map(|(i, facts)| {
                (files[*i].language == Language::Python).then(|| {
                    let syms = demand::FileSymbols::new(facts);
                    let seeds = (!always).then(|| {
                        demand::Seeds::of(facts, &syms, work.scan.python_callback_names())
                    });
                    (syms, seeds)
                })
            })
            .collect();
        for ((i, facts), syms) in parsed[start..].iter().zip(new_symbols) {
            let lang = files[*i].language;
            match (lang, syms) {
                (Language::Python, Some((syms, seeds))) => {
                    if let Some(seeds) = seeds {
                        demand.seed(*i, seeds);
                    }
                    for path in waiting.remove(i).unwrap_or_default() {
                        demand.satisfy(*i, facts, &syms, &path);
                    }
                    symbols.insert(*i, syms);
                }
                (Language::Python, None) => {}
                (Language::Rust, _) => {
                    demand::for_each_path(facts, &mut |path| {
                        for prefix in demand::module_prefixes(path, "::") {
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
            }
        }
        // Needed Python paths: satisfy them in parsed files, or parse their modules next.
        while let Some(path) = demand.queue.pop_front() {
            let Some(&t) = demand::module_prefixes(&path, ".")
                .find_map(|prefix| by_module.get(&(prefix, Language::Python)))
                .and_then(|targets| targets.first())
            else {
                continue;
            };
            match (position.get(&t), symbols.get(&t)) {
                (Some(&at), Some(syms)) => {
                    let facts = &parsed[at].1;
                    demand.satisfy(t, facts, syms, &path);
                }
                _ => {
                    waiting.entry(t).or_default().push(path);
                    if visited.insert(t) {
                        next.push(t);
                    }
                }
            }
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
        parsed_now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan() -> RootScan {
        RootScan::new(&Catalog::builtin().unwrap())
    }

    #[test]
    fn python_files_with_async_definitions_or_blocks_are_parsed() {
        let scan = scan();
        for text in [
            "async def f(): pass",
            "class A:\n    async  def f(self): pass",
            "x = 1;async with lock: pass",
            "[x async\n    for x in aiter()]",
            "[x async \\\n for x in aiter()]",
            "[x async # why\n for x in aiter()]",
            "async\tfor x in y: pass",
        ] {
            assert!(scan.may_have_roots(Language::Python, text), "{text:?}");
        }
    }

    #[test]
    fn python_files_that_only_mention_async_are_not_parsed() {
        let scan = scan();
        for text in [
            "def f(): pass",
            "import asyncio\nasyncio.run(main())",
            "# asynchronous I/O, see async_chat\ndef f(): pass",
            "async_def = 1\nmy_async for_ = 2",
            "x.async_defer()",
            "async deferred",
            "async",
        ] {
            assert!(!scan.may_have_roots(Language::Python, text), "{text:?}");
        }
    }

    #[test]
    fn python_loop_callbacks_beside_async_code_are_parsed() {
        let scan = scan();
        // A plain def registered with the loop runs on it: a root without `async def`.
        assert!(scan.may_have_roots(
            Language::Python,
            "import asyncio\nloop = asyncio.get_event_loop()\nloop.call_soon(tick)"
        ));
        assert!(scan.may_have_roots(
            Language::Python,
            "from homeassistant.core import callback\n@callback\ndef on_event(e): hass.async_fire(e)"
        ));
        // Without any async code around, "callback" is just a word.
        assert!(!scan.may_have_roots(Language::Python, "def run(callback): callback()"));
    }

    #[test]
    fn rust_files_with_async_anywhere_are_parsed() {
        let scan = scan();
        assert!(scan.may_have_roots(Language::Rust, "fn f() { let _ = async move {}; }"));
        assert!(scan.may_have_roots(Language::Rust, "async fn f() {}"));
        assert!(!scan.may_have_roots(Language::Rust, "fn f() {}"));
    }
}
