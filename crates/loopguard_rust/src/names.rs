//! Name resolution: item and `use` scopes, `crate`/`self`/`super`/`Self` expansion, and
//! `syn::Type` -> [`TypeRef`] with wrapper peeling.
//!
//! Scopes form a stack: the file's module scope, inline `mod` scopes, and the item scopes of
//! blocks that declare items (`fn f() { use std::fs; fn helper() {} }`). A lookup walks the
//! stack from the innermost scope down to the nearest module scope: Rust modules do not see
//! their parent's names, blocks see their enclosing block's and module's.

use std::collections::HashMap;

use loopguard_core::facts::TypeRef;
use syn::{GenericArgument, Item, PathArguments, Type, TypeParamBound, UseTree};

use crate::syntax::{ident_name, segments};

/// Names a scope declares.
#[derive(Default)]
pub(crate) struct ItemScope {
    /// Local name -> absolute path (items declared here and `use` bindings).
    names: HashMap<String, String>,
    /// Statics and constants declared here.
    statics: HashMap<String, StaticInfo>,
    /// `type X = ..;` declared here, expanded where used.
    type_aliases: HashMap<String, Type>,
    /// Absolute prefixes of glob imports (`use super::*`).
    globs: Vec<String>,
    is_module: bool,
}

/// What is known of a static or constant.
#[derive(Clone, Default)]
pub(crate) struct StaticInfo {
    /// Its declared type.
    pub ty: Option<TypeRef>,
    /// For a lock or cell (`Mutex<T>`), the type its guard dereferences to (`T`).
    pub guarded: Option<TypeRef>,
}

/// A name bound by a `use` or declared by an item, as facts report it.
pub(crate) struct Binding {
    pub name: String,
    pub target: String,
}

/// What registering a scope found worth reporting (used at module level).
#[derive(Default)]
pub(crate) struct Registered {
    /// `use` bindings, `extern crate` renames and type aliases (`type Db = Arc<Mutex<X>>`
    /// gives `Db -> std::sync::Mutex` when `Mutex` is imported from std).
    pub aliases: Vec<Binding>,
}

/// Single-segment names of the standard prelude and primitive types: kept as written.
const PRELUDE: &[&str] = &[
    "drop",
    "Some",
    "None",
    "Ok",
    "Err",
    "Box",
    "Vec",
    "String",
    "Option",
    "Result",
    "ToString",
    "ToOwned",
    "Default",
    "Clone",
    "Copy",
    "Send",
    "Sync",
    "Sized",
    "Unpin",
    "Fn",
    "FnMut",
    "FnOnce",
    "Iterator",
    "IntoIterator",
    "DoubleEndedIterator",
    "ExactSizeIterator",
    "Extend",
    "From",
    "Into",
    "TryFrom",
    "TryInto",
    "AsRef",
    "AsMut",
    "PartialEq",
    "Eq",
    "PartialOrd",
    "Ord",
    "Drop",
    "FromIterator",
    "bool",
    "char",
    "str",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "f32",
    "f64",
    "Self",
    "self",
];

/// Type constructors whose methods are those of their (first) type argument, as far as
/// blocking goes: smart pointers, extractor wrappers, lazily initialized statics, and
/// `Option`/`Result` (unwrapped with `?`/`unwrap()`, which receiver typing treats as
/// transparent).
const WRAPPERS: &[&str] = &[
    "Arc",
    "Rc",
    "Box",
    "Pin",
    "State",
    "Extension",
    "Data",
    "LazyLock",
    "Lazy",
    "OnceLock",
    "OnceCell",
    "Option",
    "Result",
];

/// Sync locks and cells whose guards dereference to their type argument.
const LOCK_TYPES: &[&str] = &["Mutex", "RwLock", "RefCell", "ReentrantMutex", "FairMutex"];

/// Deepest chain of type aliases expanded (`type A = B; type B = A;` must not loop).
const MAX_ALIAS_DEPTH: u32 = 8;

