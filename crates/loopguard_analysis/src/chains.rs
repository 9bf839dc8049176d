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
