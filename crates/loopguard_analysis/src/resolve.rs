//! Call and type resolution over the project index and the catalog.
//!
//! Conservative: a call that cannot be resolved is unknown, never guessed — except the
//! documented name-based fallback, which is marked `likely`.

use std::borrow::Cow;

use loopguard_core::catalog::{BlockingApi, EndpointKind, GuardKind, LanguageCatalog, Lookup};
use loopguard_core::diagnostic::Confidence;
use loopguard_core::facts::{
    CallKind, CallSite, Callee, Language, TypeRef, rfind_separator, rsplit_path,
};

use crate::index::{FnRef, Index};

/// How deep type and alias resolution may recurse (cycles in user code must not hang us).
const MAX_RESOLVE_DEPTH: u32 = 8;

/// Public method names of Python's builtin and most-used standard types (str, bytes, list,
/// dict, set, re.Match, file objects, pathlib, datetime, logging, threading, socket...),
/// generated with `dir()`: a receiver of unknown type calling one of these is far more
/// likely one of those types than the one project class that defines the same name.
const PY_COMMON_METHODS: &[&str] = &[
    "absolute",
    "accept",
    "add",
    "addFilter",
    "addHandler",
    "adjusted",
    "anchor",
    "append",
    "appendleft",
    "as_integer_ratio",
    "as_posix",
    "as_tuple",
    "as_uri",
    "astimezone",
    "bind",
    "bit_count",
    "bit_length",
    "buffer",
    "c_contiguous",
    "callHandlers",
    "canonical",
    "capitalize",
    "casefold",
    "cast",
    "center",
    "chmod",
    "clear",
    "close",
    "closed",
    "combine",
    "compare",
    "compare_signal",
    "compare_total",
    "compare_total_mag",
    "conjugate",
    "connect",
    "connect_ex",
    "contiguous",
    "copy",
    "copy_abs",
    "copy_negate",
    "copy_sign",
    "count",
    "critical",
    "ctime",
    "cwd",
    "daemon",
    "date",
    "day",
    "days",
    "debug",
    "decode",
    "default",
    "default_factory",
    "denominator",
    "detach",
    "difference",
    "difference_update",
    "discard",
    "drive",
    "dst",
    "dup",
    "elements",
    "encode",
    "encoding",
    "end",
    "endpos",
    "endswith",
    "error",
    "errors",
    "exception",
    "exists",
    "exp",
    "expand",
    "expandtabs",
    "expanduser",
    "extend",
    "extendleft",
    "f_contiguous",
    "family",
    "fatal",
    "fileno",
    "filter",
    "find",
    "findCaller",
    "findall",
    "finditer",
    "flags",
    "flush",
    "fma",
    "fold",
    "format",
    "format_map",
    "from_bytes",
    "from_float",
    "fromhex",
    "fromisocalendar",
    "fromisoformat",
    "fromkeys",
    "fromordinal",
    "fromtimestamp",
    "fullmatch",
    "get",
    "getChild",
    "getEffectiveLevel",
    "getName",
    "get_inheritable",
    "getblocking",
    "getbuffer",
    "getpeername",
    "getsockname",
    "getsockopt",
    "gettimeout",
    "getvalue",
    "glob",
    "group",
    "groupdict",
    "groupindex",
    "groups",
    "handle",
    "hardlink_to",
    "hasHandlers",
    "hex",
    "home",
    "hour",
    "ident",
    "imag",
    "index",
    "info",
    "insert",
    "intersection",
    "intersection_update",
    "isDaemon",
    "isEnabledFor",
    "isSet",
    "is_absolute",
    "is_alive",
    "is_block_device",
    "is_canonical",
    "is_char_device",
    "is_dir",
    "is_fifo",
    "is_file",
    "is_finite",
    "is_infinite",
    "is_integer",
    "is_mount",
    "is_nan",
    "is_normal",
    "is_qnan",
    "is_relative_to",
    "is_reserved",
    "is_set",
    "is_signed",
    "is_snan",
    "is_socket",
    "is_subnormal",
    "is_symlink",
    "is_zero",
    "isalnum",
    "isalpha",
    "isascii",
    "isatty",
    "isdecimal",
    "isdigit",
    "isdisjoint",
    "isidentifier",
    "islower",
    "isnumeric",
    "isocalendar",
    "isoformat",
    "isoweekday",
    "isprintable",
    "isspace",
    "issubset",
    "issuperset",
    "istitle",
    "isupper",
    "item_separator",
    "items",
    "itemsize",
    "iterdir",
    "iterencode",
    "join",
    "joinpath",
    "key_separator",
    "keys",
    "lastgroup",
    "lastindex",
    "lchmod",
    "line_buffering",
    "link_to",
    "listen",
    "ljust",
    "ln",
    "log",
    "log10",
    "logb",
    "logical_and",
    "logical_invert",
    "logical_or",
    "logical_xor",
    "lower",
    "lstat",
    "lstrip",
    "makeRecord",
    "makefile",
    "maketrans",
    "manager",
    "match",
    "max",
    "max_mag",
    "maxlen",
    "microsecond",
    "microseconds",
    "min",
    "min_mag",
    "minute",
    "mkdir",
    "mode",
    "month",
    "most_common",
    "move_to_end",
    "mro",
    "name",
    "native_id",
    "nbytes",
    "ndim",
    "newlines",
    "next_minus",
    "next_plus",
    "next_toward",
    "normalize",
    "now",
    "number_class",
    "numerator",
    "obj",
    "open",
    "owner",
    "parent",
    "parents",
    "partition",
    "parts",
    "pattern",
    "peek",
    "pop",
    "popitem",
    "popleft",
    "pos",
    "proto",
    "quantize",
    "radix",
    "raw",
    "re",
    "read",
    "read1",
    "read_bytes",
    "read_text",
    "readable",
    "readinto",
    "readinto1",
    "readline",
    "readlines",
    "readlink",
    "readonly",
    "real",
    "reconfigure",
    "recv",
    "recv_into",
    "recvfrom",
    "recvfrom_into",
    "recvmsg",
    "recvmsg_into",
    "regs",
    "relative_to",
    "release",
    "remainder_near",
    "remove",
    "removeFilter",
    "removeHandler",
    "removeprefix",
    "removesuffix",
    "rename",
    "replace",
    "resolution",
    "resolve",
    "reverse",
    "rfind",
    "rglob",
    "rindex",
    "rjust",
    "rmdir",
    "root",
    "rotate",
    "rpartition",
    "rsplit",
    "rstrip",
    "run",
    "same_quantum",
    "samefile",
    "scaleb",
    "scanner",
    "search",
    "second",
    "seconds",
    "seek",
    "seekable",
    "send",
    "sendall",
    "sendfile",
    "sendmsg",
    "sendmsg_afalg",
    "sendto",
    "set",
    "setDaemon",
    "setLevel",
    "setName",
    "set_inheritable",
    "setblocking",
    "setdefault",
    "setsockopt",
    "settimeout",
    "shape",
    "shift",
    "shutdown",
    "sort",
    "span",
    "split",
    "splitlines",
    "sqrt",
    "start",
    "startswith",
    "stat",
    "stem",
    "step",
    "stop",
    "strftime",
    "strides",
    "string",
    "strip",
    "strptime",
    "sub",
    "subn",
    "suboffsets",
    "subtract",
    "suffix",
    "suffixes",
    "swapcase",
    "symlink_to",
    "symmetric_difference",
    "symmetric_difference_update",
    "tell",
    "time",
    "timeout",
    "timestamp",
    "timetuple",
    "timetz",
    "title",
    "to_bytes",
    "to_eng_string",
    "to_integral",
    "to_integral_exact",
    "to_integral_value",
    "tobytes",
    "today",
    "tolist",
    "toordinal",
    "toreadonly",
    "total",
    "total_seconds",
    "touch",
    "translate",
    "truncate",
    "type",
    "tzinfo",
    "tzname",
    "union",
    "unlink",
    "update",
    "upper",
    "utcfromtimestamp",
    "utcnow",
    "utcoffset",
    "utctimetuple",
    "values",
    "wait",
    "warn",
    "warning",
    "weekday",
    "with_name",
    "with_stem",
    "with_suffix",
    "writable",
    "write",
    "write_bytes",
    "write_text",
    "write_through",
    "writelines",
    "year",
    "zfill",
];