pub(crate) struct Names {
    crate_name: String,
    scopes: Vec<ItemScope>,
    /// Every type alias of the file by absolute path, typed in its own scope: a `use` of an
    /// alias from another (inline) module expands too.
    alias_types: HashMap<String, Option<TypeRef>>,
    modules: Vec<String>,
    self_types: Vec<Option<String>>,
    generics: Vec<String>,
}

impl Names {
    pub(crate) fn new(module: &str) -> Self {
        let crate_name = module.split("::").next().unwrap_or(module).to_string();
        Self {
            crate_name,
            scopes: Vec::new(),
            alias_types: HashMap::new(),
            modules: vec![module.to_string()],
            self_types: Vec::new(),
            generics: Vec::new(),
        }
    }

    pub(crate) fn module(&self) -> &str {
        self.modules.last().map(String::as_str).unwrap_or("")
    }

    pub(crate) fn enter_module(&mut self, path: String) {
        self.modules.push(path);
    }

    pub(crate) fn leave_module(&mut self) {
        // The file's own module stays.
        if self.modules.len() > 1 {
            self.modules.pop();
        }
    }

    pub(crate) fn self_type(&self) -> Option<&str> {
        self.self_types.last().and_then(|s| s.as_deref())
    }

    pub(crate) fn push_self_type(&mut self, ty: Option<String>) {
        self.self_types.push(ty);
    }

    pub(crate) fn pop_self_type(&mut self) {
        self.self_types.pop();
    }

    /// Declares generic type parameters; returns the mark to [`Names::pop_generics`] to.
    pub(crate) fn push_generics(&mut self, generics: &syn::Generics) -> usize {
        let mark = self.generics.len();
        for param in generics.type_params() {
            self.generics.push(ident_name(&param.ident));
        }
        mark
    }

    pub(crate) fn pop_generics(&mut self, mark: usize) {
        self.generics.truncate(mark);
    }

