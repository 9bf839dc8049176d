//! Reading and parsing files, demand-driven, in parallel, through the cache.

use std::path::{Path, PathBuf};

use loopguard_core::catalog::Catalog;
use loopguard_core::config::{Config, DEFAULT_MAX_FILE_SIZE};
use loopguard_core::diagnostic::{Notification, NotificationLevel};
use loopguard_core::facts::{FileFacts, Language};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::EngineError;
use crate::cache::{Cache, CachedFacts, IndexEntry, Skipped, StatKey, content_hash};
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
    /// Which files those are (sorted; only from the full load, see [`load_project`]).
    pub reparsed: Vec<usize>,
    /// Python functions whose mentions demand followed, as (file index, function) sorted.
    pub live: Vec<(usize, u32)>,
    /// The hashes of the names the facts mention (sorted), when already known: a superset
    /// kept from the last run (`None`: to be gathered from the facts).
    pub mentioned: Option<Vec<u32>>,
    /// By parsed file (as `facts`): call-site resolutions kept from the last run that
    /// still hold (see `loopguard_analysis::kept`); empty when none do.
    pub prior: loopguard_analysis::kept::Prior,
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

/// A skipped file: its notification, and what tells the cache it is still skipped (see
/// `cache::Skipped`). Boxed: skipping is rare, and the error path stays small.
type Skip<T> = Box<(Looked, Option<T>)>;

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
    /// Changed files an earlier step of the run lowered already.
    lowered: std::sync::Mutex<Lowered>,
}

/// Facts of changed files lowered by an earlier step of a run (the shifted-reuse attempt),
/// by file, with the content hash of the text they were lowered from: a later step that
/// reads the same text takes them instead of lowering it again.
pub(crate) type Lowered = HashMap<usize, ([u8; 32], FileFacts)>;

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

    /// A file's stat key, or why it is skipped (and, if it is too large, its stat key: its
    /// size alone decides, so the cache can tell it is still skipped).
    fn stat(&self, i: usize) -> Result<StatKey, Skip<StatKey>> {
        match std::fs::metadata(&self.files[i].abs) {
            Ok(m) if m.len() > self.max_size => Err(Box::new((
                self.skipped(
                    i,
                    "too-large",
                    format!(
                        "skipped: {} bytes is over the {}-byte limit (raise `max-file-size` in the config to lint it)",
                        m.len(),
                        self.max_size
                    ),
                ),
                Some(StatKey::of(&m)),
            ))),
            Ok(m) => Ok(StatKey::of(&m)),
            Err(e) => Err(Box::new((
                self.skipped(i, "read-error", format!("cannot read: {e}")),
                None,
            ))),
        }
    }

    /// Reads a file: its text and content hash, or why it is skipped (and, if it was read,
    /// its content hash: the same bytes are skipped with the same notification).
    fn read(&self, i: usize) -> Result<Source, Skip<[u8; 32]>> {
        let file = &self.files[i];
        let bytes = std::fs::read(&file.abs).map_err(|e| {
            Box::new((
                self.skipped(i, "read-error", format!("cannot read: {e}")),
                None,
            ))
        })?;
        let hash = content_hash(&bytes);
        let text = String::from_utf8(bytes).map_err(|e| {
            let looked = self.skipped(
                i,
                "not-utf8",
                format!(
                    "skipped: not valid UTF-8 (invalid byte at offset {}); loopguard reads UTF-8 sources only",
                    e.utf8_error().valid_up_to()
                ),
            );
            Box::new((looked, Some(hash)))
        })?;
        Ok((text, hash))
    }

    /// File `i`'s facts from `text` (whose content hash is `hash`), see [`lower_again`].
    fn lower(&self, i: usize, text: &str, hash: &[u8; 32]) -> FileFacts {
        // Out of the lock before lowering (a guard in the `match` would be held to its end
        // and make the workers lower one file at a time).
        let earlier = locked(&self.lowered).remove(&i);
        lower_again(earlier, &self.files[i], &self.infos[i], text, hash)
    }
}

/// Lowers one file with its front end, `noqa` comments included.
/// A file's facts from `text` (whose content hash is `hash`): those an earlier step of the
/// run lowered (`earlier`, from [`Lowered`]) if they come from the same text under the same
/// module name and edition, else lowered now.
pub(crate) fn lower_again(
    earlier: Option<([u8; 32], FileFacts)>,
    file: &SourceFile,
    info: &ModuleInfo,
    text: &str,
    hash: &[u8; 32],
) -> FileFacts {
    match earlier {
        Some((h, facts))
            if h == *hash && facts.module == info.name && facts.edition == info.edition =>
        {
            facts
        }
        _ => lower_file(file, info, text),
    }
}

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
    let mut rs = RustModules::for_files(files);
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

