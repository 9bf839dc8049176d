//! Which modules a file's facts name: the next files to parse.

use std::collections::VecDeque;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use loopguard_core::facts::{Callee, FileFacts, Function, TypeRef, rfind_separator, rsplit_path};

/// Calls `f` with every qualified path the facts mention (callees, types, bases, aliases).
pub fn for_each_path<'f>(facts: &'f FileFacts, f: &mut dyn FnMut(&'f str)) {
    for a in &facts.aliases {
        f(&a.target);
    }
    for g in &facts.globals {
        type_paths(&g.ty, f);
    }
    for c in &facts.classes {
        for b in &c.bases {
            f(b);
        }
        for v in &c.fields {
            type_paths(&v.ty, f);
        }
    }
    for func in &facts.functions {
        for_each_function_path(func, f);
    }
}

fn callee_paths<'f>(c: &'f Callee, f: &mut dyn FnMut(&'f str)) {
    match c {
        Callee::Path(p) => f(p),
        Callee::Method { receiver, .. } => type_paths(receiver, f),
        Callee::Super { class, .. } => f(class),
        Callee::UnknownMethod { .. } => {}
    }
}

fn type_paths<'f>(t: &'f TypeRef, f: &mut dyn FnMut(&'f str)) {
    match t {
        TypeRef::Named(p) | TypeRef::Global(p) => f(p),
        TypeRef::Returned(c) => callee_paths(c, f),
        TypeRef::Field { owner, .. } => type_paths(owner, f),
    }
}

