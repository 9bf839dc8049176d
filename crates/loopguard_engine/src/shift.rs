//! Edits that only move code: when a file's new facts equal its cached facts up to an
//! order-preserving shift of positions (a line inserted above a function, a comment or a
//! docstring edited, a log message reworded, any number of such edits), the findings are
//! the cached ones with their positions shifted, and the cross-file analysis need not run
//! again.
//!
//! The shift must keep every comparison the analysis and the filter make between positions
//! (a call inside a `with` block, an await after a lock, a `noqa` on the line of a finding):
//! every endpoint of a span keeps its column, and the map from old endpoints to new ones
//! keeps their order and their ties, by byte and by line. Each edit moves what follows it
//! by its own delta; an edit between two endpoints changes only the distance between them.
//! Anything else (code moved into a block, an edit inside a line with calls after it, a
//! changed call) is not a shift, and the caller runs the analysis.

use loopguard_core::diagnostic::{Diagnostic, Notification};
use loopguard_core::facts::{Alias, CallSite, Callee, FileFacts, Function, TypeRef};
use loopguard_core::span::Span;
use loopguard_core::suppression::Suppression;
use rustc_hash::{FxHashMap, FxHashSet};

/// Visits every span of a file's facts in a fixed order.
fn visit_spans(f: &mut FileFacts, visit: &mut dyn FnMut(&mut Span)) {
    for func in &mut f.functions {
        visit(&mut func.span);
        visit(&mut func.name_span);
        for d in &mut func.decorators {
            visit(&mut d.span);
        }
        for a in &mut func.awaits {
            visit(a);
        }
        for c in &mut func.calls {
            visit(&mut c.span);
        }
        for g in &mut func.guards {
            visit(&mut g.span);
            for a in &mut g.awaits {
                visit(a);
            }
        }
        for v in &mut func.attributes {
            visit(&mut v.span);
        }
    }
    for c in &mut f.classes {
        visit(&mut c.span);
        for v in &mut c.fields {
            visit(&mut v.span);
        }
    }
    for g in &mut f.globals {
        visit(&mut g.span);
    }
    for e in &mut f.errors {
        visit(&mut e.span);
    }
}

fn spans_of(f: &FileFacts) -> (FileFacts, Vec<Span>) {
    let mut copy = f.clone();
    let mut out = Vec::new();
    visit_spans(&mut copy, &mut |s| out.push(*s));
    (copy, out)
}

/// One endpoint of a span: byte, line, column.
#[derive(Clone, Copy)]
struct Point {
    byte: u32,
    line: u32,
    col: u32,
}

fn points(s: &Span) -> [Point; 2] {
    [
        Point {
            byte: s.start_byte,
            line: s.start_line,
            col: s.start_col,
        },
        Point {
            byte: s.end_byte,
            line: s.end_line,
            col: s.end_col,
        },
    ]
}

/// How one file's positions moved: old span -> new span, and old line -> new line.
#[derive(Debug)]
pub struct Shift {
    spans: FxHashMap<Span, Span>,
    /// Per line of the old text that holds an endpoint, ascending: the line's move (new
    /// line minus old line). Lines between two of them move as both do when they move
    /// alike; otherwise an edit is somewhere there and the line is ambiguous.
    line_moves: Vec<(u32, i64)>,
}

impl Shift {
    fn line(&self, line: u32) -> Option<u32> {
        let moves = &self.line_moves;
        let at = moves.partition_point(|&(l, _)| l < line);
        let delta = match (at.checked_sub(1).and_then(|i| moves.get(i)), moves.get(at)) {
            (_, Some(&(l, d))) if l == line => d,
            (Some(&(_, before)), Some(&(_, after))) if before == after => before,
            (Some(_), Some(_)) => return None,
            (Some(&(_, d)), None) | (None, Some(&(_, d))) => d,
            (None, None) => 0,
        };
        u32::try_from(i64::from(line) + delta).ok()
    }

    /// The new position of a span of the old facts; `None` for a span the facts never had
    /// (then the stored findings cannot be shifted).
    pub fn span(&self, old: &Span) -> Option<Span> {
        self.spans.get(old).copied()
    }
}

