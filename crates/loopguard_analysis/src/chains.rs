//! The blocking chains of the functions the findings read, kept between runs.
//!
//! A finding of a call of a sync function is that function's witness chain with one hop in
//! front (`check_calls`). An analysing run keeps, for every function its findings read
//! (`Reads::hot`), whether it is a plain sync function and, if so, its chain per rule. A
//! later edit that adds or removes, in an async function, a call whose kept resolution it
//! repeats can then make that call's findings itself ([`kept_call_findings`]), as long as
//! each function the call reaches is one of those and still pinned: a pinned function's
//! calls change only in ways that change no chain, so its chains hold (the engine's shifted
//! reuse).

use loopguard_core::catalog::LanguageCatalog;
use loopguard_core::diagnostic::{Confidence, Diagnostic, Hop};
use loopguard_core::facts::{CallSite, Function};
use serde::{Deserialize, Serialize};

use crate::async_finding;
use crate::kept::{KeptResolution, KeptTarget};
use crate::resolve::{Resolution, Target};

/// What a later run may take of a function the findings read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HotFunction {
    /// Async, on the loop or offloaded: a call of it has no chain (`check_calls` follows
    /// plain sync functions only).
    NoChain,
    /// A plain sync function and its witness chains, by rule (as `check_calls` reads them).
    Sync(Vec<KeptChain>),
}

/// One rule's witness chain of a sync function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptChain {
    /// The API at its end: its place among the language's blocking APIs, and the path it
    /// was resolved as.
    pub api: u32,
    pub api_path: String,
    /// The witness' confidence at the function.
    pub confidence: Confidence,
    /// From the function's own call down to the API.
    pub hops: Vec<Hop>,
}

/// Per file (its place among the run's files): the functions the findings read, sorted by
/// number (as the kept resolutions number them).
pub type KeptChains = Vec<Vec<(u32, HotFunction)>>;

/// The function `func` of file `file` in `chains`, if the findings read it.
pub fn hot_function(chains: &KeptChains, file: u32, func: u32) -> Option<&HotFunction> {
    let list = chains.get(file as usize)?;
    let at = list.binary_search_by_key(&func, |(f, _)| *f).ok()?;
    Some(&list[at].1)
}

/// The chains `summaries` gives plain sync function `func` of the file at `path` when each
/// of its calls resolves as `resolutions` says (in order) and none reaches a function of
/// the project: per rule, its first call of an API of that rule, one hop long. `None` if
/// a call reaches a function (its chain would need that function's) or an entry is not
/// one of `catalog`'s blocking APIs.
pub fn local_chains(
    func: &Function,
    path: &str,
    resolutions: &[Resolution<'_>],
    catalog: &LanguageCatalog,
) -> Option<HotFunction> {
    let mut chains: Vec<(loopguard_core::rules::RuleCode, KeptChain)> = Vec::new();
    if func.calls.len() != resolutions.len() {
        return None;
    }
    for (site, res) in func.calls.iter().zip(resolutions) {
        // An awaited call runs nothing here (`summaries` skips it).
        if site.awaited {
            continue;
        }
        for (target, conf) in &res.targets {
            let Target::Api {
                path: api_path,
                api,
            } = target
            else {
                return None;
            };
            if chains.iter().any(|(r, _)| *r == api.rule) {
                continue;
            }
            chains.push((
                api.rule,
                KeptChain {
                    api: catalog.blocking.index_of(api)?,
                    api_path: api_path.clone(),
                    confidence: (*conf).max(api.confidence),
                    hops: vec![Hop {
                        function: func.qualname.clone(),
                        path: path.to_owned(),
                        span: site.span,
                        call: site.text.clone(),
                    }],
                },
            ));
        }
    }
    // `summaries` sorts a function's witnesses by rule; `check_calls` follows that order.
    chains.sort_by_key(|(r, _)| *r);
    Some(HotFunction::Sync(
        chains.into_iter().map(|(_, c)| c).collect(),
    ))
}

/// Where a call's kept resolution leads, for [`kept_call_findings`].
pub struct KeptCallTargets<'a, 'h> {
    /// The function a kept target names, if the caller vouches for it (the findings read
    /// it, it is still pinned): `None` stops the findings from being made.
    pub function: &'a dyn Fn(u32, u32) -> Option<&'h HotFunction>,
    /// Moves a hop of a kept chain to where its call is now; `false` if it cannot.
    pub move_hop: &'a dyn Fn(&mut Hop) -> bool,
    /// `direct-only` in the config: calls of project functions give no finding.
    pub direct_only: bool,
}

/// Whether [`kept_call_findings`] can make the findings of a call that resolves as `kept`
/// says: it schedules, offloads and marks nothing, and `function` vouches for each function
/// it reaches.
pub fn reaches_only_known<'a>(
    kept: &KeptResolution,
    function: &dyn Fn(u32, u32) -> Option<&'a HotFunction>,
) -> bool {
    !kept.offload
        && !kept.loop_callback
        && kept.endpoint.is_none()
        && kept.targets.iter().all(|(t, _)| match t {
            KeptTarget::Function(file, func) => function(*file, *func).is_some(),
            KeptTarget::Api(..) => true,
        })
}

