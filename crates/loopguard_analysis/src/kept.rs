//! Call-site resolutions kept between runs.
//!
//! A call site's resolution depends only on the site (callee, kind, arguments), its file's
//! place in the run and the project index (see `resolve_all`), and the index reads only the
//! definitions of each file ([`same_definitions`]). A run over the same files, in the same
//! order, whose changed files define the same things as before, can take the resolutions of
//! its unchanged files from the last run instead of resolving them again. Catalog entries
//! are kept by their place in the catalog, which the cache key covers.
//!
//! A changed file that defines more or less than before, and nothing else
//! ([`renumbering`]), leaves those resolutions as they were too, as long as no call site
//! elsewhere can look up what it adds or removes; only the numbers of its functions change,
//! and the kept resolutions that point into it are renumbered as they are restored
//! ([`Prior::renumbered`]).

use loopguard_core::catalog::{EndpointKind, LanguageCatalog};
use loopguard_core::diagnostic::Confidence;
use loopguard_core::facts::{
    Alias, CallKind, CallSite, Callee, Class, FileFacts, Function, Variable,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::SiteKey;
use crate::index::FnRef;
use crate::resolve::{Resolution, Target};

/// A [`Resolution`] as kept between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptResolution {
    pub(crate) targets: Vec<(KeptTarget, Confidence)>,
    pub(crate) offload: bool,
    pub(crate) loop_callback: bool,
    pub(crate) endpoint: Option<EndpointKind>,
    pub(crate) arg_sensitive: bool,
    /// The call changes no finding, whatever its arguments: it reaches no function but
    /// async ones, no catalog entry, and is not an offload, a loop callback or an endpoint
    /// marker (see [`KeptCalls`]).
    pub(crate) inert: bool,
}

impl KeptResolution {
    /// The call offloads, and neither schedules on the loop nor marks an endpoint: a
    /// callable passed to it by reference gets no role.
    pub fn only_offloads(&self) -> bool {
        self.offload && !self.loop_callback && self.endpoint.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum KeptTarget {
    /// File (its place among the run's files) and function.
    Function(u32, u32),
    /// The resolved path and the entry's place in the language's blocking APIs.
    Api(String, u32),
}

/// The resolutions of one file: per function, per call site.
type FileResolutions = Vec<Vec<KeptResolution>>;

/// What a run takes from the resolutions the last run kept.
#[derive(Clone, Debug, Default)]
pub struct Prior {
    /// By file (as the run's files): its kept resolutions, where they still hold.
    pub files: Vec<Option<KeptFile>>,
    /// Files whose functions are numbered anew since the resolutions were kept (functions
    /// added, see [`renumbering`], or inert ones added or removed by a shifted reuse): the
    /// file (its place among the run's files) and, by the number the kept resolutions use,
    /// the function's number now (`None`: removed; a file whose resolutions point at it
    /// is resolved again).
    pub renumbered: Vec<(u32, Vec<Option<u32>>)>,
}

impl Prior {
    /// Whether any file's resolutions are kept.
    pub fn keeps_any(&self) -> bool {
        self.files.iter().any(Option::is_some)
    }

    /// Records that file `file` numbers its functions anew: `then` maps the numbers it
    /// had to the ones it has now (after any renumbering recorded before).
    pub fn renumber(&mut self, file: u32, then: &[Option<u32>]) {
        renumber(&mut self.renumbered, file, then);
    }
}

/// Adds to `renumbered` (per file, by original number: the number now) that `file` numbers
/// its functions anew as `then` says (over the numbers it had after any renumbering
/// recorded before).
pub fn renumber(renumbered: &mut Vec<(u32, Vec<Option<u32>>)>, file: u32, then: &[Option<u32>]) {
    match renumbered.iter_mut().find(|(f, _)| *f == file) {
        Some((_, first)) => {
            for n in first.iter_mut() {
                *n = n.and_then(|m| then.get(m as usize).copied().flatten());
            }
        }
        None => renumbered.push((file, then.to_vec())),
    }
}

/// One file's kept resolutions, encoded: a run keeps them as bytes (a tenth of their size
/// decoded, and a cold run holds every file's while the analysis runs), and a run that
/// takes them decodes each in its file's resolution task.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeptFile(Vec<u8>);

impl Serialize for KeptFile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeptFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<KeptFile, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = KeptFile;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a file's encoded resolutions")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<KeptFile, E> {
                Ok(KeptFile(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<KeptFile, E> {
                Ok(KeptFile(v))
            }
        }
        d.deserialize_byte_buf(Bytes)
    }
}

impl KeptFile {
    /// Encodes one file's resolutions (per function, per call site); `None` if one names a
    /// catalog entry that cannot be kept.
    /// `is_async`: whether a function of the project is async.
    pub(crate) fn encode<'r, 'c: 'r>(
        functions: impl Iterator<Item = &'r [Resolution<'c>]>,
        catalog: &LanguageCatalog,
        is_async: &dyn Fn(FnRef) -> bool,
    ) -> Option<KeptFile> {
        let file: FileResolutions = functions
            .map(|sites| {
                sites
                    .iter()
                    .map(|r| KeptResolution::of(r, catalog, is_async))
                    .collect()
            })
            .collect::<Option<_>>()?;
        postcard::to_allocvec(&file).ok().map(KeptFile)
    }
}

