//! The catalog of blocking APIs, offload functions, constructors, guards and contexts.
//!
//! It is data, not code: `rules/python/*.toml` and `rules/rust/*.toml`, embedded in the
//! binary at build time (see `build.rs`) and extended from the user's config. The format is
//! documented in `docs/catalog.md`. A catalog file looks like:
//!
//! ```toml
//! [[blocking]]
//! rule = "LG301"
//! hint = "use httpx.AsyncClient, or `await asyncio.to_thread(...)`"
//! paths = ["requests.get", "requests.Session.*"]   # resolved paths; a trailing `*` is a prefix
//! methods = []          # method names matched on receivers of unknown type (confidence: likely)
//! exclude = ["requests.Session.mount"]
//!
//! [[constructor]]
//! paths = ["sqlite3.connect"]
//! returns = "sqlite3.Connection"   # omitted: each path is itself the type (a class)
//!
//! [[offload]]      # callables passed to these (and functions decorated with them) run off the loop
//! paths = ["asyncio.to_thread"]
//! methods = ["run_in_executor"]
//!
//! [[guard]]        # calls returning a sync guard (LG202 lock / LG203 borrow)
//! kind = "lock"
//! paths = ["std::sync::Mutex::lock"]
//!
//! [[loop-callback]]  # callables passed to these, and functions decorated by them, run ON the loop
//! methods = ["call_soon"]
//!
//! [[endpoint]]     # decorators that register web endpoints (LG501, triage priority)
//! kind = "route"
//! paths = ["fastapi.FastAPI.get"]
//!
//! [[opaque]]       # project or library functions whose bodies are not followed
//! paths = ["warnings.warn"]
//! ```

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use serde::{Deserialize, Serialize};

use crate::diagnostic::Confidence;
use crate::facts::Language;
use crate::rules;

/// Catalog files embedded at build time: (language directory, file name, contents).
static BUILTIN_FILES: &[(&str, &str, &str)] =
    include!(concat!(env!("OUT_DIR"), "/catalog_files.rs"));

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
}

// ---------------------------------------------------------------------------------------------
// File format

#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CatalogFile {
    #[serde(default)]
    pub blocking: Vec<BlockingSpec>,
    #[serde(default)]
    pub constructor: Vec<ConstructorSpec>,
    #[serde(default)]
    pub offload: Vec<PatternSpec>,
    #[serde(default)]
    pub guard: Vec<GuardSpec>,
    #[serde(default)]
    pub loop_callback: Vec<PatternSpec>,
    #[serde(default)]
    pub endpoint: Vec<EndpointSpec>,
    #[serde(default)]
    pub opaque: Vec<PatternSpec>,
    #[serde(default)]
    pub nonblocking_after: Vec<SwitchSpec>,
}

/// A call that switches its receiver to non-blocking mode (`sock.setblocking(False)`):
/// later calls on the same receiver in the same function do not block.
#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SwitchSpec {
    pub paths: Vec<String>,
    /// The literal arguments (see `CallSite::args`) that make it a switch to non-blocking.
    pub when_args: Vec<String>,
}