/// The cache, shared by the look tasks (lookups and stores are short; parsing happens
/// outside the lock).
type SharedCache<'c> = std::sync::Mutex<Option<&'c mut Cache>>;

fn locked<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock means a task panicked; the scope re-raises that panic when it ends,
    // so this state never reaches the results. Carry on instead of panicking twice.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Looks at file `i`, using the cache where the stat key (or, when that changed, the
/// content hash) matches. `always`: parse even without async code (demanded). Returns
/// what was found and whether the file was parsed now.
fn look_one(work: &Work, i: usize, always: bool, cache: &SharedCache) -> (Looked, bool) {
    let stat = match work.stat(i) {
        Ok(s) => s,
        Err(skip) => {
            let (looked, stat) = *skip;
            if let (Some(stat), Some(c)) = (stat, locked(cache).as_deref_mut()) {
                c.store_skipped(work.files[i].rel.as_str(), Skipped { stat, hash: None });
            }
            return (looked, false);
        }
    };
    let rel = work.files[i].rel.as_str();
    let mut cached = None;
    if let Some(c) = locked(cache).as_deref_mut()
        && let Some(e) = c.index.entries.get(rel).filter(|e| e.stat == stat)
    {
        if !e.may_have_roots && !always {
            return (Looked::NoAsync, false);
        }
        if e.parsed {
            cached = c.take_facts(rel);
        }
    }
    // Decoded outside the lock.
    if let Some(facts) = cached.and_then(|f| decoded(f, rel, cache)) {
        return (Looked::Facts(Box::new(facts)), false);
    }
    // Not known by its stat key: read and hash it; a file whose content hash matches its
    // entry (touched, or copied back) keeps its cached facts.
    let (text, hash) = match work.read(i) {
        Ok(x) => x,
        Err(skip) => {
            let (looked, hash) = *skip;
            if let Some(c) = locked(cache).as_deref_mut() {
                c.store_skipped(rel, Skipped { stat, hash });
            }
            return (looked, false);
        }
    };
    let may_have_roots = work.scan.may_have_roots(work.files[i].language, &text);
    let entry = |parsed| IndexEntry {
        stat,
        hash,
        may_have_roots,
        parsed,
        module: work.infos[i].name.clone(),
        edition: work.infos[i].edition,
    };
    let mut cached = None;
    {
        let mut guard = locked(cache);
        let c = guard.as_deref_mut();
        let same = c.as_ref().and_then(|c| {
            c.index
                .entries
                .get(rel)
                .filter(|e| e.hash == hash && work.same_module(i, e))
                .cloned()
        });
        if !may_have_roots && !always {
            if let Some(c) = c {
                c.store(rel, entry(same.is_some_and(|e| e.parsed)), false);
            }
            return (Looked::NoAsync, false);
        }
        if let (Some(c), Some(e)) = (c, same)
            && e.parsed
        {
            cached = c.take_facts(rel);
            if cached.is_some() {
                c.store(rel, IndexEntry { stat, ..e }, false);
            }
        }
    }
    if let Some(facts) = cached.and_then(|f| decoded(f, rel, cache)) {
        return (Looked::Facts(Box::new(facts)), false);
    }
    // Parsed outside the lock.
    let facts = work.lower(i, &text, &hash);
    if let Some(c) = locked(cache).as_deref_mut() {
        c.store(rel, entry(true), true);
    }
    (Looked::Facts(Box::new(facts)), true)
}

/// Cached facts, decoded; `None` (noted in the cache) if they do not decode, and the file
/// is parsed again.
fn decoded(cached: CachedFacts, rel: &str, cache: &SharedCache) -> Option<FileFacts> {
    match cached.decode() {
        Ok(f) => Some(f),
        Err(what) => {
            if let Some(c) = locked(cache).as_deref_mut() {
                c.damaged(rel, &what);
            }
            None
        }
    }
}

/// Where a file is in the load.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    NotLooked,
    /// A first-round look (parse only if it may hold roots) is queued or running.
    /// `demanded`: demand reached the file meanwhile, so if that look finds no async code
    /// the file is looked at again and parsed.
    FirstLook {
        demanded: bool,
    },
    /// A look that parses whatever it finds (demand reached the file) is queued or running.
    DemandedLook,
    Parsed,
    NoAsync,
    Skipped,
}