/// Every prefix of `path` at a separator, longest first, including the path itself:
/// `a.b.c` -> `a.b.c`, `a.b`, `a`.
pub fn module_prefixes<'p>(path: &'p str, sep: &'p str) -> impl Iterator<Item = &'p str> + 'p {
    let mut end = Some(path.len());
    std::iter::from_fn(move || {
        let e = end?;
        let prefix = &path[..e];
        end = rfind_separator(prefix, sep);
        Some(prefix)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain call of `path`, without arguments.
    fn call_of(path: &str) -> loopguard_core::facts::CallSite {
        loopguard_core::facts::CallSite {
            callee: Callee::Path(path.into()),
            kind: loopguard_core::facts::CallKind::Call,
            span: Default::default(),
            awaited: false,
            arg_count: 0,
            closure_args: Vec::new(),
            callable_args: Vec::new(),
            param_args: Vec::new(),
            args: Vec::new(),
            text: path.into(),
        }
    }

    #[test]
    fn prefixes() {
        let v: Vec<_> = module_prefixes("a.b.c", ".").collect();
        assert_eq!(v, vec!["a.b.c", "a.b", "a"]);
        let v: Vec<_> = module_prefixes("k::db::Pool", "::").collect();
        assert_eq!(v, vec!["k::db::Pool", "k::db", "k"]);
    }

    /// A project path mentioned by one more live function of the file, or by one fewer
    /// while another still mentions it, leaves demand as it was; one a function demand did
    /// not reach mentions, or one no live function mentioned before, does not.
    #[test]
    fn live_functions_count_their_paths_together() {
        let facts = |calls: [&[&str]; 3]| {
            let mut f = FileFacts {
                path: "app/h.py".into(),
                module: "app.h".into(),
                ..Default::default()
            };
            for (name, callees) in ["a", "b", "cold"].into_iter().zip(calls) {
                f.functions.push(loopguard_core::facts::Function {
                    qualname: format!("app.h.{name}"),
                    name: name.into(),
                    is_async: name != "cold",
                    calls: callees.iter().map(|c| call_of(c)).collect(),
                    ..Default::default()
                });
            }
            f
        };
        let followed = |p: &str| p.starts_with("app.");
        let was = facts([&["app.db.load"], &[], &["app.db.save"]]);
        let live = [0, 1];
        let same = |now: &FileFacts| {
            Signature::of(&was, None, &followed, &followed).pooling_live(&live)
                == Signature::of(now, None, &followed, &followed).pooling_live(&live)
        };
        // Repeated in the other live function, or moved there.
        assert!(same(&facts([
            &["app.db.load"],
            &["app.db.load"],
            &["app.db.save"]
        ])));
        assert!(same(&facts([&[], &["app.db.load"], &["app.db.save"]])));
        // A path outside the project is not followed at all.
        assert!(same(&facts([
            &["app.db.load", "json.dumps"],
            &[],
            &["app.db.save"]
        ])));
        // A new project path, one gone, or a change in a function demand did not reach.
        assert!(!same(&facts([
            &["app.db.load", "app.db.save"],
            &[],
            &["app.db.save"]
        ])));
        assert!(!same(&facts([&[], &[], &["app.db.save"]])));
        assert!(!same(&facts([&["app.db.load"], &[], &["app.db.load"]])));
        // Counted per function, as before, without `pooling_live`.
        let moved = facts([&[], &["app.db.load"], &["app.db.save"]]);
        assert_ne!(
            Signature::of(&was, None, &followed, &followed),
            Signature::of(&moved, None, &followed, &followed)
        );
    }

    /// A function that seeds demand, added, leaves its outcome as it was (with the new
    /// function live) when the live functions mentioned every path it mentions; one that
    /// mentions a new path, or encloses a function, does not.
    #[test]
    fn an_added_seed_that_needs_nothing_new_leaves_the_pooled_signature() {
        let facts = |extra: Option<&[&str]>, nested: bool| {
            let mut f = FileFacts {
                path: "app/h.py".into(),
                module: "app.h".into(),
                ..Default::default()
            };
            let mut add = |name: &str, callees: &[&str], parent: Option<u32>| {
                f.functions.push(loopguard_core::facts::Function {
                    qualname: format!("app.h.{name}"),
                    name: name.into(),
                    is_async: true,
                    parent,
                    calls: callees.iter().map(|c| call_of(c)).collect(),
                    ..Default::default()
                });
            };
            add("a", &["app.db.load", "app.db.save"], None);
            if let Some(callees) = extra {
                add("new", callees, None);
                if nested {
                    add("inner", &[], Some(1));
                }
            }
            f
        };
        let followed = |p: &str| p.starts_with("app.");
        let was = facts(None, false);
        let before = || Signature::of(&was, None, &followed, &followed).pooling_live(&[0]);
        fn after<'f>(
            now: &'f FileFacts,
            live: &[u32],
            followed: &dyn Fn(&str) -> bool,
        ) -> Option<Signature<'f>> {
            Signature::of(now, None, followed, followed)
                .pooling_live(live)
                .leaving_out_seeds(&[1])
        }
        let known = facts(Some(&["app.db.load", "json.dumps"]), false);
        assert_eq!(after(&known, &[0, 1], &followed), Some(before()));
        let new_path = facts(Some(&["app.db.drop"]), false);
        assert_ne!(after(&new_path, &[0, 1], &followed), Some(before()));
        let nested = facts(Some(&["app.db.load"]), true);
        assert_eq!(after(&nested, &[0, 1, 2], &followed), None);
        // Not a seed: `leaving_out` is the one for that.
        let mut sync = facts(Some(&[]), false);
        sync.functions[1].is_async = false;
        assert_eq!(after(&sync, &[0], &followed), None);
    }

    /// In a file whose async functions all seed demand, a path naming one of them needs
    /// nothing new; one naming a sync function of the file does.
    #[test]
    fn paths_to_the_files_own_async_functions_are_left_out() {
        let facts = |callees: &[&str]| {
            let mut f = FileFacts {
                path: "app/h.py".into(),
                module: "app.h".into(),
                ..Default::default()
            };
            for (name, is_async) in [("a", true), ("b", true), ("helper", false)] {
                f.functions.push(loopguard_core::facts::Function {
                    qualname: format!("app.h.{name}"),
                    name: name.into(),
                    is_async,
                    calls: if name == "a" {
                        callees.iter().map(|c| call_of(c)).collect()
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                });
            }
            f
        };
        let followed = |p: &str| p.starts_with("app.");
        let same = |a: &FileFacts, b: &FileFacts| {
            let of = |f| {
                Signature::of(f, None, &followed, &followed)
                    .without_paths_to_async(f)
                    .pooling_live(&[0, 1])
            };
            of(a) == of(b)
        };
        let was = facts(&["app.db.load"]);
        assert!(same(&was, &facts(&["app.db.load", "app.h.b"])));
        assert!(!same(&was, &facts(&["app.db.load", "app.h.helper"])));
    }

    /// A path to a member of a class of the file (`self._path` handed to a call) needs
    /// nothing new when the pool needs the class itself (a live function constructs it).
    #[test]
    fn members_of_a_needed_class_leave_the_pool() {
        let pool_of = |f: &FileFacts| {
            let live: Vec<u32> = (0u32..)
                .zip(&f.functions)
                .filter(|(_, g)| g.is_async)
                .map(|(i, _)| i)
                .collect();
            let followed = |p: &str| p.starts_with("app.");
            let s = Signature::of(f, None, &followed, &followed)
                .pooling_live(&live)
                .without_members_of_needed_classes(f);
            s.live_paths
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
        };
        let lower = |src: &str| loopguard_python::lower("app/h.py", "app.h", false, src);
        let pool = |src: &str| pool_of(&lower(src));
        let camera = |setup: &str, body: &str| {
            format!("{setup}class Camera:\n    async def image(self):\n        {body}\n")
        };
        let setup = "async def setup():\n    return Camera('x')\n\n\n";
        assert_eq!(pool(&camera(setup, "print(self._path)")), ["app.h.Camera"]);
        assert_eq!(
            pool(&camera(setup, "print(self._path)")),
            pool(&camera(setup, "return None"))
        );
        // Nothing needs the class: its member is a path of its own.
        assert_eq!(
            pool(&camera("", "print(self._path)")),
            ["app.h.Camera._path"]
        );
        // An alias of the class's name is where demand looks `Camera._path` up.
        let mut shadowed = lower(&camera(setup, "print(self._path)"));
        shadowed.aliases.push(loopguard_core::facts::Alias {
            name: "Camera".into(),
            target: "app.other.Camera".into(),
        });
        assert!(pool_of(&shadowed).contains(&"app.h.Camera._path".to_string()));
    }

    /// An import of a module outside the project leads demand nowhere: added or removed, it
    /// leaves the signature. One of a project module, of a package whose modules are the
    /// project's, or one that hides a module-level variable does not.
    #[test]
    fn imports_from_outside_the_project_leave_the_signature() {
        use loopguard_core::facts::{Alias, TypeRef, Variable};
        let base = FileFacts {
            path: "app/h.py".into(),
            module: "app.h".into(),
            globals: vec![Variable {
                name: "client".into(),
                ty: TypeRef::Named("app.db.Client".into()),
                span: Default::default(),
            }],
            ..Default::default()
        };
        let followed = |p: &str| p.starts_with("app.") || p == "app";
        // `ns` is a package without a file of its own: `ns.tools` is a module.
        let leads_into = |p: &str| followed(p) || p == "ns";
        let with = |name: &str, target: &str| {
            let mut f = base.clone();
            f.aliases.push(Alias {
                name: name.into(),
                target: target.into(),
            });
            f
        };
        let same = |f: &FileFacts| {
            Signature::of(&base, None, &followed, &leads_into)
                == Signature::of(f, None, &followed, &leads_into)
        };
        assert!(same(&with("time", "time")));
        assert!(same(&with("dumps", "json.dumps")));
        assert!(!same(&with("db", "app.db")));
        assert!(!same(&with("ns", "ns")));
        assert!(!same(&with("client", "json")));
    }

    /// A sync helper added to the file and called from a live function leaves demand as it
    /// was when it mentions no followed path itself: the signature without it, and without
    /// the paths naming it, is the old one. One that mentions a followed path, or seeds
    /// demand, does not.
    #[test]
    fn an_added_helper_that_follows_nothing_leaves_the_signature() {
        use loopguard_core::facts::Function;
        let function = |name: &str, is_async: bool, calls: &[&str]| Function {
            qualname: format!("app.h.{name}"),
            name: name.into(),
            is_async,
            calls: calls.iter().map(|c| call_of(c)).collect(),
            ..Default::default()
        };
        let facts = |functions: Vec<Function>| FileFacts {
            path: "app/h.py".into(),
            module: "app.h".into(),
            functions,
            ..Default::default()
        };
        let followed = |p: &str| p.starts_with("app.");
        let was = facts(vec![
            function("a", true, &["app.db.load"]),
            function("cold", false, &["app.db.save"]),
        ]);
        let now = |helper: Function| {
            facts(vec![
                function("a", true, &["app.db.load", "app.h._helper"]),
                helper,
                function("cold", false, &["app.db.save"]),
            ])
        };
        let old = Signature::of(&was, None, &followed, &followed).pooling_live(&[0]);
        let same = |now: &FileFacts| {
            Signature::of(now, None, &followed, &followed)
                .pooling_live(&[0])
                .leaving_out(&[1])
                .is_some_and(|s| s == old)
        };
        assert!(same(&now(function("_helper", false, &["builtins.open"]))));
        assert!(!same(&now(function("_helper", false, &["app.db.save"]))));
        assert!(!same(&now(function("_helper", true, &[]))));
        // Without leaving it out, the helper and the path naming it count.
        assert_ne!(
            Signature::of(
                &now(function("_helper", false, &[])),
                None,
                &followed,
                &followed
            )
            .pooling_live(&[0]),
            old
        );
    }
}

