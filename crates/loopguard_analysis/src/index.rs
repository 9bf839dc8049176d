//! The project index: every function, class, module-level variable and alias of all parsed
//! files, built once per run. Lookups are by qualified name; nothing here resolves calls.

// FxHash: the index is keyed by short strings and hashed millions of times per run; SipHash's
// DoS resistance buys nothing here.
use rustc_hash::FxHashMap as HashMap;

use loopguard_core::facts::{FileFacts, Function, Language, TypeRef, rsplit_path};

/// A function of the project: file index and function index within that file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FnRef {
    pub file: u32,
    pub func: u32,
}

#[derive(Debug, Default)]
pub struct ClassInfo<'a> {
    /// The module of the (first) file that defines the class.
    pub module: &'a str,
    pub bases: Vec<&'a str>,
    pub decorators: Vec<&'a str>,
    /// Field / attribute types: class-level annotations, and `self.x = ...` in methods.
    pub fields: Members<'a, &'a TypeRef>,
    /// Methods defined directly on the class, by name.
    pub methods: Members<'a, FnRef>,
}

/// A class's members by name, in the order they were added: one sorted list per class
/// rather than a map (a big project has tens of thousands of classes, most with a few
/// members, and building a map for each was the index's slowest part).
#[derive(Debug)]
pub struct Members<'a, V> {
    items: Vec<(&'a str, V)>,
}

impl<V> Default for Members<'_, V> {
    fn default() -> Self {
        Members { items: Vec::new() }
    }
}

impl<'a, V> Members<'a, V> {
    fn push(&mut self, name: &'a str, value: V) {
        self.items.push((name, value));
    }

    /// Sorts by name; members of one name keep the order they were added in.
    fn seal(&mut self) {
        self.items.sort_by(|a, b| a.0.cmp(b.0));
    }

    /// Every member named `name`, in the order they were added.
    pub fn named(&self, name: &str) -> impl Iterator<Item = &V> {
        let from = self.items.partition_point(|(n, _)| *n < name);
        let to = from + self.items[from..].partition_point(|(n, _)| *n == name);
        self.items[from..to].iter().map(|(_, v)| v)
    }

    /// The member named `name` that was added first.
    pub fn get(&self, name: &str) -> Option<&V> {
        self.named(name).next()
    }

    /// Each name once.
    fn names(&self) -> impl Iterator<Item = &'a str> + '_ {
        let mut last: Option<&str> = None;
        self.items.iter().filter_map(move |(n, _)| {
            let fresh = last != Some(*n);
            last = Some(*n);
            fresh.then_some(*n)
        })
    }
}

pub struct Index<'a> {
    pub files: &'a [FileFacts],
    pub functions: HashMap<&'a str, Vec<FnRef>>,
    pub classes: HashMap<&'a str, ClassInfo<'a>>,
    /// (module, name) -> declared type of a module-level variable. Keyed by the pair, not
    /// by `module<sep>name`, so that building the index allocates no key strings.
    pub globals: HashMap<(&'a str, &'a str), &'a TypeRef>,
    /// (module, name) -> the path it stands for (imports, re-exports, simple aliases).
    pub aliases: HashMap<(&'a str, &'a str), &'a str>,
    /// Method name -> classes defining it (for the name-based fallback).
    pub classes_by_method: HashMap<&'a str, Vec<&'a str>>,
    /// Class -> classes that list it as a base (for overrides).
    pub subclasses: HashMap<&'a str, Vec<&'a str>>,
}

type Classes<'a> = (
    HashMap<&'a str, ClassInfo<'a>>,
    HashMap<&'a str, Vec<&'a str>>,
    HashMap<&'a str, Vec<&'a str>>,
);
type ModuleNames<'a> = (
    HashMap<(&'a str, &'a str), &'a TypeRef>,
    HashMap<(&'a str, &'a str), &'a str>,
);

/// Functions by qualified name.
fn functions_of(files: &[FileFacts]) -> HashMap<&str, Vec<FnRef>> {
    // Sized up front: growing a map of 60k+ names rehashes every key several times.
    let count = files.iter().map(|f| f.functions.len()).sum();
    let mut functions: HashMap<&str, Vec<FnRef>> =
        HashMap::with_capacity_and_hasher(count, Default::default());
    for (fi, file) in files.iter().enumerate() {
        for (i, func) in file.functions.iter().enumerate() {
            let r = FnRef {
                file: fi as u32,
                func: i as u32,
            };
            functions.entry(func.qualname.as_str()).or_default().push(r);
        }
    }
    functions
}