impl KeptResolution {
    pub(crate) fn of(
        res: &Resolution<'_>,
        catalog: &LanguageCatalog,
        is_async: &dyn Fn(FnRef) -> bool,
    ) -> Option<KeptResolution> {
        // A call of an async function makes a coroutine: no finding follows it (chains run
        // through sync functions only, and the callee is a root of its own).
        let inert = res
            .targets
            .iter()
            .all(|(t, _)| matches!(t, Target::Function(f) if is_async(*f)))
            && !res.offload
            && !res.loop_callback
            && res.endpoint.is_none()
            && !res.arg_sensitive;
        let targets = res
            .targets
            .iter()
            .map(|(t, c)| {
                let t = match t {
                    Target::Function(f) => KeptTarget::Function(f.file, f.func),
                    Target::Api { path, api } => {
                        KeptTarget::Api(path.clone(), catalog.blocking.index_of(api)?)
                    }
                };
                Some((t, *c))
            })
            .collect::<Option<_>>()?;
        Some(KeptResolution {
            targets,
            offload: res.offload,
            loop_callback: res.loop_callback,
            endpoint: res.endpoint,
            arg_sensitive: res.arg_sensitive,
            inert,
        })
    }

    /// The resolution, its functions numbered as `renumbered` says; `moved` is set when
    /// one of them got another number.
    fn restore<'c>(
        &self,
        catalog: &'c LanguageCatalog,
        renumbered: &[(u32, Vec<Option<u32>>)],
        exists: &dyn Fn(FnRef) -> bool,
        moved: &mut bool,
    ) -> Option<Resolution<'c>> {
        let targets = self
            .targets
            .iter()
            .map(|(t, c)| {
                let t = match t {
                    KeptTarget::Function(file, old) => {
                        let func = match renumbered.iter().find(|(f, _)| f == file) {
                            Some((_, new_of_old)) => (*new_of_old.get(*old as usize)?)?,
                            None => *old,
                        };
                        *moved |= func != *old;
                        let r = FnRef { file: *file, func };
                        // Never trusted blindly: a function out of range would stop the run.
                        if !exists(r) {
                            return None;
                        }
                        Target::Function(r)
                    }
                    KeptTarget::Api(path, at) => Target::Api {
                        path: path.clone(),
                        api: catalog.blocking.value_at(*at)?,
                    },
                };
                Some((t, *c))
            })
            .collect::<Option<_>>()?;
        Some(Resolution {
            targets,
            offload: self.offload,
            loop_callback: self.loop_callback,
            endpoint: self.endpoint,
            arg_sensitive: self.arg_sensitive,
        })
    }
}