/// A callee or a type one function's facts refer to.
pub enum Reference<'f> {
    Callee(&'f Callee),
    Type(&'f TypeRef),
}

/// Calls `f` with every callee and type one function refers to: its signature
/// ([`for_each_signature_reference`]), then its call sites and the callables they pass, and
/// its guards.
pub fn for_each_function_reference<'f>(
    func: &'f loopguard_core::facts::Function,
    f: &mut dyn FnMut(Reference<'f>),
) {
    for_each_signature_reference(func, f);
    for c in &func.calls {
        f(Reference::Callee(&c.callee));
        for a in &c.callable_args {
            f(Reference::Callee(a));
        }
    }
    for g in &func.guards {
        f(Reference::Callee(&g.acquire));
    }
}

/// Calls `f` with every callee and type in what other code can look up of one function:
/// decorators, parameter annotations and defaults, return type, attribute types.
pub fn for_each_signature_reference<'f>(
    func: &'f loopguard_core::facts::Function,
    f: &mut dyn FnMut(Reference<'f>),
) {
    for d in &func.decorators {
        f(Reference::Callee(&d.callee));
    }
    for p in &func.params {
        if let Some(t) = &p.annotation {
            f(Reference::Type(t));
        }
        for c in p.default_call.iter().chain(&p.default_args) {
            f(Reference::Callee(c));
        }
    }
    if let Some(t) = &func.returns {
        f(Reference::Type(t));
    }
    for a in &func.attributes {
        f(Reference::Type(&a.ty));
    }
}

/// Calls `f` with every path one function mentions (callees, types, decorators, defaults).
pub fn for_each_function_path<'f>(
    func: &'f loopguard_core::facts::Function,
    f: &mut dyn FnMut(&'f str),
) {
    for_each_function_reference(func, &mut |r| match r {
        Reference::Callee(c) => callee_paths(c, f),
        Reference::Type(t) => type_paths(t, f),
    });
}

/// Lookups into one parsed Python file for symbol-level demand.
pub struct FileSymbols {
    module: String,
    functions: HashMap<String, u32>,
    /// Class -> its methods (and functions nested in them).
    members: HashMap<String, Vec<u32>>,
    /// Function -> its closures and nested functions.
    children: HashMap<u32, Vec<u32>>,
    classes: HashMap<String, usize>,
    aliases: HashMap<String, String>,
    globals: HashMap<String, usize>,
}

impl FileSymbols {
    pub fn new(facts: &FileFacts) -> FileSymbols {
        let mut s = FileSymbols {
            module: facts.module.clone(),
            functions: sized(facts.functions.len()),
            members: HashMap::default(),
            children: HashMap::default(),
            classes: sized(facts.classes.len()),
            aliases: sized(facts.aliases.len()),
            globals: sized(facts.globals.len()),
        };
        for (i, func) in facts.functions.iter().enumerate() {
            let i = i as u32;
            s.functions.entry(func.qualname.clone()).or_insert(i);
            if let Some(c) = &func.class {
                s.members.entry(c.clone()).or_default().push(i);
            }
            if let Some(p) = func.parent {
                s.children.entry(p).or_default().push(i);
            }
        }
        for (i, c) in facts.classes.iter().enumerate() {
            s.classes.insert(c.qualname.clone(), i);
        }
        for a in &facts.aliases {
            s.aliases.insert(a.name.clone(), a.target.clone());
        }
        for (i, g) in facts.globals.iter().enumerate() {
            s.globals.insert(g.name.clone(), i);
        }
        s
    }
}

/// A map with room for `n` entries: the tables of a file are filled once, with a known count.
fn sized<K, V>(n: usize) -> HashMap<K, V> {
    HashMap::with_capacity_and_hasher(n, Default::default())
}

/// Symbol-level demand for Python: which functions of parsed files can run from async code,
/// and which paths they need. A file is parsed when a needed path names its module; within
/// it, only the needed functions (and the classes, aliases and globals named) are followed,
/// so a module imported for one helper does not pull in everything it imports.
#[derive(Default)]
pub struct SymbolDemand {
    live: HashSet<(usize, u32)>,
    seen: HashSet<Box<str>>,
    /// Paths waiting to be satisfied, in order.
    pub queue: VecDeque<Box<str>>,
}

/// The seeds of a requested file with async code: async functions and blocks, decorated
/// functions (callbacks that may run on the loop) and functions that register a loop
/// callback (`loop.call_soon(tick)` in a plain `def`), with their closures and nested
/// functions, and the paths they mention in the order [`SymbolDemand::mark_live`] would
/// need them. Per file, so files are seeded in parallel.
pub struct Seeds<'f> {
    live: Vec<u32>,
    paths: Vec<&'f str>,
}