/// Classes by qualified name, with the classes defining each method name and the
/// subclasses of each class.
fn classes_of(files: &[FileFacts]) -> Classes<'_> {
    let count = files.iter().map(|f| f.classes.len()).sum();
    let mut classes: HashMap<&str, ClassInfo> =
        HashMap::with_capacity_and_hasher(count, Default::default());
    for (fi, file) in files.iter().enumerate() {
        for class in &file.classes {
            let info = classes.entry(class.qualname.as_str()).or_default();
            if info.module.is_empty() {
                info.module = file.module.as_str();
            }
            for b in &class.bases {
                if !info.bases.contains(&b.as_str()) {
                    info.bases.push(b);
                }
            }
            info.decorators
                .extend(class.decorators.iter().map(String::as_str));
            for f in &class.fields {
                info.fields.push(&f.name, &f.ty);
            }
        }
        for (i, func) in file.functions.iter().enumerate() {
            if let Some(class) = &func.class {
                let r = FnRef {
                    file: fi as u32,
                    func: i as u32,
                };
                let info = classes.entry(class.as_str()).or_default();
                info.methods.push(&func.name, r);
                for attr in &func.attributes {
                    info.fields.push(&attr.name, &attr.ty);
                }
            }
        }
    }
    for info in classes.values_mut() {
        info.fields.seal();
        info.methods.seal();
    }
    let mut classes_by_method: HashMap<&str, Vec<&str>> = HashMap::default();
    let mut subclasses: HashMap<&str, Vec<&str>> = HashMap::default();
    for (name, info) in &classes {
        for m in info.methods.names() {
            classes_by_method.entry(m).or_default().push(name);
        }
        for b in &info.bases {
            subclasses.entry(b).or_default().push(name);
        }
    }
    for v in classes_by_method.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    for v in subclasses.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    (classes, classes_by_method, subclasses)
}

/// Module-level variables and aliases by (module, name).
fn module_names_of(files: &[FileFacts]) -> ModuleNames<'_> {
    let globals_count = files.iter().map(|f| f.globals.len()).sum();
    let aliases_count = files.iter().map(|f| f.aliases.len()).sum();
    let mut globals = HashMap::with_capacity_and_hasher(globals_count, Default::default());
    let mut aliases = HashMap::with_capacity_and_hasher(aliases_count, Default::default());
    for file in files {
        let sep = file.language.unwrap_or(Language::Python).separator();
        let module = file.module.as_str();
        for g in &file.globals {
            globals.insert((module, g.name.as_str()), &g.ty);
        }
        for a in &file.aliases {
            // An alias to itself would loop forever in resolution.
            if rsplit_path(&a.target, sep) != Some((module, a.name.as_str())) {
                aliases.insert((module, a.name.as_str()), a.target.as_str());
            }
        }
    }
    (globals, aliases)
}

impl<'a> Index<'a> {
    pub fn build(files: &'a [FileFacts]) -> Index<'a> {
        // The maps are independent of each other: built in parallel (each one in file order,
        // so that which definition wins a name is the same as in a serial build). The classes,
        // the longest, start at once; the other worker builds the rest.
        let ((classes, classes_by_method, subclasses), (functions, (globals, aliases))) =
            rayon::join(
                || classes_of(files),
                || rayon::join(|| functions_of(files), || module_names_of(files)),
            );
        Index {
            files,
            functions,
            classes,
            globals,
            aliases,
            classes_by_method,
            subclasses,
        }
    }

    /// Whether file `file` is module `module` or imports from it (`from pkg.mod import C`
    /// imports from `pkg.mod` and `pkg`). Asked rarely (see `resolve`): worked out from the
    /// file's aliases each time rather than kept as a set per file.
    pub fn imports_from(&self, file: u32, module: &str) -> bool {
        let Some(f) = self.files.get(file as usize) else {
            return false;
        };
        let sep = f.language.unwrap_or(Language::Python).separator();
        f.module == module
            || f.aliases.iter().any(|a| {
                a.target
                    .strip_prefix(module)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(sep))
            })
    }

    /// The declared type of the module-level variable `path` (`module<sep>name`).
    pub fn global(&self, path: &str, sep: &str) -> Option<&'a TypeRef> {
        self.globals.get(&rsplit_path(path, sep)?).copied()
    }

    /// What the alias `path` (`module<sep>name`) stands for.
    pub fn alias(&self, path: &str, sep: &str) -> Option<&'a str> {
        self.aliases.get(&rsplit_path(path, sep)?).copied()
    }

    pub fn function(&self, r: FnRef) -> &'a Function {
        &self.files[r.file as usize].functions[r.func as usize]
    }

    pub fn file(&self, r: FnRef) -> &'a FileFacts {
        &self.files[r.file as usize]
    }

    pub fn language(&self, r: FnRef) -> Language {
        self.file(r).language.unwrap_or(Language::Python)
    }
}