/// The same for Rust: methods of Option, Result, iterators, collections, strings, Arc/Mutex.
const RS_COMMON_METHODS: &[&str] = &[
    "all",
    "and_then",
    "any",
    "append",
    "apply",
    "as_bytes",
    "as_deref",
    "as_deref_mut",
    "as_mut",
    "as_ptr",
    "as_ref",
    "as_slice",
    "as_str",
    "await",
    "borrow",
    "borrow_mut",
    "build",
    "builder",
    "bytes",
    "call",
    "capacity",
    "chain",
    "chars",
    "chunks",
    "clear",
    "clone",
    "cloned",
    "close",
    "cmp",
    "collect",
    "contains",
    "contains_key",
    "copied",
    "count",
    "dedup",
    "default",
    "drain",
    "drop",
    "ends_with",
    "entry",
    "enumerate",
    "eq",
    "err",
    "expect",
    "extend",
    "fetch_add",
    "filter",
    "filter_map",
    "find",
    "finish",
    "first",
    "flat_map",
    "flatten",
    "flush",
    "fmt",
    "fold",
    "for_each",
    "format",
    "from",
    "get",
    "get_mut",
    "handle",
    "hash",
    "insert",
    "into",
    "into_boxed_slice",
    "into_iter",
    "is_empty",
    "is_err",
    "is_none",
    "is_ok",
    "is_some",
    "iter",
    "iter_mut",
    "join",
    "keys",
    "last",
    "len",
    "lines",
    "load",
    "lock",
    "map",
    "map_err",
    "max",
    "min",
    "new",
    "next",
    "ok",
    "or_else",
    "parse",
    "partial_cmp",
    "peekable",
    "poll",
    "pop",
    "position",
    "process",
    "product",
    "push",
    "read",
    "recv",
    "remove",
    "replace",
    "reserve",
    "resize",
    "retain",
    "rev",
    "run",
    "send",
    "set",
    "shutdown",
    "skip",
    "skip_while",
    "sort",
    "sort_by",
    "sort_by_key",
    "spawn",
    "split",
    "split_off",
    "start",
    "starts_with",
    "step_by",
    "stop",
    "store",
    "sum",
    "swap",
    "take",
    "take_while",
    "to_owned",
    "to_string",
    "to_vec",
    "trim",
    "truncate",
    "try_lock",
    "unwrap",
    "unwrap_or",
    "unwrap_or_default",
    "unwrap_or_else",
    "update",
    "values",
    "windows",
    "with_capacity",
    "write",
    "zip",
];