/// The shift from `old` to `new` facts of one file, if the new facts are the old ones with
/// positions shifted (see the module docs).
pub fn shift(old: &FileFacts, new: &FileFacts) -> Option<Shift> {
    let (mut old_copy, old_spans) = spans_of(old);
    let (_, new_spans) = spans_of(new);
    if old_spans.len() != new_spans.len() {
        return None;
    }
    let mut pairs: Vec<(Point, Point)> = Vec::with_capacity(old_spans.len() * 2);
    for (o, n) in old_spans.iter().zip(&new_spans) {
        // A blank span on both sides is a placeholder (a position the caller's view drops),
        // not a place in the text.
        if *o == Span::default() && *n == Span::default() {
            continue;
        }
        for (po, pn) in points(o).into_iter().zip(points(n)) {
            if po.col != pn.col {
                return None;
            }
            pairs.push((po, pn));
        }
    }
    // In old order, the new endpoints must keep every order and every tie, by byte and by
    // line (a byte order and a line order that disagree are caught too).
    pairs.sort_unstable_by_key(|(o, _)| (o.byte, o.line));
    for w in pairs.windows(2) {
        let [(oa, na), (ob, nb)] = w else { continue };
        if oa.byte.cmp(&ob.byte) != na.byte.cmp(&nb.byte)
            || oa.line.cmp(&ob.line) != na.line.cmp(&nb.line)
        {
            return None;
        }
    }
    let mut line_moves: Vec<(u32, i64)> = pairs
        .iter()
        .map(|(o, n)| (o.line, i64::from(n.line) - i64::from(o.line)))
        .collect();
    line_moves.dedup();
    // Everything but positions must be equal.
    let mut next = new_spans.iter();
    visit_spans(&mut old_copy, &mut |s| {
        if let Some(n) = next.next() {
            *s = *n;
        }
    });
    // Suppressions are compared below, by line; everything else must match here.
    old_copy.suppressions.clone_from(&new.suppressions);
    if old_copy != *new {
        return None;
    }
    let mut spans = FxHashMap::default();
    for (o, n) in old_spans.into_iter().zip(new_spans) {
        // Two equal old spans always map to equal new ones (same endpoints, ties kept).
        spans.insert(o, n);
    }
    let shift = Shift { spans, line_moves };
    // `noqa` comments must move with the code around them. The line map is one-to-one and
    // agrees with the spans on every line a finding can be on, so equal suppressions after
    // it mean a finding is suppressed after the shift exactly when it was before.
    if shift.spans.is_empty() {
        // No positions to tell where the edit is (and no finding can be in this file).
        return (old.suppressions == new.suppressions).then_some(shift);
    }
    let moved: Option<Vec<Suppression>> = old
        .suppressions
        .iter()
        .map(|s| {
            Some(Suppression {
                line: shift.line(s.line)?,
                codes: s.codes.clone(),
            })
        })
        .collect();
    (moved? == new.suppressions).then_some(shift)
}

/// Whether the caller accounts for the findings of a call of a pinned function (see
/// [`Leeway::inert`]).
pub type CallsAccountedFor<'a> = dyn Fn(&Function, &CallSite) -> bool + 'a;

/// What may change in a file's functions, beyond a shift, without changing the stored
/// findings (see [`shift_with_leeway`]).
pub struct Leeway<'a> {
    /// Functions of the old facts (sorted indices) that the findings were read from or
    /// that demand followed: they must stay as they were, up to the shift.
    pub pinned: &'a [u32],
    /// Whether a name (see [`mentioned_names`]) is mentioned anywhere in the parsed files.
    pub mentioned: &'a dyn Fn(&str) -> bool,
    /// Calls of a pinned function (given) whose findings the caller accounts for: those
    /// that change no finding (they reach no function but async ones and no catalog entry,
    /// whatever their arguments, and switch nothing to non-blocking mode: see
    /// `loopguard_analysis::kept::KeptCalls::is_inert`), and those whose findings it makes
    /// again itself. Pinned functions may gain or lose those that pass no closure over
    /// (the caller vouches that a callable passed by reference is not scheduled on the
    /// loop, and that a parameter passed on makes no offload wrapper), too (and awaits,
    /// while they have one). The caller vouches that the file's demand signature stays as
    /// it was, so that the run's index, which every resolution reads, does too.
    pub inert: Option<&'a CallsAccountedFor<'a>>,
    /// Functions of the new facts (sorted indices) that the caller vouches for as added,
    /// whether inert or not: it makes the findings of every call of them again itself, and
    /// numbers them among the pinned ones.
    pub added: &'a [u32],
    /// Functions of the old facts (sorted indices), pinned or not, that the caller vouches
    /// for as removed in the same way.
    pub removed: &'a [u32],
    /// Whether the caller vouches for an alias (an import) that only one side has: no
    /// lookup from another file reaches it, and demand does not follow it. The file's own
    /// calls through it are compared as any other calls.
    pub alias: Option<&'a dyn Fn(&Alias) -> bool>,
    /// Whether the caller vouches that no finding reads whether a pinned function awaits
    /// (LG501 cannot apply to it, awaiting or not): its awaits and async syntax may come
    /// and go (with [`Leeway::inert`] only).
    pub awaits_unread: Option<&'a dyn Fn(&Function) -> bool>,
}

/// A shift that allowed for edits outside the pinned functions.
#[derive(Debug)]
pub struct Reshaped {
    pub shift: Shift,
    /// The pinned functions, numbered in the new facts.
    pub pinned: Vec<u32>,
    /// By function of the old facts: its number in the new facts (`None`: removed).
    pub new_of_old: Vec<Option<u32>>,
}

/// A sync function without decorators, class, guards, awaits, async syntax or attributes:
/// one whose role is `Sync` unless a call hands it over, and that no lookup of a method or
/// an attribute finds.
pub fn is_plain_sync(f: &Function) -> bool {
    f.class.is_none() && has_plain_sync_body(f)
}

/// [`is_plain_sync`] but for the class: a function or a method.
pub fn has_plain_sync_body(f: &Function) -> bool {
    !f.is_async
        && f.decorators.is_empty()
        && f.guards.is_empty()
        && f.awaits.is_empty()
        && !f.has_async_syntax
        && f.attributes.is_empty()
}