/// A blocking API. Also the shape of the config's `extend-blocking` entries.
#[derive(Debug, Deserialize, Serialize, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BlockingSpec {
    /// The rule the API belongs to: `LG301`.
    pub rule: String,
    /// One-line fix hint.
    pub hint: String,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Match only calls with exactly this many arguments.
    #[serde(default)]
    pub args: Option<u32>,
    /// Override the confidence (`likely` for APIs whose name is shared with harmless ones).
    #[serde(default)]
    pub confidence: Option<Confidence>,
    /// Calls with any of these literal arguments do not block (`timeout=0`,
    /// `blocking=False`, positional `#0=False`); see `CallSite::args`.
    #[serde(default)]
    pub unless_args: Vec<String>,
    /// Only for config entries: which language the entry is for (default: inferred, `::`
    /// means Rust).
    #[serde(default)]
    pub language: Option<Language>,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConstructorSpec {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    /// The type the call returns; omitted means each path is a class returning itself.
    #[serde(default)]
    pub returns: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PatternSpec {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardKind {
    /// A sync lock guard: LG202.
    Lock,
    /// A RefCell borrow: LG203.
    Borrow,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GuardSpec {
    pub kind: GuardKind,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default)]
    pub args: Option<u32>,
    #[serde(default)]
    pub hint: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointKind {
    Route,
    Middleware,
    Dependency,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EndpointSpec {
    pub kind: EndpointKind,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub methods: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Compiled form

/// What a blocking match says.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockingApi {
    pub rule: rules::RuleCode,
    pub hint: String,
    pub confidence: Confidence,
    /// Literal arguments that make the call non-blocking.
    pub unless_args: Vec<String>,
}

impl BlockingApi {
    /// Does a call with these literal arguments (see `CallSite::args`) block?
    pub fn blocks_with(&self, args: &[String]) -> bool {
        !args.iter().any(|a| self.unless_args.contains(a))
    }
}

/// What a [`Matcher`] lookup found.
#[derive(Debug, PartialEq)]
pub enum Lookup<'m, T> {
    Hit(&'m T),
    /// Entries match the name, but each wants another argument count.
    OtherArgCount,
    Miss,
}

impl<'m, T> Lookup<'m, T> {
    pub fn hit(self) -> Option<&'m T> {
        match self {
            Lookup::Hit(v) => Some(v),
            Lookup::OtherArgCount | Lookup::Miss => None,
        }
    }

    fn miss_or_other(other: bool) -> Self {
        if other {
            Lookup::OtherArgCount
        } else {
            Lookup::Miss
        }
    }
}

/// A set of path patterns and method names mapped to values of `T`.
#[derive(Debug, Clone)]
pub struct Matcher<T> {
    values: Vec<(T, Option<u32>)>,
    exact: HashMap<String, usize>,
    /// (prefix without the `*`, value index), longest first.
    prefixes: Vec<(String, usize)>,
    methods: HashMap<String, Vec<usize>>,
    excluded: HashSet<String>,
}

impl<T> Default for Matcher<T> {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            exact: HashMap::default(),
            prefixes: Vec::new(),
            methods: HashMap::default(),
            excluded: Default::default(),
        }
    }
}

