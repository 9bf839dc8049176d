//! Facts: the small, language-neutral model that both front ends lower source files to.
//!
//! A front end reports *what the code says* (functions, calls, types it can see, guards and
//! the awaits they live across). It never decides a finding and never consults the catalog:
//! that is `loopguard_analysis`'s job. This keeps the checks one set of code for Python and
//! Rust, and makes facts cacheable independent of the catalog and config.
//!
//! Names are qualified paths in the language's own spelling:
//! Python `app.services.db.DatabaseService.get_agent` (dots), Rust
//! `my_crate::db::Service::get` (double colons). [`Language::separator`] gives the separator.

use serde::{Deserialize, Serialize};

use crate::span::Span;

/// Bumped whenever the shape or meaning of facts changes (invalidates caches).
pub const FACTS_VERSION: u32 = 3;

/// Byte index of the last `sep` in `path`, like `path.rfind(sep)`. Paths are short and
/// searched millions of times per run: a `&str` pattern sets up a two-way searcher on every
/// call, which costs more than scanning the bytes of the path.
pub fn rfind_separator(path: &str, sep: &str) -> Option<usize> {
    let bytes = path.as_bytes();
    match sep.as_bytes() {
        [b] => bytes.iter().rposition(|c| c == b),
        [a, b] if a == b => {
            let mut end = bytes.len();
            while let Some(i) = bytes[..end].iter().rposition(|c| c == a) {
                if i > 0 && bytes[i - 1] == *a {
                    return Some(i - 1);
                }
                end = i;
            }
            None
        }
        _ => path.rfind(sep),
    }
}

/// `path` split at its last `sep`, like `path.rsplit_once(sep)`.
pub fn rsplit_path<'p>(path: &'p str, sep: &str) -> Option<(&'p str, &'p str)> {
    let i = rfind_separator(path, sep)?;
    Some((&path[..i], &path[i + sep.len()..]))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    Rust,
}

impl Language {
    pub fn separator(self) -> &'static str {
        match self {
            Language::Python => ".",
            Language::Rust => "::",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
        }
    }

    pub fn from_path(path: &std::path::Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "py" | "pyi" => Some(Language::Python),
            "rs" => Some(Language::Rust),
            _ => None,
        }
    }
}

/// Everything loopguard knows about one source file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileFacts {
    /// Path as given to the front end (the engine passes project-relative, `/`-separated paths).
    pub path: String,
    pub language: Option<Language>,
    /// Qualified module path of this file (`app.services.db`, `my_crate::db`).
    pub module: String,
    /// Functions, methods, lambdas/closures and async blocks, in source order. A function's
    /// index in this vector is its [`FunctionId`] within the file.
    pub functions: Vec<Function>,
    /// Python classes, and Rust types with `impl` blocks in this file.
    pub classes: Vec<Class>,
    /// Module-level names bound to other paths: imports and re-exports
    /// (`from .db import get_db` in `app/__init__.py`, `pub use db::get_db;`), and simple
    /// assignments `alias = other.path`. Used to resolve `app.get_db` to `app.db.get_db`.
    pub aliases: Vec<Alias>,
    /// Module-level variables whose type is known (`_lock = threading.Lock()`,
    /// `static POOL: Mutex<..>`), so functions can type them.
    pub globals: Vec<Variable>,
    /// Parse problems. The front end lints what it could parse and reports the rest here.
    pub errors: Vec<ParseError>,
    /// `noqa` comments, filled by the engine with [`crate::suppression::scan`] (not by the
    /// front ends).
    pub suppressions: Vec<crate::suppression::Suppression>,
    /// Rust crate edition (2015/2018/2021/2024) when known; it changes temporary lifetimes.
    pub edition: Option<u16>,
}

