//! The project index: every function, class, module-level variable and alias of all parsed
//! files, built once per run. Lookups are by qualified name; nothing here resolves calls.

// FxHash: the index is keyed by short strings and hashed millions of times per run; SipHash's
// DoS resistance buys nothing here.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use loopguard_core::facts::{FileFacts, Function, Language, TypeRef, rfind_separator};

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
    pub fields: HashMap<&'a str, &'a TypeRef>,
    /// Method names defined directly on the class.
    pub methods: HashMap<&'a str, Vec<FnRef>>,
}

pub struct Index<'a> {
    pub files: &'a [FileFacts],
    pub functions: HashMap<&'a str, Vec<FnRef>>,
    pub classes: HashMap<&'a str, ClassInfo<'a>>,
    /// `module<sep>name` -> declared type of a module-level variable.
    pub globals: HashMap<String, &'a TypeRef>,
    /// `module<sep>name` -> the path it stands for (imports, re-exports, simple aliases).
    pub aliases: HashMap<String, &'a str>,
    /// Method name -> classes defining it (for the name-based fallback).
    pub classes_by_method: HashMap<&'a str, Vec<&'a str>>,
    /// Class -> classes that list it as a base (for overrides).
    pub subclasses: HashMap<&'a str, Vec<&'a str>>,
    /// Per file: its own module and every module (prefix) it imports from.
    pub imports: Vec<HashSet<&'a str>>,
}

/// A file's own module and every module (prefix) it imports from.
fn imports_of(file: &FileFacts) -> HashSet<&str> {
    let sep = file.language.unwrap_or(Language::Python).separator();
    let mut imports = HashSet::default();
    imports.insert(file.module.as_str());
    for a in &file.aliases {
        let mut end = a.target.len();
        // `from pkg.mod import C` imports from `pkg.mod` and `pkg`.
        while let Some(i) = rfind_separator(&a.target[..end], sep) {
            end = i;
            imports.insert(&a.target[..end]);
        }
        imports.insert(a.target.as_str());
    }
    imports
}

impl<'a> Index<'a> {
    pub fn build(files: &'a [FileFacts]) -> Index<'a> {
        // The per-file import sets are independent of the maps: built in parallel with them.
        let (imports, mut index) = rayon::join(
            || {
                use rayon::prelude::*;
                files.par_iter().map(imports_of).collect()
            },
            || Self::build_maps(files),
        );
        index.imports = imports;
        index
    }

    fn build_maps(files: &'a [FileFacts]) -> Index<'a> {
        let mut index = Index {
            files,
            functions: HashMap::default(),
            classes: HashMap::default(),
            globals: HashMap::default(),
            aliases: HashMap::default(),
            classes_by_method: HashMap::default(),
            subclasses: HashMap::default(),
            imports: Vec::new(),
        };
        for (fi, file) in files.iter().enumerate() {
            let sep = file.language.unwrap_or(Language::Python).separator();
            for class in &file.classes {
                let info = index.classes.entry(class.qualname.as_str()).or_default();
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
                    info.fields.entry(f.name.as_str()).or_insert(&f.ty);
                }
            }
            for (i, func) in file.functions.iter().enumerate() {
                let r = FnRef {
                    file: fi as u32,
                    func: i as u32,
                };
                index
                    .functions
                    .entry(func.qualname.as_str())
                    .or_default()
                    .push(r);
                if let Some(class) = &func.class {
                    let info = index.classes.entry(class.as_str()).or_default();
                    info.methods.entry(func.name.as_str()).or_default().push(r);
                    for attr in &func.attributes {
                        info.fields.entry(attr.name.as_str()).or_insert(&attr.ty);
                    }
                }
            }
            for g in &file.globals {
                index
                    .globals
                    .insert(format!("{}{sep}{}", file.module, g.name), &g.ty);
            }
            for a in &file.aliases {
                let key = format!("{}{sep}{}", file.module, a.name);
                // An alias to itself would loop forever in resolution.
                if key != a.target {
                    index.aliases.insert(key, a.target.as_str());
                }
            }
        }
        for (name, info) in &index.classes {
            for m in info.methods.keys() {
                index.classes_by_method.entry(m).or_default().push(name);
            }
            for b in &info.bases {
                index.subclasses.entry(b).or_default().push(name);
            }
        }
        for v in index.classes_by_method.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        for v in index.subclasses.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        index
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
