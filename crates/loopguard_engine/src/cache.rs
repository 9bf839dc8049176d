//! The persistent cache in `.loopguard_cache/` (like `.ruff_cache`).
//!
//! Three files, each written atomically (temp file + rename), so two runs at once never
//! corrupt them (the last one to finish wins) and an interrupted run leaves the old file:
//! - `index-<key>.bin`: per file, its stat key (size, mtime), content hash and whether it
//!   has async code; plus the key of the last run's results. Small: read on every run.
//!   For the [`PREVIOUS_KEPT`] files changed most recently, also the entry before the
//!   change (its facts stay in the shard beside the new ones): a run of other settings
//!   that parsed the change first does not hide it from this run's (see [`Previous`]).
//! - `facts-<key>-<shard>.bin`: the facts of every parsed file, in 16 shards by path, read
//!   only when something changed, each file's facts decoded only when a run takes them; a
//!   run rewrites only the shards whose files changed.
//! - `results.<run>-<key>.bin`: a run's findings before filtering, valid while every file it
//!   depended on is unchanged and the config, catalog and settings are the same;
//!   `resolutions.<run>-<key>.bin` beside it: its call sites' resolutions. `<run>` hashes
//!   the run's settings (the paths named, the config): the last run of each of the
//!   [`RUNS`] settings used most recently is kept, so that a pre-commit hook, which names
//!   the staged files, and a check of the whole tree do not evict each other's results.
//!
//! `<key>` hashes the loopguard version and build, the facts and lowering versions and the
//! config that shapes facts (`src`), so a new version or such a config change starts a fresh
//! cache (old files of other keys are removed when a new one is written). A file that is
//! corrupt, truncated or foreign is ignored (with a notification) and rebuilt: the cache can
//! make a run faster, never wrong.

use rustc_hash::FxHashMap as HashMap;
use std::path::{Path, PathBuf};

use loopguard_core::catalog::Fnv64;
use loopguard_core::diagnostic::{Notification, NotificationLevel};
use loopguard_core::facts::{FACTS_VERSION, FileFacts};
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const MAGIC: &str = "loopguard-cache";
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by loopguard.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// How a file looked when its entry was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatKey {
    pub size: u64,
    pub mtime_secs: i64,
    pub mtime_nanos: u32,
}

impl StatKey {
    pub fn of(meta: &std::fs::Metadata) -> StatKey {
        let (secs, nanos) = match meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        {
            Some(d) => (d.as_secs() as i64, d.subsec_nanos()),
            None => (0, 0),
        };
        StatKey {
            size: meta.len(),
            mtime_secs: secs,
            mtime_nanos: nanos,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexEntry {
    pub stat: StatKey,
    pub hash: [u8; 32],
    /// The first round parses it (see `load::RootScan`).
    pub may_have_roots: bool,
    /// Parsed (its facts are in the facts file).
    pub parsed: bool,
    /// Module name and edition the facts were lowered with: adding an `__init__.py` above a
    /// file, or changing a crate's edition, renames or re-reads it although it is unchanged.
    pub module: String,
    pub edition: Option<u16>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Index {
    pub magic: String,
    pub entries: HashMap<String, IndexEntry>,
    /// The settings of the run the three fields below are about (see [`Cache::select_run`]).
    pub settings: Option<u64>,
    /// Key of the stored results (file contents and settings they depend on).
    pub results_key: Option<u64>,
    /// Files parsed by the last run (the demand closure), for the results fast path.
    pub last_parsed: Vec<String>,
    /// Files that could not be used (too large, not UTF-8, unreadable), so that an unchanged
    /// one does not defeat the results cache (its notification is in the results).
    pub skipped: HashMap<String, Skipped>,
    /// The kept call-site resolutions of the files of `last_parsed` (`None`: none).
    pub kept: Option<KeptState>,
    /// The last runs of other settings, the most recent first (at most [`RUNS`] - 1).
    pub other_runs: Vec<Run>,
    /// How many times the index was saved: the number a run's results and a file's
    /// change are stamped with (see [`Previous`]).
    pub saves: u64,
    /// The save the stored results of the selected run were written at.
    pub results_at: u64,
    /// Files whose content changed, with their entry before it changed (their facts are
    /// kept beside theirs in the shard), at most [`PREVIOUS_KEPT`].
    pub previous: HashMap<String, Previous>,
}

/// A file's entry before its content last changed, and when it changed. When a run of other
/// settings (a pre-commit hook naming the edited file) has parsed an edit, the results of
/// this run's settings are about the file as it was: with its old entry and facts the run
/// sees the edit as its own and takes the edit paths (see [`Cache::roll_back`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Previous {
    pub entry: IndexEntry,
    /// The save whose run changed the entry ([`Index::saves`] then).
    pub changed_at: u64,
}

/// How many files keep their entry and facts from before their last change.
pub const PREVIOUS_KEPT: usize = 64;

/// Appended to a file's path to name where its facts from before its last change are kept
/// in its shard (a path never holds a NUL).
const PREVIOUS_SUFFIX: &str = "\0previous";

fn previous_slot(rel: &str) -> String {
    format!("{rel}{PREVIOUS_SUFFIX}")
}

/// The file a shard key holds facts of: its own, or its previous ones.
fn file_of_slot(key: &str) -> &str {
    key.strip_suffix(PREVIOUS_SUFFIX).unwrap_or(key)
}

/// How many runs of different settings the cache keeps results for.
pub const RUNS: usize = 4;

/// What the cache knows of the last run of some settings (as in [`Index`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub settings: u64,
    pub results_key: Option<u64>,
    pub last_parsed: Vec<String>,
    pub kept: Option<KeptState>,
    pub results_at: u64,
}

/// What the kept call-site resolutions (`resolutions.*.bin`, see
/// `loopguard_analysis::kept`) still say: the last analysing run wrote them under `key`,
/// and the runs that reused its results since (shifts) recorded what no longer holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KeptState {
    pub key: u64,
    /// Files (places in `last_parsed`) whose kept resolutions no longer hold.
    pub dropped: Vec<u32>,
    /// Files (places in `last_parsed`) that number their functions anew: by the number the
    /// kept resolutions use, the number now (`None`: removed).
    pub renumbered: Vec<(u32, Vec<Option<u32>>)>,
    /// Files (places in `last_parsed`, sorted) whose kept resolutions a shift carried over
    /// to their new facts: these replace the ones in the resolutions file.
    pub carried: Vec<(u32, loopguard_analysis::kept::KeptFile)>,
}

/// A file that could not be used, as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub stat: StatKey,
    /// The content hash of a file that was read (not UTF-8): the same bytes give the same
    /// notification. `None` for a file over the size limit (its size alone decides) or one
    /// that could not be read.
    pub hash: Option<[u8; 32]>,
}