/// Method names too common on builtin/std types for the name-based fallback: a receiver of
/// unknown type calling one of these is far more likely a dict, list, str, Option or
/// iterator than the one project class that happens to define the same name.
const FALLBACK_STOPLIST: &[&str] = &[
    "get",
    "set",
    "items",
    "keys",
    "values",
    "append",
    "extend",
    "update",
    "pop",
    "remove",
    "insert",
    "clear",
    "copy",
    "add",
    "discard",
    "index",
    "count",
    "sort",
    "reverse",
    "join",
    "split",
    "strip",
    "format",
    "encode",
    "decode",
    "read",
    "write",
    "close",
    "open",
    "run",
    "start",
    "stop",
    "send",
    "recv",
    "call",
    "apply",
    "map",
    "filter",
    "iter",
    "next",
    "len",
    "push",
    "clone",
    "new",
    "default",
    "from",
    "into",
    "as_ref",
    "unwrap",
    "expect",
    "lock",
    "borrow",
    "borrow_mut",
    "to_string",
    "to_owned",
    "collect",
    "contains",
    "is_empty",
    "setdefault",
    "replace",
    "lower",
    "upper",
    "startswith",
    "endswith",
    "flush",
    "wait",
    "result",
    "cancel",
    "done",
    "fetch",
    "execute",
    "connect",
    "delete",
    "save",
    "load",
    "dump",
    "dumps",
    "loads",
    "parse",
    "process",
    "handle",
    "emit",
    "cleanup",
    "reset",
    "refresh",
    "register",
    "unregister",
    "subscribe",
    "publish",
    "put",
    "info",
    "debug",
    "warning",
    "error",
    "exception",
    "critical",
    "log",
    "poll",
    "fileno",
    "seek",
    "tell",
    "readline",
    "readlines",
    "writelines",
    "setup",
    "teardown",
    "build",
    "create",
    "init",
    "shutdown",
    "acquire",
    "release",
    "notify",
    "notify_all",
];

/// What a call can reach.
#[derive(Clone, Debug, PartialEq)]
pub enum Target<'c> {
    /// A function of the project.
    Function(FnRef),
    /// A blocking API from the catalog (its resolved path and entry).
    Api { path: String, api: &'c BlockingApi },
}

#[derive(Clone, Debug, Default)]
pub struct Resolution<'c> {
    pub targets: Vec<(Target<'c>, Confidence)>,
    /// The call is an offload (`asyncio.to_thread`, `spawn_blocking`): callables and
    /// closures passed to it do not run on the loop.
    pub offload: bool,
    /// The call schedules callables on the loop (`call_soon`).
    pub loop_callback: bool,
    /// The call is a FastAPI `Depends`-like marker.
    pub endpoint: Option<EndpointKind>,
    /// Another argument count or other literal arguments could change the targets: a
    /// catalog entry matched the callee but not these arguments (`Thread.join(timeout=0)`).
    /// Without it, any call of the same callee and kind in the same file resolves alike.
    pub arg_sensitive: bool,
}