impl<'f> Seeds<'f> {
    /// `callback_names`: the names of the catalog's loop-callback APIs (`call_soon`, ...),
    /// `None` when any name may be one. A plain `def` that hands a callable to one of them
    /// is a seed too: the callable runs on the loop.
    pub fn of(
        facts: &'f FileFacts,
        symbols: &FileSymbols,
        callback_names: Option<&[String]>,
    ) -> Seeds<'f> {
        let mut live: HashSet<u32> = HashSet::default();
        let mut seen: HashSet<&'f str> = HashSet::default();
        let mut out = Seeds {
            live: Vec::new(),
            paths: Vec::new(),
        };
        for (i, func) in facts.functions.iter().enumerate() {
            if !func.is_async
                && func.decorators.is_empty()
                && !registers_callback(func, callback_names)
            {
                continue;
            }
            walk_live(
                facts,
                symbols,
                i as u32,
                &mut |f| {
                    let new = live.insert(f);
                    if new {
                        out.live.push(f);
                    }
                    new
                },
                &mut |p| {
                    if seen.insert(p) {
                        out.paths.push(p);
                    }
                },
            );
        }
        out
    }
}

/// Whether a plain `def` hands a callable to a loop-callback API (`loop.call_soon(tick)`):
/// the callable runs on the loop, so the function seeds demand. `callback_names`: as in
/// [`Seeds::of`].
fn registers_callback(func: &Function, callback_names: Option<&[String]>) -> bool {
    func.calls.iter().any(|c| {
        (!c.callable_args.is_empty() || !c.closure_args.is_empty())
            && callback_names.is_none_or(|names| names.iter().any(|n| n == c.callee.name()))
    })
}