/// One file's kept resolutions read against the facts they were kept for: what a call in
/// that file resolves to, by what a resolution depends on (see `resolve_all`), for a
/// version of the file with other calls and the same definitions, in a run whose index is
/// the same (the engine's shifted reuse).
pub struct KeptCalls<'f> {
    /// By everything a resolution depends on besides the file: the kept resolution.
    exact: FxHashMap<SiteKey<'f>, &'f KeptResolution>,
    /// By callee and call kind: their kept resolution if each is the same, reaches
    /// functions only, and no arguments decided it, so that a call with other arguments
    /// resolves to it too. `None` if not. (An inert resolution is one of these: no
    /// argument decided it, so every call of its callee and kind resolved to it.)
    alike: FxHashMap<(&'f Callee, CallKind), Option<&'f KeptResolution>>,
}

/// A file's kept resolutions, decoded (borrowed by [`KeptCalls`]).
pub struct DecodedKept(FileResolutions);

impl KeptFile {
    /// The resolutions, decoded; `None` if the bytes are not a file's resolutions.
    pub fn decoded(&self) -> Option<DecodedKept> {
        postcard::from_bytes(&self.0).ok().map(DecodedKept)
    }
}

impl<'f> KeptCalls<'f> {
    /// `None` unless `kept` has a resolution for every call site of `facts`, function by
    /// function (the facts they were kept for).
    pub fn read(kept: &'f DecodedKept, facts: &'f FileFacts) -> Option<KeptCalls<'f>> {
        if kept.0.len() != facts.functions.len() {
            return None;
        }
        let mut out = KeptCalls {
            exact: FxHashMap::default(),
            alike: FxHashMap::default(),
        };
        for (sites, f) in kept.0.iter().zip(&facts.functions) {
            if sites.len() != f.calls.len() {
                return None;
            }
            for (res, site) in sites.iter().zip(&f.calls) {
                out.exact.entry(SiteKey::of(site)).or_insert(res);
                // An API target may have matched an entry for this argument count only.
                let args_free = !res.arg_sensitive
                    && (res.targets.iter()).all(|(t, _)| matches!(t, KeptTarget::Function(..)));
                let alike = out
                    .alike
                    .entry((&site.callee, site.kind))
                    .or_insert(Some(res));
                if !args_free || alike.is_some_and(|r| r != res) {
                    *alike = None;
                }
            }
        }
        Some(out)
    }

    /// The kept resolution `site` (of the same file) has: that of a kept call with the
    /// same callee, kind and arguments, or the one every kept call of its callee and kind
    /// has when no arguments decided it and it reaches functions only.
    pub fn repeated(&self, site: &CallSite) -> Option<&'f KeptResolution> {
        match self.exact.get(&SiteKey::of(site)) {
            Some(res) => Some(*res),
            None => self
                .alike
                .get(&(&site.callee, site.kind))
                .copied()
                .flatten(),
        }
    }

    /// Whether `site` (of the same file) changes no finding: calls of its callee and kind
    /// were kept, and each was inert (reaching no function but async ones, no catalog
    /// entry, whatever its arguments).
    pub fn is_inert(&self, site: &CallSite) -> bool {
        (self.alike.get(&(&site.callee, site.kind)))
            .copied()
            .flatten()
            .is_some_and(|res| res.inert)
    }

    /// The kept resolutions of `new`, the same file with other calls, where each of its
    /// calls repeats a kept one ([`KeptCalls::repeated`], inert ones included) or resolves
    /// without the index (`alone`, which the caller vouches for: a library call by the
    /// catalog alone); `None` otherwise.
    pub fn carry_over<'c>(
        &self,
        new: &FileFacts,
        alone: &dyn Fn(&CallSite) -> Option<Resolution<'c>>,
        catalog: &LanguageCatalog,
    ) -> Option<KeptFile> {
        use std::borrow::Cow;
        let file: Vec<Vec<Cow<KeptResolution>>> =
            new.functions
                .iter()
                .map(|f| {
                    f.calls
                        .iter()
                        .map(|site| match self.repeated(site) {
                            Some(res) => Some(Cow::Borrowed(res)),
                            // No function targets: none is async.
                            None => KeptResolution::of(&alone(site)?, catalog, &|_| false)
                                .map(Cow::Owned),
                        })
                        .collect::<Option<Vec<_>>>()
                })
                .collect::<Option<_>>()?;
        postcard::to_allocvec(&file).ok().map(KeptFile)
    }
}