/// Index of a function within [`FileFacts::functions`].
pub type FunctionId = u32;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionKind {
    /// `def`/`async def`/`fn`/`async fn` at module level or nested in a function.
    #[default]
    Function,
    /// A function defined in a class body or `impl` block.
    Method,
    /// A Python `lambda` or Rust closure. Its body runs wherever it is *called*: calls in it
    /// count for the enclosing function, unless the closure is handed to an offload function
    /// (see [`CallSite::closure_args`]).
    Closure,
    /// A Rust `async { .. }` block or async closure: its own async context.
    AsyncBlock,
}

/// `Default` gives an empty sync function (front ends fill in what they saw).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Function {
    /// Qualified name: `app.db.DatabaseService.get_agent`; nested:
    /// `app.routes.handler.<locals>.inner`; closures `...handler.<lambda>`/`{closure}`; Rust
    /// async blocks `crate::m::f::{async block}`.
    pub qualname: String,
    /// The bare name (`get_agent`, `<lambda>`).
    pub name: String,
    pub kind: FunctionKind,
    /// `async def`, `async fn`, async block, async closure.
    pub is_async: bool,
    /// Qualified name of the class / impl type for methods.
    pub class: Option<String>,
    /// Decorators / attributes as resolved paths (`functools.lru_cache`,
    /// `fastapi.APIRouter.get` for `@router.get(...)` with a typed `router`,
    /// `homeassistant.core.callback`, `async_trait::async_trait`). Arguments are dropped.
    pub decorators: Vec<Decorator>,
    /// Whole definition.
    pub span: Span,
    /// The name (or `async`/`|` token for blocks and closures): where findings about the
    /// function itself (LG501) point.
    pub name_span: Span,
    /// Enclosing function, for nested functions, closures and async blocks.
    pub parent: Option<FunctionId>,
    pub params: Vec<Param>,
    /// Declared return type.
    pub returns: Option<TypeRef>,
    /// Call sites in this function's own body (not in nested functions/closures, which are
    /// functions of their own).
    pub calls: Vec<CallSite>,
    /// Every `await` / `.await` in the own body.
    pub awaits: Vec<Span>,
    /// `async with` / `async for` (Python) appear in the own body: with awaits, they decide
    /// whether removing `async` is a safe fix.
    pub has_async_syntax: bool,
    /// Sync lock guards / RefCell borrows and the awaits reached while they are alive.
    pub guards: Vec<Guard>,
    /// Python: `self.x = <expr>` / `self.x: T` assignments in this method (used to type
    /// attributes of the class from `__init__` and other methods).
    pub attributes: Vec<Variable>,
    /// Is this a `yield`-ing function (generator / `@contextmanager` body)?
    pub is_generator: bool,
}

