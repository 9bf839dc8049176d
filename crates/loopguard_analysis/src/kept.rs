//! Call-site resolutions kept between runs.
//!
//! A call site's resolution depends only on the site (callee, kind, arguments), its file's
//! place in the run and the project index (see `resolve_all`), and the index reads only the
//! definitions of each file ([`same_definitions`]). A run over the same files, in the same
//! order, whose changed files define the same things as before, can take the resolutions of
//! its unchanged files from the last run instead of resolving them again. Catalog entries
//! are kept by their place in the catalog, which the cache key covers.

use loopguard_core::catalog::{EndpointKind, LanguageCatalog};
use loopguard_core::diagnostic::Confidence;
use loopguard_core::facts::{FileFacts, Function, Variable};
use serde::{Deserialize, Serialize};

use crate::index::FnRef;
use crate::resolve::{Resolution, Target};

/// A [`Resolution`] as kept between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptResolution {
    targets: Vec<(KeptTarget, Confidence)>,
    offload: bool,
    loop_callback: bool,
    endpoint: Option<EndpointKind>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum KeptTarget {
    /// File (its place among the run's files) and function.
    Function(u32, u32),
    /// The resolved path and the entry's place in the language's blocking APIs.
    Api(String, u32),
}

/// The resolutions of one file: per function, per call site.
type FileResolutions = Vec<Vec<KeptResolution>>;

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
    pub(crate) fn encode<'r, 'c: 'r>(
        functions: impl Iterator<Item = &'r [Resolution<'c>]>,
        catalog: &LanguageCatalog,
    ) -> Option<KeptFile> {
        let file: FileResolutions = functions
            .map(|sites| {
                sites
                    .iter()
                    .map(|r| KeptResolution::of(r, catalog))
                    .collect()
            })
            .collect::<Option<_>>()?;
        postcard::to_allocvec(&file).ok().map(KeptFile)
    }
}

impl KeptResolution {
    pub(crate) fn of(res: &Resolution<'_>, catalog: &LanguageCatalog) -> Option<KeptResolution> {
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
        })
    }

    fn restore<'c>(&self, catalog: &'c LanguageCatalog) -> Option<Resolution<'c>> {
        let targets = self
            .targets
            .iter()
            .map(|(t, c)| {
                let t = match t {
                    KeptTarget::Function(file, func) => Target::Function(FnRef {
                        file: *file,
                        func: *func,
                    }),
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
        })
    }
}

/// A file's kept resolutions as the analysis uses them; `None` if they do not fit its
/// functions and call sites or name a catalog entry that does not exist.
pub(crate) fn restore_file<'c>(
    kept: &KeptFile,
    functions: &[Function],
    catalog: &'c LanguageCatalog,
) -> Option<Vec<Vec<Resolution<'c>>>> {
    let kept: FileResolutions = postcard::from_bytes(&kept.0).ok()?;
    if kept.len() != functions.len() {
        return None;
    }
    kept.iter()
        .zip(functions)
        .map(|(sites, f)| {
            if sites.len() != f.calls.len() {
                return None;
            }
            sites.iter().map(|k| k.restore(catalog)).collect()
        })
        .collect()
}

/// Whether two versions of a file define the same things, as far as the index and the
/// resolution of any call site can tell: module, language, aliases, globals, classes, and
/// per function its names, class, parent, kind, decorators, parameters, return type and
/// attributes (not its calls, awaits, guards or positions).
pub fn same_definitions(a: &FileFacts, b: &FileFacts) -> bool {
    let same_function = |f: &Function, g: &Function| {
        f.qualname == g.qualname
            && f.name == g.name
            && f.kind == g.kind
            && f.is_async == g.is_async
            && f.class == g.class
            && f.parent == g.parent
            && f.returns == g.returns
            && f.params == g.params
            && f.is_generator == g.is_generator
            && pairwise(&f.decorators, &g.decorators, |x, y| x.callee == y.callee)
            && pairwise(&f.attributes, &g.attributes, same_variable)
    };
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

/// A variable's name and type (not where it is).
fn same_variable(a: &Variable, b: &Variable) -> bool {
    a.name == b.name && a.ty == b.ty
}

/// Whether two lists have the same length and `same` holds for each pair in order.
fn pairwise<T>(a: &[T], b: &[T], same: impl Fn(&T, &T) -> bool) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}