/// A facts shard as stored: per file, its facts' own postcard bytes, so that a run decodes
/// only the facts it needs (a run on a few files of a big tree needs few of them).
#[derive(Deserialize)]
struct FactsFile<'a> {
    magic: &'a str,
    #[serde(borrow)]
    facts: HashMap<String, &'a [u8]>,
}

/// [`FactsFile`] for writing: the same bytes.
#[derive(Serialize)]
struct FactsFileOut<'a> {
    magic: &'a str,
    #[serde(serialize_with = "bytes_map")]
    facts: Vec<(&'a str, &'a Stored)>,
}

/// Serializes the pairs as a map of byte strings (a `[u8]` would serialize element by
/// element), which [`FactsFile`] reads back borrowed. Facts decoded in this run are encoded
/// one file at a time as the map is written, so a shard's files are never all held twice.
fn bytes_map<S: serde::Serializer>(facts: &[(&str, &Stored)], s: S) -> Result<S::Ok, S::Error> {
    struct Bytes<'b>(&'b Stored);
    impl Serialize for Bytes<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self.0 {
                Stored::Decoded(f) => match postcard::to_allocvec(f) {
                    Ok(bytes) => s.serialize_bytes(&bytes),
                    Err(e) => Err(serde::ser::Error::custom(e)),
                },
                // Facts never decoded in this run are written back as they were read.
                encoded => s.serialize_bytes(encoded.bytes().unwrap_or(&[])),
            }
        }
    }
    s.collect_map(facts.iter().map(|(k, v)| (*k, Bytes(v))))
}

/// A shard as read: its files and their facts; `Ok(None)` when there is no such file,
/// `Err` (what is wrong with it) when it cannot be used.
type ShardRead = Result<Option<HashMap<String, Stored>>, String>;

/// A file's facts in a loaded shard: where their bytes are in the shard as read (shared,
/// not copied), or decoded.
enum Stored {
    Encoded(std::sync::Arc<ShardBytes>, std::ops::Range<usize>),
    Decoded(FileFacts),
}

impl Stored {
    /// Another handle on encoded facts (the shard's bytes are shared, not copied).
    fn encoded_copy(&self) -> Option<Stored> {
        match self {
            Stored::Encoded(shard, range) => Some(Stored::Encoded(shard.clone(), range.clone())),
            Stored::Decoded(_) => None,
        }
    }

    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Stored::Encoded(shard, range) => shard.get(range.clone()),
            Stored::Decoded(_) => None,
        }
    }
}

/// A file's facts taken out of the cache; decoding them (which may fail on a damaged
/// shard) is left to the caller, so that it happens outside any lock and in parallel.
pub struct CachedFacts(Stored);