/// The findings `check_calls` gives call `site` in the body of async function `owner` (as
/// for [`kept_call_findings`]) when the call reaches plain sync function `helper` of the
/// same file and nothing else (`Certain`), `helper` holding that function's chains as
/// [`local_chains`] made them (in the new facts: nothing to move).
pub fn helper_call_findings(
    owner: &Function,
    path: &str,
    site: &CallSite,
    helper: &HotFunction,
    catalog: &LanguageCatalog,
    direct_only: bool,
    context: &str,
) -> Option<Vec<Diagnostic>> {
    let kept = KeptResolution {
        targets: vec![(KeptTarget::Function(0, 0), Confidence::Certain)],
        offload: false,
        loop_callback: false,
        endpoint: None,
        arg_sensitive: false,
        inert: false,
    };
    let targets = KeptCallTargets {
        function: &|_, _| Some(helper),
        move_hop: &|_| true,
        direct_only,
    };
    kept_call_findings(owner, path, site, &kept, catalog, &targets, context)
}

/// Moves the hops of `chains` in files that a shifted reuse moved: `moved` gives a hop's
/// new span (`Some(None)`: its file did not move; `None`: it cannot be moved). `Some(true)`
/// if one moved, `None` if one could not be.
pub fn move_hops(
    chains: &mut KeptChains,
    moved: &dyn Fn(&Hop) -> Option<Option<loopguard_core::span::Span>>,
) -> Option<bool> {
    let mut any = false;
    for (_, hot) in chains.iter_mut().flatten() {
        let HotFunction::Sync(list) = hot else {
            continue;
        };
        for hop in list.iter_mut().flat_map(|c| c.hops.iter_mut()) {
            if let Some(span) = moved(hop)? {
                any |= span != hop.span;
                hop.span = span;
            }
        }
    }
    Some(any)
}

/// The findings `check_calls` gives call `site` in the body of async function `owner` (role
/// `Async`: not a closure or an async block, not offloaded) when the call resolves as
/// `kept` says; `None` if a target is not one `targets` vouches for, or a chain cannot be
/// moved. `context`: the function's context word.
pub fn kept_call_findings(
    owner: &Function,
    path: &str,
    site: &CallSite,
    kept: &KeptResolution,
    catalog: &LanguageCatalog,
    targets: &KeptCallTargets<'_, '_>,
    context: &str,
) -> Option<Vec<Diagnostic>> {
    let mut out: Vec<Diagnostic> = Vec::new();
    if kept.offload || kept.loop_callback || kept.endpoint.is_some() {
        return None;
    }
    if site.awaited {
        return Some(out);
    }
    let finding = |rule, api_path: &str, api, chain, confidence| {
        async_finding(
            owner,
            context,
            path,
            site,
            (rule, api_path, api),
            chain,
            confidence,
        )
    };
    for (target, conf) in &kept.targets {
        match target {
            KeptTarget::Api(api_path, at) => {
                let api = catalog.blocking.value_at(*at)?;
                if !out.iter().any(|d| d.code == api.rule) {
                    out.push(finding(
                        api.rule,
                        api_path,
                        api,
                        Vec::new(),
                        (*conf).max(api.confidence),
                    ));
                }
            }
            KeptTarget::Function(file, func) => {
                let HotFunction::Sync(chains) = (targets.function)(*file, *func)? else {
                    continue;
                };
                if targets.direct_only {
                    continue;
                }
                for chain in chains {
                    let api = catalog.blocking.value_at(chain.api)?;
                    if out.iter().any(|d| d.code == api.rule) {
                        continue;
                    }
                    let mut hops = vec![Hop {
                        function: owner.qualname.clone(),
                        path: path.to_string(),
                        span: site.span,
                        call: site.text.clone(),
                    }];
                    for hop in &chain.hops {
                        let mut hop = hop.clone();
                        if !(targets.move_hop)(&mut hop) {
                            return None;
                        }
                        hops.push(hop);
                    }
                    out.push(finding(
                        api.rule,
                        &chain.api_path,
                        api,
                        hops,
                        (*conf).max(chain.confidence),
                    ));
                }
            }
        }
    }
    Some(out)
}