/// Everything of a Python file's facts that symbol-level demand reads ([`Seeds::of`],
/// [`FileSymbols::new`], [`SymbolDemand::satisfy`]): when two versions of a file have the
/// same signature, demand over the project reaches the same files and the same functions.
/// The paths each function mentions count as a set, and only those `followed` says demand
/// can follow (a path no module of the project starts, such as `builtins.len`, is dropped
/// by demand unseen).
#[derive(Debug, PartialEq)]
pub struct Signature<'f> {
    module: &'f str,
    functions: Vec<FunctionSignature<'f>>,
    /// Qualified name, bases, and the paths of the field types.
    classes: Vec<(&'f str, &'f [String], Vec<&'f str>)>,
    aliases: Vec<(&'f str, &'f str)>,
    /// Name and the paths of its type.
    globals: Vec<(&'f str, Vec<&'f str>)>,
    /// The paths live functions mention, together (see [`Signature::pooling_live`]).
    live_paths: Vec<&'f str>,
}

#[derive(Debug, PartialEq)]
struct FunctionSignature<'f> {
    qualname: &'f str,
    class: Option<&'f str>,
    parent: Option<u32>,
    /// Whether it seeds demand (async, decorated, or registering a loop callback).
    seeds: bool,
    /// The followed paths it mentions, sorted, once each.
    paths: Vec<&'f str>,
}