impl Function {
    /// A Python dunder method (`__init__`, `__enter__`): looked up without being named
    /// (`C()` runs `C.__init__`, `with x:` runs `__enter__`).
    pub fn is_dunder(&self) -> bool {
        self.name.len() > 4 && self.name.starts_with("__") && self.name.ends_with("__")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decorator {
    /// Resolved path of the decorator expression without its call arguments
    /// (`@app.get("/x")` with `app = FastAPI()` gives `ret:fastapi.FastAPI` receiver; see
    /// [`Callee`]).
    pub callee: Callee,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    pub annotation: Option<TypeRef>,
    /// Python default value that is a call, e.g. `Depends(get_db)` gives
    /// `Some(Callee::Path("fastapi.Depends"))` with `default_args = [get_db path]`.
    pub default_call: Option<Callee>,
    /// Callables referenced as arguments of `default_call` (`get_db` in `Depends(get_db)`).
    pub default_args: Vec<Callee>,
}

/// A type as far as the front end can tell, resolved lazily by the analysis (which knows
/// the catalog's constructors and the project's classes and return annotations).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeRef {
    /// A named type, resolved through imports: `sqlite3.Connection`,
    /// `app.db.DatabaseService`, `std::sync::Mutex`. Wrappers that do not change what methods
    /// run (`Optional[T]`, `T | None`, `Annotated[T, ..]`, `Arc<T>`, `&T`, `Box<T>`,
    /// extractor wrappers like `State<T>`) are already peeled by the front end, and generic
    /// arguments are dropped except where the type is a wrapper.
    Named(String),
    /// Whatever calling `callee` returns: `conn = sqlite3.connect()` gives
    /// `Returned(Path("sqlite3.connect"))`; `svc = Service()` gives
    /// `Returned(Path("app.Service"))` (a class: an instance of it).
    Returned(Box<Callee>),
    /// The type of a module-level variable or constant defined elsewhere
    /// (`from app.state import lock` then `lock.acquire()` gives `Global("app.state.lock")`;
    /// Rust `static POOL: ..` referenced through `use`).
    Global(String),
    /// The type of attribute/field `name` of a value of type `owner`
    /// (`self._lock` in class `C` gives `Field { owner: Named("m.C"), name: "_lock" }`;
    /// `state.db` with `state: AppState`).
    Field { owner: Box<TypeRef>, name: String },
}

/// What a call site calls, as far as the front end can tell without the project index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Callee {
    /// A path resolved through imports and scopes: `requests.get`, `builtins.open`,
    /// `app.db.get_db`, `app.db.Service` (a constructor), `app.db.Service.method`
    /// (`Service.method(...)` or `self.method()` in class `Service`),
    /// `std::fs::read_to_string`, `crate::db::Pool::get`, `Self::new` (already expanded to the
    /// impl type).
    Path(String),
    /// A method called on a receiver whose type is known or derivable.
    Method { receiver: TypeRef, name: String },
    /// A method called on a receiver of unknown type (`x.recv()`, `obj.fetch()`). The
    /// analysis may fall back to name-based resolution with `likely` confidence.
    UnknownMethod { name: String },
    /// `super().name(...)` inside a method of `class`.
    Super { class: String, name: String },
}

/// The last name of a path (`a.b.c` -> `c`, `a::b` -> `b`), by a byte scan: this runs for
/// every call site several times per run, and a `char`-pattern split is several times slower.
pub fn last_segment(path: &str) -> &str {
    match path.bytes().rposition(|b| b == b'.' || b == b':') {
        // The byte found is ASCII, so the next one starts a character.
        Some(i) => &path[i + 1..],
        None => path,
    }
}