/// The qualified names of a file's classes that have bases: their methods may override
/// those of a base class (see [`mentioned_names`]).
pub fn classes_with_bases(facts: &FileFacts) -> FxHashSet<&str> {
    (facts.classes.iter())
        .filter(|c| !c.bases.is_empty())
        .map(|c| c.qualname.as_str())
        .collect()
}

/// A call that says something about where other code runs (a closure or callable handed
/// over, a parameter passed on): the roles of functions and offload wrappers come from
/// these, in every function, reached or not.
pub fn has_effects(c: &CallSite) -> bool {
    passes_code(c) || !c.callable_args.is_empty()
}

/// A call that hands over code that may run as part of it or set roles whatever the call
/// resolves to: a closure (its calls count for the caller, or run off the loop), or a
/// parameter of its function (which makes that function an offload wrapper). A callable
/// passed by reference sets a role only when the call schedules it on the loop.
pub fn passes_code(c: &CallSite) -> bool {
    !c.closure_args.is_empty() || !c.param_args.is_empty()
}

/// The functions of two versions of a file, paired in order by qualified name.
pub struct Pairing {
    /// By function of the old facts: its number in the new ones (`None`: removed).
    pub new_of_old: Vec<Option<u32>>,
    /// By function of the new facts: its number in the old ones (`None`: added).
    pub old_of_new: Vec<Option<u32>>,
}

/// Pairs the functions of `old` and `new` in order: a qualified name on one side only is a
/// function added or removed; `None` for anything else out of step (moved, renamed).
pub fn pair_functions(old: &FileFacts, new: &FileFacts) -> Option<Pairing> {
    let (of, nf) = (&old.functions, &new.functions);
    let old_names: FxHashSet<&str> = of.iter().map(|f| f.qualname.as_str()).collect();
    let new_names: FxHashSet<&str> = nf.iter().map(|f| f.qualname.as_str()).collect();
    let mut new_of_old: Vec<Option<u32>> = vec![None; of.len()];
    let mut old_of_new: Vec<Option<u32>> = vec![None; nf.len()];
    let (mut i, mut j) = (0, 0);
    while i < of.len() || j < nf.len() {
        match (of.get(i), nf.get(j)) {
            (Some(o), Some(n)) if o.qualname == n.qualname => {
                new_of_old[i] = Some(u32::try_from(j).ok()?);
                old_of_new[j] = Some(u32::try_from(i).ok()?);
                i += 1;
                j += 1;
            }
            (Some(o), _) if !new_names.contains(o.qualname.as_str()) => i += 1,
            (_, Some(n)) if !old_names.contains(n.qualname.as_str()) => j += 1,
            _ => return None,
        }
    }
    Some(Pairing {
        new_of_old,
        old_of_new,
    })
}