impl<'f> Signature<'f> {
    /// `followed`: whether demand can follow a path (some prefix of it names a module of
    /// the project); `leads_into`: that, or the path is a prefix of a module's name (a
    /// package without a file of its own), so that an alias of it may lead demand into
    /// the project (`import pkg`, then `pkg.sub.f`).
    pub fn of(
        facts: &'f FileFacts,
        callback_names: Option<&[String]>,
        followed: &dyn Fn(&str) -> bool,
        leads_into: &dyn Fn(&str) -> bool,
    ) -> Signature<'f> {
        let type_paths_of = |t: &'f TypeRef| {
            let mut v = Vec::new();
            type_paths(t, &mut |p| v.push(p));
            v
        };
        Signature {
            module: &facts.module,
            functions: facts
                .functions
                .iter()
                .map(|func| {
                    let mut paths = Vec::new();
                    for_each_function_path(func, &mut |p| {
                        if followed(p) {
                            paths.push(p);
                        }
                    });
                    paths.sort_unstable();
                    paths.dedup();
                    FunctionSignature {
                        qualname: &func.qualname,
                        class: func.class.as_deref(),
                        parent: func.parent,
                        seeds: func.is_async
                            || !func.decorators.is_empty()
                            || registers_callback(func, callback_names),
                        paths,
                    }
                })
                .collect(),
            classes: facts
                .classes
                .iter()
                .map(|c| {
                    let fields = c.fields.iter().flat_map(|v| type_paths_of(&v.ty)).collect();
                    (c.qualname.as_str(), c.bases.as_slice(), fields)
                })
                .collect(),
            // An alias of a path outside the project (`import time`) leads demand nowhere
            // (`SymbolDemand::satisfy` needs its target, or a path under it, and drops
            // both), unless it hides a module-level variable of the same name, whose type
            // demand would follow.
            aliases: {
                let globals: HashSet<&str> =
                    facts.globals.iter().map(|g| g.name.as_str()).collect();
                facts
                    .aliases
                    .iter()
                    .filter(|a| leads_into(&a.target) || globals.contains(a.name.as_str()))
                    .map(|a| (a.name.as_str(), a.target.as_str()))
                    .collect()
            },
            globals: facts
                .globals
                .iter()
                .map(|g| (g.name.as_str(), type_paths_of(&g.ty)))
                .collect(),
            live_paths: Vec::new(),
        }
    }

    /// The signature with the paths of the functions in `live` (those demand reached in
    /// the file) counted together rather than per function: demand needs every path a
    /// live function mentions, whichever live function of the file mentions it, so a
    /// call of a project function moved or repeated among them leaves its outcome as it
    /// was. The other functions count per function: demand may reach them later.
    pub fn pooling_live(mut self, live: &[u32]) -> Signature<'f> {
        for &f in live {
            if let Some(func) = self.functions.get_mut(f as usize) {
                self.live_paths.append(&mut func.paths);
            }
        }
        self.live_paths.sort_unstable();
        self.live_paths.dedup();
        self
    }

    /// The pooled paths without those that name a member of a module-level class of the
    /// file (`m.C.x`, `x` no class) when the pool holds the class itself: demand, needing
    /// `m.C`, marks every method of `C` live and needs its bases and field types, which
    /// covers whatever `m.C.x` would make it do (mark the method `x` live, or need `m.C`).
    /// The class's name must not also be an alias or a variable of the module, which
    /// `SymbolDemand::satisfy` would look `C.x` up in.
    pub fn without_members_of_needed_classes(mut self, facts: &FileFacts) -> Signature<'f> {
        let classes: HashSet<&str> = facts.classes.iter().map(|c| c.qualname.as_str()).collect();
        let shadowed = |name: &str| is_alias_or_variable(facts, name);
        let needed: Vec<&str> = (self.live_paths.iter())
            .copied()
            .filter(|p| {
                classes.contains(p)
                    && p.strip_prefix(facts.module.as_str())
                        .and_then(|r| r.strip_prefix('.'))
                        .is_some_and(|name| !name.contains('.') && !shadowed(name))
            })
            .collect();
        let covered = |p: &&str| {
            !classes.contains(p)
                && rsplit_path(p, ".").is_some_and(|(owner, member)| {
                    !member.is_empty() && needed.binary_search(&owner).is_ok()
                })
        };
        self.live_paths.retain(|p| !covered(p));
        self
    }

    /// The signature without the paths that name an async function of the file (the first
    /// function of its qualified name, which is the one demand finds): in a file the byte
    /// scan finds async code in, every async function seeds demand and is live, so needing
    /// one changes nothing. Only for such a file.
    pub fn without_paths_to_async(mut self, facts: &FileFacts) -> Signature<'f> {
        let mut first: HashMap<&str, bool> = HashMap::default();
        for f in &facts.functions {
            first.entry(f.qualname.as_str()).or_insert(f.is_async);
        }
        let seeded = |p: &&str| first.get(*p).copied().unwrap_or(false);
        for func in &mut self.functions {
            func.paths.retain(|p| !seeded(p));
        }
        self.live_paths.retain(|p| !seeded(p));
        self
    }

    /// The signature without the functions `added` (sorted numbers) and without the paths
    /// that name them, numbered as if they were not there; `None` unless each of them
    /// seeds nothing, mentions no path demand follows and encloses no function. Demand
    /// reaching such a function (a call of it) finds its file parsed and follows nothing
    /// from it, so its outcome is that of the signature without it.
    pub fn leaving_out(self, added: &[u32]) -> Option<Signature<'f>> {
        self.leaving_out_if(added, &|_| false)
    }

    /// [`Signature::leaving_out`] of functions of which those in `seeding` (sorted, among
    /// `added`) seed demand, as [`Signature::leaving_out_seeds`] takes them.
    pub fn leaving_out_some_seeds(self, added: &[u32], seeding: &[u32]) -> Option<Signature<'f>> {
        self.leaving_out_if(added, &|a| seeding.binary_search(&a).is_ok())
    }

    /// [`Signature::leaving_out`] for functions that seed demand, after
    /// [`Signature::pooling_live`] pooled their paths with the live ones: each of them must
    /// enclose no function, and its paths count in the pool. Demand marks such a function
    /// live and needs its paths; when the pool is as it was, every one of them was needed
    /// already, so the outcome is the old one with these functions live too.
    pub fn leaving_out_seeds(self, added: &[u32]) -> Option<Signature<'f>> {
        self.leaving_out_if(added, &|_| true)
    }

    fn leaving_out_if(
        mut self,
        added: &[u32],
        seeds: &dyn Fn(u32) -> bool,
    ) -> Option<Signature<'f>> {
        if added.is_empty() {
            return Some(self);
        }
        let mut names: Vec<&'f str> = Vec::new();
        for &a in added {
            let func = self.functions.get(a as usize)?;
            if func.seeds != seeds(a) || !func.paths.is_empty() {
                return None;
            }
            names.push(func.qualname);
        }
        let before = |p: u32| added.partition_point(|&a| a < p) as u32;
        let mut kept = Vec::with_capacity(self.functions.len());
        for (k, mut func) in (0u32..).zip(std::mem::take(&mut self.functions)) {
            if added.binary_search(&k).is_ok() {
                continue;
            }
            if let Some(p) = func.parent {
                if added.binary_search(&p).is_ok() {
                    return None;
                }
                func.parent = Some(p - before(p));
            }
            func.paths.retain(|p| !names.contains(p));
            kept.push(func);
        }
        self.functions = kept;
        self.live_paths.retain(|p| !names.contains(p));
        Some(self)
    }
}

