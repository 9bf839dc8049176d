//! Loading the files the last run analysed without running demand again.
//!
//! When a few files changed in a way the stored findings cannot survive (code on the loop
//! changed, see [`crate::shift`]), the analysis must run again, but the files it needs are
//! usually the same: demand reaches the same modules and the same functions unless a
//! changed file now mentions something demand follows that it did not mention before. A
//! changed Python file whose [`demand::Signature`] is as it was leaves demand's outcome as
//! it was (demand is a fixed point over exactly what the signature holds), so the facts of
//! the last run's files are taken from the cache as they are, the changed ones lowered
//! again, and demand, its symbol tables and its task bookkeeping are skipped. Anything else
//! (a Rust file, a new path, a file that cannot be read, facts the cache lacks) falls back
//! to the full load, with the cache as it was.

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use loopguard_analysis::kept;
use loopguard_core::facts::{FileFacts, Language};

use crate::cache::{self, Cache, CachedFacts, StatKey};
use crate::demand;
use crate::load::{self, Loaded, ModuleInfo, RootScan};
use crate::{MAX_SHIFTED_FILES, SourceFile, StoredResults, shift};

/// What the fast path leaves for this one when it cannot keep the stored findings.
pub(crate) struct Retry {
    /// The key the stored results were stored under.
    pub key: u64,
    /// The files whose stat key changed, with their stat key now.
    pub changed: Vec<(usize, Option<StatKey>)>,
    /// Changed files the fast path already lowered (their new facts); what this path
    /// leaves of them, the full load takes.
    pub lowered: load::Lowered,
}

pub(crate) struct Project<'a> {
    pub files: &'a [SourceFile],
    pub infos: &'a [ModuleInfo],
    pub by_rel: &'a HashMap<&'a str, usize>,
    pub scan: &'a RootScan,
    pub max_size: u64,
}

/// A question about a path or a name (whether demand follows it, may be led into the
/// project by it, or a file mentions it).
type PathTest<'a> = &'a dyn Fn(&str) -> bool;

/// A changed file checked against its entry: its new entry, and its new and old facts if
/// it is parsed.
struct Checked {
    file: usize,
    entry: cache::IndexEntry,
    facts: Option<(FileFacts, FileFacts)>,
    /// The file's live functions, numbered in the new facts, when the edit added or
    /// removed functions that seed demand (see [`changed_seeds`]).
    live: Option<Vec<u32>>,
}