/// A file's kept resolutions as the analysis uses them, and whether they are exactly as
/// kept (no function they point at was renumbered); `None` if they do not fit its
/// functions and call sites, point at a function that no longer exists (removed, or not
/// one `exists` knows), or name a catalog entry that does not exist.
pub(crate) fn restore_file<'c>(
    kept: &KeptFile,
    functions: &[Function],
    catalog: &'c LanguageCatalog,
    renumbered: &[(u32, Vec<Option<u32>>)],
    exists: &dyn Fn(FnRef) -> bool,
) -> Option<(Vec<Vec<Resolution<'c>>>, bool)> {
    let kept: FileResolutions = postcard::from_bytes(&kept.0).ok()?;
    if kept.len() != functions.len() {
        return None;
    }
    let mut moved = false;
    let restored = kept
        .iter()
        .zip(functions)
        .map(|(sites, f)| {
            if sites.len() != f.calls.len() {
                return None;
            }
            sites
                .iter()
                .map(|k| k.restore(catalog, renumbered, exists, &mut moved))
                .collect()
        })
        .collect::<Option<_>>()?;
    Some((restored, !moved))
}

/// Whether two versions of a file define the same things, as far as the index and the
/// resolution of any call site can tell: module, language, aliases, globals, classes, and
/// per function its names, class, parent, kind, decorators, parameters, return type and
/// attributes (not its calls, awaits, guards or positions).
pub fn same_definitions(a: &FileFacts, b: &FileFacts) -> bool {
    let same_function = |f: &Function, g: &Function| f.parent == g.parent && same_signature(f, g);
    a.module == b.module
        && a.language == b.language
        && pairwise(&a.aliases, &b.aliases, |x, y| {
            x.name == y.name && x.target == y.target
        })
        && pairwise(&a.globals, &b.globals, same_variable)
        && pairwise(&a.classes, &b.classes, |x, y| {
            x.qualname == y.qualname
                && x.bases == y.bases
                && x.decorators == y.decorators
                && pairwise(&x.fields, &y.fields, same_variable)
        })
        && pairwise(&a.functions, &b.functions, same_function)
}