impl Callee {
    /// The last name segment: the function or method name.
    pub fn name(&self) -> &str {
        match self {
            Callee::Path(p) => last_segment(p),
            Callee::Method { name, .. }
            | Callee::UnknownMethod { name }
            | Callee::Super { name, .. } => name,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    /// An ordinary call `f(...)`, `x.m(...)`, Rust `f()` / `x.m()` / macro-free paths.
    Call,
    /// Python `with X:` / `with X as y:`: the context manager is entered. For
    /// `with lock:` the callee is `Method { receiver: <lock type>, name: "__enter__" }`; for
    /// `with open(..)` the call `open(..)` is its own `Call` site and the `With` site is its
    /// `__enter__`.
    With,
    /// Python attribute read that may be a property (`obj.prop` on a typed receiver).
    Property,
    /// Python `obj[k]` on a typed receiver (`__getitem__`).
    Subscript,
    /// Python `for x in obj` on a typed receiver (`__iter__`); also Rust `for x in expr`.
    Iterate,
    /// Rust `drop(x)` / value going out of scope — only used for `Runtime` drops (LG101).
    Drop,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallSite {
    pub callee: Callee,
    pub kind: CallKind,
    /// The callee expression (for `requests.get(url)` the span of `requests.get(url)`).
    pub span: Span,
    /// Directly awaited: `await f()` / `f().await` (including `await asyncio.wait_for(f(),..)`
    /// only for the outer call).
    pub awaited: bool,
    /// Number of positional + keyword arguments (some catalog entries need it, e.g. Rust
    /// `RwLock::read()` takes none while `io::Read::read` takes a buffer).
    pub arg_count: u32,
    /// Closures/lambdas (by [`FunctionId`] in this file) passed as arguments: if this call is
    /// an offload (`run_in_executor(None, lambda: ...)`, `spawn_blocking(|| ..)`), they do
    /// not run on the loop. Otherwise their calls count for the caller.
    pub closure_args: Vec<FunctionId>,
    /// Callables passed by reference as arguments (`asyncio.to_thread(time.sleep, 1)` gives
    /// `time.sleep`; `loop.call_soon(self._on_tick)`; `functools.partial(f, x)` gives `f`).
    /// Used for on-loop callbacks and offload bookkeeping; a reference is not a call.
    pub callable_args: Vec<Callee>,
    /// Parameters of the enclosing function passed on directly as arguments (indices into
    /// its `params`): `def run(func): return loop.run_in_executor(None, func)` makes `run`
    /// an offload wrapper for whatever its callers pass.
    #[serde(default)]
    pub param_args: Vec<u32>,
    /// Short literal arguments as written, whitespace removed: keyword arguments as
    /// `name=value` (`timeout=0`, `blocking=False`), positional ones as `#index=value`
    /// (`#0=False`). Arguments longer than 32 characters or not literals are left out. The
    /// catalog's `unless-args` uses them (`Thread.join(timeout=0)` does not block).
    #[serde(default)]
    pub args: Vec<String>,
    /// Source text of the callee expression, whitespace-normalized, without arguments
    /// (`requests.get`, `self.db.get_agent`, `std::fs::read`): messages and fingerprints.
    pub text: String,
}

/// A sync guard (lock guard or RefCell borrow) and the awaits reached while it is alive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Guard {
    /// The call that produced the guard: `Method { receiver, name: "lock" }`,
    /// Python `with self._lock:` gives `Method { receiver, name: "__enter__" }`.
    pub acquire: Callee,
    /// Where the guard is created (the acquiring call / `with` item).
    pub span: Span,
    /// Binding name, if bound by `let` / `as`.
    pub binding: Option<String>,
    /// Awaits reached while the guard is alive (empty guards need not be reported).
    pub awaits: Vec<Span>,
    /// Text of the acquiring expression (`self.state.lock()`).
    pub text: String,
    /// Number of arguments of the acquiring call.
    pub arg_count: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Class {
    /// Qualified name (`app.db.DatabaseService`, `my_crate::state::AppState`).
    pub qualname: String,
    pub span: Span,
    /// Base classes as resolved paths, in MRO-declaration order (Python); implemented traits
    /// (Rust, `impl Trait for Type` adds `Trait`).
    pub bases: Vec<String>,
    /// Decorators (`dataclasses.dataclass`) / derives.
    pub decorators: Vec<String>,
    /// Fields with known types: Python class-level annotations (dataclass/pydantic fields,
    /// `x: Lock = Lock()`), Rust struct fields.
    pub fields: Vec<Variable>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    pub ty: TypeRef,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    /// The local name in this module.
    pub name: String,
    /// The qualified path it stands for.
    pub target: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParseError {
    pub message: String,
    pub span: Span,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_segment_matches_a_split_at_dots_and_colons() {
        for path in [
            "",
            ".",
            "a",
            "a.b.c",
            "a.",
            "k::db::Pool",
            "é.ü",
            "::x",
            "m.<lambda>",
        ] {
            let split = path.rsplit(['.', ':']).next().unwrap_or(path);
            assert_eq!(last_segment(path), split, "{path:?}");
        }
    }

    #[test]
    fn rfind_separator_matches_str_rfind() {
        for path in [
            "",
            ".",
            "a",
            "a.b.c",
            "a..b",
            ".a",
            "a.",
            "k::db::Pool",
            "k:::b",
            "::",
            ":",
            "a:b",
            "a::",
            "::a",
            "k::db:x",
        ] {
            for sep in [".", "::"] {
                assert_eq!(
                    rfind_separator(path, sep),
                    path.rfind(sep),
                    "{path:?} {sep:?}"
                );
                assert_eq!(
                    rsplit_path(path, sep),
                    path.rsplit_once(sep),
                    "{path:?} {sep:?}"
                );
            }
        }
    }
}