/// What the look tasks share: the facts found so far and the demand bookkeeping.
struct LoadState {
    status: Vec<Status>,
    /// By file index: the facts of each parsed file.
    facts: Vec<Option<FileFacts>>,
    notifications: Vec<Notification>,
    /// Files parsed in this run (not served from the cache).
    reparsed: Vec<usize>,
    // Python: symbol-level demand (only what live functions need); Rust: module-level
    // (impl blocks of one type spread over modules, so a symbol does not name its file).
    demand: demand::SymbolDemand,
    symbols: HashMap<usize, demand::FileSymbols>,
    /// Needed paths of files being looked at, satisfied when their facts arrive.
    waiting: HashMap<usize, Vec<Box<str>>>,
}

impl LoadState {
    /// Demand reached file `t`: whether a look task must be started for it now.
    fn demand_file(&mut self, t: usize) -> bool {
        match self.status[t] {
            Status::NotLooked | Status::NoAsync => {
                self.status[t] = Status::DemandedLook;
                true
            }
            Status::FirstLook { .. } => {
                self.status[t] = Status::FirstLook { demanded: true };
                false
            }
            Status::DemandedLook | Status::Parsed | Status::Skipped => false,
        }
    }

    /// Takes in what a look task found for file `i` (a Python file's symbol table with it;
    /// its seeds, if any, are in already); returns the files to look at next.
    fn take_in(
        &mut self,
        work: &Work,
        by_module: &HashMap<(&str, Language), Vec<usize>>,
        i: usize,
        looked: Looked,
        symbols: Option<demand::FileSymbols>,
        parsed_now: bool,
    ) -> Vec<usize> {
        let mut next = Vec::new();
        if parsed_now {
            self.reparsed.push(i);
        }
        let facts = match looked {
            Looked::Facts(f) => f,
            Looked::NoAsync => {
                if self.status[i] == (Status::FirstLook { demanded: true }) {
                    self.status[i] = Status::DemandedLook;
                    next.push(i);
                } else {
                    self.status[i] = Status::NoAsync;
                }
                return next;
            }
            Looked::Skipped(n) => {
                self.notifications.push(n);
                self.status[i] = Status::Skipped;
                return next;
            }
        };
        self.status[i] = Status::Parsed;
        let lang = work.files[i].language;
        match (lang, symbols) {
            (Language::Python, Some(syms)) => {
                for path in self.waiting.remove(&i).unwrap_or_default() {
                    self.demand.satisfy(i, &facts, &syms, &path);
                }
                self.symbols.insert(i, syms);
            }
            (Language::Python, None) => {}
            (Language::Rust, _) => {
                demand::for_each_path(&facts, &mut |path| {
                    for prefix in demand::module_prefixes(path, "::") {
                        if let Some(targets) = by_module.get(&(prefix, lang)) {
                            for &t in targets {
                                if self.demand_file(t) {
                                    next.push(t);
                                }
                            }
                            break;
                        }
                    }
                });
            }
        }
        self.facts[i] = Some(*facts);
        // Needed Python paths: satisfy them in parsed files, or look at their modules.
        while let Some(path) = self.demand.queue.pop_front() {
            let Some(&t) = demand::module_prefixes(&path, ".")
                .find_map(|prefix| by_module.get(&(prefix, Language::Python)))
                .and_then(|targets| targets.first())
            else {
                continue;
            };
            match (&self.facts[t], self.symbols.get(&t)) {
                (Some(facts), Some(syms)) => {
                    self.demand.satisfy(t, facts, syms, &path);
                }
                _ => {
                    self.waiting.entry(t).or_default().push(path);
                    if self.demand_file(t) {
                        next.push(t);
                    }
                }
            }
        }
        next
    }
}

/// Looks at file `i` on a worker, takes the result in, and starts tasks for the files its
/// demand reaches. There are no rounds: a demanded file starts as soon as it is known, so
/// no worker waits for the slowest file of a round.
fn look_task<'s, 'a: 's>(scope: &rayon::Scope<'s>, shared: &'s Shared<'a>, i: usize, always: bool) {
    let work = shared.work;
    let (looked, parsed_now) = look_one(work, i, always, &shared.cache);
    let next = match looked {
        Looked::Facts(facts) if work.files[i].language == Language::Python => {
            // Per-file demand work, outside the lock.
            let syms = demand::FileSymbols::new(&facts);
            let seeds = (!always)
                .then(|| demand::Seeds::of(&facts, &syms, work.scan.python_callback_names()));
            let mut state = locked(&shared.state);
            if let Some(seeds) = seeds {
                state.demand.seed(i, seeds);
            }
            let looked = Looked::Facts(facts);
            state.take_in(work, &shared.by_module, i, looked, Some(syms), parsed_now)
        }
        looked => {
            locked(&shared.state).take_in(work, &shared.by_module, i, looked, None, parsed_now)
        }
    };
    for t in next {
        scope.spawn(move |s| look_task(s, shared, t, true));
    }
}