/// Like [`shift`], with leeway for code the findings never read: the stored findings hold
/// for the new facts when every pinned function is unchanged up to the shift and, in every
/// other function, only calls changed that hand nothing over (no closure, callable or
/// parameter: those set roles). Such a function is reached from no code on the loop and
/// demand never followed its mentions, so its calls lead nowhere the findings look; its
/// name, signature, decorators and attributes, which other code resolves against, must
/// stay. Functions may be added or removed when they are inert: plain sync functions
/// outside classes and outside pinned functions, handing nothing over, under a name that no
/// parsed file mentions (so no call, import or demand reaches them).
///
/// Everything else in the file (classes, aliases, globals, errors, `noqa` comments) must
/// be unchanged up to the shift, as for [`shift`].
pub fn shift_with_leeway(old: &FileFacts, new: &FileFacts, leeway: &Leeway) -> Option<Reshaped> {
    let (of, nf) = (&old.functions, &new.functions);
    let pinned = |i: u32| leeway.pinned.binary_search(&i).is_ok();
    let Pairing {
        new_of_old,
        old_of_new,
    } = pair_functions(old, new)?;
    // Added and removed functions must be inert, and their enclosing function unpinned.
    let inert = |f: &Function, enclosing_pinned: Option<bool>| {
        !enclosing_pinned.unwrap_or(false)
            && is_plain_sync(f)
            && !f.calls.iter().any(has_effects)
            && !(leeway.mentioned)(&f.name)
    };
    for (i, f) in of.iter().enumerate() {
        if new_of_old[i].is_none() {
            // A removed pinned function was read by the findings (or by demand).
            let parent_pinned = f.parent.map(pinned);
            let vouched = leeway.removed.binary_search(&(i as u32)).is_ok();
            if !vouched && (pinned(i as u32) || !inert(f, parent_pinned)) {
                return None;
            }
        }
    }
    for (j, f) in nf.iter().enumerate() {
        if old_of_new[j].is_none() {
            let parent_pinned = match f.parent {
                None => None,
                Some(p) => Some(old_of_new.get(p as usize)?.is_some_and(pinned)),
            };
            if leeway.added.binary_search(&(j as u32)).is_err() && !inert(f, parent_pinned) {
                return None;
            }
        }
    }
    // Aliases on one side only must be vouched for; they leave both views.
    let same = |a: &Alias, b: &Alias| a.name == b.name && a.target == b.target;
    let one_sided = |a: &Alias, other: &FileFacts| !other.aliases.iter().any(|b| same(a, b));
    let loose = |a: &Alias| leeway.alias.is_some_and(|vouched| vouched(a));
    let all_loose = |facts: &FileFacts, other: &FileFacts| {
        (facts.aliases.iter())
            .filter(|a| one_sided(a, other))
            .all(loose)
    };
    if !all_loose(old, new) || !all_loose(new, old) {
        return None;
    }
    // Both sides as the findings see them: added functions gone, the new ones numbered as
    // the old ones, and the unpinned ones without their calls (except those that hand
    // something over) and without positions of their own.
    let unpin = |f: &mut Function| {
        f.span = Span::default();
        f.name_span = Span::default();
        f.calls.retain(has_effects);
    };
    // A call that reaches nothing changes no finding (no target but async functions, no
    // role, no switch: the caller's `inert` says which; a callable it passes by reference
    // sets no role, since it schedules nothing on the loop), so pinned functions are compared
    // without those; without their own span, which no finding reads (a call added last
    // moves its end); and with their awaits only as there or not (LG501 asks whether a
    // function awaits; an awaited call of an async function adds one), or without them
    // where the caller says LG501 cannot apply.
    let without_inert = |f: &mut Function| {
        if let Some(inert) = leeway.inert {
            let keep: Vec<bool> = f
                .calls
                .iter()
                .map(|c| !c.closure_args.is_empty() || !inert(f, c))
                .collect();
            let mut keep = keep.into_iter();
            f.calls.retain(|_| keep.next().unwrap_or(true));
            f.span = Span::default();
            if leeway.awaits_unread.is_some_and(|unread| unread(f)) {
                f.awaits.clear();
                f.has_async_syntax = false;
            } else if !f.awaits.is_empty() {
                f.awaits = vec![Span::default()];
            }
        }
    };
    // Removed functions leave the old side as added ones leave the new side: both views
    // number functions by their place among the paired ones.
    let mut view_of_old: Vec<Option<u32>> = vec![None; of.len()];
    for (v, i) in (0..of.len())
        .filter(|&i| new_of_old[i].is_some())
        .enumerate()
    {
        view_of_old[i] = Some(v as u32);
    }
    let to_view = |id: u32| view_of_old.get(id as usize).copied().flatten();
    // `other`: the other side, whose aliases `facts`' must have to stay in the view;
    // `paired`: the old index of a function of `facts` (if it is paired); `number`: maps
    // its function ids (parent, closures) into the view.
    let view = |(facts, other): (&FileFacts, &FileFacts),
                paired: &dyn Fn(usize) -> Option<u32>,
                number: &dyn Fn(u32) -> Option<u32>| {
        let mut v = facts.clone();
        v.aliases.retain(|a| !one_sided(a, other));
        let functions = std::mem::take(&mut v.functions);
        v.functions = functions
            .into_iter()
            .enumerate()
            .filter_map(|(k, f)| Some((paired(k)?, f)))
            .map(|(i, mut f)| {
                if let Some(p) = f.parent {
                    f.parent = Some(number(p)?);
                }
                for c in &mut f.calls {
                    for id in &mut c.closure_args {
                        *id = number(*id)?;
                    }
                }
                if pinned(i) {
                    without_inert(&mut f);
                } else {
                    unpin(&mut f);
                }
                Some(f)
            })
            .collect::<Option<Vec<Function>>>()?;
        Some(v)
    };
    let old_view = view((old, new), &|i| new_of_old[i].map(|_| i as u32), &to_view)?;
    let new_view = view((new, old), &|j| old_of_new[j], &|id| {
        to_view(old_of_new.get(id as usize).copied().flatten()?)
    })?;
    let shift = shift(&old_view, &new_view)?;
    Some(Reshaped {
        shift,
        pinned: leeway
            .pinned
            .iter()
            .filter(|&i| leeway.removed.binary_search(i).is_err())
            .map(|&i| new_of_old.get(i as usize).copied().flatten())
            .collect::<Option<Vec<u32>>>()?,
        new_of_old,
    })
}

/// Calls `f` with every name a file's facts mention: the last segment of every path, and
/// every method, field and callee name, wherever a callee or a type appears. A function
/// whose name is not among them cannot be the target of any call, import or demand.
///
/// The names of methods of classes with bases count as mentioned too: such a method may
/// override one of a base class, and a call `self.m()` reaches the overrides of `m` in
/// the subclasses of its class (the analysis' `overrides`), wherever they are. So a method
/// added under an unmentioned name is overridden nowhere.
pub fn mentioned_names(facts: &FileFacts, f: &mut dyn FnMut(&str)) {
    mentions(facts, true, f);
}

/// [`mentioned_names`] of a file's definitions alone, without its call sites and guards:
/// what a lookup from a call site in another file can read in it.
pub fn definition_mentions(facts: &FileFacts, f: &mut dyn FnMut(&str)) {
    mentions(facts, false, f);
}