    pub(crate) fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    /// Pushes the scope declared by `items` (found in module or block `container`), binding
    /// item names to `container::name` and `use` bindings to their absolute paths.
    pub(crate) fn push_scope<'i>(
        &mut self,
        items: impl Iterator<Item = &'i Item> + Clone,
        container: &str,
        is_module: bool,
    ) -> Registered {
        self.scopes.push(ItemScope {
            is_module,
            ..ItemScope::default()
        });
        let mut registered = Registered::default();
        // Items first: `use` paths may start with a module declared in the same scope.
        for item in items.clone() {
            if let Some(name) = declared_name(item) {
                let target = format!("{container}::{name}");
                self.declare(name, target);
            }
            match item {
                Item::Type(t) => {
                    let name = ident_name(&t.ident);
                    if let Some(scope) = self.scopes.last_mut() {
                        scope.type_aliases.insert(name, (*t.ty).clone());
                    }
                }
                Item::ExternCrate(e) => {
                    let original = ident_name(&e.ident);
                    let target = if original == "self" {
                        self.crate_name.clone()
                    } else {
                        original.clone()
                    };
                    let local = match &e.rename {
                        Some((_, rename)) => ident_name(rename),
                        None => original,
                    };
                    if local != "_" {
                        registered.aliases.push(Binding {
                            name: local.clone(),
                            target: target.clone(),
                        });
                        self.declare(local, target);
                    }
                }
                _ => {}
            }
        }
        for item in items.clone() {
            if let Item::Use(u) = item {
                let mut prefix = Vec::new();
                let mut found = Vec::new();
                flatten_use(&u.tree, &mut prefix, &mut found);
                for (local, path) in found {
                    let target = self.absolutize(&path);
                    match local {
                        Some(name) => {
                            registered.aliases.push(Binding {
                                name: name.clone(),
                                target: target.clone(),
                            });
                            self.declare(name, target);
                        }
                        None => {
                            if let Some(scope) = self.scopes.last_mut() {
                                scope.globs.push(target);
                            }
                        }
                    }
                }
            }
        }
        // Types of aliases and statics resolve through the `use`s above.
        for item in items.clone() {
            if let Item::Type(t) = item {
                let name = ident_name(&t.ident);
                let ty = self.type_ref(&t.ty);
                if let Some(TypeRef::Named(target)) = &ty {
                    registered.aliases.push(Binding {
                        name: name.clone(),
                        target: target.clone(),
                    });
                }
                self.alias_types.insert(format!("{container}::{name}"), ty);
            }
        }
        for item in items {
            match item {
                Item::Static(s) => {
                    let info = self.static_info(&s.ty);
                    self.declare_static(ident_name(&s.ident), info);
                }
                Item::Const(c) => {
                    let info = self.static_info(&c.ty);
                    self.declare_static(ident_name(&c.ident), info);
                }
                _ => {}
            }
        }
        registered
    }

    fn declare(&mut self, name: String, target: String) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.names.insert(name, target);
        }
    }

    pub(crate) fn declare_static(&mut self, name: String, info: StaticInfo) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.statics.insert(name, info);
        }
    }

    pub(crate) fn static_info(&self, ty: &Type) -> StaticInfo {
        StaticInfo {
            ty: self.type_ref(ty),
            guarded: self.guarded_type(ty),
        }
    }

    /// Scopes visible from the innermost one: up to and including the nearest module.
    fn visible(&self) -> impl Iterator<Item = &ItemScope> {
        let mut done = false;
        self.scopes.iter().rev().take_while(move |s| {
            if done {
                return false;
            }
            done = s.is_module;
            true
        })
    }

    fn lookup_name(&self, name: &str) -> Option<&str> {
        self.visible()
            .find_map(|s| s.names.get(name))
            .map(String::as_str)
    }

    /// The static or constant visible by this name.
    pub(crate) fn lookup_static(&self, name: &str) -> Option<&StaticInfo> {
        self.visible().find_map(|s| s.statics.get(name))
    }

    fn lookup_type_alias(&self, name: &str) -> Option<&Type> {
        self.visible().find_map(|s| s.type_aliases.get(name))
    }

    fn single_glob(&self) -> Option<&str> {
        let mut globs = self.visible().flat_map(|s| s.globs.iter());
        let first = globs.next()?;
        match globs.next() {
            Some(_) => None,
            None => Some(first.as_str()),
        }
    }

    fn parent_module(path: &str) -> &str {
        match path.rsplit_once("::") {
            Some((parent, _)) => parent,
            None => path,
        }
    }

    /// Expands a leading `crate`/`self`/`super` (returns the rest of the segments).
    fn expand_relative<'p>(&self, segs: &'p [String]) -> Option<(String, &'p [String])> {
        let first = segs.first()?;
        match first.as_str() {
            "crate" => Some((self.crate_name.clone(), &segs[1..])),
            "self" => Some((self.module().to_string(), &segs[1..])),
            "super" => {
                let mut base = self.module();
                let mut rest = segs;
                while rest.first().is_some_and(|s| s == "super") {
                    base = Self::parent_module(base);
                    rest = &rest[1..];
                }
                Some((base.to_string(), rest))
            }
            _ => None,
        }
    }

    /// Absolute path of a `use` path.
    fn absolutize(&self, segs: &[String]) -> String {
        if let Some((base, rest)) = self.expand_relative(segs) {
            return join(&base, rest);
        }
        match segs.split_first() {
            Some((first, rest)) => match self.lookup_name(first) {
                Some(target) => join(target, rest),
                None => segs.join("::"),
            },
            None => String::new(),
        }
    }

    /// Resolves a path written in an expression, pattern, attribute or type.
    pub(crate) fn resolve(&self, segs: &[String]) -> String {
        if let Some((base, rest)) = self.expand_relative(segs) {
            return join(&base, rest);
        }
        let Some((first, rest)) = segs.split_first() else {
            return String::new();
        };
        if first == "Self" {
            return match self.self_type() {
                Some(ty) => join(ty, rest),
                None => segs.join("::"),
            };
        }
        if let Some(target) = self.lookup_name(first) {
            return join(target, rest);
        }
        if rest.is_empty()
            && !PRELUDE.contains(&first.as_str())
            && !self.generics.iter().any(|g| g == first)
            && let Some(glob) = self.single_glob()
        {
            return format!("{glob}::{first}");
        }
        // An external crate, `std`, a prelude name, or something we cannot see.
        segs.join("::")
    }

    pub(crate) fn is_generic(&self, name: &str) -> bool {
        self.generics.iter().any(|g| g == name)
    }

    pub(crate) fn type_ref(&self, ty: &Type) -> Option<TypeRef> {
        self.type_ref_at(ty, 0)
    }

    fn type_ref_at(&self, ty: &Type, depth: u32) -> Option<TypeRef> {
        if depth > MAX_ALIAS_DEPTH {
            return None;
        }
        match ty {
            Type::Reference(r) => self.type_ref_at(&r.elem, depth),
            Type::Paren(p) => self.type_ref_at(&p.elem, depth),
            Type::Group(g) => self.type_ref_at(&g.elem, depth),
            Type::Ptr(p) => self.type_ref_at(&p.elem, depth),
            Type::Path(p) if p.qself.is_none() => {
                let last = p.path.segments.last()?;
                let name = ident_name(&last.ident);
                if WRAPPERS.contains(&name.as_str())
                    && let Some(inner) = first_type_arg(&last.arguments)
                {
                    return self.type_ref_at(inner, depth);
                }
                let segs = segments(&p.path);
                if segs.len() == 1 {
                    if self.is_generic(&name) {
                        return None;
                    }
                    if name != "Self"
                        && let Some(aliased) = self.lookup_type_alias(&name)
                    {
                        return self.type_ref_at(aliased, depth + 1);
                    }
                }
                let resolved = self.resolve(&segs);
                if let Some(aliased) = self.alias_types.get(&resolved) {
                    return aliased.clone();
                }
                Some(TypeRef::Named(resolved))
            }
            Type::TraitObject(t) => self.bound_type(&t.bounds, depth),
            Type::ImplTrait(t) => self.bound_type(&t.bounds, depth),
            _ => None,
        }
    }

    /// For a (wrapped) lock or cell type, the type its guards dereference to:
    /// `Arc<Mutex<Connection>>` -> `Connection`. Generic arguments are dropped from facts, so
    /// this is the only place the guarded type is still known.
    pub(crate) fn guarded_type(&self, ty: &Type) -> Option<TypeRef> {
        self.guarded_type_at(ty, 0)
    }

    fn guarded_type_at(&self, ty: &Type, depth: u32) -> Option<TypeRef> {
        if depth > MAX_ALIAS_DEPTH {
            return None;
        }
        match ty {
            Type::Reference(r) => self.guarded_type_at(&r.elem, depth),
            Type::Paren(p) => self.guarded_type_at(&p.elem, depth),
            Type::Group(g) => self.guarded_type_at(&g.elem, depth),
            Type::Path(p) if p.qself.is_none() => {
                let last = p.path.segments.last()?;
                let name = ident_name(&last.ident);
                let inner = first_type_arg(&last.arguments);
                if WRAPPERS.contains(&name.as_str()) {
                    return self.guarded_type_at(inner?, depth);
                }
                if LOCK_TYPES.contains(&name.as_str()) {
                    return self.type_ref_at(inner?, depth);
                }
                if p.path.segments.len() == 1
                    && inner.is_none()
                    && let Some(aliased) = self.lookup_type_alias(&name)
                {
                    return self.guarded_type_at(aliased, depth + 1);
                }
                None
            }
            _ => None,
        }
    }

    /// `impl Future<Output = T>` -> `T`; `dyn Repo` -> `Repo`.
    fn bound_type<'b>(
        &self,
        bounds: impl IntoIterator<Item = &'b TypeParamBound>,
        depth: u32,
    ) -> Option<TypeRef> {
        let path = bounds.into_iter().find_map(|b| match b {
            TypeParamBound::Trait(t) => Some(&t.path),
            _ => None,
        })?;
        let last = path.segments.last()?;
        if last.ident == "Future"
            && let PathArguments::AngleBracketed(args) = &last.arguments
        {
            for arg in &args.args {
                if let GenericArgument::AssocType(assoc) = arg
                    && assoc.ident == "Output"
                {
                    return self.type_ref_at(&assoc.ty, depth);
                }
            }
        }
        Some(TypeRef::Named(self.resolve(&segments(path))))
    }

    /// The path an `impl` block's self type names (`impl<T> Pool<T>` -> `my_crate::Pool`).
    pub(crate) fn impl_type_path(&self, ty: &Type) -> Option<String> {
        match ty {
            Type::Reference(r) => self.impl_type_path(&r.elem),
            Type::Paren(p) => self.impl_type_path(&p.elem),
            Type::Group(g) => self.impl_type_path(&g.elem),
            Type::Path(p) if p.qself.is_none() => Some(self.resolve(&segments(&p.path))),
            _ => None,
        }
    }
}