/// If `new` defines what `old` did, in the same order and the same way (see
/// [`same_definitions`]), give or take definitions that no call site elsewhere can look up:
/// by old function number, the new one (`None` for a function `new` no longer defines).
/// What it adds or removes (functions, classes, aliases, module-level variables) must go by
/// names `mentioned` says are not mentioned by another file's facts nor by the changed
/// files' definitions (a lookup from a call site starts from a name that site mentions and
/// goes on through definitions, so it never reaches such a name; the changed files' own
/// call sites are resolved again), and must not be dunder methods, which are looked up
/// without being named (`C()` runs `C.__init__`). `mentioned` is asked only about names
/// whose answer could change the result (the caller may have to search for them). Python
/// only.
pub fn renumbering(
    old: &FileFacts,
    new: &FileFacts,
    mentioned: &dyn Fn(&str) -> bool,
) -> Option<Vec<Option<u32>>> {
    use loopguard_core::facts::{Language, last_segment};
    if old.module != new.module
        || old.language != new.language
        || new.language != Some(Language::Python)
    {
        return None;
    }
    let unmentioned = |name: &str| !mentioned(name);
    let same_alias = |x: &Alias, y: &Alias| x.name == y.name && x.target == y.target;
    let loose_alias = |a: &Alias| unmentioned(&a.name);
    aligned(
        &old.aliases,
        &new.aliases,
        same_alias,
        loose_alias,
        loose_alias,
    )?;
    let loose_global = |g: &Variable| unmentioned(&g.name);
    aligned(
        &old.globals,
        &new.globals,
        same_variable,
        loose_global,
        loose_global,
    )?;
    // A class that stays must stay as it was: its bases place it (and its methods, which
    // may stay) under classes that other files name, for overrides.
    let loose_class = |c: &Class, other: &[Class]| {
        unmentioned(last_segment(&c.qualname))
            && c.fields.iter().all(|v| unmentioned(&v.name))
            && !other.iter().any(|o| o.qualname == c.qualname)
    };
    aligned(
        &old.classes,
        &new.classes,
        |x, y| {
            x.qualname == y.qualname
                && x.bases == y.bases
                && x.decorators == y.decorators
                && pairwise(&x.fields, &y.fields, same_variable)
        },
        |c| loose_class(c, &new.classes),
        |c| loose_class(c, &old.classes),
    )?;
    // Functions: a parent is compared by its new number (known by then: a function comes
    // after the one it is nested in). A nested function whose parent went goes too.
    let loose = |f: &Function| {
        !f.is_dunder() && unmentioned(&f.name) && f.attributes.iter().all(|a| unmentioned(&a.name))
    };
    let mut new_of_old: Vec<Option<u32>> = Vec::with_capacity(old.functions.len());
    let mut next = 0usize;
    for f in &old.functions {
        // The parent `f`'s pair must have; `None` if `f`'s parent went (`f` cannot stay).
        let parent: Option<Option<u32>> = match f.parent {
            None => Some(None),
            Some(p) => new_of_old.get(p as usize).copied().flatten().map(Some),
        };
        loop {
            if let Some(g) = new.functions.get(next)
                && same_signature(f, g)
                && parent == Some(g.parent)
            {
                new_of_old.push(Some(u32::try_from(next).ok()?));
                next += 1;
                break;
            }
            // Not paired: `f` was removed or `g` added. Removed if `g` is the next one's pair
            // (a guess: any choice is sound, but a wrong one leaves more unpaired).
            let g = new.functions.get(next);
            let next_old = old.functions.get(new_of_old.len() + 1);
            // (Names are asked last: the caller may have to search other files for them.)
            let removed = (next_old.zip(g).is_some_and(|(h, g)| same_signature(h, g))
                || g.is_none_or(|g| !loose(g)))
                && loose(f);
            if removed {
                new_of_old.push(None);
                break;
            }
            match g {
                Some(g) if loose(g) => next += 1,
                _ => return None,
            }
        }
    }
    new.functions[next..]
        .iter()
        .all(loose)
        .then_some(new_of_old)
}

/// Pairs `old` with `new` in order, as equal (`same`) items; every item left unpaired must
/// be one that may go (`gone`, of `old`) or come (`came`, of `new`).
fn aligned<T>(
    old: &[T],
    new: &[T],
    same: impl Fn(&T, &T) -> bool,
    gone: impl Fn(&T) -> bool,
    came: impl Fn(&T) -> bool,
) -> Option<()> {
    let mut next = 0usize;
    for (k, o) in old.iter().enumerate() {
        loop {
            // `o` went if what follows it pairs with `n` (checked before any name is asked
            // about, as in `renumbering`).
            let follows = |n: &T| old.get(k + 1).is_some_and(|h| same(h, n));
            match new.get(next) {
                Some(n) if same(o, n) => {
                    next += 1;
                    break;
                }
                Some(n) if follows(n) && gone(o) => break,
                Some(n) if came(n) => next += 1,
                _ if gone(o) => break,
                _ => return None,
            }
        }
    }
    new[next..].iter().all(came).then_some(())
}

/// A variable's name and type (not where it is).
fn same_variable(a: &Variable, b: &Variable) -> bool {
    a.name == b.name && a.ty == b.ty
}

/// What the index and any call site can tell of a function, its parent aside.
fn same_signature(f: &Function, g: &Function) -> bool {
    f.qualname == g.qualname
        && f.name == g.name
        && f.kind == g.kind
        && f.is_async == g.is_async
        && f.class == g.class
        && f.returns == g.returns
        && f.params == g.params
        && f.is_generator == g.is_generator
        && pairwise(&f.decorators, &g.decorators, |x, y| x.callee == y.callee)
        && pairwise(&f.attributes, &g.attributes, same_variable)
}