/// Whether an alias or a module-level variable of the file goes by `name`: where
/// `SymbolDemand::satisfy` looks up a path's first name when no function or class has it.
pub fn is_alias_or_variable(facts: &FileFacts, name: &str) -> bool {
    facts.aliases.iter().any(|a| a.name == name) || facts.globals.iter().any(|g| g.name == name)
}

/// From function `fid`: every function `is_new` accepts (closures and nested functions
/// come along: their bodies run inline or are called from it), calling `mention` with the
/// paths each mentions.
fn walk_live<'f>(
    facts: &'f FileFacts,
    symbols: &FileSymbols,
    fid: u32,
    is_new: &mut dyn FnMut(u32) -> bool,
    mention: &mut dyn FnMut(&'f str),
) {
    let mut stack = vec![fid];
    while let Some(f) = stack.pop() {
        if !is_new(f) {
            continue;
        }
        if let Some(func) = facts.functions.get(f as usize) {
            for_each_function_path(func, mention);
        }
        if let Some(kids) = symbols.children.get(&f) {
            stack.extend(kids.iter().copied());
        }
    }
}

/// What satisfying a path needs next.
pub enum Step {
    /// The path's module is not parsed yet: parse this file, then retry.
    Parse(usize),
    Done,
}

impl SymbolDemand {
    pub fn need(&mut self, path: &str) {
        // Most mentions repeat a path already needed: look before allocating.
        if !self.seen.contains(path) {
            self.seen.insert(path.into());
            self.queue.push_back(path.into());
        }
    }