struct Shared<'a> {
    work: &'a Work<'a>,
    by_module: HashMap<(&'a str, Language), Vec<usize>>,
    cache: SharedCache<'a>,
    state: std::sync::Mutex<LoadState>,
}

/// The files of each module name, by language (a module may have several: `pkg.py` beside
/// `pkg/__init__.py`; the first wins).
pub fn module_map<'a>(
    files: &[SourceFile],
    infos: &'a [ModuleInfo],
) -> HashMap<(&'a str, Language), Vec<usize>> {
    let mut by_module: HashMap<(&str, Language), Vec<usize>> = HashMap::default();
    for (i, (f, info)) in files.iter().zip(infos).enumerate() {
        by_module
            .entry((info.name.as_str(), f.language))
            .or_default()
            .push(i);
    }
    by_module
}

/// Whether Python demand can follow `path`: some prefix of it names a module of the
/// project (demand drops any other path, see `LoadState::take_in`).
pub fn followed_by_demand(by_module: &HashMap<(&str, Language), Vec<usize>>, path: &str) -> bool {
    demand::module_prefixes(path, ".")
        .any(|prefix| by_module.contains_key(&(prefix, Language::Python)))
}

/// The proper prefixes of the module names `all` that are not in it: packages without a
/// file of their own.
pub fn packages_of<'m>(all: impl Iterator<Item = &'m str> + Clone) -> HashSet<String> {
    let known: HashSet<&str> = all.clone().collect();
    let mut packages = HashSet::default();
    for module in all {
        for prefix in demand::module_prefixes(module, ".").skip(1) {
            if known.contains(prefix) {
                // Its own prefixes were met when it was.
                break;
            }
            if !packages.insert(prefix.to_owned()) {
                break;
            }
        }
    }
    packages
}

pub fn load_project(
    files: &[SourceFile],
    infos: Vec<ModuleInfo>,
    config: &Config,
    scan: &RootScan,
    cache: Option<&mut Cache>,
) -> Result<Loaded, EngineError> {
    load_project_with(files, infos, config, scan, cache, Lowered::default())
}

/// [`load_project`], taking the facts of changed files from `lowered` where they were
/// lowered from the text the load reads.
pub(crate) fn load_project_with(
    files: &[SourceFile],
    infos: Vec<ModuleInfo>,
    config: &Config,
    scan: &RootScan,
    mut cache: Option<&mut Cache>,
    lowered: Lowered,
) -> Result<Loaded, EngineError> {
    let work = Work {
        files,
        infos,
        max_size: config.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE),
        scan,
        lowered: std::sync::Mutex::new(lowered),
    };
    let by_module = module_map(files, &work.infos);
    if let Some(c) = cache.as_deref_mut() {
        c.preload_shards();
    }
    // First round: requested files, scanned; those that may hold roots are parsed. A
    // requested file without is only scanned, so demand may still reach (and parse) it.
    let requested: Vec<usize> = (0..files.len()).filter(|&i| files[i].requested).collect();
    let mut status = vec![Status::NotLooked; files.len()];
    for &i in &requested {
        status[i] = Status::FirstLook { demanded: false };
    }
    let shared = Shared {
        work: &work,
        by_module,
        cache: std::sync::Mutex::new(cache),
        state: std::sync::Mutex::new(LoadState {
            facts: std::iter::repeat_with(|| None).take(status.len()).collect(),
            status,
            notifications: Vec::new(),
            reparsed: Vec::new(),
            demand: demand::SymbolDemand::default(),
            symbols: HashMap::default(),
            waiting: HashMap::default(),
        }),
    };
    rayon::scope(|s| {
        let shared = &shared;
        for &i in &requested {
            s.spawn(move |s| look_task(s, shared, i, false));
        }
    });
    let state = shared
        .state
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let live = state.demand.live_functions();
    let mut reparsed = state.reparsed;
    reparsed.sort_unstable();
    // The demand's tables (a map of names per parsed file) are not needed any more.
    crate::drop_in_background((state.symbols, state.demand, state.waiting));
    Ok(Loaded {
        facts: (state.facts.into_iter().enumerate())
            .filter_map(|(i, f)| Some((i, f?)))
            .collect(),
        notifications: state.notifications,
        requested_scanned: requested.len(),
        parsed_now: reparsed.len(),
        reparsed,
        live,
        mentioned: None,
        prior: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_the_prefixes_no_file_goes_by() {
        let modules = ["a", "a.b.c", "a.b.d", "ns.tools", "ns.more.x"];
        let mut got: Vec<String> = packages_of(modules.into_iter()).into_iter().collect();
        got.sort();
        assert_eq!(got, ["a.b", "ns", "ns.more"]);
    }

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