impl CachedFacts {
    pub fn decode(self) -> Result<FileFacts, String> {
        match self.0 {
            Stored::Decoded(f) => Ok(f),
            Stored::Encoded(shard, range) => shard
                .get(range)
                .and_then(|b| postcard::from_bytes(b).ok())
                .ok_or_else(|| "holds facts that are corrupt or truncated".to_owned()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ResultsFile<T> {
    magic: String,
    key: u64,
    value: T,
}

/// Facts are stored in this many files, by a hash of the path.
const SHARDS: usize = 16;

pub struct Cache {
    dir: PathBuf,
    key: String,
    pub index: Index,
    /// Loaded facts shards (`None`: not read yet).
    shards: Vec<Option<HashMap<String, Stored>>>,
    /// Shards whose contents changed (must be rewritten).
    dirty_shards: [bool; SHARDS],
    pub notifications: Vec<Notification>,
    dirty: bool,
    /// The encoded facts of changed files taken out this run to compare (see
    /// [`Cache::take_old_facts`]), for [`Cache::store`] to keep as their previous facts.
    taken: HashMap<String, Stored>,
}

fn shard_name(i: usize) -> String {
    format!("facts-{i:02}")
}

fn shard_of(rel: &str) -> usize {
    let mut h = Fnv64::default();
    h.write(rel.as_bytes());
    (h.finish() % SHARDS as u64) as usize
}

/// Hash of everything besides file contents that the stored results depend on.
pub fn settings_key(parts: &[&[u8]]) -> u64 {
    let mut h = Fnv64::default();
    for p in parts {
        h.write(&(p.len() as u64).to_le_bytes());
        h.write(p);
    }
    h.finish()
}

pub fn content_hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

impl Cache {
    /// Opens (or starts) the cache in `dir`. Never fails: problems become notifications
    /// and an empty cache.
    pub fn open(dir: &Path, src_config: &[String]) -> Cache {
        let mut h = Fnv64::default();
        h.write(env!("CARGO_PKG_VERSION").as_bytes());
        h.write(&FACTS_VERSION.to_le_bytes());
        h.write(&loopguard_python::LOWERING_VERSION.to_le_bytes());
        h.write(&loopguard_rust::LOWERING_VERSION.to_le_bytes());
        // The build's sources (see build.rs): a loopguard built again from the same
        // sources (CI installs it every run) reads this cache; a changed build never does.
        h.write(env!("LOOPGUARD_BUILD_ID").as_bytes());
        for s in src_config {
            h.write(s.as_bytes());
            h.write(&[0]);
        }
        let key = format!("{:016x}", h.finish());
        let mut cache = Cache {
            dir: dir.to_path_buf(),
            key,
            index: Index::default(),
            shards: (0..SHARDS).map(|_| None).collect(),
            dirty_shards: [false; SHARDS],
            notifications: Vec::new(),
            dirty: false,
            taken: HashMap::default(),
        };
        if let Some(index) = cache.read::<Index>("index") {
            if index.magic == MAGIC {
                cache.index = index;
            } else {
                cache.note("index", "has a foreign format");
            }
        }
        cache
    }

    fn path(&self, kind: &str) -> PathBuf {
        match kind.strip_prefix("facts-") {
            Some(shard) => self.dir.join(format!("facts-{}-{shard}.bin", self.key)),
            None => self.dir.join(format!("{kind}-{}.bin", self.key)),
        }
    }

    fn note(&mut self, kind: &str, what: &str) {
        self.notifications.push(Notification {
            level: NotificationLevel::Note,
            kind: "cache".into(),
            path: None,
            span: None,
            message: format!(
                "cache file {} {what}; it was ignored and will be rebuilt",
                self.path(kind).display()
            ),
        });
    }

    fn read<T: DeserializeOwned>(&mut self, kind: &str) -> Option<T> {
        match read_file(&self.path(kind)) {
            Ok(v) => v,
            Err(what) => {
                self.note(kind, &what);
                None
            }
        }
    }

    fn shard(&mut self, i: usize) -> &mut HashMap<String, Stored> {
        if self.shards[i].is_none() {
            let name = shard_name(i);
            let read = read_shard(&self.path(&name));
            let map = self.accept_shard(&name, read);
            self.shards[i] = Some(map);
        }
        self.shards[i].get_or_insert_with(HashMap::default)
    }

    fn accept_shard(&mut self, name: &str, read: ShardRead) -> HashMap<String, Stored> {
        match read {
            Ok(Some(map)) => map,
            Ok(None) => HashMap::default(),
            Err(what) => {
                self.note(name, &what);
                HashMap::default()
            }
        }
    }

    /// Notes that a file's cached facts did not decode; they are parsed again.
    pub fn damaged(&mut self, rel: &str, what: &str) {
        self.note(&shard_name(shard_of(rel)), what);
    }

    /// Reads every facts shard not read yet, in parallel: a run that re-parses a few files
    /// needs the facts of nearly all others, and reading shards one by one as files ask
    /// for them was serial.
    pub fn preload_shards(&mut self) {
        if self.index.entries.is_empty() {
            return;
        }
        let missing: Vec<usize> = (0..SHARDS).filter(|&i| self.shards[i].is_none()).collect();
        let read: Vec<(usize, ShardRead)> = missing
            .par_iter()
            .map(|&i| (i, read_shard(&self.path(&shard_name(i)))))
            .collect();
        for (i, r) in read {
            let map = self.accept_shard(&shard_name(i), r);
            self.shards[i] = Some(map);
        }
    }

    /// Takes the cached facts of a file out of the cache (no copy); [`Cache::restore`] puts
    /// them back after the analysis.
    pub fn take_facts(&mut self, rel: &str) -> Option<CachedFacts> {
        self.shard(shard_of(rel)).remove(rel).map(CachedFacts)
    }

    /// [`Cache::take_facts`] for a file whose content changed, taken to compare with its new
    /// facts: a handle on them stays, so that storing the new entry keeps them as the
    /// file's [`Previous`]. Only for these: a run also takes every unchanged file's facts,
    /// and a handle on each of those would be work for nothing.
    pub fn take_old_facts(&mut self, rel: &str) -> Option<CachedFacts> {
        let stored = self.shard(shard_of(rel)).remove(rel)?;
        if let Some(copy) = stored.encoded_copy() {
            self.taken.insert(rel.to_string(), copy);
        }
        Some(CachedFacts(stored))
    }

    /// Puts facts taken with [`Cache::take_facts`] back as they were, still undecoded.
    pub fn put_back(&mut self, rel: &str, facts: CachedFacts) {
        self.shard(shard_of(rel)).insert(rel.to_string(), facts.0);
    }

    /// Puts facts back: taken ones unchanged, new ones (parsed this run, see `store`) as a
    /// change of their shard.
    pub fn restore(&mut self, rel: &str, facts: FileFacts) {
        self.shard(shard_of(rel))
            .insert(rel.to_string(), Stored::Decoded(facts));
    }

    /// Remembers that a file could not be used, as it was (stat key).
    pub fn store_skipped(&mut self, rel: &str, skipped: Skipped) {
        if self.index.skipped.get(rel) != Some(&skipped) {
            self.index.skipped.insert(rel.to_string(), skipped);
            self.dirty = true;
        }
    }

    /// Records a file's entry; `parsed_now`: its facts were parsed in this run (they are
    /// handed over with [`Cache::restore`] and rewrite their shard).
    /// An entry whose content hash differs from the file's last one keeps that one, and
    /// its facts, as the file's [`Previous`].
    pub fn store(&mut self, rel: &str, entry: IndexEntry, parsed_now: bool) {
        if parsed_now {
            self.dirty_shards[shard_of(rel)] = true;
        }
        if let Some(old) = self.index.entries.get(rel)
            && old.hash != entry.hash
        {
            let old = old.clone();
            self.keep_previous(rel, old);
        }
        self.index.entries.insert(rel.to_string(), entry);
        self.dirty = true;
    }

    /// Keeps `old`, the entry of `rel` before its content changed, and its facts (still in
    /// the shard, or taken out this run); forgets any earlier one if those facts are gone.
    fn keep_previous(&mut self, rel: &str, old: IndexEntry) {
        let shard = shard_of(rel);
        let slot = previous_slot(rel);
        let facts = if old.parsed {
            let in_shard = self.shard(shard).get(rel).and_then(Stored::encoded_copy);
            match in_shard.or_else(|| self.taken.remove(rel)) {
                Some(facts) => Some(facts),
                None => {
                    self.index.previous.remove(rel);
                    self.shard(shard).remove(&slot);
                    return;
                }
            }
        } else {
            None
        };
        let map = self.shard(shard);
        match facts {
            Some(facts) => map.insert(slot, facts),
            None => map.remove(&slot),
        };
        self.dirty_shards[shard] = true;
        let changed_at = self.index.saves;
        (self.index.previous).insert(
            rel.to_string(),
            Previous {
                entry: old,
                changed_at,
            },
        );
    }

    /// Whether every one of `rels` has a [`Previous`] with its facts kept, if it had any.
    fn has_previous(&mut self, rels: &[&str]) -> bool {
        rels.iter().all(|rel| match self.index.previous.get(*rel) {
            Some(p) if p.entry.parsed => {
                let slot = previous_slot(rel);
                self.shard(shard_of(rel)).contains_key(&slot)
            }
            Some(_) => true,
            None => false,
        })
    }

    /// Puts back the entry and facts each of `rels` had before its last change, so that a
    /// run whose stored results are about them sees the change as its own: it compares the
    /// file with those facts and takes the edit paths. The run parses the file again (its
    /// entry no longer matches it), and [`Cache::store`] keeps them as previous once more.
    /// `false`, and nothing put back, unless every one of `rels` has its previous entry and
    /// facts.
    pub fn roll_back(&mut self, rels: &[&str]) -> bool {
        if !self.has_previous(rels) {
            return false;
        }
        for &rel in rels {
            let Some(previous) = self.index.previous.remove(rel) else {
                continue;
            };
            let shard = shard_of(rel);
            let map = self.shard(shard);
            match map.remove(&previous_slot(rel)) {
                Some(facts) => map.insert(rel.to_string(), facts),
                None => map.remove(rel),
            };
            self.dirty_shards[shard] = true;
            self.taken.remove(rel);
            self.index.entries.insert(rel.to_string(), previous.entry);
            self.dirty = true;
        }
        true
    }

    /// Forgets the oldest previous entries beyond [`PREVIOUS_KEPT`].
    fn bound_previous(&mut self) {
        if self.index.previous.len() <= PREVIOUS_KEPT {
            return;
        }
        let mut by_age: Vec<(u64, String)> = (self.index.previous.iter())
            .map(|(rel, p)| (p.changed_at, rel.clone()))
            .collect();
        by_age.sort_unstable();
        let extra = by_age.len() - PREVIOUS_KEPT;
        for (_, rel) in by_age.into_iter().take(extra) {
            self.index.previous.remove(&rel);
            let shard = shard_of(&rel);
            if self.shard(shard).remove(&previous_slot(&rel)).is_some() {
                self.dirty_shards[shard] = true;
            }
        }
        self.dirty = true;
    }

    /// Makes the last run of these settings (see `settings_key`) the one that
    /// `results_key`, `last_parsed`, `kept` and the results and resolutions files are about,
    /// keeping the one they were about among the other runs (the [`RUNS`] most recent).
    pub fn select_run(&mut self, settings: u64) {
        let index = &mut self.index;
        if index.settings == Some(settings) {
            return;
        }
        if let Some(was) = index.settings {
            let run = Run {
                settings: was,
                results_key: index.results_key.take(),
                last_parsed: std::mem::take(&mut index.last_parsed),
                kept: index.kept.take(),
                results_at: std::mem::take(&mut index.results_at),
            };
            index.other_runs.insert(0, run);
        }
        let chosen = index.other_runs.iter().position(|r| r.settings == settings);
        if let Some(run) = chosen.map(|i| index.other_runs.remove(i)) {
            index.results_key = run.results_key;
            index.last_parsed = run.last_parsed;
            index.kept = run.kept;
            index.results_at = run.results_at;
        }
        index.other_runs.truncate(RUNS - 1);
        index.settings = Some(settings);
        // Saved with what the run changes, if anything: a run that changes nothing makes
        // the same choice from the same index next time.
    }

    /// The results and resolutions files of the selected run.
    fn run_kind(&self, kind: &str) -> String {
        match self.index.settings {
            Some(settings) => format!("{kind}.{settings:016x}"),
            None => kind.to_owned(),
        }
    }

    pub fn results<T: DeserializeOwned>(&mut self, key: u64) -> Option<T> {
        self.keyed(&self.run_kind("results"), key)
    }

    pub fn store_results<T: Serialize>(&mut self, key: u64, value: &T) {
        if self.store_keyed(&self.run_kind("results"), key, value) {
            self.index.results_key = Some(key);
            self.index.results_at = self.index.saves;
            self.dirty = true;
        }
    }

    /// The call-site resolutions kept for the results stored under `key` (see
    /// `loopguard_analysis::kept`), by file of `last_parsed`, and what no longer holds of
    /// them.
    pub fn kept_resolutions(
        &mut self,
        key: u64,
    ) -> Option<(Vec<loopguard_analysis::kept::KeptFile>, KeptState)> {
        if self.index.results_key != Some(key) {
            return None;
        }
        let mut state = self.index.kept.clone()?;
        let kind = self.run_kind("resolutions");
        let file = self.read::<ResultsFile<Vec<loopguard_analysis::kept::KeptFile>>>(&kind)?;
        if file.magic != MAGIC
            || file.key != state.key
            || file.value.len() != self.index.last_parsed.len()
        {
            return None;
        }
        let mut list = file.value;
        for (at, kf) in std::mem::take(&mut state.carried) {
            *list.get_mut(at as usize)? = kf;
        }
        Some((list, state))
    }

    /// Keeps call-site resolutions beside the results stored under `key`, by file of
    /// `last_parsed` (`None`: none are kept, and any kept before are forgotten).
    pub fn store_kept_resolutions<T: Serialize>(&mut self, key: u64, value: Option<&T>) {
        let kind = self.run_kind("resolutions");
        self.index.kept = value
            .is_some_and(|v| self.store_keyed(&kind, key, v))
            .then(|| KeptState {
                key,
                ..KeptState::default()
            });
        self.dirty = true;
    }

    /// The chains kept with the call-site resolutions (see
    /// `loopguard_analysis::chains`), by file of `last_parsed`, if the resolutions are kept
    /// for the results stored under `key`.
    pub fn kept_chains(&mut self, key: u64) -> Option<loopguard_analysis::chains::KeptChains> {
        if self.index.results_key != Some(key) {
            return None;
        }
        let state_key = self.index.kept.as_ref()?.key;
        let kind = self.run_kind("chains");
        let file = self.read::<ResultsFile<loopguard_analysis::chains::KeptChains>>(&kind)?;
        (file.magic == MAGIC && file.key == state_key).then_some(file.value)
    }

    /// Keeps the chains beside the kept resolutions (after [`Cache::store_kept_resolutions`],
    /// or after a shift moved some of their hops), under the key those were kept with.
    pub fn store_kept_chains(&mut self, chains: &loopguard_analysis::chains::KeptChains) {
        let Some(state_key) = self.index.kept.as_ref().map(|k| k.key) else {
            return;
        };
        let kind = self.run_kind("chains");
        if !self.store_keyed(&kind, state_key, chains) {
            // A file left from before would be taken for these resolutions' chains.
            let _ = std::fs::remove_file(self.path(&kind));
        }
    }

    /// Records what a reuse of the results with shifted positions changed for the kept
    /// resolutions: the files in `dropped` no longer hold theirs, and each file in
    /// `renumbered` numbers its functions anew (by the number before the shift, the one
    /// after). Each file in `carried` holds the kept resolutions given for its new facts.
    /// Places are in `last_parsed`.
    pub fn shift_kept(
        &mut self,
        dropped: &[u32],
        renumbered: &[(u32, Vec<Option<u32>>)],
        carried: Vec<(u32, loopguard_analysis::kept::KeptFile)>,
    ) {
        let Some(state) = self.index.kept.as_mut() else {
            return;
        };
        state.dropped.extend_from_slice(dropped);
        state.dropped.sort_unstable();
        state.dropped.dedup();
        state
            .carried
            .retain(|(at, _)| !dropped.contains(at) && !carried.iter().any(|(c, _)| c == at));
        for (at, kf) in carried {
            if let Ok(k) = state.dropped.binary_search(&at) {
                state.dropped.remove(k);
            }
            state.carried.push((at, kf));
        }
        state.carried.sort_unstable_by_key(|(at, _)| *at);
        for (file, then) in renumbered {
            loopguard_analysis::kept::renumber(&mut state.renumbered, *file, then);
        }
        self.dirty = true;
    }

    /// A value written under the results key `key`, if that is the key the index holds.
    fn keyed<T: DeserializeOwned>(&mut self, kind: &str, key: u64) -> Option<T> {
        if self.index.results_key != Some(key) {
            return None;
        }
        let file = self.read::<ResultsFile<T>>(kind)?;
        (file.magic == MAGIC && file.key == key).then_some(file.value)
    }

    fn store_keyed<T: Serialize>(&mut self, kind: &str, key: u64, value: &T) -> bool {
        let file = ResultsFile {
            magic: MAGIC.to_string(),
            key,
            value,
        };
        self.write(kind, &file)
    }

    fn write<T: Serialize>(&mut self, kind: &str, value: &T) -> bool {
        if let Err(e) = self.ensure_dir() {
            self.write_failed(kind, &e.to_string());
            return false;
        }
        match postcard::to_allocvec(value) {
            Ok(bytes) => match crate::atomic_write_unsynced(&self.path(kind), &bytes) {
                Ok(()) => true,
                Err(e) => {
                    self.write_failed(kind, &e.to_string());
                    false
                }
            },
            Err(e) => {
                self.write_failed(kind, &e.to_string());
                false
            }
        }
    }

    fn write_failed(&mut self, kind: &str, why: &str) {
        self.notifications.push(Notification {
            level: NotificationLevel::Note,
            kind: "cache".into(),
            path: None,
            span: None,
            message: format!(
                "cannot write cache file {} ({why}); the run is not affected",
                self.path(kind).display()
            ),
        });
    }

    fn ensure_dir(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tag = self.dir.join("CACHEDIR.TAG");
        if !tag.exists() {
            std::fs::write(tag, CACHEDIR_TAG)?;
        }
        let ignore = self.dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(ignore, "# Automatically created by loopguard.\n*\n")?;
        }
        Ok(())
    }

    /// Drops entries of files that no longer exist and writes what changed.
    pub fn save(&mut self, existing: &dyn Fn(&str) -> bool) {
        let before = self.index.entries.len() + self.index.previous.len();
        self.index.entries.retain(|k, _| existing(k));
        self.index.skipped.retain(|k, _| existing(k));
        self.index.previous.retain(|k, _| existing(k));
        self.bound_previous();
        for (i, shard) in self.shards.iter_mut().enumerate() {
            if let Some(m) = shard.as_mut() {
                let n = m.len();
                m.retain(|k, _| existing(file_of_slot(k)));
                if m.len() != n {
                    self.dirty_shards[i] = true;
                }
            }
        }
        if self.index.entries.len() + self.index.previous.len() != before {
            self.dirty = true;
        }
        if !self.dirty {
            return;
        }
        let dirty: Vec<usize> = (0..SHARDS).filter(|&i| self.dirty_shards[i]).collect();
        if !dirty.is_empty()
            && let Err(e) = self.ensure_dir()
        {
            self.write_failed("facts", &e.to_string());
            return;
        }
        // A shard is rewritten whole: read what it held first.
        for &i in &dirty {
            self.shard(i);
        }
        // Serialize and write the shards in parallel (they are independent files).
        let written: Vec<(usize, Result<(), String>)> = dirty
            .par_iter()
            .map(|&i| {
                let Some(shard) = &self.shards[i] else {
                    return (i, Ok(()));
                };
                let file = FactsFileOut {
                    magic: MAGIC,
                    facts: shard.iter().map(|(rel, f)| (rel.as_str(), f)).collect(),
                };
                let path = self.path(&shard_name(i));
                let result = postcard::to_allocvec(&file)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| {
                        crate::atomic_write_unsynced(&path, &bytes).map_err(|e| e.to_string())
                    });
                (i, result)
            })
            .collect();
        for (i, result) in written {
            if let Err(why) = result {
                self.write_failed(&shard_name(i), &why);
            }
            self.dirty_shards[i] = false;
        }
        self.index.magic = MAGIC.to_string();
        // The number the changes of the next run are stamped with.
        self.index.saves += 1;
        let index = std::mem::take(&mut self.index);
        self.write("index", &index);
        self.index = index;
        self.dirty = false;
        self.remove_other_keys();
    }

    /// Files of other keys (an older loopguard, another `src` config) and of runs no
    /// longer kept are dead weight.
    fn remove_other_keys(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let suffix = format!("-{}.bin", self.key);
        let runs: Vec<u64> = (self.index.settings.iter())
            .chain(self.index.other_runs.iter().map(|r| &r.settings))
            .copied()
            .collect();
        let run_kept = |name: &str| {
            // `results.<run>-<key>.bin`: a run's own file, kept while the index names it.
            let run = ["results.", "resolutions.", "chains."]
                .iter()
                .find_map(|p| name.strip_prefix(p))
                .and_then(|rest| rest.strip_suffix(&suffix));
            run.is_none_or(|run| u64::from_str_radix(run, 16).is_ok_and(|run| runs.contains(&run)))
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = ["index-", "facts-", "results", "resolutions", "chains"]
                .iter()
                .any(|p| name.starts_with(p))
                && name.ends_with(".bin");
            let current = (name.ends_with(&suffix) && run_kept(&name))
                || name.starts_with(&format!("facts-{}-", self.key));
            if ours && !current {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// A facts shard's bytes: the file mapped into memory, or read where it cannot be mapped.
///
/// Mapped, the bytes are the page cache's own: a run that decodes every file's facts (an
/// edit on a big tree) neither copies 70 MB of shards nor zeroes fresh memory for them.
/// Cache files are only ever replaced by a rename, never written in place, so a mapped
/// shard does not change under a run, not even when another run saves the cache.
enum ShardBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for ShardBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            ShardBytes::Mapped(m) => m,
            ShardBytes::Read(v) => v,
        }
    }
}

/// Reads a facts shard: per file, the bytes of its facts (decoded when taken).
fn read_shard(path: &Path) -> ShardRead {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot be read ({e})")),
    };
    // Not on Windows, where a mapped file cannot be replaced (this run saves the cache).
    #[cfg(unix)]
    // SAFETY: the map is read only, and loopguard never writes a cache file in place (see
    // `ShardBytes`); a file truncated by another program meanwhile is outside that.
    let mapped = unsafe { memmap2::Mmap::map(&file) };
    #[cfg(not(unix))]
    let mapped: std::io::Result<memmap2::Mmap> = Err(std::io::ErrorKind::Unsupported.into());
    let bytes = match mapped {
        Ok(m) => ShardBytes::Mapped(m),
        Err(_) => {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut &file, &mut v)
                .map_err(|e| format!("cannot be read ({e})"))?;
            ShardBytes::Read(v)
        }
    };
    let bytes = std::sync::Arc::new(bytes);
    let file = postcard::from_bytes::<FactsFile>(&bytes)
        .map_err(|_| "is corrupt or truncated".to_owned())?;
    if file.magic != MAGIC {
        return Err("has a foreign format".to_owned());
    }
    // Each file's bytes stay in the shard's buffer: where they start in it (borrowed from
    // it, so always inside; a slice that is not is taken for damage, never trusted).
    let base = bytes.as_ptr() as usize;
    file.facts
        .into_iter()
        .map(|(rel, b)| {
            let start = (b.as_ptr() as usize)
                .checked_sub(base)
                .filter(|s| s + b.len() <= bytes.len())
                .ok_or_else(|| "is corrupt or truncated".to_owned())?;
            Ok((rel, Stored::Encoded(bytes.clone(), start..start + b.len())))
        })
        .collect::<Result<HashMap<_, _>, String>>()
        .map(Some)
}

/// Reads and decodes one cache file: `Ok(None)` if it does not exist, `Err` (what is wrong
/// with it, for a notification) if it cannot be read or decoded.
fn read_file<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot be read ({e})")),
    };
    postcard::from_bytes::<T>(&bytes)
        .map(Some)
        .map_err(|_| "is corrupt or truncated".to_owned())
}

