//! Language-neutral analysis: facts of all parsed files -> diagnostics.
//!
//! 1. [`index::Index`]: every function, class, global and alias by qualified name.
//! 2. [`resolve::Resolver`]: each call site -> project functions and catalog APIs.
//! 3. Roles: which functions run on the loop (async, on-loop callbacks), which run off it
//!    (offloaded closures and decorated functions), which closures run inline.
//! 4. Blocking summaries: a breadth-first search backwards from blocking API calls over the
//!    reverse call graph of sync functions gives every sync function one shortest witness
//!    chain per rule, linear in the number of call edges; recursion and cycles are fine.
//! 5. Checks: blocking calls reached from async context (LG1xx-LG3xx with chains), guards
//!    held across awaits (LG202/LG203), sync work in async endpoints (LG501).

pub mod chains;
pub mod index;
pub mod kept;
pub mod resolve;

use std::collections::VecDeque;

use loopguard_core::catalog::{BlockingApi, Catalog, EndpointKind, GuardKind};
use loopguard_core::diagnostic::{Confidence, Diagnostic, Hop, Label};
use loopguard_core::facts::{CallSite, FileFacts, Function, FunctionKind, Language};
use loopguard_core::rules::{self, RuleCode};

use index::{FnRef, Index};
use resolve::{Resolution, Resolver, Target};

#[derive(Clone, Debug)]
pub struct Options {
    /// Longest chain of sync hops followed from an async call site.
    pub max_depth: usize,
    /// Report only blocking calls written directly in async code.
    pub direct_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_depth: loopguard_core::config::DEFAULT_MAX_DEPTH,
            direct_only: false,
        }
    }
}

/// Where a function runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// `async def`/`async fn`/async block: runs on the loop; analysed on its own.
    Async,
    /// A sync function that runs on the loop (a `call_soon` callback, HA `@callback`).
    OnLoop,
    /// An ordinary sync function: blocks its caller if it reaches a blocking API.
    Sync,
    /// Runs on a worker thread (offloaded closure, `@sync_to_async` function).
    Offloaded,
}

/// What one function's code says about where a function runs (see `assign_roles`).
#[derive(Clone, Copy, Debug)]
enum RoleEffect {
    Offloaded(usize),
    OnLoop(usize),
    /// Sets the context word of findings in the function (`callback`, `route` ...).
    Context(usize, &'static str),
    /// Sets the context word unless one is already set.
    DefaultContext(usize, &'static str),
}

/// One step of a witness: the call site in a sync function and what it leads to.
#[derive(Clone, Debug)]
struct Witness<'c> {
    site: SiteRef,
    next: Next<'c>,
    depth: u32,
    confidence: Confidence,
}

#[derive(Clone, Debug)]
enum Next<'c> {
    Api { path: String, api: &'c BlockingApi },
    Call(usize),
}

/// What a call site's resolution depends on besides its file (see `resolve_all`).
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct SiteKey<'a> {
    callee: &'a loopguard_core::facts::Callee,
    kind: loopguard_core::facts::CallKind,
    arg_count: u32,
    args: &'a [String],
}

impl<'a> SiteKey<'a> {
    pub(crate) fn of(site: &'a CallSite) -> SiteKey<'a> {
        SiteKey {
            callee: &site.callee,
            kind: site.kind,
            arg_count: site.arg_count,
            args: &site.args,
        }
    }
}

/// The call sites whose code runs as part of each owner's body (see `owned_sites`), by
/// owner, in function id and site order: `owned[o]` is a slice of one shared table.
#[derive(Default)]
struct Owned {
    /// Owner `o`'s sites are `sites[start[o]..start[o + 1]]`.
    start: Vec<usize>,
    sites: Vec<SiteRef>,
}

impl std::ops::Index<usize> for Owned {
    type Output = [SiteRef];

    fn index(&self, o: usize) -> &[SiteRef] {
        &self.sites[self.start[o]..self.start[o + 1]]
    }
}

impl Owned {
    /// Each owner's sites, in owner order.
    fn iter(&self) -> impl Iterator<Item = &[SiteRef]> {
        self.start.windows(2).map(|w| &self.sites[w[0]..w[1]])
    }
}

/// A call site: function id (flat) and index in its `calls`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SiteRef {
    func: usize,
    site: usize,
}

struct Analysis<'a, 'c> {
    index: Index<'a>,
    catalog: &'c Catalog,
    /// Flat function id -> FnRef; `base[file] + func` is the id.
    refs: Vec<FnRef>,
    base: Vec<usize>,
    resolutions: Vec<Vec<Resolution<'c>>>,
    roles: Vec<Role>,
    /// The function whose body an inline closure belongs to (itself for others).
    owner: Vec<usize>,
    /// Call sites whose code runs as part of each owner's body (own + inline closures').
    owned: Owned,
    context: Vec<&'static str>,
}

/// Analyses all parsed files of a project. Diagnostics are unsorted and unfiltered (the
/// engine applies config, noqa and baselines).
pub fn analyze(files: &[FileFacts], catalog: &Catalog, options: &Options) -> Vec<Diagnostic> {
    analyze_with_reads(files, catalog, options).0
}