/// The resolution of a Python call outside the project, by the catalog alone, as
/// [`Resolver::resolve`] would find it, when it can only hold blocking APIs: a call of a
/// path outside the project (no prefix of it names a module of the project: `in_project`
/// says; such a path is its own only candidate, since the index's aliases, functions,
/// classes and globals are all named under project modules), or of a method of a
/// library type the receiver names (`sock: socket.socket`, then `sock.recv(1)`) or a library
/// call returns (`open(p).close()`: the catalog's constructed type, or the class a
/// capitalized path names). A method whose receiver has no type the resolver could derive
/// (a name it does not know, or a library call that returns no known type:
/// `open(p).read()`) resolves by its name ([`by_name_alone`]). `None` for anything else: a
/// path of the project, a receiver of another kind, an offload, loop-callback or endpoint
/// path, or a name the project-wide fallback by name may resolve.
pub fn external_call_resolution<'c>(
    catalog: &'c LanguageCatalog,
    site: &CallSite,
    in_project: &dyn Fn(&str) -> bool,
) -> Option<Resolution<'c>> {
    let path = match callee_alone(catalog, &site.callee, in_project)? {
        Alone::Path(p) => p,
        Alone::ByName(name) => return by_name_alone(catalog, site, name),
    };
    if in_project(&path)
        || catalog.offloads.path(&path, None).is_some()
        || catalog.loop_callbacks.path(&path, None).is_some()
        || catalog.endpoints.path(&path, None).is_some()
    {
        return None;
    }
    let mut res = Resolution::default();
    // An attribute read of a library path runs no code we know of.
    if catalog.opaque.path(&path, None).is_some() || site.kind == CallKind::Property {
        return Some(res);
    }
    // As `Resolver::resolve` does for an external candidate (`Certain`: the path itself,
    // or the type of the receiver), with the name-only entries for a method.
    let argc = Some(site.arg_count);
    match catalog.blocking.lookup_path(&path, argc) {
        Lookup::Hit(api) if api.blocks_with(&site.args) => {
            res.targets
                .push((Target::Api { path, api }, Confidence::Certain));
        }
        Lookup::Hit(_) => res.arg_sensitive = true,
        by_path => {
            res.arg_sensitive |= by_path == Lookup::OtherArgCount;
            if !matches!(site.callee, Callee::Path(_)) {
                match catalog.blocking.lookup_method(site.callee.name(), argc) {
                    Lookup::Hit(api) if api.blocks_with(&site.args) => {
                        res.targets
                            .push((Target::Api { path, api }, Confidence::Likely));
                    }
                    Lookup::Hit(_) | Lookup::OtherArgCount => res.arg_sensitive = true,
                    Lookup::Miss => {}
                }
            }
        }
    }
    Some(res)
}

/// Whether a Python call offloads, and neither schedules on the loop nor marks an
/// endpoint, whatever the project defines: as [`Resolver::resolve`] finds for a path
/// outside the project or a method of a library type (as for [`external_call_resolution`])
/// that the catalog lists among its offloads, or for a method by name on a receiver of
/// unknown type (`x.run_in_executor(..)`). A callable passed to it by reference gets no role.
pub fn offloads_alone(
    catalog: &LanguageCatalog,
    site: &CallSite,
    in_project: &dyn Fn(&str) -> bool,
) -> bool {
    if site.kind != CallKind::Call {
        return false;
    }
    match callee_alone(catalog, &site.callee, in_project) {
        Some(Alone::Path(p)) => {
            !in_project(&p)
                && catalog.opaque.path(&p, None).is_none()
                && catalog.offloads.path(&p, None).is_some()
                && catalog.loop_callbacks.path(&p, None).is_none()
                && catalog.endpoints.path(&p, None).is_none()
        }
        Some(Alone::ByName(name)) => {
            let (res, _) = by_name(catalog, Language::Python, site, name);
            res.offload && !res.loop_callback
        }
        None => false,
    }
}

/// What a Python callee is by the catalog alone (see [`external_call_resolution`]).
enum Alone<'s> {
    /// Its only candidate path (of the project or not: the caller asks).
    Path(String),
    /// A method on a receiver whose type the resolver cannot derive: resolved by name.
    ByName(&'s str),
}

/// `None` when the index decides what `callee` is (a receiver of another kind, `super()`).
fn callee_alone<'s>(
    catalog: &LanguageCatalog,
    callee: &'s Callee,
    in_project: &dyn Fn(&str) -> bool,
) -> Option<Alone<'s>> {
    Some(match callee {
        Callee::Path(p) => Alone::Path(p.clone()),
        Callee::Method { receiver, name } => match external_type(catalog, receiver, in_project) {
            Some(ty) => Alone::Path(format!("{ty}.{name}")),
            None if untyped_alone(catalog, receiver, in_project) => Alone::ByName(name),
            None => return None,
        },
        Callee::UnknownMethod { name } => Alone::ByName(name),
        Callee::Super { .. } => return None,
    })
}

/// Whether [`Resolver::type_of`] finds no type for `receiver` whatever the project
/// defines: the value a call of a library path returns when the catalog names no type
/// for it and the path does not look like a class (as `Resolver::returned_type` decides).
fn untyped_alone(
    catalog: &LanguageCatalog,
    receiver: &TypeRef,
    in_project: &dyn Fn(&str) -> bool,
) -> bool {
    match receiver {
        TypeRef::Returned(callee) => match callee.as_ref() {
            // A constructor the catalog lists gives a type, even one of the project's.
            Callee::Path(p) if !in_project(p) && catalog.constructed_type(p).is_none() => {
                !rsplit_path(p, ".")
                    .is_some_and(|(_, last)| last.starts_with(|c: char| c.is_ascii_uppercase()))
            }
            _ => false,
        },
        _ => false,
    }
}