/// Whether two lists have the same length and `same` holds for each pair in order.
fn pairwise<T>(a: &[T], b: &[T], same: impl Fn(&T, &T) -> bool) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use loopguard_core::facts::{Language, TypeRef};

    fn function(module: &str, name: &str) -> Function {
        Function {
            qualname: format!("{module}.{name}"),
            name: name.to_string(),
            ..Function::default()
        }
    }

    fn file(functions: &[&str]) -> FileFacts {
        FileFacts {
            path: "m.py".into(),
            language: Some(Language::Python),
            module: "m".into(),
            functions: functions.iter().map(|n| function("m", n)).collect(),
            ..FileFacts::default()
        }
    }

    /// Names some file mentions.
    fn mentioned(n: &str) -> bool {
        matches!(n, "used" | "Used" | "field")
    }

    fn call(name: &str, args: &[&str]) -> CallSite {
        CallSite {
            callee: Callee::UnknownMethod { name: name.into() },
            kind: CallKind::Call,
            span: Default::default(),
            awaited: false,
            arg_count: args.len() as u32,
            closure_args: Vec::new(),
            callable_args: Vec::new(),
            param_args: Vec::new(),
            args: args.iter().map(|a| a.to_string()).collect(),
            text: name.into(),
        }
    }

    fn resolution(targets: Vec<(KeptTarget, Confidence)>, arg_sensitive: bool) -> KeptResolution {
        KeptResolution {
            inert: targets.is_empty() && !arg_sensitive,
            targets,
            offload: false,
            loop_callback: false,
            endpoint: None,
            arg_sensitive,
        }
    }

    #[test]
    fn kept_calls_know_which_callees_reach_nothing_and_carry_over() {
        let mut old = file(&["handler"]);
        old.functions[0].calls = vec![
            call("debug", &["#0='start'"]),
            call("join", &["timeout=0"]),
            call("fetch", &[]),
        ];
        let kept = DecodedKept(vec![vec![
            resolution(Vec::new(), false),
            // Empty only because of its arguments.
            resolution(Vec::new(), true),
            resolution(
                vec![(KeptTarget::Function(1, 0), Confidence::Likely)],
                false,
            ),
        ]]);
        let calls = KeptCalls::read(&kept, &old).expect("fits the facts");
        assert!(calls.is_inert(&call("debug", &["#0='other'", "#1=2"])));
        assert!(!calls.is_inert(&call("join", &[])));
        assert!(!calls.is_inert(&call("fetch", &[])));
        assert!(!calls.is_inert(&call("unknown", &[])));

        // Carried over: each call repeats a kept one or reaches nothing.
        let mut new = old.clone();
        new.functions[0]
            .calls
            .insert(0, call("debug", &["#0='now'"]));
        let catalog = LanguageCatalog::default();
        let carried = calls
            .carry_over(&new, &|_| None, &catalog)
            .expect("every call known");
        let carried = carried.decoded().expect("decodes");
        assert_eq!(carried.0[0].len(), 4);
        assert_eq!(carried.0[0][0], resolution(Vec::new(), false));
        assert_eq!(carried.0[0][3], kept.0[0][2]);
        // A call nothing was kept for, or one whose arguments decide, is not.
        new.functions[0].calls.push(call("unknown", &[]));
        assert!(calls.carry_over(&new, &|_| None, &catalog).is_none());
        // Unless the caller resolves it alone.
        let alone = |s: &CallSite| (s.text == "unknown").then(Resolution::default);
        assert!(calls.carry_over(&new, &alone, &catalog).is_some());
        new.functions[0].calls.pop();
        new.functions[0].calls.push(call("join", &[]));
        assert!(calls.carry_over(&new, &|_| None, &catalog).is_none());
        // Kept resolutions of other facts are not read.
        let mut other = old.clone();
        other.functions[0].calls.pop();
        assert!(KeptCalls::read(&kept, &other).is_none());
    }

    #[test]
    fn a_repeated_call_resolves_as_its_callee_did_when_no_argument_could_decide() {
        let mut old = file(&["handler"]);
        old.functions[0].calls = vec![
            call("fetch", &["#0=1"]),
            call("sleep", &["#0=1"]),
            call("join", &["timeout=0"]),
            call("load", &["#0=1"]),
            call("load", &["#0=2"]),
        ];
        let function = |f| vec![(KeptTarget::Function(1, f), Confidence::Likely)];
        let api = vec![(KeptTarget::Api("time.sleep".into(), 0), Confidence::Certain)];
        let kept = DecodedKept(vec![vec![
            resolution(function(0), false),
            resolution(api, false),
            resolution(Vec::new(), true),
            resolution(function(1), false),
            resolution(function(2), false),
        ]]);
        let calls = KeptCalls::read(&kept, &old).expect("fits the facts");
        // Functions only, no argument decided: any arguments.
        assert_eq!(calls.repeated(&call("fetch", &[])), Some(&kept.0[0][0]));
        // A catalog entry may match this argument count only: the same arguments only.
        assert_eq!(
            calls.repeated(&call("sleep", &["#0=1"])),
            Some(&kept.0[0][1])
        );
        assert_eq!(calls.repeated(&call("sleep", &["#0=2"])), None);
        assert_eq!(calls.repeated(&call("sleep", &[])), None);
        // Arguments decided, or calls of one callee resolved differently.
        assert_eq!(calls.repeated(&call("join", &[])), None);
        assert_eq!(
            calls.repeated(&call("load", &["#0=2"])),
            Some(&kept.0[0][4])
        );
        assert_eq!(calls.repeated(&call("load", &[])), None);
        assert_eq!(calls.repeated(&call("unknown", &[])), None);
    }

    #[test]
    fn renumberings_compose() {
        let mut prior = Prior::default();
        prior.renumber(3, &[Some(1), Some(2), None]);
        prior.renumber(3, &[Some(0), None, Some(5)]);
        prior.renumber(4, &[Some(1)]);
        assert_eq!(
            prior.renumbered,
            vec![(3, vec![None, Some(5), None]), (4, vec![Some(1)])]
        );
    }

    #[test]
    fn unchanged_definitions_keep_their_numbers() {
        let f = file(&["a", "b"]);
        assert_eq!(
            renumbering(&f, &f, &mentioned),
            Some(vec![Some(0), Some(1)])
        );
    }

    #[test]
    fn unmentioned_additions_renumber_what_follows_them() {
        let old = file(&["a", "b"]);
        let new = file(&["helper", "a", "b", "tail"]);
        assert_eq!(
            renumbering(&old, &new, &mentioned),
            Some(vec![Some(1), Some(2)])
        );
        // A nested function's parent is compared by its new number.
        let mut old = file(&["a", "inner"]);
        old.functions[1].parent = Some(0);
        let mut new = file(&["helper", "a", "inner"]);
        new.functions[2].parent = Some(1);
        assert_eq!(
            renumbering(&old, &new, &mentioned),
            Some(vec![Some(1), Some(2)])
        );
        // Nested in another function now: the old one went, and a new one came.
        new.functions[2].parent = Some(0);
        assert_eq!(
            renumbering(&old, &new, &mentioned),
            Some(vec![Some(1), None])
        );
        // Not so for a name some other file mentions.
        let mut old = file(&["a", "used"]);
        old.functions[1].parent = Some(0);
        let mut new = file(&["helper", "a", "used"]);
        new.functions[2].parent = Some(0);
        assert_eq!(renumbering(&old, &new, &mentioned), None);
    }

    #[test]
    fn a_mentioned_or_dunder_addition_is_not_taken() {
        let old = file(&["a"]);
        assert_eq!(renumbering(&old, &file(&["a", "used"]), &mentioned), None);
        let mut new = file(&["a", "__init__"]);
        new.functions[1].class = Some("m.C".into());
        assert_eq!(renumbering(&old, &new, &mentioned), None);
        // A method whose `self.field` assignment adds a field someone reads.
        let mut new = file(&["a", "setup"]);
        new.functions[1].attributes.push(Variable {
            name: "field".into(),
            ty: TypeRef::Named("m.Lock".into()),
            span: Default::default(),
        });
        assert_eq!(renumbering(&old, &new, &mentioned), None);
    }

    #[test]
    fn unmentioned_removals_are_taken_and_leave_no_number() {
        let old = file(&["a", "helper", "b"]);
        assert_eq!(
            renumbering(&old, &file(&["a", "b"]), &mentioned),
            Some(vec![Some(0), None, Some(1)])
        );
        // Removed and added at once (a helper renamed).
        assert_eq!(
            renumbering(&old, &file(&["a", "b", "other"]), &mentioned),
            Some(vec![Some(0), None, Some(1)])
        );
        // A nested function goes with its parent.
        let mut old = file(&["a", "helper", "inner"]);
        old.functions[2].parent = Some(1);
        assert_eq!(
            renumbering(&old, &file(&["a"]), &mentioned),
            Some(vec![Some(0), None, None])
        );
    }

    #[test]
    fn a_single_removal_asks_only_about_what_went() {
        // The engine answers "unmentioned" for a name it is unsure of and searches the other
        // files for it afterwards: a name asked about that some other file does mention
        // costs the kept resolutions, so paired definitions must not be asked about.
        let alias = |name: &str| Alias {
            name: name.into(),
            target: format!("lib.{name}"),
        };
        let mut old = file(&["a", "helper", "b"]);
        old.aliases = vec![alias("shelve"), alias("used")];
        let mut new = file(&["a", "b"]);
        new.aliases = vec![alias("used")];
        let asked = std::cell::RefCell::new(Vec::new());
        let unsure = |n: &str| {
            asked.borrow_mut().push(n.to_string());
            false
        };
        assert_eq!(
            renumbering(&old, &new, &unsure),
            Some(vec![Some(0), None, Some(1)])
        );
        assert_eq!(asked.into_inner(), vec!["shelve", "helper"]);
    }

    #[test]
    fn mentioned_or_dunder_removals_and_changes_are_not_taken() {
        let old = file(&["a", "used"]);
        assert_eq!(renumbering(&old, &file(&["a"]), &mentioned), None);
        let mut old_init = file(&["a", "__init__"]);
        old_init.functions[1].class = Some("m.C".into());
        assert_eq!(renumbering(&old_init, &file(&["a"]), &mentioned), None);
        // A changed definition of a mentioned name is neither an addition nor a removal.
        let mut new = old.clone();
        new.functions[1].is_async = true;
        assert_eq!(renumbering(&old, &new, &mentioned), None);
        let mut new = old.clone();
        new.functions[1].returns = Some(TypeRef::Named("m.Conn".into()));
        assert_eq!(renumbering(&old, &new, &mentioned), None);
        let mut new = old.clone();
        new.module = "other".into();
        assert_eq!(renumbering(&old, &new, &mentioned), None);
    }

    #[test]
    fn aliases_classes_and_globals_may_grow_by_unmentioned_names() {
        let old = file(&["a"]);
        let alias = |name: &str| Alias {
            name: name.into(),
            target: format!("lib.{name}"),
        };
        let class = |name: &str| Class {
            qualname: format!("m.{name}"),
            span: Default::default(),
            bases: Vec::new(),
            decorators: Vec::new(),
            fields: Vec::new(),
        };
        let mut new = old.clone();
        new.aliases.push(alias("shelve"));
        new.classes.push(class("Fresh"));
        assert_eq!(renumbering(&old, &new, &mentioned), Some(vec![Some(0)]));
        // And shrink by them.
        assert_eq!(renumbering(&new, &old, &mentioned), Some(vec![Some(0)]));
        let mut with_used = new.clone();
        with_used.aliases.push(alias("used"));
        assert_eq!(renumbering(&old, &with_used, &mentioned), None);
        let mut with_used = new.clone();
        with_used.classes.insert(0, class("Used"));
        assert_eq!(renumbering(&old, &with_used, &mentioned), None);
        assert_eq!(renumbering(&with_used, &old, &mentioned), None);
        // An existing class that changed (a base added) is not an addition.
        let mut old_c = old.clone();
        old_c.classes.push(class("Fresh"));
        let mut new_c = old_c.clone();
        new_c.classes[0].bases.push("m.Base".into());
        assert_eq!(renumbering(&old_c, &new_c, &mentioned), None);
    }
}