/// The facts of the files the last run analysed (see the module docs), or `None` and the
/// cache as it was.
pub(crate) fn load(c: &mut Cache, p: &Project, retry: &mut Retry) -> Option<Loaded> {
    if c.index.results_key != Some(retry.key) || retry.changed.len() > MAX_SHIFTED_FILES {
        return None;
    }
    let stored: StoredResults = c.results(retry.key)?;
    let mut parsed: Vec<usize> = c
        .index
        .last_parsed
        .iter()
        .map(|rel| p.by_rel.get(rel.as_str()).copied())
        .collect::<Option<_>>()?;
    parsed.sort_unstable();
    let by_module = load::module_map(p.files, p.infos);
    let followed = |path: &str| load::followed_by_demand(&by_module, path);
    let packages = load::packages_of(
        (by_module.keys())
            .filter(|(_, language)| *language == Language::Python)
            .map(|(module, _)| *module),
    );
    let leads_into = |path: &str| followed(path) || packages.contains(path);
    let lowered = &mut retry.lowered;

    // Whether a file of the last run mentioned a name (see `shift::mentioned_names`).
    let names = stored.names();
    let is_mentioned = |n: &str| names.binary_search(&shift::name_hash(n)).is_ok();
    let mut checked: Vec<Checked> = Vec::new();
    let ok = (|| {
        for &(i, stat) in &retry.changed {
            let live = crate::list_of(&stored.live, i);
            let step = check_changed(
                c,
                p,
                i,
                stat?,
                lowered,
                (&followed, &leads_into),
                (live, &is_mentioned),
            );
            checked.push(step?);
            let now_parsed = checked.last()?.facts.is_some();
            if now_parsed != parsed.binary_search(&i).is_ok() {
                return None;
            }
        }
        Some(())
    })();
    if ok.is_none() {
        put_back_old(c, p, checked);
        return None;
    }

    // The cached facts of every other file of the last run, taken out (no copy) and
    // decoded in parallel.
    let changed_at: HashMap<usize, usize> = checked
        .iter()
        .enumerate()
        .map(|(k, ch)| (ch.file, k))
        .collect();
    c.preload_shards();
    let mut taken: Vec<(usize, CachedFacts)> = Vec::with_capacity(parsed.len());
    for &i in &parsed {
        if changed_at.contains_key(&i) {
            continue;
        }
        match c.take_facts(&p.files[i].rel) {
            Some(f) => taken.push((i, f)),
            None => {
                for (i, f) in taken {
                    c.put_back(&p.files[i].rel, f);
                }
                put_back_old(c, p, checked);
                return None;
            }
        }
    }
    let decoded: Vec<(usize, Result<FileFacts, String>)> = taken
        .into_par_iter()
        .map(|(i, f)| (i, f.decode()))
        .collect();
    if decoded.iter().any(|(_, r)| r.is_err()) {
        // The full load parses the damaged files again and takes the others back.
        for (i, r) in decoded {
            match r {
                Ok(f) => c.restore(&p.files[i].rel, f),
                Err(what) => c.damaged(&p.files[i].rel, &what),
            }
        }
        put_back_old(c, p, checked);
        return None;
    }

    let mut facts: Vec<(usize, FileFacts)> = decoded
        .into_iter()
        .filter_map(|(i, r)| Some((i, r.ok()?)))
        .collect();
    // The resolutions of unchanged files hold if no changed file defines anything
    // differently (the index is then the one they were resolved against).
    let same_index = checked.iter().all(|ch| {
        ch.facts
            .as_ref()
            .is_none_or(|(new, old)| kept::same_definitions(old, new))
    });
    let kept_list = if same_index {
        c.kept_resolutions(retry.key)
    } else {
        None
    };
    // The live functions as before, but those of a file that gained or lost functions
    // seeding demand, numbered in its new facts.
    let mut live: Vec<(usize, u32)> = stored.live_pairs();
    for ch in &checked {
        if let Some(now) = &ch.live {
            live.retain(|(f, _)| *f != ch.file);
            live.extend(now.iter().map(|&g| (ch.file, g)));
        }
    }
    live.sort_unstable();
    let mut parsed_now = 0;
    // The names mentioned last time, and those the changed files mention now: a superset
    // of what the facts mention, which is safe (a name only looks mentioned).
    let mut mentioned = names;
    for ch in checked {
        let rel = p.files[ch.file].rel.as_str();
        let reparsed = ch.facts.is_some();
        c.store(rel, ch.entry, reparsed);
        if let Some((new, _old)) = ch.facts {
            mentioned.extend(shift::mention_hashes(&new));
            facts.push((ch.file, new));
            parsed_now += 1;
        }
    }
    facts.sort_unstable_by_key(|(i, _)| *i);
    let prior = match kept_list {
        Some((list, state)) if list.len() == facts.len() => {
            crate::kept_prior(list, state, &|at| changed_at.contains_key(&facts[at].0))
        }
        _ => kept::Prior::default(),
    };
    mentioned.sort_unstable();
    mentioned.dedup();
    Some(Loaded {
        facts,
        // The load's own notifications (files skipped) are as they were; parse errors are
        // taken from the facts again by the caller.
        notifications: stored
            .notifications
            .iter()
            .filter(|n| n.kind != "parse-error")
            .cloned()
            .collect(),
        requested_scanned: stored.files_checked,
        parsed_now,
        reparsed: Vec::new(),
        live,
        mentioned: Some(mentioned),
        prior,
    })
}