fn mentions(facts: &FileFacts, call_sites: bool, f: &mut dyn FnMut(&str)) {
    use loopguard_core::facts::last_segment as last;
    fn callee(c: &Callee, f: &mut dyn FnMut(&str)) {
        f(c.name());
        match c {
            Callee::Method { receiver, .. } => ty(receiver, f),
            Callee::Super { class, .. } => f(last(class)),
            Callee::Path(_) | Callee::UnknownMethod { .. } => {}
        }
    }
    fn ty(t: &TypeRef, f: &mut dyn FnMut(&str)) {
        match t {
            TypeRef::Named(p) | TypeRef::Global(p) => f(last(p)),
            TypeRef::Returned(c) => callee(c, f),
            TypeRef::Field { owner, name } => {
                f(name);
                ty(owner, f);
            }
        }
    }
    for a in &facts.aliases {
        f(&a.name);
        f(last(&a.target));
    }
    for g in &facts.globals {
        ty(&g.ty, f);
    }
    let subclasses = classes_with_bases(facts);
    for func in &facts.functions {
        if func
            .class
            .as_deref()
            .is_some_and(|c| subclasses.contains(c))
        {
            f(&func.name);
        }
    }
    for c in &facts.classes {
        for b in &c.bases {
            f(last(b));
        }
        for d in &c.decorators {
            f(last(d));
        }
        for v in &c.fields {
            ty(&v.ty, f);
        }
    }
    use crate::demand::{Reference, for_each_function_reference, for_each_signature_reference};
    let each = if call_sites {
        for_each_function_reference
    } else {
        for_each_signature_reference
    };
    for func in &facts.functions {
        each(func, &mut |r| match r {
            Reference::Callee(c) => callee(c, f),
            Reference::Type(t) => ty(t, f),
        });
    }
}

/// The hashes of the names a file's facts mention ([`mentioned_names`]) and of the
/// segment pairs of its paths ([`path_pair_hashes`]), sorted, unique: what a run's stored
/// mentions hold for each parsed file.
pub fn mention_hashes(facts: &FileFacts) -> Vec<u32> {
    let mut v = Vec::new();
    mention_hashes_into(facts, None, &mut |h| v.push(h));
    v.sort_unstable();
    v.dedup();
    v
}

/// [`mention_hashes`], unsorted and with repeats, into `f`.
pub fn mention_hashes_into(
    facts: &FileFacts,
    modules: Option<&dyn Fn(&str) -> bool>,
    f: &mut dyn FnMut(u32),
) {
    mentioned_names(facts, &mut |n| f(name_hash(n)));
    path_pair_hashes(facts, modules, f);
}

/// Calls `f` with [`pair_hash`] of every two adjacent segments of every path a Python
/// file's facts mention (`a.b.c` gives `a.b` and `b.c`). A lookup from another file of
/// name `x` in module `p.m` starts from a path through `m.x` (`from p.m import x`,
/// `p.m.x.get()`, a star import's `p.m.x`), so when no parsed file mentions the pair
/// `m.x`, no lookup reaches an alias `x` added to `p.m` (see `reuse_shifted`), unless an
/// alias names `p.m` (or anything ending in `m`) under another name (`from p import m as
/// q`, then `q.x` in another file). For such an alias `f` gets [`renamed_hash`] of the last
/// segment of its target, and for every segment of a path after its first, [`inner_hash`]:
/// a lookup through the renamed module has `x` there. A chain of aliases from `p.m` starts
/// at `p.m` and goes on through modules that hold aliases, so only a target under a parsed
/// module counts: `modules`, when the caller knows every parsed module (`None`: each
/// counts). Rust facts give none: their aliases are never vouched for.
pub fn path_pair_hashes(
    facts: &FileFacts,
    modules: Option<&dyn Fn(&str) -> bool>,
    f: &mut dyn FnMut(u32),
) {
    if facts.language == Some(loopguard_core::facts::Language::Rust) {
        return;
    }
    let mut pairs = |path: &str| {
        let mut segments = path.split('.');
        let Some(mut before) = segments.next() else {
            return;
        };
        for s in segments {
            f(pair_hash(before, s));
            f(inner_hash(s));
            before = s;
        }
    };
    crate::demand::for_each_path(facts, &mut pairs);
    for c in &facts.classes {
        for d in &c.decorators {
            pairs(d);
        }
    }
    for a in &facts.aliases {
        let last = loopguard_core::facts::last_segment(&a.target);
        let under_a_module =
            |m: &dyn Fn(&str) -> bool| crate::demand::module_prefixes(&a.target, ".").any(m);
        if last != a.name && modules.is_none_or(under_a_module) {
            f(renamed_hash(last));
        }
    }
}

/// The hash that marks, among the mentioned names, `segment` as a segment of some path
/// after its first (`x` in `q.x.get`): a pair with an empty first segment, which no path
/// has. A lookup of `x` through a module named otherwise has one.
pub fn inner_hash(segment: &str) -> u32 {
    pair_hash("", segment)
}

/// The hash that marks, among the mentioned names, a module (or anything) whose qualified
/// name ends in `last` as aliased under another name somewhere: a pair with an empty
/// second segment, which no path has.
pub fn renamed_hash(last: &str) -> u32 {
    pair_hash(last, "")
}

/// The hash the segment pair `a.b` is stored under among the mentioned names (a name has
/// no dot, so only a collision makes one look like a pair, and then the analysis runs).
pub fn pair_hash(a: &str, b: &str) -> u32 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(a.as_bytes());
    h.write_u8(b'.');
    h.write(b.as_bytes());
    let h = h.finish();
    (h ^ (h >> 32)) as u32
}