/// Which function bodies a run's findings were read from, so that an edit elsewhere can
/// reuse them (the engine's `shift`).
#[derive(Debug, Default)]
pub struct Reads {
    /// Per file (as in `files`), sorted: the functions that run on the loop and every
    /// function their calls reach, with the inline closures of each. Any other function's
    /// call sites (apart from what they pass as callables) change no finding, as long as
    /// its signature and everything other functions can see of it stay the same.
    pub hot: Vec<Vec<u32>>,
    /// With [`analyze_reusing`]'s `keep`: every call site's resolution, per file, for a
    /// later run over the same files (empty otherwise, or if one could not be kept).
    pub resolutions: Vec<kept::KeptFile>,
    /// The functions whose findings name a context other than `async` (`route`,
    /// `callback`, ...), as (file, function, context), sorted: a later run that checks one
    /// of them alone (see [`direct_findings`]) names it the same.
    pub contexts: Vec<(u32, u32, &'static str)>,
    /// With `keep`: per file, each function in `hot` and its witness chains if it is a
    /// plain sync function (see [`chains`]); empty otherwise.
    pub chains: chains::KeptChains,
}

/// [`analyze`], and which function bodies the findings depend on.
pub fn analyze_with_reads(
    files: &[FileFacts],
    catalog: &Catalog,
    options: &Options,
) -> (Vec<Diagnostic>, Reads) {
    analyze_reusing(files, catalog, options, &kept::Prior::default(), false)
}

/// [`analyze_with_reads`], taking the call-site resolutions of file `i` from
/// `prior.files[i]` where it holds some (see [`kept`]: the caller vouches that the files
/// and their definitions are those of the run that kept them, or more as
/// [`kept::renumbering`] allows and `prior.renumbered` records), and with `keep`, returning
/// every resolution in [`Reads::resolutions`].
pub fn analyze_reusing(
    files: &[FileFacts],
    catalog: &Catalog,
    options: &Options,
    prior: &kept::Prior,
    keep: bool,
) -> (Vec<Diagnostic>, Reads) {
    let index = Index::build(files);
    let mut base = Vec::with_capacity(files.len());
    let mut refs = Vec::new();
    for (fi, file) in files.iter().enumerate() {
        base.push(refs.len());
        for i in 0..file.functions.len() {
            refs.push(FnRef {
                file: fi as u32,
                func: i as u32,
            });
        }
    }
    let n = refs.len();
    let mut a = Analysis {
        index,
        catalog,
        refs,
        base,
        resolutions: Vec::with_capacity(n),
        roles: vec![Role::Sync; n],
        owner: (0..n).collect(),
        owned: Owned::default(),
        context: vec!["async"; n],
    };
    let restored = a.resolve_all(prior);
    // Kept before the passes below adjust them (they are redone from the facts each run).
    let kept = if keep {
        a.kept(prior, &restored)
    } else {
        Vec::new()
    };
    a.drop_calls_on_nonblocking_receivers();
    a.mark_offload_wrappers();
    a.assign_roles();
    a.owned = a.owned_sites();
    // Which bodies the findings read depends on the roles and resolutions, not on the
    // summaries: it is found beside the summaries and checks, which are mostly serial.
    let ((witnesses, out), mut reads) = rayon::join(
        || {
            let witnesses = a.summaries(options);
            let mut out = Vec::new();
            a.check_calls(&witnesses, options, &mut out);
            a.check_guards(&mut out);
            a.check_async_endpoints(&witnesses, &mut out);
            (witnesses, out)
        },
        || a.reads(),
    );
    reads.resolutions = kept;
    if keep {
        reads.chains = a.kept_chains(&reads.hot, &witnesses);
    }
    a.free_in_parallel(witnesses);
    (out, reads)
}

impl<'a, 'c> Analysis<'a, 'c> {
    /// Frees the analysis' tables on all workers: one allocation per call site and per map
    /// entry make freeing them a noticeable serial step at the end of a run on a big tree.
    fn free_in_parallel(self, witnesses: Vec<Vec<(RuleCode, Witness<'c>)>>) {
        use rayon::prelude::*;
        let Analysis {
            index,
            resolutions,
            owned,
            ..
        } = self;
        rayon::join(
            || resolutions.into_par_iter().for_each(drop),
            || drop((index, owned, witnesses)),
        );
    }

    /// The functions whose bodies the checks read: the roots of `check_calls` (code on the
    /// loop; `check_async_endpoints` looks at a subset), the sync functions their calls
    /// reach, transitively (the summaries' chains run only through those), and the inline
    /// closures whose sites belong to any of them. A superset is safe; this one ignores
    /// depth limits and offloads.
    fn reads(&self) -> Reads {
        let n = self.refs.len();
        let mut hot = vec![false; n];
        let mut visited = vec![false; n];
        let mut stack: Vec<usize> = (0..n)
            .filter(|&o| self.owner[o] == o && matches!(self.roles[o], Role::Async | Role::OnLoop))
            .collect();
        while let Some(o) = stack.pop() {
            if std::mem::replace(&mut visited[o], true) {
                continue;
            }
            hot[o] = true;
            for &s in &self.owned[o] {
                hot[s.func] = true;
                for (t, _) in &self.resolutions[s.func][s.site].targets {
                    if let Target::Function(g) = t {
                        let gid = self.id(*g);
                        hot[gid] = true;
                        stack.push(self.owner[gid]);
                        stack.push(gid);
                    }
                }
            }
        }
        // An inline closure of a read body is part of it even while it has no call sites
        // (`cb = lambda: None` may become `lambda: time.sleep(1)`).
        for id in 0..n {
            if visited[self.owner[id]] {
                hot[id] = true;
            }
        }
        let mut out = vec![Vec::new(); self.base.len()];
        for (id, _) in hot.iter().enumerate().filter(|(_, h)| **h) {
            let r = self.refs[id];
            out[r.file as usize].push(r.func);
        }
        let contexts = (0..n)
            .filter(|&id| self.context[id] != "async")
            .map(|id| (self.refs[id].file, self.refs[id].func, self.context[id]))
            .collect();
        Reads {
            hot: out,
            resolutions: Vec::new(),
            contexts,
            chains: Vec::new(),
        }
    }

    /// [`Reads::chains`]: each function in `hot` with its chains, as `check_calls` follows
    /// them. A function whose chain cannot be kept is left out (a later run then cannot
    /// make the findings of a call of it).
    fn kept_chains(
        &self,
        hot: &[Vec<u32>],
        witnesses: &[Vec<(RuleCode, Witness<'c>)>],
    ) -> chains::KeptChains {
        use chains::{HotFunction, KeptChain};
        let kept = |id: usize| -> Option<HotFunction> {
            if self.roles[id] != Role::Sync {
                return Some(HotFunction::NoChain);
            }
            let lang = self.index.language(self.refs[id]);
            let blocking = &self.catalog.language(lang).blocking;
            witnesses[id]
                .iter()
                .map(|(rule, w)| {
                    let (hops, api_path, api) = self.chain_from(id, rule, witnesses)?;
                    Some(KeptChain {
                        api: blocking.index_of(api)?,
                        api_path,
                        confidence: w.confidence,
                        hops,
                    })
                })
                .collect::<Option<_>>()
                .map(HotFunction::Sync)
        };
        (hot.iter().enumerate())
            .map(|(file, funcs)| {
                funcs
                    .iter()
                    .filter_map(|&func| Some((func, kept(self.base[file] + func as usize)?)))
                    .collect()
            })
            .collect()
    }

    fn id(&self, r: FnRef) -> usize {
        self.base[r.file as usize] + r.func as usize
    }

    fn func(&self, id: usize) -> &'a Function {
        self.index.function(self.refs[id])
    }

    fn file(&self, id: usize) -> &'a FileFacts {
        self.index.file(self.refs[id])
    }

    fn resolver(&self, id: usize) -> Resolver<'_, 'c> {
        let lang = self.index.language(self.refs[id]);
        Resolver {
            index: &self.index,
            catalog: self.catalog.language(lang),
            lang,
            file: self.refs[id].file,
        }
    }

    fn site(&self, s: SiteRef) -> &'a CallSite {
        &self.func(s.func).calls[s.site]
    }