/// The resolution of a Python method call `name` on a receiver of unknown type, as
/// [`Resolver::resolve`] finds it by name, when the index cannot change it: the catalog's
/// name-only entries, and no guess of the project's one class with such a method
/// ([`by_name`]). `None` when that guess may apply, or the name is an offload or a loop
/// callback.
fn by_name_alone<'c>(
    catalog: &'c LanguageCatalog,
    site: &CallSite,
    name: &str,
) -> Option<Resolution<'c>> {
    let (res, guess) = by_name(catalog, Language::Python, site, name);
    (!guess && !res.offload && !res.loop_callback).then_some(res)
}

/// What a method call `name` on a receiver of unknown type resolves to by its name, as far
/// as the catalog tells (an attribute read runs no code we know of; otherwise the offload
/// and loop-callback names and the name-only blocking entries, `likely`), and whether the
/// resolver may go on to guess the project's one class with such a method: no entry
/// matched, a call, and not a dunder or a name too common to guess by.
fn by_name<'c>(
    catalog: &'c LanguageCatalog,
    lang: Language,
    site: &CallSite,
    name: &str,
) -> (Resolution<'c>, bool) {
    let mut res = Resolution::default();
    if site.kind == CallKind::Property {
        return (res, false);
    }
    res.offload = catalog.offloads.method(name, None).is_some();
    res.loop_callback = catalog.loop_callbacks.method(name, None).is_some();
    match catalog.blocking.lookup_method(name, Some(site.arg_count)) {
        Lookup::Hit(api) if api.blocks_with(&site.args) => {
            res.targets.push((
                Target::Api {
                    path: format!("<unknown>{}{name}", lang.separator()),
                    api,
                },
                Confidence::Likely,
            ));
            return (res, false);
        }
        Lookup::Hit(_) | Lookup::OtherArgCount => res.arg_sensitive = true,
        Lookup::Miss => {}
    }
    let common = match lang {
        Language::Python => PY_COMMON_METHODS.binary_search(&name).is_ok(),
        Language::Rust => RS_COMMON_METHODS.binary_search(&name).is_ok(),
    };
    let guess = site.kind == CallKind::Call
        && !name.starts_with("__")
        && !FALLBACK_STOPLIST.contains(&name)
        && !common;
    (res, guess)
}

/// The library type a receiver denotes by the catalog alone (see
/// [`external_call_resolution`]): as `Resolver::type_of` finds it when neither the path nor
/// the type is the project's.
fn external_type(
    catalog: &LanguageCatalog,
    receiver: &TypeRef,
    in_project: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let ty = match receiver {
        TypeRef::Named(p) if !in_project(p) => p.clone(),
        TypeRef::Returned(callee) => match callee.as_ref() {
            Callee::Path(p) if !in_project(p) => match catalog.constructed_type(p) {
                Some(t) => t,
                None => {
                    let (_, last) = rsplit_path(p, ".")?;
                    if !last.starts_with(|c: char| c.is_ascii_uppercase()) {
                        return None;
                    }
                    p.clone()
                }
            },
            _ => return None,
        },
        _ => return None,
    };
    (!in_project(&ty)).then_some(ty)
}

pub struct Resolver<'a, 'c> {
    pub index: &'a Index<'a>,
    pub catalog: &'c LanguageCatalog,
    pub lang: Language,
    /// The file the resolved calls are in (its imports bound the name-based fallback).
    pub file: u32,
}