fn join(base: &str, rest: &[String]) -> String {
    let mut out = base.to_string();
    for seg in rest {
        if !out.is_empty() {
            out.push_str("::");
        }
        out.push_str(seg);
    }
    out
}

fn first_type_arg(args: &PathArguments) -> Option<&Type> {
    match args {
        PathArguments::AngleBracketed(a) => a.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// The name an item declares in its scope.
fn declared_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Fn(f) => &f.sig.ident,
        Item::Struct(s) => &s.ident,
        Item::Enum(e) => &e.ident,
        Item::Union(u) => &u.ident,
        Item::Trait(t) => &t.ident,
        Item::TraitAlias(t) => &t.ident,
        Item::Type(t) => &t.ident,
        Item::Static(s) => &s.ident,
        Item::Const(c) => &c.ident,
        Item::Mod(m) => &m.ident,
        _ => return None,
    };
    Some(ident_name(ident))
}

/// Flattens a use tree into `(local name, path)` bindings; globs have no local name.
/// `use a::{self as b}` binds `b` to `a`; `use x as _` binds nothing.
fn flatten_use(
    tree: &UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Option<String>, Vec<String>)>,
) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(ident_name(&p.ident));
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        UseTree::Name(n) => {
            let name = ident_name(&n.ident);
            if name == "self" {
                if let Some(last) = prefix.last() {
                    out.push((Some(last.clone()), prefix.clone()));
                }
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push((Some(name), path));
            }
        }
        UseTree::Rename(r) => {
            let local = ident_name(&r.rename);
            if local == "_" {
                return;
            }
            let original = ident_name(&r.ident);
            let mut path = prefix.clone();
            if original != "self" {
                path.push(original);
            }
            out.push((Some(local), path));
        }
        UseTree::Glob(_) => out.push((None, prefix.clone())),
        UseTree::Group(g) => {
            for tree in &g.items {
                flatten_use(tree, prefix, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_for(module: &str, src: &str) -> (Names, Registered) {
        let file = syn::parse_file(src).unwrap();
        let mut names = Names::new(module);
        let registered = names.push_scope(file.items.iter(), module, true);
        (names, registered)
    }

    fn segs(path: &str) -> Vec<String> {
        path.split("::").map(str::to_string).collect()
    }

    #[test]
    fn use_trees_resolve_groups_renames_and_relative_paths() {
        let (names, registered) = names_for(
            "app::api::routes",
            "use std::{fs, sync::{Arc, Mutex as StdMutex}};
             use crate::db::{self, Pool};
             use super::state::AppState;
             use self::helpers::render;
             use super::super::top;
             use tokio::sync::Mutex;
             use serde::Serialize as _;
             mod helpers {}
             fn local() {}",
        );
        let cases = [
            ("fs::read", "std::fs::read"),
            ("Arc::new", "std::sync::Arc::new"),
            ("StdMutex", "std::sync::Mutex"),
            ("Mutex", "tokio::sync::Mutex"),
            ("db::connect", "app::db::connect"),
            ("Pool::get", "app::db::Pool::get"),
            ("AppState", "app::api::state::AppState"),
            ("render", "app::api::routes::helpers::render"),
            ("top", "app::top"),
            ("local", "app::api::routes::local"),
            ("helpers::x", "app::api::routes::helpers::x"),
            ("drop", "drop"),
            ("Box::new", "Box::new"),
            ("tokio::fs::read", "tokio::fs::read"),
            ("crate::x::y", "app::x::y"),
        ];
        for (written, expected) in cases {
            assert_eq!(names.resolve(&segs(written)), expected, "{written}");
        }
        let alias_names: Vec<&str> = registered.aliases.iter().map(|a| a.name.as_str()).collect();
        assert!(alias_names.contains(&"StdMutex"));
        assert!(alias_names.contains(&"db"));
        assert!(!alias_names.contains(&"_"));
    }

    #[test]
    fn types_peel_wrappers_and_resolve_through_uses() {
        let (mut names, registered) = names_for(
            "app::state",
            "use std::sync::{Arc, Mutex};
             use axum::extract::State;
             type Db = Arc<Mutex<Conn>>;
             struct AppState;",
        );
        names.push_self_type(Some("app::state::AppState".into()));
        let ty = |src: &str| names.type_ref(&syn::parse_str::<Type>(src).unwrap());
        let named = |p: &str| Some(TypeRef::Named(p.into()));
        assert_eq!(ty("&Mutex<Vec<u8>>"), named("std::sync::Mutex"));
        assert_eq!(ty("State<Arc<AppState>>"), named("app::state::AppState"));
        assert_eq!(ty("Db"), named("std::sync::Mutex"));
        assert_eq!(ty("Arc<Self>"), named("app::state::AppState"));
        assert_eq!(ty("std::cell::RefCell<u8>"), named("std::cell::RefCell"));
        assert_eq!(
            ty("Option<parking_lot::RwLock<u8>>"),
            named("parking_lot::RwLock")
        );
        assert_eq!(
            ty("impl Future<Output = AppState>"),
            named("app::state::AppState")
        );
        assert_eq!(ty("(u8, u8)"), None);
        assert!(
            registered
                .aliases
                .iter()
                .any(|a| a.name == "Db" && a.target == "std::sync::Mutex")
        );
    }

    #[test]
    fn block_scopes_see_the_module_but_inline_modules_do_not() {
        let (mut names, _) = names_for("app", "use std::fs;");
        let inner = syn::parse_file("use std::io;").unwrap();
        names.push_scope(inner.items.iter(), "app::f", false);
        assert_eq!(names.resolve(&segs("fs::read")), "std::fs::read");
        assert_eq!(names.resolve(&segs("io::stdin")), "std::io::stdin");
        names.pop_scope();
        let module = syn::parse_file("use super::*;").unwrap();
        names.enter_module("app::inner".into());
        names.push_scope(module.items.iter(), "app::inner", true);
        // `fs` is not visible in `mod inner`; the single glob catches bare names only.
        assert_eq!(names.resolve(&segs("fs::read")), "fs::read");
        assert_eq!(names.resolve(&segs("helper")), "app::helper");
        assert_eq!(names.resolve(&segs("Some")), "Some");
    }
}