    /// Marks function `fid` of file `file` live and needs what it mentions; closures and
    /// nested functions come along (their bodies run inline or are called from it).
    pub fn mark_live(&mut self, file: usize, facts: &FileFacts, symbols: &FileSymbols, fid: u32) {
        let live = &mut self.live;
        let mut mentioned = Vec::new();
        walk_live(
            facts,
            symbols,
            fid,
            &mut |f| live.insert((file, f)),
            &mut |p| mentioned.push(p),
        );
        for p in mentioned {
            self.need(p);
        }
    }

    /// Marks the seeds of a requested file with async code (see [`Seeds`]), found
    /// beforehand, in parallel with other files.
    pub fn seed(&mut self, file: usize, seeds: Seeds<'_>) {
        for f in seeds.live {
            self.live.insert((file, f));
        }
        for p in seeds.paths {
            self.need(p);
        }
    }

    /// Satisfies `path` in the parsed file `file`, whose module is a prefix of it.
    pub fn satisfy(&mut self, file: usize, facts: &FileFacts, symbols: &FileSymbols, path: &str) {
        if let Some(&fid) = symbols.functions.get(path) {
            self.mark_live(file, facts, symbols, fid);
            return;
        }
        if let Some(&ci) = symbols.classes.get(path) {
            // An instance may call any method: all of them, and what the class rests on.
            if let Some(members) = symbols.members.get(path) {
                for &m in members {
                    self.mark_live(file, facts, symbols, m);
                }
            }
            if let Some(class) = facts.classes.get(ci) {
                for b in &class.bases {
                    self.need(b);
                }
                for v in &class.fields {
                    type_paths(&v.ty, &mut |p| self.need(p));
                }
            }
            return;
        }
        let Some(rest) = path
            .strip_prefix(symbols.module.as_str())
            .and_then(|r| r.strip_prefix('.'))
        else {
            return;
        };
        let (first, tail) = match rest.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        if let Some(target) = symbols.aliases.get(first) {
            match tail {
                Some(t) => self.need(&format!("{target}.{t}")),
                None => self.need(target),
            }
            return;
        }
        if let Some(&gi) = symbols.globals.get(first)
            && let Some(g) = facts.globals.get(gi)
        {
            type_paths(&g.ty, &mut |p| self.need(p));
            return;
        }
        // `mod.Class.method` not defined on the class itself: the class (and so its bases).
        if let Some((owner, _)) = rsplit_path(path, ".")
            && owner.len() > symbols.module.len()
        {
            self.need(owner);
        }
    }

    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// The live functions, as (file, function) sorted.
    pub fn live_functions(&self) -> Vec<(usize, u32)> {
        let mut v: Vec<_> = self.live.iter().copied().collect();
        v.sort_unstable();
        v
    }
}