impl<T> Matcher<T> {
    fn add(
        &mut self,
        value: T,
        args: Option<u32>,
        paths: &[String],
        methods: &[String],
        exclude: &[String],
    ) {
        let idx = self.values.len();
        self.values.push((value, args));
        for p in paths {
            if let Some(prefix) = p.strip_suffix('*') {
                self.prefixes.push((prefix.to_string(), idx));
            } else {
                // Later entries (user config) override earlier ones.
                self.exact.insert(p.clone(), idx);
            }
        }
        self.prefixes
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(b.1.cmp(&a.1)));
        for m in methods {
            self.methods.entry(m.clone()).or_default().insert(0, idx);
        }
        self.excluded.extend(exclude.iter().cloned());
    }

    fn args_ok(&self, idx: usize, arg_count: Option<u32>) -> bool {
        match (self.values[idx].1, arg_count) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        }
    }

    /// The value for a fully resolved path (`requests.get`, `std::fs::read`).
    pub fn path(&self, path: &str, arg_count: Option<u32>) -> Option<&T> {
        self.lookup_path(path, arg_count).hit()
    }

    /// [`Matcher::path`], telling a path no entry matches from one whose entries all want
    /// another argument count.
    pub fn lookup_path(&self, path: &str, arg_count: Option<u32>) -> Lookup<'_, T> {
        if self.excluded.contains(path) {
            return Lookup::Miss;
        }
        let mut other = false;
        if let Some(&i) = self.exact.get(path) {
            if self.args_ok(i, arg_count) {
                return Lookup::Hit(&self.values[i].0);
            }
            other = true;
        }
        for (p, i) in &self.prefixes {
            if path.starts_with(p.as_str()) {
                if self.args_ok(*i, arg_count) {
                    return Lookup::Hit(&self.values[*i].0);
                }
                other = true;
            }
        }
        Lookup::miss_or_other(other)
    }

    /// The value for a method name called on a receiver of unknown type.
    pub fn method(&self, name: &str, arg_count: Option<u32>) -> Option<&T> {
        self.lookup_method(name, arg_count).hit()
    }

    /// [`Matcher::method`], telling the two misses apart as [`Matcher::lookup_path`] does.
    pub fn lookup_method(&self, name: &str, arg_count: Option<u32>) -> Lookup<'_, T> {
        let Some(entries) = self.methods.get(name) else {
            return Lookup::Miss;
        };
        match entries.iter().find(|i| self.args_ok(**i, arg_count)) {
            Some(i) => Lookup::Hit(&self.values[*i].0),
            None => Lookup::miss_or_other(!entries.is_empty()),
        }
    }

    /// The place of a value this matcher returned (by identity, not equality), so that
    /// it can be stored and looked up again with [`Matcher::value_at`].
    pub fn index_of(&self, value: &T) -> Option<u32> {
        let at = self
            .values
            .iter()
            .position(|(v, _)| std::ptr::eq(v, value))?;
        u32::try_from(at).ok()
    }

    /// The value at a place [`Matcher::index_of`] gave.
    pub fn value_at(&self, index: u32) -> Option<&T> {
        self.values.get(index as usize).map(|(v, _)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Every name a call matched by this matcher can end in: the last segment of each path
    /// and each method name. `None` when a wildcard path (`pkg.*`) lets any name match.
    pub fn last_names(&self) -> Option<Vec<&str>> {
        self.last_names_of(|_| true)
    }

    /// [`Matcher::last_names`] of the entries whose value `keep` accepts.
    pub fn last_names_of(&self, keep: impl Fn(&T) -> bool) -> Option<Vec<&str>> {
        let kept = |i: usize| self.values.get(i).is_some_and(|(v, _)| keep(v));
        if self.prefixes.iter().any(|&(_, i)| kept(i)) {
            return None;
        }
        let mut names: Vec<&str> = (self.exact.iter())
            .filter(|(_, i)| kept(**i))
            .map(|(p, _)| p.rsplit(['.', ':']).next().unwrap_or(p))
            .chain(
                (self.methods.iter())
                    .filter(|(_, is)| is.iter().any(|&i| kept(i)))
                    .map(|(n, _)| n.as_str()),
            )
            .filter(|n| !n.is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();
        Some(names)
    }
}

/// The catalog of one language.
#[derive(Debug, Clone, Default)]
pub struct LanguageCatalog {
    pub blocking: Matcher<BlockingApi>,
    /// Returned type, or `None` when the path itself is the type.
    pub constructors: Matcher<Option<String>>,
    pub offloads: Matcher<()>,
    pub guards: Matcher<(GuardKind, Option<String>)>,
    pub loop_callbacks: Matcher<()>,
    pub endpoints: Matcher<EndpointKind>,
    /// Functions whose bodies are not followed (they block only off the loop, or only on
    /// rare paths such as emitting a warning).
    pub opaque: Matcher<()>,
    /// Calls that switch their receiver to non-blocking mode, with the arguments that do.
    pub nonblocking_after: Matcher<Vec<String>>,
}

impl LanguageCatalog {
    /// The type a constructor path returns, if the catalog knows it.
    pub fn constructed_type(&self, path: &str) -> Option<String> {
        self.constructors
            .path(path, None)
            .map(|ret| ret.clone().unwrap_or_else(|| path.to_string()))
    }

    fn add_file(&mut self, source_name: &str, file: &CatalogFile) -> Result<(), CatalogError> {
        for b in &file.blocking {
            self.add_blocking(source_name, b)?;
        }
        for c in &file.constructor {
            self.constructors
                .add(c.returns.clone(), None, &c.paths, &c.methods, &[]);
        }
        for o in &file.offload {
            self.offloads
                .add((), None, &o.paths, &o.methods, &o.exclude);
        }
        for g in &file.guard {
            self.guards
                .add((g.kind, g.hint.clone()), g.args, &g.paths, &g.methods, &[]);
        }
        for l in &file.loop_callback {
            self.loop_callbacks
                .add((), None, &l.paths, &l.methods, &l.exclude);
        }
        for e in &file.endpoint {
            self.endpoints.add(e.kind, None, &e.paths, &e.methods, &[]);
        }
        for o in &file.opaque {
            self.opaque.add((), None, &o.paths, &o.methods, &o.exclude);
        }
        for n in &file.nonblocking_after {
            self.nonblocking_after
                .add(n.when_args.clone(), None, &n.paths, &[], &[]);
        }
        Ok(())
    }

    pub fn add_blocking(
        &mut self,
        source_name: &str,
        b: &BlockingSpec,
    ) -> Result<(), CatalogError> {
        let rule = rules::by_code(&b.rule).ok_or_else(|| CatalogError::Invalid {
            source_name: source_name.to_string(),
            message: format!(
                "unknown rule `{}` in a blocking entry (paths {:?}): expected one of {}",
                b.rule,
                b.paths,
                rules::RULES
                    .iter()
                    .map(|r| r.code)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        if b.paths.is_empty() && b.methods.is_empty() {
            return Err(CatalogError::Invalid {
                source_name: source_name.to_string(),
                message: format!(
                    "blocking entry for {} has neither `paths` nor `methods`",
                    b.rule
                ),
            });
        }
        let confidence = b.confidence.unwrap_or(if b.paths.is_empty() {
            Confidence::Likely
        } else {
            Confidence::Certain
        });
        self.blocking.add(
            BlockingApi {
                rule: rule.code,
                hint: b.hint.clone(),
                confidence,
                unless_args: b
                    .unless_args
                    .iter()
                    .map(|a| a.chars().filter(|c| !c.is_whitespace()).collect())
                    .collect(),
            },
            b.args,
            &b.paths,
            &b.methods,
            &b.exclude,
        );
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub python: LanguageCatalog,
    pub rust: LanguageCatalog,
    /// Hash of all catalog sources (built-in and user), for cache invalidation.
    pub fingerprint: String,
}

impl Catalog {
    /// The catalog shipped in the binary.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Self::from_sources(BUILTIN_FILES)
    }

    /// A catalog from (language directory, file name, TOML text) triples.
    pub fn from_sources(files: &[(&str, &str, &str)]) -> Result<Catalog, CatalogError> {
        let mut cat = Catalog::default();
        let mut hasher = Fnv64::default();
        for (lang_dir, name, text) in files {
            let source_name = format!("rules/{lang_dir}/{name}");
            let file: CatalogFile = toml::from_str(text).map_err(|e| CatalogError::Invalid {
                source_name: source_name.clone(),
                message: e.to_string(),
            })?;
            let lang = match *lang_dir {
                "python" => &mut cat.python,
                "rust" => &mut cat.rust,
                other => {
                    return Err(CatalogError::Invalid {
                        source_name,
                        message: format!("unknown language directory `{other}`"),
                    });
                }
            };
            lang.add_file(&source_name, &file)?;
            hasher.write(source_name.as_bytes());
            hasher.write(text.as_bytes());
        }
        cat.fingerprint = format!("{:016x}", hasher.finish());
        Ok(cat)
    }

    pub fn language(&self, lang: Language) -> &LanguageCatalog {
        match lang {
            Language::Python => &self.python,
            Language::Rust => &self.rust,
        }
    }

    /// Adds user entries (config `extend-blocking`). The language is the entry's `language`,
    /// or Rust when a path contains `::`, else Python.
    pub fn extend_blocking(
        &mut self,
        source_name: &str,
        entries: &[BlockingSpec],
    ) -> Result<(), CatalogError> {
        let mut hasher = Fnv64::default();
        hasher.write(self.fingerprint.as_bytes());
        for e in entries {
            let lang = e.language.unwrap_or_else(|| {
                if e.paths.iter().any(|p| p.contains("::")) {
                    Language::Rust
                } else {
                    Language::Python
                }
            });
            match lang {
                Language::Python => self.python.add_blocking(source_name, e)?,
                Language::Rust => self.rust.add_blocking(source_name, e)?,
            }
            hasher.write(format!("{e:?}").as_bytes());
        }
        self.fingerprint = format!("{:016x}", hasher.finish());
        Ok(())
    }
}

/// FNV-1a: a stable, dependency-free hash for fingerprints (std's hasher is not stable
/// across releases).
#[derive(Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_loads() {
        let cat = Catalog::builtin().unwrap();
        assert!(!cat.python.blocking.is_empty());
        assert!(!cat.fingerprint.is_empty());
    }

    #[test]
    fn exact_beats_prefix_and_exclude_wins() {
        let mut m: Matcher<u32> = Matcher::default();
        m.add(1, None, &["a.b.*".into()], &[], &["a.b.safe".into()]);
        m.add(2, None, &["a.b.c".into()], &[], &[]);
        m.add(3, Some(0), &[], &["recv".into()], &[]);
        assert_eq!(m.path("a.b.c", None), Some(&2));
        assert_eq!(m.path("a.b.d", None), Some(&1));
        assert_eq!(m.path("a.b.safe", None), None);
        assert_eq!(m.path("a.bc", None), None);
        assert_eq!(m.method("recv", Some(0)), Some(&3));
        assert_eq!(m.method("recv", Some(1)), None);
    }

    #[test]
    fn last_names_of_the_entries_kept() {
        let mut m: Matcher<u32> = Matcher::default();
        m.add(1, None, &["fastapi.Depends".into()], &[], &[]);
        m.add(
            2,
            None,
            &["fastapi.FastAPI.get".into()],
            &["route".into()],
            &[],
        );
        assert_eq!(m.last_names_of(|v| *v == 1), Some(vec!["Depends"]));
        assert_eq!(m.last_names_of(|v| *v == 2), Some(vec!["get", "route"]));
        assert_eq!(m.last_names(), Some(vec!["Depends", "get", "route"]));
        // A wildcard of a kept entry lets any name match; one of another entry does not.
        m.add(3, None, &["starlette.*".into()], &[], &[]);
        assert_eq!(m.last_names_of(|v| *v == 1), Some(vec!["Depends"]));
        assert_eq!(m.last_names_of(|v| *v == 3), None);
    }

    #[test]
    fn a_lookup_tells_another_argument_count_from_a_miss() {
        let mut m: Matcher<u32> = Matcher::default();
        m.add(1, Some(0), &["x.Lock.read".into()], &["read".into()], &[]);
        m.add(2, Some(1), &["io.*".into()], &[], &[]);
        assert_eq!(m.lookup_path("x.Lock.read", Some(0)), Lookup::Hit(&1));
        assert_eq!(m.lookup_path("x.Lock.read", Some(2)), Lookup::OtherArgCount);
        assert_eq!(
            m.lookup_path("io.Reader.read", Some(0)),
            Lookup::OtherArgCount
        );
        assert_eq!(m.lookup_path("io.Reader.read", Some(1)), Lookup::Hit(&2));
        assert_eq!(m.lookup_path("x.Lock.write", Some(0)), Lookup::Miss);
        assert_eq!(m.lookup_method("read", Some(3)), Lookup::OtherArgCount);
        assert_eq!(m.lookup_method("write", Some(0)), Lookup::Miss);
    }
}