/// Removes a cache folder (`loopguard clean`). Only folders that carry our CACHEDIR.TAG are
/// removed, so a mistyped `cache-dir` cannot delete user data.
pub fn clean(dir: &Path) -> std::io::Result<bool> {
    let tag = dir.join("CACHEDIR.TAG");
    match std::fs::read_to_string(&tag) {
        Ok(t) if t.contains("created by loopguard") => {
            std::fs::remove_dir_all(dir)?;
            Ok(true)
        }
        Ok(_) => Err(std::io::Error::other(format!(
            "{} is not a loopguard cache (its CACHEDIR.TAG was not written by loopguard)",
            dir.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir.exists() {
                Err(std::io::Error::other(format!(
                    "{} has no CACHEDIR.TAG: not removing it",
                    dir.display()
                )))
            } else {
                Ok(false)
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runs' settings as the index holds them: the selected one, then the others, most
    /// recent first.
    fn runs(c: &Cache) -> Vec<u64> {
        let others = c.index.other_runs.iter().map(|r| r.settings);
        c.index.settings.into_iter().chain(others).collect()
    }

    #[test]
    fn select_run_keeps_the_most_recently_used_settings_with_their_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Cache::open(dir.path(), &[]);
        // Each run leaves its own state behind.
        let run = |c: &mut Cache, settings: u64| {
            c.select_run(settings);
            c.index.results_key = Some(settings * 10);
            c.index.last_parsed = vec![format!("f{settings}.py")];
        };
        for settings in 1..=4 {
            run(&mut c, settings);
        }
        assert_eq!(runs(&c), vec![4, 3, 2, 1]);
        // Using 1 again makes it the most recent, with what it left.
        c.select_run(1);
        assert_eq!(runs(&c), vec![1, 4, 3, 2]);
        assert_eq!(c.index.results_key, Some(10));
        assert_eq!(c.index.last_parsed, vec!["f1.py".to_string()]);
        // A fifth settings evicts the least recently used one (2).
        c.select_run(5);
        assert_eq!(runs(&c), vec![5, 1, 4, 3]);
        assert_eq!(c.index.results_key, None);
        assert!(c.index.last_parsed.is_empty());
        c.select_run(3);
        assert_eq!(c.index.results_key, Some(30));
        assert_eq!(c.run_kind("results"), format!("results.{:016x}", 3));
    }

    #[test]
    fn a_changed_file_keeps_its_previous_entry_and_facts_the_most_recent_ones_only() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |h: u8| IndexEntry {
            stat: StatKey {
                size: u64::from(h),
                mtime_secs: 0,
                mtime_nanos: 0,
            },
            hash: [h; 32],
            may_have_roots: true,
            parsed: true,
            module: "m".into(),
            edition: None,
        };
        let facts = |rel: &str, module: &str| FileFacts {
            path: rel.to_string(),
            module: module.to_string(),
            ..FileFacts::default()
        };
        let n = PREVIOUS_KEPT + 3;
        let rel = |i: usize| format!("f{i}.py");
        let mut c = Cache::open(dir.path(), &[]);
        for i in 0..n {
            c.store(&rel(i), entry(1), true);
            c.restore(&rel(i), facts(&rel(i), "old"));
        }
        c.save(&|_| true);
        assert!(c.index.previous.is_empty());
        // One file changes per run: the first ones' previous entries are the oldest.
        for i in 0..n {
            let mut c = Cache::open(dir.path(), &[]);
            c.store(&rel(i), entry(2), true);
            c.restore(&rel(i), facts(&rel(i), "new"));
            c.save(&|_| true);
        }
        let mut c = Cache::open(dir.path(), &[]);
        assert_eq!(c.index.previous.len(), PREVIOUS_KEPT);
        assert!(!c.has_previous(&[&rel(0)]));
        let last = rel(n - 1);
        assert!(c.has_previous(&[&last]));
        assert_eq!(c.index.previous[&last].changed_at, c.index.saves - 1);
        // Put back, the file has its old entry and facts, and no previous one.
        assert!(c.roll_back(&[&last]));
        assert_eq!(c.index.entries[&last].hash, [1; 32]);
        let taken = c.take_facts(&last).unwrap().decode().unwrap();
        assert_eq!(taken.module, "old");
        assert!(!c.has_previous(&[&last]));
        // A file that is gone takes its previous entry and facts with it (from the shards
        // read; the others drop them when next written).
        let second = rel(n - 2);
        c.preload_shards();
        c.save(&|r| r != second);
        let mut c = Cache::open(dir.path(), &[]);
        assert!(!c.index.previous.contains_key(&second));
        c.preload_shards();
        let slots: usize = c.shards.iter().flatten().map(|m| m.len()).sum();
        // Every file's facts but the two taken out or gone, every previous one but theirs.
        assert_eq!(slots, (n - 2) + (PREVIOUS_KEPT - 2));
    }
}