impl<'a, 'c> Resolver<'a, 'c> {
    fn sep(&self) -> &'static str {
        self.lang.separator()
    }

    fn join(&self, owner: &str, name: &str) -> String {
        let mut s = String::with_capacity(owner.len() + name.len() + 2);
        s.push_str(owner);
        s.push_str(self.sep());
        s.push_str(name);
        s
    }

    fn split<'p>(&self, path: &'p str) -> Option<(&'p str, &'p str)> {
        rsplit_path(path, self.sep())
    }

    fn is_known(&self, path: &str) -> bool {
        self.index.functions.contains_key(path)
            || self.index.classes.contains_key(path)
            || self.index.global(path, self.sep()).is_some()
    }

    /// Expands re-exports and import aliases: `app.get_db` -> `app.db.get_db`.
    pub fn canonical<'p>(&self, path: &'p str) -> Cow<'p, str> {
        let mut current: Cow<'p, str> = Cow::Borrowed(path);
        for _ in 0..MAX_RESOLVE_DEPTH {
            if self.is_known(&current) {
                return current;
            }
            // Longest prefix that is an alias wins.
            let mut replaced = None;
            let mut end = current.len();
            loop {
                let prefix = &current[..end];
                if let Some(target) = self.index.alias(prefix, self.sep()) {
                    replaced = Some(format!("{target}{}", &current[end..]));
                    break;
                }
                match rfind_separator(prefix, self.sep()) {
                    Some(i) => end = i,
                    None => break,
                }
            }
            match replaced {
                Some(next) if next != current => current = Cow::Owned(next),
                _ => return current,
            }
        }
        current
    }

    /// The type a [`TypeRef`] denotes, as a canonical path.
    pub fn type_of(&self, ty: &TypeRef, depth: u32) -> Option<(String, Confidence)> {
        if depth > MAX_RESOLVE_DEPTH {
            return None;
        }
        match ty {
            TypeRef::Named(p) => Some((self.canonical(p).into_owned(), Confidence::Certain)),
            TypeRef::Global(p) => {
                let p = self.canonical(p);
                let t = self.index.global(&p, self.sep())?;
                self.type_of(t, depth + 1)
            }
            TypeRef::Field { owner, name } => {
                let (owner, conf) = self.type_of(owner, depth + 1)?;
                let (t, c) = self.field_type(&owner, name, depth + 1)?;
                Some((t, conf.max(c)))
            }
            TypeRef::Returned(callee) => self.returned_type(callee, depth + 1),
        }
    }

    /// The type of attribute `name` of `class`: its declared field/attribute type, searching
    /// the class and then its bases; for bases outside the project, what the catalog says
    /// (`django.db.models.Model.objects` is a `Manager`).
    fn field_type(&self, class: &str, name: &str, depth: u32) -> Option<(String, Confidence)> {
        let mut queue = std::collections::VecDeque::from([class.to_string()]);
        let mut seen = 0;
        while let Some(c) = queue.pop_front() {
            seen += 1;
            if seen > 32 {
                break;
            }
            match self.index.classes.get(c.as_str()) {
                Some(info) => {
                    if let Some(t) = info.fields.get(name) {
                        return self.type_of(t, depth + 1);
                    }
                    queue.extend(info.bases.iter().map(|b| self.canonical(b).into_owned()));
                }
                None => {
                    if let Some(t) = self.catalog.constructed_type(&self.join(&c, name)) {
                        return Some((t, Confidence::Certain));
                    }
                }
            }
        }
        None
    }

    /// What calling `callee` returns.
    fn returned_type(&self, callee: &Callee, depth: u32) -> Option<(String, Confidence)> {
        let candidates = self.candidate_paths(callee, depth);
        let first = candidates.first().map(|(p, _)| p.clone());
        for (path, conf) in candidates {
            if self.index.classes.contains_key(path.as_str()) {
                return Some((path, conf));
            }
            if let Some(t) = self.catalog.constructed_type(&path) {
                return Some((t, conf));
            }
            if let Some(fns) = self.index.functions.get(path.as_str()) {
                for f in fns {
                    if let Some(ret) = &self.index.function(*f).returns
                        && let Some((t, c)) = self.type_of(ret, depth + 1)
                    {
                        return Some((t, conf.max(c)));
                    }
                }
            }
        }
        // A class of a library outside the project (`api = NiceGOApi(session)`): its
        // methods are unknown, but it is known not to be any project class, which keeps the
        // name-based fallback from guessing one.
        let path = first?;
        if self.index.functions.contains_key(path.as_str()) {
            return None;
        }
        let (owner, last) = self.split(&path)?;
        match self.lang {
            Language::Python if last.starts_with(|c: char| c.is_ascii_uppercase()) => {
                Some((path, Confidence::Certain))
            }
            // `Client::new()`, `Client::builder()`-style constructors of library types.
            Language::Rust
                if (last == "new" || last.starts_with("with_") || last.starts_with("from_"))
                    && owner
                        .rsplit("::")
                        .next()
                        .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_uppercase())) =>
            {
                Some((owner.to_string(), Confidence::Certain))
            }
            _ => None,
        }
    }

    /// Resolved paths a callee may denote (without checking that they exist).
    pub fn candidate_paths(&self, callee: &Callee, depth: u32) -> Vec<(String, Confidence)> {
        if depth > MAX_RESOLVE_DEPTH {
            return Vec::new();
        }
        match callee {
            Callee::Path(p) => {
                let canon = self.canonical(p);
                let mut out = vec![(canon.to_string(), Confidence::Certain)];
                // The path as imported, too: a library checked as its own project re-exports
                // its API (`pub use pool::unblock`), and the catalog spells the public path.
                if canon.as_ref() != p.as_str() {
                    out.push((p.clone(), Confidence::Certain));
                }
                if !self.is_known(&canon)
                    && let Some((owner, name)) = self.split(&canon)
                {
                    // `mod.var.method` where `mod.var` is a module-level variable of known type.
                    if let Some(t) = self.index.global(owner, self.sep()) {
                        if let Some((ty, c)) = self.type_of(t, depth + 1) {
                            out.push((self.join(&ty, name), c));
                        }
                    } else if let Some((class, attr)) = self.split(owner)
                        && self.index.classes.contains_key(class)
                        && let Some((ty, c)) = self.field_type(class, attr, depth + 1)
                    {
                        // `Model.objects.get`: an attribute of a project class.
                        out.push((self.join(&ty, name), c));
                    }
                }
                out
            }
            Callee::Method { receiver, name } => match self.type_of(receiver, depth + 1) {
                Some((ty, c)) => vec![(self.join(&ty, name), c)],
                None => Vec::new(),
            },
            Callee::Super { class, name } => {
                let class = self.canonical(class);
                match self.index.classes.get(class.as_ref()) {
                    Some(info) => info
                        .bases
                        .iter()
                        .map(|b| (self.join(&self.canonical(b), name), Confidence::Certain))
                        .collect(),
                    None => Vec::new(),
                }
            }
            Callee::UnknownMethod { .. } => Vec::new(),
        }
    }

    /// Methods named `name` found on `class` or, in MRO-like order, its bases. Bases outside
    /// the project are returned as paths for catalog lookups.
    fn method_lookup(
        &self,
        class: &str,
        name: &str,
        out: &mut Vec<Target<'c>>,
        conf_paths: &mut Vec<String>,
    ) {
        let mut queue: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        queue.push_back(class.to_string());
        let mut visited: Vec<String> = Vec::new();
        while let Some(c) = queue.pop_front() {
            if visited.contains(&c) || visited.len() > 32 {
                continue;
            }
            visited.push(c.clone());
            match self.index.classes.get(c.as_str()) {
                Some(info) => {
                    let before = out.len();
                    out.extend(info.methods.named(name).map(|f| Target::Function(*f)));
                    if out.len() > before {
                        return;
                    }
                    for b in &info.bases {
                        queue.push_back(self.canonical(b).into_owned());
                    }
                }
                None => conf_paths.push(self.join(&c, name)),
            }
        }
    }

    /// Project overrides of `class.name` in subclasses (transitively), for `self.m()` calls
    /// on a base class whose subclasses redefine `m`.
    fn overrides(&self, class: &str, name: &str, out: &mut Vec<Target<'c>>) {
        let mut stack: Vec<&str> = self
            .index
            .subclasses
            .get(class)
            .map(|v| v.to_vec())
            .unwrap_or_default();
        let mut seen = 0;
        while let Some(sub) = stack.pop() {
            seen += 1;
            if seen > 64 {
                break;
            }
            if let Some(info) = self.index.classes.get(sub) {
                out.extend(info.methods.named(name).map(|f| Target::Function(*f)));
            }
            if let Some(more) = self.index.subclasses.get(sub) {
                stack.extend(more.iter().copied());
            }
        }
    }

    /// Resolves a call site to what it may reach (see also [`external_call_resolution`],
    /// which must agree with it).
    pub fn resolve(&self, site: &CallSite) -> Resolution<'c> {
        let mut res = Resolution::default();
        let argc = Some(site.arg_count);
        let candidates = self.candidate_paths(&site.callee, 0);
        // A method on a receiver whose type cannot be derived (`self._loop.run_until_complete`)
        // is treated like one on an unknown receiver: name-based, `likely`.
        let unknown_name = match &site.callee {
            Callee::UnknownMethod { name } => Some(name),
            Callee::Method { name, .. } if candidates.is_empty() => Some(name),
            _ => None,
        };
        if let Some(name) = unknown_name {
            let (mut res, guess) = by_name(self.catalog, self.lang, site, name);
            if guess
                && let Some(classes) = self.index.classes_by_method.get(name.as_str())
                && classes.len() == 1
                && let Some(info) = self.index.classes.get(classes[0])
                // Only a class the calling module can see: its own, or one it imports from.
                && self.index.imports_from(self.file, info.module)
                && self.catalog.opaque.path(classes[0], None).is_none()
            {
                res.targets.extend(
                    (info.methods.named(name.as_str()))
                        .filter(|f| {
                            self.catalog
                                .opaque
                                .path(&self.index.function(**f).qualname, None)
                                .is_none()
                        })
                        .map(|f| (Target::Function(*f), Confidence::Likely)),
                );
            }
            return res;
        }
        for (path, conf) in candidates {
            if self.catalog.opaque.path(&path, None).is_some() {
                continue;
            }
            if self.catalog.offloads.path(&path, None).is_some() {
                res.offload = true;
            }
            if self.catalog.loop_callbacks.path(&path, None).is_some() {
                res.loop_callback = true;
            }
            if let Some(kind) = self.catalog.endpoints.path(&path, None) {
                res.endpoint = Some(*kind);
            }
            let mut targets = Vec::new();
            let mut external = Vec::new();
            if let Some(fns) = self.index.functions.get(path.as_str()) {
                targets.extend(fns.iter().map(|f| Target::Function(*f)));
                if matches!(site.callee, Callee::Path(_))
                    && let Some((owner, name)) = self.split(&path)
                    && self.index.classes.contains_key(owner)
                {
                    self.overrides(owner, name, &mut targets);
                }
            } else if self.index.classes.contains_key(path.as_str()) {
                // A constructor call runs `__init__` (and `__post_init__` of dataclasses).
                if self.lang == Language::Python && site.kind == CallKind::Call {
                    self.method_lookup(&path, "__init__", &mut targets, &mut external);
                    external.clear();
                    self.method_lookup(&path, "__post_init__", &mut targets, &mut external);
                    external.clear();
                }
            } else if let Some((owner, name)) = self.split(&path)
                && self.index.classes.contains_key(owner)
            {
                self.method_lookup(owner, name, &mut targets, &mut external);
            } else {
                external.push(path.clone());
            }
            // An attribute read runs code only through a project `@property`; a catalog API
            // read without a call (`asyncio.to_thread(event.wait)`) is a reference.
            if site.kind == CallKind::Property {
                targets.retain(|t| matches!(t, Target::Function(f) if is_property(self.index, *f)));
                external.clear();
            }
            targets.retain(|t| match t {
                Target::Function(f) => self
                    .catalog
                    .opaque
                    .path(&self.index.function(*f).qualname, None)
                    .is_none(),
                Target::Api { .. } => true,
            });
            let mut by_name = Vec::new();
            for ext in external {
                let by_path = self.catalog.blocking.lookup_path(&ext, argc);
                res.arg_sensitive |= by_path == Lookup::OtherArgCount;
                if let Lookup::Hit(api) = by_path {
                    if api.blocks_with(&site.args) {
                        targets.push(Target::Api { path: ext, api });
                    } else {
                        res.arg_sensitive = true;
                    }
                } else if !matches!(site.callee, Callee::Path(_)) {
                    // A method of a library type the catalog does not list by path
                    // (`bucket.upload_file` on a boto3 resource): the catalog's name-only
                    // entries apply, as for an untyped receiver.
                    match self
                        .catalog
                        .blocking
                        .lookup_method(site.callee.name(), argc)
                    {
                        Lookup::Hit(api) if api.blocks_with(&site.args) => {
                            by_name.push(Target::Api { path: ext, api });
                        }
                        Lookup::Hit(_) | Lookup::OtherArgCount => res.arg_sensitive = true,
                        Lookup::Miss => {}
                    }
                }
            }
            res.targets.extend(targets.into_iter().map(|t| (t, conf)));
            res.targets
                .extend(by_name.into_iter().map(|t| (t, Confidence::Likely)));
        }
        res.targets.sort_by_key(|a| target_key(&a.0));
        res.targets.dedup_by(|a, b| a.0 == b.0);
        res
    }

    /// The guard kind of a guard's acquiring call, if the catalog says it returns a sync guard.
    pub fn guard_kind(
        &self,
        acquire: &Callee,
        arg_count: u32,
    ) -> Option<(GuardKind, Option<String>, Confidence)> {
        if let Callee::UnknownMethod { name } = acquire {
            return self
                .catalog
                .guards
                .method(name, Some(arg_count))
                .map(|(k, h)| (*k, h.clone(), Confidence::Likely));
        }
        if let Some((path, conf)) = self.candidate_paths(acquire, 0).into_iter().next() {
            // A known receiver type the catalog does not list (tokio::sync::Mutex, a project
            // class with its own `lock()`) does not return a sync guard.
            return self
                .catalog
                .guards
                .path(&path, Some(arg_count))
                .map(|(k, h)| (*k, h.clone(), conf));
        }
        // Unknown receiver type: fall back to the method name.
        self.catalog
            .guards
            .method(acquire.name(), Some(arg_count))
            .map(|(k, h)| (*k, h.clone(), Confidence::Likely))
    }

    /// Resolves a decorator or a callable reference to catalog roles and project functions.
    pub fn resolve_reference(&self, callee: &Callee) -> Resolution<'c> {
        let site = CallSite {
            callee: callee.clone(),
            kind: CallKind::Call,
            span: Default::default(),
            awaited: false,
            arg_count: 0,
            closure_args: Vec::new(),
            callable_args: Vec::new(),
            args: Vec::new(),
            param_args: Vec::new(),
            text: String::new(),
        };
        let mut res = self.resolve(&site);
        // A reference to a class is not a call of its constructor.
        if let Callee::Path(p) = callee
            && self.index.classes.contains_key(self.canonical(p).as_ref())
        {
            res.targets.clear();
        }
        res
    }
}

fn is_property(index: &Index, f: FnRef) -> bool {
    index.function(f).decorators.iter().any(|d| {
        let n = d.callee.name();
        n == "property" || n == "cached_property"
    })
}

fn target_key(t: &Target) -> (u8, FnRef, String) {
    match t {
        Target::Function(f) => (0, *f, String::new()),
        Target::Api { path, .. } => (1, FnRef { file: 0, func: 0 }, path.clone()),
    }
}

#[cfg(test)]
mod stoplist_tests {
    use super::*;

    #[test]
    fn common_method_lists_are_sorted_for_binary_search() {
        for list in [PY_COMMON_METHODS, RS_COMMON_METHODS] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        }
        assert!(PY_COMMON_METHODS.binary_search(&"group").is_ok());
        assert!(RS_COMMON_METHODS.binary_search(&"unwrap_or_else").is_ok());
    }
}