    /// Resolves every call site. Files are independent, so this runs in parallel (order is
    /// kept: results are deterministic for any thread count). A resolution depends only on
    /// the file and on the site's callee and arguments, and a third of the sites of a big
    /// project repeat one already resolved in their file (`self.hass.async_create_task`,
    /// `_LOGGER.debug`): those are copied instead of resolved again.
    /// Returns, per file, whether its resolutions were taken from `prior` exactly as kept
    /// (none of the functions they point at renumbered).
    fn resolve_all(&mut self, prior: &kept::Prior) -> Vec<bool> {
        use rayon::prelude::*;
        let this = &*self;
        let per_file: Vec<(Vec<Vec<Resolution<'c>>>, bool)> = (0..this.base.len())
            .into_par_iter()
            .map(|file| {
                if let Some(Some(kept)) = prior.files.get(file) {
                    let facts = &this.index.files[file];
                    let lang = facts.language.unwrap_or(Language::Python);
                    let catalog = this.catalog.language(lang);
                    let exists = |r: FnRef| {
                        let f = r.file as usize;
                        let end = this.base.get(f + 1).copied().unwrap_or(this.refs.len());
                        this.base
                            .get(f)
                            .is_some_and(|&b| b + (r.func as usize) < end)
                    };
                    if let Some((res, as_kept)) = kept::restore_file(
                        kept,
                        &facts.functions,
                        catalog,
                        &prior.renumbered,
                        &exists,
                    ) {
                        return (res, as_kept);
                    }
                }
                let end = this.base.get(file + 1).copied().unwrap_or(this.refs.len());
                let mut seen: rustc_hash::FxHashMap<SiteKey<'a>, usize> = Default::default();
                let mut resolved: Vec<Vec<Resolution<'c>>> =
                    Vec::with_capacity(end - this.base[file]);
                let mut done: Vec<(usize, usize)> = Vec::new();
                for id in this.base[file]..end {
                    let r = this.resolver(id);
                    let calls = &this.func(id).calls;
                    let mut out: Vec<Resolution<'c>> = Vec::with_capacity(calls.len());
                    for (i, site) in calls.iter().enumerate() {
                        let key = SiteKey::of(site);
                        match seen.get(&key) {
                            Some(&at) => {
                                let (f, s) = done[at];
                                let copy = if f == resolved.len() {
                                    out[s].clone()
                                } else {
                                    resolved[f][s].clone()
                                };
                                out.push(copy);
                            }
                            None => {
                                seen.insert(key, done.len());
                                done.push((resolved.len(), i));
                                out.push(r.resolve(site));
                            }
                        }
                    }
                    resolved.push(out);
                }
                (resolved, false)
            })
            .collect();
        let restored = per_file.iter().map(|(_, restored)| *restored).collect();
        self.resolutions = per_file.into_iter().flat_map(|(res, _)| res).collect();
        restored
    }

    /// Every call site's resolution in the form kept between runs, per file (see
    /// [`kept`]); empty if one cannot be kept.
    fn kept(&self, prior: &kept::Prior, restored: &[bool]) -> Vec<kept::KeptFile> {
        use rayon::prelude::*;
        (0..self.base.len())
            .into_par_iter()
            .map(|file| {
                // As the last run kept them: they restored to these very resolutions.
                if restored[file]
                    && let Some(Some(kept)) = prior.files.get(file)
                {
                    return Some(kept.clone());
                }
                let end = self.base.get(file + 1).copied().unwrap_or(self.refs.len());
                let facts = &self.index.files[file];
                let catalog = self
                    .catalog
                    .language(facts.language.unwrap_or(Language::Python));
                let functions = self.resolutions[self.base[file]..end].iter();
                let is_async = |f: FnRef| self.index.function(f).is_async;
                kept::KeptFile::encode(functions.map(Vec::as_slice), catalog, &is_async)
            })
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default()
    }

    /// After `sock.setblocking(False)` (a catalog `nonblocking-after` switch), later calls
    /// on the same receiver in the same function do not block.
    fn drop_calls_on_nonblocking_receivers(&mut self) {
        // A switch is a method call whose name ends a switch path (a method's candidate
        // paths are `Type.name`): other functions are skipped without resolving anything.
        let catalog = self.catalog;
        let switch_names = |lang| catalog.language(lang).nonblocking_after.last_names();
        let (python_names, rust_names) =
            (switch_names(Language::Python), switch_names(Language::Rust));
        let may_switch = |lang, site: &CallSite| {
            let names = match lang {
                Language::Python => &python_names,
                Language::Rust => &rust_names,
            };
            may_switch(names, site)
        };
        // The functions with a possible switch, found in parallel (every call site is
        // looked at; few functions have one).
        let with_switch: Vec<usize> = {
            use rayon::prelude::*;
            let this = &*self;
            (0..this.refs.len())
                .into_par_iter()
                .filter(|&id| {
                    let r = this.resolver(id);
                    !r.catalog.nonblocking_after.is_empty()
                        && this.func(id).calls.iter().any(|s| may_switch(r.lang, s))
                })
                .collect()
        };
        for id in with_switch {
            let f = self.func(id);
            let r = self.resolver(id);
            let may_switch = |site: &CallSite| may_switch(r.lang, site);
            let mut order: Vec<usize> = (0..f.calls.len()).collect();
            order.sort_by_key(|&i| f.calls[i].span.start_byte);
            let mut switched: Vec<&loopguard_core::facts::TypeRef> = Vec::new();
            let mut drop_sites = Vec::new();
            for i in order {
                let site = &f.calls[i];
                let loopguard_core::facts::Callee::Method { receiver, .. } = &site.callee else {
                    continue;
                };
                if switched.contains(&receiver) {
                    drop_sites.push(i);
                    continue;
                }
                let is_switch = may_switch(site)
                    && r.candidate_paths(&site.callee, 0).iter().any(|(p, _)| {
                        r.catalog
                            .nonblocking_after
                            .path(p, None)
                            .is_some_and(|when| site.args.iter().any(|a| when.contains(a)))
                    });
                if is_switch {
                    switched.push(receiver);
                }
            }
            for i in drop_sites {
                self.resolutions[id][i]
                    .targets
                    .retain(|(t, _)| !matches!(t, Target::Api { .. }));
            }
        }
    }

    /// A function that hands one of its parameters to an offload
    /// (`async fn asyncify(f) { spawn_blocking(f).await }`, `def run(func): return
    /// loop.run_in_executor(None, func)`) is an offload itself: closures passed to it run
    /// off the loop. Wrappers of wrappers are found by iterating to a fixed point.
    fn mark_offload_wrappers(&mut self) {
        use rayon::prelude::*;
        let n = self.refs.len();
        let mut wrapper = vec![false; n];
        // Only a function that passes one of its parameters on can be a wrapper; the fixed
        // point visits just those, in id order. What each one's passing sites say is read
        // once: whether one is an offload itself, and the functions they call.
        struct Candidate {
            id: usize,
            offloads: bool,
            callees: Vec<usize>,
        }
        let mut candidates: Vec<Candidate> = (0..n)
            .into_par_iter()
            .filter_map(|g| {
                let f = self.func(g);
                let mut passing = f
                    .calls
                    .iter()
                    .zip(&self.resolutions[g])
                    .filter(|(site, _)| !site.param_args.is_empty())
                    .peekable();
                passing.peek()?;
                let mut c = Candidate {
                    id: g,
                    offloads: false,
                    callees: Vec::new(),
                };
                for (_, res) in passing {
                    c.offloads |= res.offload;
                    c.callees
                        .extend(res.targets.iter().filter_map(|(t, _)| match t {
                            Target::Function(h) => Some(self.id(*h)),
                            _ => None,
                        }));
                }
                Some(c)
            })
            .collect();
        for _ in 0..8 {
            let mut changed = false;
            candidates.retain(|c| !wrapper[c.id]);
            for c in &candidates {
                // Marks made earlier in this round count (as in a serial pass in id order).
                if c.offloads || c.callees.iter().any(|&h| wrapper[h]) {
                    wrapper[c.id] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        if !wrapper.iter().any(|w| *w) {
            return;
        }
        let base = &self.base;
        self.resolutions.par_iter_mut().flatten().for_each(|res| {
            if res.targets.iter().any(|(t, _)| {
                matches!(t, Target::Function(h) if wrapper[base[h.file as usize] + h.func as usize])
            }) {
                res.offload = true;
            }
        });
    }

    /// The role effects of function `id`'s decorators, `Depends` parameters, middleware
    /// methods and call sites, in the order a serial pass would apply them.
    fn role_effects(&self, id: usize) -> Vec<RoleEffect> {
        let n = self.refs.len();
        let mut out = Vec::new();
        let f = self.func(id);
        let r = self.resolver(id);
        for d in &f.decorators {
            let res = r.resolve_reference(&d.callee);
            if res.offload {
                out.push(RoleEffect::Offloaded(id));
            }
            if res.loop_callback {
                out.push(RoleEffect::OnLoop(id));
                out.push(RoleEffect::Context(id, "callback"));
            }
            if let Some(kind) = r.catalog.endpoints.path(
                &r.candidate_paths(&d.callee, 0)
                    .first()
                    .map(|p| p.0.clone())
                    .unwrap_or_default(),
                None,
            ) {
                out.push(RoleEffect::Context(
                    id,
                    match kind {
                        EndpointKind::Route => "route",
                        EndpointKind::Middleware => "middleware",
                        EndpointKind::Dependency => "dependency",
                    },
                ));
            }
        }
        // `Depends(get_x)` parameters: get_x runs per request as a dependency.
        for p in &f.params {
            if let Some(dc) = &p.default_call
                && r.resolve_reference(dc).endpoint == Some(EndpointKind::Dependency)
            {
                for arg in &p.default_args {
                    for (t, _) in r.resolve_reference(arg).targets {
                        if let Target::Function(g) = t {
                            out.push(RoleEffect::DefaultContext(self.id(g), "dependency"));
                        }
                    }
                }
            }
        }
        // Middleware classes: `dispatch`/`__call__` of a subclass of a middleware base.
        if let Some(class) = &f.class
            && (f.name == "dispatch" || f.name == "__call__")
            && let Some(info) = self.index.classes.get(class.as_str())
            && info.bases.iter().any(|b| {
                r.catalog.endpoints.path(&r.canonical(b), None) == Some(&EndpointKind::Middleware)
            })
        {
            out.push(RoleEffect::Context(id, "middleware"));
        }
        let base = self.base[self.refs[id].file as usize];
        for (site, res) in f.calls.iter().zip(&self.resolutions[id]) {
            for &c in &site.closure_args {
                let cid = base + c as usize;
                if cid >= n {
                    continue;
                }
                if res.offload {
                    out.push(RoleEffect::Offloaded(cid));
                } else if res.loop_callback {
                    out.push(RoleEffect::OnLoop(cid));
                }
            }
            if res.loop_callback {
                for arg in &site.callable_args {
                    for (t, _) in r.resolve_reference(arg).targets {
                        if let Target::Function(g) = t {
                            let gid = self.id(g);
                            out.push(RoleEffect::OnLoop(gid));
                            out.push(RoleEffect::Context(gid, "callback"));
                        }
                    }
                }
            }
        }
        out
    }

    fn assign_roles(&mut self) {
        use rayon::prelude::*;
        let n = self.refs.len();
        // What each function's decorators, parameters and call sites say about the roles of
        // functions (itself or others), resolved in parallel and applied below in id order,
        // so that later effects win exactly as in a serial pass.
        let this = &*self;
        let effects: Vec<Vec<RoleEffect>> = (0..n)
            .into_par_iter()
            .map(|id| this.role_effects(id))
            .collect();
        let mut on_loop = vec![false; n];
        let mut offloaded = vec![false; n];
        let mut contexts: Vec<Option<&'static str>> = vec![None; n];
        for effect in effects.iter().flatten() {
            match *effect {
                RoleEffect::Offloaded(id) => offloaded[id] = true,
                RoleEffect::OnLoop(id) => on_loop[id] = true,
                RoleEffect::Context(id, c) => contexts[id] = Some(c),
                RoleEffect::DefaultContext(id, c) => {
                    contexts[id].get_or_insert(c);
                }
            }
        }
        for id in 0..n {
            let f = self.func(id);
            self.roles[id] = if offloaded[id] {
                Role::Offloaded
            } else if f.is_async {
                Role::Async
            } else if on_loop[id] {
                Role::OnLoop
            } else {
                Role::Sync
            };
        }
        // Inline closures belong to their enclosing function's body.
        for id in 0..n {
            let mut cur = id;
            let mut hops = 0;
            while hops < 64 {
                let f = self.func(cur);
                if f.kind != FunctionKind::Closure || self.roles[cur] != Role::Sync {
                    break;
                }
                let Some(parent) = f.parent else { break };
                let pid = self.base[self.refs[cur].file as usize] + parent as usize;
                if pid >= n || pid == cur {
                    break;
                }
                cur = pid;
                hops += 1;
            }
            self.owner[id] = cur;
        }
        for (ctx, c) in self.context.iter_mut().zip(contexts) {
            if let Some(c) = c {
                *ctx = c;
            }
        }
    }

    /// All call sites whose code runs as part of `owner`'s body.
    fn owned_sites(&self) -> Owned {
        // Counted, then placed: one table for all owners instead of a list per function.
        let n = self.refs.len();
        let mut start = vec![0usize; n + 1];
        for id in 0..n {
            start[self.owner[id] + 1] += self.func(id).calls.len();
        }
        for o in 0..n {
            start[o + 1] += start[o];
        }
        let mut next = start.clone();
        let mut sites = vec![SiteRef { func: 0, site: 0 }; start[n]];
        for id in 0..n {
            let o = self.owner[id];
            for site in 0..self.func(id).calls.len() {
                sites[next[o]] = SiteRef { func: id, site };
                next[o] += 1;
            }
        }
        Owned { start, sites }
    }

    fn summaries(&self, options: &Options) -> Vec<Vec<(RuleCode, Witness<'c>)>> {
        let n = self.refs.len();
        let owned = &self.owned;
        let mut witnesses: Vec<Vec<(RuleCode, Witness<'c>)>> = vec![Vec::new(); n];
        let mut callers: Vec<Vec<(usize, SiteRef, Confidence)>> = vec![Vec::new(); n];
        let mut queue: VecDeque<(usize, RuleCode)> = VecDeque::new();
        for o in 0..n {
            if self.owner[o] != o || self.roles[o] != Role::Sync {
                continue;
            }
            for &s in &owned[o] {
                if self.site(s).awaited {
                    continue;
                }
                for (t, conf) in &self.resolutions[s.func][s.site].targets {
                    match t {
                        Target::Api { path, api } => {
                            if !witnesses[o].iter().any(|(r, _)| *r == api.rule) {
                                witnesses[o].push((
                                    api.rule,
                                    Witness {
                                        site: s,
                                        next: Next::Api {
                                            path: path.clone(),
                                            api,
                                        },
                                        depth: 1,
                                        confidence: (*conf).max(api.confidence),
                                    },
                                ));
                                queue.push_back((o, api.rule));
                            }
                        }
                        Target::Function(g) => {
                            let gid = self.id(*g);
                            if self.roles[gid] == Role::Sync && gid != o {
                                callers[gid].push((o, s, *conf));
                            }
                        }
                    }
                }
            }
        }
        while let Some((g, rule)) = queue.pop_front() {
            let Some(w) = witnesses[g]
                .iter()
                .find(|(r, _)| *r == rule)
                .map(|x| x.1.clone())
            else {
                continue;
            };
            if w.depth as usize >= options.max_depth {
                continue;
            }
            for &(f, site, conf) in &callers[g] {
                if witnesses[f].iter().any(|(r, _)| *r == rule) {
                    continue;
                }
                witnesses[f].push((
                    rule,
                    Witness {
                        site,
                        next: Next::Call(g),
                        depth: w.depth + 1,
                        confidence: conf.max(w.confidence),
                    },
                ));
                queue.push_back((f, rule));
            }
        }
        for w in &mut witnesses {
            w.sort_by_key(|(r, _)| *r);
        }
        witnesses
    }

    fn hop(&self, s: SiteRef) -> Hop {
        let f = self.func(s.func);
        let site = self.site(s);
        Hop {
            function: f.qualname.clone(),
            path: self.file(s.func).path.clone(),
            span: site.span,
            call: site.text.clone(),
        }
    }

    /// Follows a witness chain from sync function `g` down to the API.
    fn chain_from(
        &self,
        g: usize,
        rule: RuleCode,
        witnesses: &[Vec<(RuleCode, Witness<'c>)>],
    ) -> Option<(Vec<Hop>, String, &'c BlockingApi)> {
        let mut hops = Vec::new();
        let mut cur = g;
        for _ in 0..=witnesses.len() {
            let (_, w) = witnesses[cur].iter().find(|(r, _)| *r == rule)?;
            hops.push(self.hop(w.site));
            match &w.next {
                Next::Api { path, api } => return Some((hops, path.clone(), api)),
                Next::Call(next) => cur = *next,
            }
        }
        None
    }

    fn where_text(&self, id: usize) -> String {
        where_text(self.func(id), self.roles[id] == Role::OnLoop)
    }

    fn check_calls(
        &self,
        witnesses: &[Vec<(RuleCode, Witness<'c>)>],
        options: &Options,
        out: &mut Vec<Diagnostic>,
    ) {
        for (o, sites) in self.owned.iter().enumerate() {
            if self.owner[o] != o || !matches!(self.roles[o], Role::Async | Role::OnLoop) {
                continue;
            }
            let mut seen: Vec<(SiteRef, RuleCode)> = Vec::new();
            for &s in sites {
                let site = self.site(s);
                if site.awaited {
                    continue;
                }
                for (t, conf) in &self.resolutions[s.func][s.site].targets {
                    match t {
                        Target::Api { path, api } => {
                            if seen.contains(&(s, api.rule)) {
                                continue;
                            }
                            seen.push((s, api.rule));
                            out.push(self.finding(
                                o,
                                s,
                                api.rule,
                                path,
                                api,
                                Vec::new(),
                                (*conf).max(api.confidence),
                            ));
                        }
                        Target::Function(g) => {
                            let gid = self.id(*g);
                            if options.direct_only || self.roles[gid] != Role::Sync {
                                continue;
                            }
                            for (rule, w) in &witnesses[gid] {
                                if seen.contains(&(s, rule)) {
                                    continue;
                                }
                                let Some((mut rest, path, api)) =
                                    self.chain_from(gid, rule, witnesses)
                                else {
                                    continue;
                                };
                                seen.push((s, rule));
                                let mut chain = vec![self.hop(s)];
                                chain.append(&mut rest);
                                out.push(self.finding(
                                    o,
                                    s,
                                    rule,
                                    &path,
                                    api,
                                    chain,
                                    (*conf).max(w.confidence),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        owner: usize,
        s: SiteRef,
        rule: RuleCode,
        api_path: &str,
        api: &BlockingApi,
        chain: Vec<Hop>,
        confidence: Confidence,
    ) -> Diagnostic {
        build_finding(
            Owner {
                function: self.func(owner),
                place: self.where_text(owner),
                context: self.context[owner],
            },
            &self.file(s.func).path,
            self.site(s),
            rule,
            api_path,
            api,
            chain,
            confidence,
        )
    }

    fn check_guards(&self, out: &mut Vec<Diagnostic>) {
        for id in 0..self.refs.len() {
            let f = self.func(id);
            if f.guards.is_empty() || self.roles[id] == Role::Offloaded {
                continue;
            }
            let r = self.resolver(id);
            let path = &self.file(id).path;
            for g in &f.guards {
                if g.awaits.is_empty() {
                    continue;
                }
                let Some((kind, hint, confidence)) = r.guard_kind(&g.acquire, g.arg_count) else {
                    continue;
                };
                let (code, what, default_hint) = match kind {
                    GuardKind::Lock => (
                        "LG202",
                        "sync lock guard",
                        "use an async lock (asyncio.Lock / tokio::sync::Mutex) or release the lock before awaiting",
                    ),
                    GuardKind::Borrow => (
                        "LG203",
                        "RefCell borrow",
                        "end the borrow (drop it or scope it in a block) before awaiting",
                    ),
                };
                let Some(info) = rules::by_code(code) else {
                    continue;
                };
                let n = g.awaits.len();
                out.push(Diagnostic {
                    code: info.code,
                    severity: info.severity,
                    confidence,
                    message: format!(
                        "{what} `{}` is held across {} {}",
                        g.text,
                        if n == 1 {
                            "an await".to_string()
                        } else {
                            format!("{n} awaits")
                        },
                        self.where_text(id)
                    ),
                    path: path.clone(),
                    span: g.span,
                    help: Some(hint.unwrap_or_else(|| default_hint.to_string())),
                    function: f.qualname.clone(),
                    call: g.text.clone(),
                    api: g.text.clone(),
                    chain: Vec::new(),
                    related: g
                        .awaits
                        .iter()
                        .map(|a| Label {
                            path: path.clone(),
                            span: *a,
                            message: "awaited while the guard is held".to_string(),
                        })
                        .collect(),
                    context: self.context[self.owner[id]].to_string(),
                });
            }
        }
    }

    /// LG501: an async route or dependency that never awaits but does blocking work.
    fn check_async_endpoints(
        &self,
        witnesses: &[Vec<(RuleCode, Witness<'c>)>],
        out: &mut Vec<Diagnostic>,
    ) {
        for (id, sites) in self.owned.iter().enumerate() {
            let f = self.func(id);
            if self.roles[id] != Role::Async
                || f.kind == FunctionKind::AsyncBlock
                || self.index.language(self.refs[id]) != Language::Python
                || !matches!(self.context[id], "route" | "dependency")
                || !f.awaits.is_empty()
                || f.has_async_syntax
            {
                continue;
            }
            // Closures inside count too: an inner `await` is impossible without `async`.
            let mut blocking: Option<(String, RuleCode)> = None;
            for &s in sites {
                if self.site(s).awaited {
                    continue;
                }
                for (t, _) in &self.resolutions[s.func][s.site].targets {
                    let hit = match t {
                        Target::Api { api, .. } => Some(api.rule),
                        Target::Function(g) => {
                            let gid = self.id(*g);
                            if self.roles[gid] == Role::Sync {
                                witnesses[gid].first().map(|(r, _)| *r)
                            } else {
                                None
                            }
                        }
                    };
                    if let Some(rule) = hit
                        && rule != "LG101"
                    {
                        blocking.get_or_insert((self.site(s).text.clone(), rule));
                    }
                }
            }
            let Some((call, rule)) = blocking else {
                continue;
            };
            let Some(info) = rules::by_code("LG501") else {
                continue;
            };
            let category = rules::by_code(rule)
                .map(|r| r.category)
                .unwrap_or("blocking call");
            out.push(Diagnostic {
                code: info.code,
                severity: info.severity,
                confidence: Confidence::Certain,
                message: format!(
                    "{} `{}` is declared `async def` but never awaits, and does blocking work (`{call}`: {category})",
                    self.context[id],
                    f.name
                ),
                path: self.file(id).path.clone(),
                span: f.name_span,
                help: Some(
                    "declare it `def` so the framework runs it in its threadpool (`loopguard check --fix` does it)"
                        .to_string(),
                ),
                function: f.qualname.clone(),
                call: f.name.clone(),
                api: f.qualname.clone(),
                chain: Vec::new(),
                related: Vec::new(),
                context: self.context[id].to_string(),
            });
        }
    }
}

/// Whether a call may be a switch to non-blocking mode (`sock.setblocking(False)`), after
/// which later calls on its receiver do not block: a method call whose name ends one of the
/// catalog's switch paths. `names`: those last names (`Matcher::last_names` of
/// `nonblocking_after`), `None` when any name may be one.
pub fn may_switch(names: &Option<Vec<&str>>, site: &CallSite) -> bool {
    use loopguard_core::facts::Callee;
    match (&site.callee, names) {
        (Callee::Method { name, .. }, Some(names)) => names.contains(&name.as_str()),
        (Callee::Method { .. }, None) => true,
        _ => false,
    }
}

/// The function a finding is in, as its message and fields name it.
struct Owner<'f> {
    function: &'f Function,
    /// Where its code runs (`in async function `f``), see [`where_text`].
    place: String,
    context: &'f str,
}

/// A finding of a call site that blocks (a catalog API, directly or through `chain`).
#[allow(clippy::too_many_arguments)]
fn build_finding(
    owner: Owner,
    path: &str,
    site: &CallSite,
    rule: RuleCode,
    api_path: &str,
    api: &BlockingApi,
    chain: Vec<Hop>,
    confidence: Confidence,
) -> Diagnostic {
    let info = rules::by_code(rule);
    let category = info.map(|r| r.category).unwrap_or("blocking call");
    let api_name = display_api(api_path, &site.text);
    let message = if chain.is_empty() {
        format!("{category} `{api_name}` {}", owner.place)
    } else {
        let depth = chain.len() - 1;
        format!(
            "`{}` reaches {category} `{api_name}` ({depth} call{} deep) {}",
            site.text,
            if depth == 1 { "" } else { "s" },
            owner.place
        )
    };
    Diagnostic {
        code: rule,
        severity: info.map(|r| r.severity).unwrap_or(rules::Severity::Error),
        confidence,
        message,
        path: path.to_string(),
        span: site.span,
        help: Some(api.hint.clone()),
        function: owner.function.qualname.clone(),
        call: site.text.clone(),
        api: api_name,
        chain,
        related: Vec::new(),
        context: owner.context.to_string(),
    }
}

/// The findings `check_calls` gives a call site in the body of async function `owner` (not
/// a closure or an async block, and not offloaded: its role is `Async`) whose resolution
/// holds only catalog APIs, as `resolution` (see `resolve::external_call_resolution`);
/// `context` is the function's context word ([`Reads::contexts`]).
pub fn direct_findings(
    owner: &Function,
    path: &str,
    site: &CallSite,
    resolution: &Resolution,
    context: &str,
) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    if site.awaited {
        return out;
    }
    for (t, conf) in &resolution.targets {
        if let Target::Api {
            path: api_path,
            api,
        } = t
            && !out.iter().any(|d| d.code == api.rule)
        {
            out.push(async_finding(
                owner,
                context,
                path,
                site,
                (api.rule, api_path, api),
                Vec::new(),
                (*conf).max(api.confidence),
            ));
        }
    }
    out
}

/// [`build_finding`] for a call in the body of async function `owner` (role `Async`), whose
/// findings say `context`; `api`: the rule, the path it was resolved as, and the entry.
pub(crate) fn async_finding(
    owner: &Function,
    context: &str,
    path: &str,
    site: &CallSite,
    (rule, api_path, api): (RuleCode, &str, &BlockingApi),
    chain: Vec<Hop>,
    confidence: Confidence,
) -> Diagnostic {
    build_finding(
        Owner {
            function: owner,
            place: where_text(owner, false),
            context,
        },
        path,
        site,
        rule,
        api_path,
        api,
        chain,
        confidence,
    )
}

/// Where a function's code runs, as findings in it say.
fn where_text(f: &Function, on_loop: bool) -> String {
    let name = display_name(f);
    if on_loop {
        format!("in `{name}`, which runs on the event loop")
    } else if f.kind == FunctionKind::AsyncBlock {
        format!("in an async block of `{name}`")
    } else {
        format!("in async function `{name}`")
    }
}

fn display_name(f: &Function) -> String {
    match f.kind {
        FunctionKind::Method => match &f.class {
            Some(c) => {
                let short = c.rsplit(['.', ':']).next().unwrap_or(c);
                format!("{short}.{}", f.name)
            }
            None => f.name.clone(),
        },
        FunctionKind::AsyncBlock | FunctionKind::Closure => {
            // Name the enclosing function: `crate::m::f::{async block}` -> `f`.
            let trimmed = f.qualname.trim_end_matches(|c: char| c != ':' && c != '.');
            let parent = trimmed.trim_end_matches([':', '.']);
            parent
                .rsplit(['.', ':'])
                .next()
                .unwrap_or(&f.name)
                .to_string()
        }
        FunctionKind::Function => f.name.clone(),
    }
}

/// The API name shown to users: the resolved path, or the call text for name-only matches.
fn display_api(path: &str, text: &str) -> String {
    if path.starts_with("<unknown>") {
        text.to_string()
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests;