/// Reads changed file `i` and compares it with its entry and, if it is parsed, its
/// lowered facts with the cached ones: `None` unless demand would treat it as before.
fn check_changed(
    c: &mut Cache,
    p: &Project,
    i: usize,
    stat: StatKey,
    lowered: &mut load::Lowered,
    (followed, leads_into): (PathTest<'_>, PathTest<'_>),
    (live, mentioned): (&[u32], PathTest<'_>),
) -> Option<Checked> {
    let file = &p.files[i];
    let info = &p.infos[i];
    if file.language != Language::Python {
        return None;
    }
    let (entry, new_entry, text) = crate::reread(c, file, stat, p.max_size, p.scan)?;
    if entry.module != info.name || entry.edition != info.edition {
        return None;
    }
    if !entry.parsed {
        // Scanned only, and still without async code: demand did not reach it.
        return Some(Checked {
            file: i,
            entry: new_entry,
            facts: None,
            live: None,
        });
    }
    let new = load::lower_again(lowered.remove(&i), file, info, &text, &new_entry.hash);
    let old = match c.take_old_facts(&file.rel)?.decode() {
        Ok(f) => f,
        Err(what) => {
            c.damaged(&file.rel, &what);
            return None;
        }
    };
    let names = p.scan.python_callback_names();
    // The byte scan gives both texts the same answer (`reread`): where it finds async code,
    // the file's async functions seed demand, in both runs.
    let seeded = entry.may_have_roots;
    let signature = |facts| {
        let s = demand::Signature::of(facts, names, followed, leads_into);
        if seeded {
            s.without_paths_to_async(facts)
        } else {
            s
        }
    };
    let live = if signature(&old) == signature(&new) {
        None
    } else {
        match changed_seeds(&old, &new, live, &signature, mentioned).filter(|_| seeded) {
            Some(live) => Some(live),
            None => {
                c.restore(&file.rel, old);
                // For the full load, which runs demand instead.
                lowered.insert(i, (new_entry.hash, new));
                return None;
            }
        }
    };
    Some(Checked {
        file: i,
        entry: new_entry,
        facts: Some((new, old)),
        live,
    })
}

/// When `new` is `old` with async functions added or removed (in a file the byte scan
/// finds async code in: they seed demand) that enclose none and hide nothing, and every
/// path they mention that demand follows is one the file's other live functions mention
/// too (`live`: the old numbers), demand reaches what it reached before, bar the removed
/// functions and with the added ones: the file's live functions, numbered in `new`.
fn changed_seeds<'f>(
    old: &'f FileFacts,
    new: &'f FileFacts,
    live: &[u32],
    signature: &dyn Fn(&'f FileFacts) -> demand::Signature<'f>,
    mentioned: PathTest<'_>,
) -> Option<Vec<u32>> {
    let shift::Pairing {
        new_of_old,
        old_of_new,
    } = shift::pair_functions(old, new)?;
    let unpaired = |numbers: &[Option<u32>]| -> Vec<u32> {
        (0u32..)
            .zip(numbers)
            .filter(|(_, n)| n.is_none())
            .map(|(k, _)| k)
            .collect()
    };
    let (added, removed) = (unpaired(&old_of_new), unpaired(&new_of_old));
    // Async, at module level or a method, and hiding nothing demand finds under the same
    // path: a function is looked up first, so a module-level one must not share its name
    // with a class, alias or variable; and a method, under a name no file mentions, since
    // `C.name` finds the method where it found the class (and all its members) before.
    let plain_async = |facts: &FileFacts, f: &u32| {
        facts.functions.get(*f as usize).is_some_and(|g| {
            g.is_async
                && g.parent.is_none()
                && !facts.classes.iter().any(|c| c.qualname == g.qualname)
                && match g.class {
                    Some(_) => !mentioned(&g.name),
                    None => !demand::is_alias_or_variable(facts, &g.name),
                }
        })
    };
    if (added.is_empty() && removed.is_empty())
        || !added.iter().all(|f| plain_async(new, f))
        || !removed.iter().all(|f| plain_async(old, f))
    {
        return None;
    }
    let mut live_now: Vec<u32> = (live.iter())
        .filter(|f| removed.binary_search(f).is_err())
        .map(|&f| new_of_old.get(f as usize).copied().flatten())
        .collect::<Option<_>>()?;
    live_now.extend(&added);
    live_now.sort_unstable();
    let before = signature(old)
        .pooling_live(live)
        .leaving_out_seeds(&removed)?;
    let after = signature(new)
        .pooling_live(&live_now)
        .leaving_out_seeds(&added)?;
    (before == after).then_some(live_now)
}

/// Gives the cache back the old facts of the changed files checked so far.
fn put_back_old(c: &mut Cache, p: &Project, checked: Vec<Checked>) {
    for ch in checked {
        if let Some((_, old)) = ch.facts {
            c.restore(&p.files[ch.file].rel, old);
        }
    }
}