/// The hash a mentioned name is stored under. 32 bits are plenty: a collision only makes
/// a name look mentioned, and then the analysis runs.
pub fn name_hash(name: &str) -> u32 {
    use std::hash::Hasher;
    // FxHash: deterministic across runs, and a word at a time.
    let mut h = rustc_hash::FxHasher::default();
    h.write(name.as_bytes());
    let h = h.finish();
    (h ^ (h >> 32)) as u32
}

/// Shifts the positions the stored findings have in `path`; `false` if one of them is not
/// a position of the old facts (then nothing may be reused).
pub fn apply(
    path: &str,
    shift: &Shift,
    diagnostics: &mut [Diagnostic],
    notifications: &mut [Notification],
) -> bool {
    let mut ok = true;
    let mut move_span = |p: &str, s: &mut Span| {
        if p == path {
            match shift.span(s) {
                Some(n) => *s = n,
                None => ok = false,
            }
        }
    };
    for d in diagnostics.iter_mut() {
        move_span(&d.path, &mut d.span);
        for h in &mut d.chain {
            move_span(&h.path, &mut h.span);
        }
        for l in &mut d.related {
            move_span(&l.path, &mut l.span);
        }
    }
    for n in notifications.iter_mut() {
        if let (Some(p), Some(s)) = (&n.path, &mut n.span) {
            move_span(p, s);
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(src: &str) -> FileFacts {
        let mut f = loopguard_python::lower("m.py", "m", false, src);
        f.suppressions = loopguard_core::suppression::scan(src);
        f
    }

    const BASE: &str = "import threading\nimport time\n\nlock = threading.Lock()\n\n\
                        async def handler():\n    with lock:\n        time.sleep(1)\n    \
                        await other()\n    time.sleep(2)  # noqa: LG301\n";

    #[test]
    fn a_line_inserted_above_is_a_shift() {
        let edited = BASE.replace("import time\n", "import time\n\n# a comment\n");
        let old = facts(BASE);
        let new = facts(&edited);
        let s = shift(&old, &new).expect("a shift");
        let call = &old.functions[0].calls[0];
        let moved = s.span(&call.span).expect("known span");
        assert_eq!(moved.start_line, call.span.start_line + 2);
        assert_eq!(moved.start_byte, call.span.start_byte + 13);
    }

    #[test]
    fn edits_in_several_places_are_a_shift() {
        // One line above the function, two more above the last call: each call moves by
        // what is inserted above it, and the `noqa` moves with its line.
        let edited = BASE
            .replace("import time\n", "import time\n# one\n")
            .replace(
                "    time.sleep(2)",
                "    # two\n    # three\n    time.sleep(2)",
            );
        let (old, new) = (facts(BASE), facts(&edited));
        let s = shift(&old, &new).expect("a shift");
        let handler = old.functions.iter().find(|f| f.name == "handler");
        let calls = &handler.expect("handler").calls;
        let first = s.span(&calls[0].span).expect("known span");
        assert_eq!(first.start_line, calls[0].span.start_line + 1);
        let last = calls.last().expect("calls");
        assert_eq!(
            s.span(&last.span).expect("known span").start_line,
            last.span.start_line + 3
        );
        assert_eq!(new.suppressions[0].line, old.suppressions[0].line + 3);
        // Blank lines after the last line of the `with` block leave the block's span as it
        // was, and move the rest.
        let blank = BASE
            .replace("import time\n", "import time\n# one\n")
            .replace("        time.sleep(1)\n", "        time.sleep(1)\n\n\n");
        assert!(shift(&old, &facts(&blank)).is_some());
    }

    #[test]
    fn an_edit_that_moves_a_noqa_away_from_its_code_is_not_a_shift() {
        // A blank line above the suppressed call, and its `noqa` moved to a line of its own
        // below it: the call moves by one line, the `noqa` by two.
        let edited = BASE
            .replace("    await other()\n", "    await other()\n\n")
            .replace("  # noqa: LG301\n", "\n    # noqa: LG301\n");
        assert!(shift(&facts(BASE), &facts(&edited)).is_none());
    }

    #[test]
    fn unchanged_text_is_the_identity() {
        let f = facts(BASE);
        let s = shift(&f, &f).expect("identity");
        let span = f.functions[0].span;
        assert_eq!(s.span(&span), Some(span));
    }

    #[test]
    fn a_call_moved_out_of_a_with_block_is_not_a_shift() {
        // Same calls, same order, but `time.sleep(1)` is no longer under the lock.
        let edited = BASE.replace(
            "        time.sleep(1)\n",
            "        pass\n    time.sleep(1)\n",
        );
        assert!(shift(&facts(BASE), &facts(&edited)).is_none());
    }

    #[test]
    fn a_new_call_is_not_a_shift() {
        let edited = BASE.replace("await other()\n", "await other()\n    time.sleep(3)\n");
        assert!(shift(&facts(BASE), &facts(&edited)).is_none());
    }

    #[test]
    fn an_edit_inside_a_line_before_a_call_is_not_a_shift() {
        // Columns of the call after the edit change on its line.
        let edited = BASE.replace("        time.sleep(1)", "        x = 1; time.sleep(1)");
        assert!(shift(&facts(BASE), &facts(&edited)).is_none());
    }

    #[test]
    fn a_removed_noqa_is_not_a_shift() {
        let edited = BASE.replace("  # noqa: LG301", "");
        assert!(shift(&facts(BASE), &facts(&edited)).is_none());
    }

    #[test]
    fn a_noqa_moves_with_its_line() {
        let edited = BASE.replace("async def", "# note\nasync def");
        let (old, new) = (facts(BASE), facts(&edited));
        assert_eq!(new.suppressions[0].line, old.suppressions[0].line + 1);
        assert!(shift(&old, &new).is_some());
    }

    /// A handler that reaches `fetch`, and a report builder nothing on the loop reaches.
    const SERVICE: &str = "import asyncio\nimport subprocess\nimport time\n\n\n\
                           def fetch(n):\n    time.sleep(n)\n\n\n\
                           def build_report(rows):\n    return [r for r in rows]\n\n\n\
                           async def handler():\n    fetch(1)\n    await asyncio.sleep(0)\n";

    fn function_index(f: &FileFacts, name: &str) -> u32 {
        f.functions.iter().position(|x| x.name == name).unwrap() as u32
    }

    /// `fetch`, `handler` and the module function pinned, as the analysis would have it.
    fn leeway_for<'a>(
        old: &FileFacts,
        pinned: &'a mut Vec<u32>,
        mentioned: &'a dyn Fn(&str) -> bool,
    ) -> Leeway<'a> {
        *pinned = vec![
            0,
            function_index(old, "fetch"),
            function_index(old, "handler"),
        ];
        pinned.sort_unstable();
        Leeway {
            pinned,
            mentioned,
            inert: None,
            added: &[],
            removed: &[],
            alias: None,
            awaits_unread: None,
        }
    }

    fn reshape(edited: &str, mentioned: &dyn Fn(&str) -> bool) -> Option<Reshaped> {
        let (old, new) = (facts(SERVICE), facts(edited));
        let mut pinned = Vec::new();
        shift_with_leeway(&old, &new, &leeway_for(&old, &mut pinned, mentioned))
    }

    #[test]
    fn a_call_added_to_an_unpinned_function_keeps_the_findings() {
        let edited = SERVICE.replace(
            "    return [r for r in rows]\n",
            "    subprocess.run(['sort'])\n    return [r for r in rows]\n",
        );
        let r = reshape(&edited, &|_| false).expect("leeway");
        // The handler's call moved down one line.
        let (old, new) = (facts(SERVICE), facts(&edited));
        let h = function_index(&old, "handler") as usize;
        let moved = r
            .shift
            .span(&old.functions[h].calls[0].span)
            .expect("known span");
        assert_eq!(moved, new.functions[h].calls[0].span);
        assert_eq!(
            moved.start_line,
            old.functions[h].calls[0].span.start_line + 1
        );
        // The same edit in a pinned function is not allowed for.
        let pinned_edit =
            SERVICE.replace("    time.sleep(n)\n", "    time.sleep(n)\n    open('x')\n");
        assert!(reshape(&pinned_edit, &|_| false).is_none());
        // Without leeway, neither is a shift.
        assert!(shift(&old, &new).is_none());
    }

    #[test]
    fn calls_that_reach_nothing_may_change_in_pinned_functions_when_the_caller_says_so() {
        let edited = SERVICE.replace(
            "    time.sleep(n)\n",
            "    time.sleep(n)\n    _ = len('abc')\n",
        );
        let (old, new) = (facts(SERVICE), facts(&edited));
        let mut pinned = Vec::new();
        let mut leeway = leeway_for(&old, &mut pinned, &|_| false);
        // Without the caller's word, a call added to a pinned function is an edit.
        assert!(shift_with_leeway(&old, &new, &leeway).is_none());
        let builtin = |_: &Function, c: &CallSite| matches!(&c.callee, Callee::Path(p) if p == "builtins.len");
        leeway.inert = Some(&builtin);
        let r = shift_with_leeway(&old, &new, &leeway).expect("inert calls allowed for");
        // The handler's call, below the edit, moved down one line.
        let h = function_index(&old, "handler") as usize;
        let moved = r
            .shift
            .span(&old.functions[h].calls[0].span)
            .expect("known span");
        assert_eq!(
            moved.start_line,
            old.functions[h].calls[0].span.start_line + 1
        );
        // A call that reaches something is still an edit, and so is one that hands a
        // closure over, whatever the caller says of it.
        let blocking = SERVICE.replace("    time.sleep(n)\n", "    time.sleep(n)\n    open('x')\n");
        assert!(shift_with_leeway(&old, &facts(&blocking), &leeway).is_none());
        let closure = SERVICE.replace(
            "    time.sleep(n)\n",
            "    time.sleep(n)\n    _ = len(lambda: n)\n",
        );
        let every_call = |_: &Function, _: &CallSite| true;
        leeway.inert = Some(&every_call);
        assert!(shift_with_leeway(&old, &facts(&closure), &leeway).is_none());
        // A parameter passed on is the caller's to vouch for (a wrapper is made only by a
        // call that offloads or reaches one).
        let param = SERVICE.replace("    time.sleep(n)\n", "    time.sleep(n)\n    _ = len(n)\n");
        assert!(shift_with_leeway(&old, &facts(&param), &leeway).is_some());
        leeway.inert = Some(&builtin);
        assert!(shift_with_leeway(&old, &facts(&param), &leeway).is_some());
        let no_params = |f: &Function, c: &CallSite| c.param_args.is_empty() && builtin(f, c);
        leeway.inert = Some(&no_params);
        assert!(shift_with_leeway(&old, &facts(&param), &leeway).is_none());
    }

    #[test]
    fn an_awaited_inert_call_is_allowed_for_in_a_function_that_awaits_already() {
        let sleeps = |_: &Function, c: &CallSite| matches!(&c.callee, Callee::Path(p) if p == "asyncio.sleep");
        let check = |before: &str, after: &str| {
            let (old, new) = (facts(before), facts(after));
            let mut pinned = (0..old.functions.len() as u32).collect::<Vec<_>>();
            let leeway = Leeway {
                pinned: &mut pinned,
                mentioned: &|_| false,
                inert: Some(&sleeps),
                added: &[],
                removed: &[],
                alias: None,
                awaits_unread: None,
            };
            shift_with_leeway(&old, &new, &leeway).is_some()
        };
        let awaits = |extra: &str| {
            format!("import asyncio\n\n\nasync def handler():\n{extra}    await asyncio.sleep(0)\n")
        };
        assert!(check(&awaits(""), &awaits("    await asyncio.sleep(1)\n")));
        // A function that did not await now does: LG501 reads that.
        let plain = "import asyncio\n\n\nasync def handler():\n    return 1\n";
        let now_awaits =
            "import asyncio\n\n\nasync def handler():\n    await asyncio.sleep(1)\n    return 1\n";
        assert!(!check(plain, now_awaits));
    }

    #[test]
    fn an_inert_function_may_come_and_go_under_an_unmentioned_name() {
        let edited = SERVICE.replace(
            "\n\ndef fetch",
            "\n\ndef probe():\n    return open('x')\n\n\ndef fetch",
        );
        let r = reshape(&edited, &|_| false).expect("leeway");
        // The pinned functions are renumbered past the new one.
        let new = facts(&edited);
        let mut expected = vec![
            0,
            function_index(&new, "fetch"),
            function_index(&new, "handler"),
        ];
        expected.sort_unstable();
        assert_eq!(r.pinned, expected);
        // And back: removed again.
        let old = new;
        let mut pinned = expected.clone();
        let leeway = Leeway {
            pinned: &mut pinned,
            mentioned: &|_| false,
            inert: None,
            added: &[],
            removed: &[],
            alias: None,
            awaits_unread: None,
        };
        assert!(shift_with_leeway(&old, &facts(SERVICE), &leeway).is_some());
        // A name something mentions may be what it calls.
        assert!(reshape(&edited, &|n| n == "probe").is_none());
    }

    #[test]
    fn functions_that_are_not_inert_are_not_allowed_for() {
        for added in [
            // Hands a callable to the loop: the callable's role changes.
            "def probe(loop):\n    loop.call_soon(build_report)\n",
            // A method: name-based resolution of `x.probe()` may change.
            "class Probe:\n    def probe(self):\n        return 1\n",
            // Async: code on the loop, a root of the analysis.
            "async def probe():\n    return 1\n",
            // Decorated: may register a callback or a route.
            "@staticmethod\ndef probe():\n    return 1\n",
        ] {
            let edited = SERVICE.replace("\n\ndef fetch", &format!("\n\n{added}\n\ndef fetch"));
            assert!(reshape(&edited, &|_| false).is_none(), "{added}");
        }
        // A handover added to an unpinned function: roles may change.
        let edited = SERVICE.replace(
            "    return [r for r in rows]\n",
            "    asyncio.get_running_loop().call_soon(fetch, 1)\n    return [r for r in rows]\n",
        );
        assert!(reshape(&edited, &|_| false).is_none());
        // A renamed unpinned function: what resolves to it changes.
        let edited = SERVICE.replace("def build_report", "def build_summary");
        assert!(reshape(&edited, &|n| n == "build_report").is_none());
    }

    fn diagnostic(path: &str, span: Span) -> Diagnostic {
        Diagnostic {
            code: "LG301",
            severity: loopguard_core::rules::Severity::Error,
            confidence: loopguard_core::diagnostic::Confidence::Certain,
            message: String::new(),
            path: path.into(),
            span,
            help: None,
            function: String::new(),
            call: String::new(),
            chain: Vec::new(),
            api: String::new(),
            related: Vec::new(),
            context: String::new(),
        }
    }

    #[test]
    fn findings_outside_the_old_spans_are_not_shifted() {
        let old = facts(BASE);
        let s = shift(&old, &old).expect("identity");
        let stray = Span {
            start_line: 99,
            ..Span::default()
        };
        let mut d = [diagnostic("m.py", stray)];
        assert!(!apply("m.py", &s, &mut d, &mut []));
        let mut other = [diagnostic("other.py", stray)];
        assert!(apply("m.py", &s, &mut other, &mut []));
        let call = old.functions[0].calls[0].span;
        let mut known = [diagnostic("m.py", call)];
        assert!(apply("m.py", &s, &mut known, &mut []));
        assert_eq!(known[0].span, call);
    }
}
