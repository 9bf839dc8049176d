//! One walk over a parsed file: items become classes, globals and aliases; function bodies
//! become call sites, awaits, closures/async blocks and guards.
//!
//! Guards follow Rust's drop scopes closely enough for LG202/LG203:
//! - `let g = m.lock()...;` lives to the end of its block, or until `g` is passed by value to
//!   a call (`drop(g)`, `tx.send(g)`);
//! - a guard temporary lives to the end of its *temporary scope*: the enclosing statement,
//!   except that `if`/`while` conditions, match arms and guards, loop bodies and the right
//!   operand of `&&`/`||` are scopes of their own; `match`/`for`/`if let` scrutinees belong
//!   to the enclosing statement, except that edition 2024 ends `if let` scrutinee
//!   temporaries before `else` and block tail temporaries at the end of their block; a
//!   `let`-`else` initializer's temporaries end before its `else` block.
//!
//! Each construct sets the byte offset where the current temporary scope ends
//! ([`BodyCtx::temp_end`]) and where the current block ends ([`BodyCtx::block_end`]); a
//! guard records the range it is alive in, and when its function is finished the function's
//! own awaits inside that range are the awaits it is held across.

use std::collections::HashMap;

use loopguard_core::Span;
use loopguard_core::facts::{
    Alias, CallKind, CallSite, Callee, Class, Decorator, Function, FunctionId, FunctionKind, Guard,
    Param, TypeRef, Variable,
};
use syn::visit::{self, Visit};
use syn::{
    AttrStyle, Attribute, BinOp, Block, Expr, ExprAsync, ExprAwait, ExprCall, ExprClosure,
    ExprForLoop, ExprIf, ExprLet, ExprMatch, ExprMethodCall, ExprPath, ExprWhile, FnArg, Item,
    ItemImpl, ItemTrait, Local, Macro, Member, Pat, ReturnType, Signature, Stmt, Type, UnOp,
    Visibility,
};

use crate::macros::{self, MacroKind};
use crate::names::{Names, StaticInfo};
use crate::spans::SourceMap;
use crate::syntax::{
    closure_start, end_of, ident_name, is_screaming_case, is_type_like, path_start, peel_parens,
    segments, start_of,
};

/// Methods that return a sync guard when called without arguments and not awaited.
const GUARD_METHODS: &[&str] = &[
    "lock",
    "read",
    "write",
    "try_lock",
    "try_read",
    "try_write",
    "lock_arc",
    "read_arc",
    "write_arc",
    "upgradable_read",
    "borrow",
    "borrow_mut",
    "try_borrow",
    "try_borrow_mut",
];

/// Methods applied to a guard-producing call that still yield the guard
/// (`m.lock().unwrap()`, `m.lock().unwrap_or_else(PoisonError::into_inner)`).
const GUARD_ADAPTERS: &[&str] = &[
    "unwrap",
    "expect",
    "unwrap_or_else",
    "unwrap_unchecked",
    "map_err",
    "ok",
    "context",
    "with_context",
    "wrap_err",
    "into_inner",
];

/// Methods whose result has the receiver's type as far as receiver typing goes.
const TRANSPARENT_METHODS: &[&str] = &[
    "unwrap", "expect", "clone", "as_ref", "as_mut", "as_deref", "to_owned",
];

/// `Arc::new(x)` and friends have the type of `x`: the wrapper is peeled.
const WRAPPING_CONSTRUCTORS: &[(&str, &str)] = &[
    ("Arc", "new"),
    ("Arc", "clone"),
    ("Arc", "from"),
    ("Rc", "new"),
    ("Rc", "clone"),
    ("Rc", "from"),
    ("Box", "new"),
    ("Box", "pin"),
    ("Box", "from"),
    ("Pin", "new"),
];

/// `X::new(value)` for these creates a lock or cell guarding `value`.
const LOCK_CONSTRUCTOR_TYPES: &[&str] = &["Mutex", "RwLock", "RefCell", "ReentrantMutex"];

/// Built-in and tool attributes that say nothing about where a function runs.
const IGNORED_ATTRIBUTES: &[&str] = &[
    "doc",
    "cfg",
    "cfg_attr",
    "allow",
    "warn",
    "deny",
    "forbid",
    "expect",
    "inline",
    "cold",
    "must_use",
    "deprecated",
    "track_caller",
    "non_exhaustive",
    "automatically_derived",
    "no_mangle",
    "export_name",
    "link_section",
    "target_feature",
    "repr",
    "path",
    "macro_use",
    "macro_export",
    "ignore",
    "should_panic",
    "derive",
];

const IGNORED_ATTRIBUTE_TOOLS: &[&str] = &["rustfmt", "clippy", "rustdoc", "diagnostic"];

/// Receiver types nest once per chained call; deeper chains are left untyped.
const MAX_RECEIVER_DEPTH: u32 = 8;

/// Suffix of the synthetic field (and global) that holds the type a lock or cell field's
/// guard dereferences to: `conn: Mutex<Connection>` also gives field `conn.<guarded>:
/// Connection`, and `self.conn.lock().unwrap()` is typed `Field { .., "conn.<guarded>" }`.
/// Facts drop generic arguments, so this is how the analysis learns what a guard holds.
pub(crate) const GUARDED_SUFFIX: &str = ".<guarded>";

/// Call texts keep the end of longer expressions (`…).route("/x", get(h)).route`).
const MAX_TEXT_CHARS: usize = 120;

/// Closures and async blocks nested deeper than this are lowered as part of the function
/// around them (qualified names grow with the depth).
const MAX_FUNCTION_NESTING: usize = 64;

struct LocalVar {
    name: String,
    ty: Option<TypeRef>,
    /// For a lock or cell, the type its guards dereference to.
    guarded: Option<TypeRef>,
    /// The closure or async block this variable is bound to (`let f = || ..;`).
    closure: Option<FunctionId>,
}

/// A function being lowered: what its own body has produced so far.
struct FnState {
    id: FunctionId,
    qualname: String,
    calls: Vec<CallSite>,
    awaits: Vec<Span>,
    guards: Vec<PendingGuard>,
    /// Local names passed by value to a call, and the byte where that call ends.
    moves: Vec<(String, usize)>,
    /// Names bound by `let` and the byte where the binding is written: a move after a
    /// rebinding moves the new variable, not the guard.
    shadows: Vec<(String, usize)>,
    /// How many closures / async blocks this function has, by base name.
    children: HashMap<&'static str, u32>,
}

struct PendingGuard {
    acquire: Callee,
    span: Span,
    /// Alive from this byte (end of the acquiring call) ...
    from: usize,
    /// ... to this one (end of the block or temporary scope).
    until: usize,
    binding: Option<String>,
    /// Bound by `let`: a move of `binding` ends it early.
    bound: bool,
    text: String,
}

#[derive(Clone)]
struct BoundGuard {
    /// Byte range of the acquiring call that the `let` binds.
    key: (usize, usize),
    binding: Option<String>,
}

/// Where the drop scopes of the construct being walked end (byte offsets).
#[derive(Clone, Default)]
struct BodyCtx {
    temp_end: usize,
    block_end: usize,
    /// Where temporaries of an `if let`/`while let` scrutinee die, while walking a condition.
    let_scrutinee_end: Option<usize>,
    /// The guard call the `let` being walked binds.
    bound_guard: Option<BoundGuard>,
}

/// The results of lowering one file.
pub(crate) struct Lowered {
    pub functions: Vec<Function>,
    pub classes: Vec<Class>,
    pub aliases: Vec<Alias>,
    pub globals: Vec<Variable>,
}

pub(crate) struct Lowerer<'s> {
    src: &'s SourceMap<'s>,
    edition: u16,
    file_module: String,
    names: Names,
    functions: Vec<Function>,
    classes: Vec<Class>,
    class_index: HashMap<String, usize>,
    aliases: Vec<Alias>,
    globals: Vec<Variable>,
    vars: Vec<LocalVar>,
    /// Name -> indices into `vars` of the variables of that name, innermost last.
    var_index: HashMap<String, Vec<usize>>,
    var_frames: Vec<usize>,
    /// Variables below this index belong to an enclosing item and are not visible.
    var_floor: usize,
    stack: Vec<FnState>,
    ctx: BodyCtx,
}

impl<'s> Lowerer<'s> {
    pub(crate) fn new(src: &'s SourceMap<'s>, module: &str, edition: Option<u16>) -> Self {
        Self {
            src,
            edition: edition.unwrap_or(2021),
            file_module: module.to_string(),
            names: Names::new(module),
            functions: Vec::new(),
            classes: Vec::new(),
            class_index: HashMap::new(),
            aliases: Vec::new(),
            globals: Vec::new(),
            vars: Vec::new(),
            var_index: HashMap::new(),
            var_frames: Vec::new(),
            var_floor: 0,
            stack: Vec::new(),
            ctx: BodyCtx::default(),
        }
    }

    pub(crate) fn lower_file(mut self, file: &syn::File) -> Lowered {
        let module = self.file_module.clone();
        self.lower_module(&file.items, &module, true);
        Lowered {
            functions: self.functions,
            classes: self.classes,
            aliases: self.aliases,
            globals: self.globals,
        }
    }

    // -----------------------------------------------------------------------------------
    // Positions and text

    fn span(&self, lo: proc_macro2::Span, hi: proc_macro2::Span) -> Span {
        self.src.span(lo, hi)
    }

    fn byte_start(&self, s: proc_macro2::Span) -> usize {
        self.src.byte(s.start())
    }

    fn byte_end(&self, s: proc_macro2::Span) -> usize {
        self.src.byte(s.end())
    }

    fn text(&self, lo: proc_macro2::Span, hi: proc_macro2::Span) -> String {
        self.src
            .tail_text(self.byte_start(lo), self.byte_end(hi), MAX_TEXT_CHARS)
    }

    fn span_text(&self, span: &Span) -> String {
        self.src.tail_text(
            span.start_byte as usize,
            span.end_byte as usize,
            MAX_TEXT_CHARS,
        )
    }

    // -----------------------------------------------------------------------------------
    // Items

    /// Lowers the items of a module (the file, or an inline `mod`). `reported`: its `use`s
    /// and statics go to the file's aliases and globals (not for modules inside functions).
    fn lower_module(&mut self, items: &[Item], module: &str, reported: bool) {
        // Items wrapped in item macros (`cfg_if! { .. }`, `cfg_rt! { .. }`) are items of the
        // module too, in their place.
        let expanded: Vec<Vec<Item>> = items.iter().map(macros::wrapped_items).collect();
        let items: Vec<&Item> = items
            .iter()
            .zip(&expanded)
            .flat_map(|(item, wrapped)| {
                if wrapped.is_empty() {
                    std::slice::from_ref(item).iter()
                } else {
                    wrapped.iter()
                }
            })
            .collect();
        let registered = self.names.push_scope(items.iter().copied(), module, true);
        if reported {
            for binding in registered.aliases {
                let name = self.relative_name(module, &binding.name);
                self.aliases.push(Alias {
                    name,
                    target: binding.target,
                });
            }
        }
        // Statics declared by macros are visible to every function of the module.
        for item in &items {
            if let Item::Macro(m) = item {
                self.lower_static_macro(&m.mac, module, reported);
            }
        }
        for item in items {
            self.lower_item(item, module, reported);
        }
        self.names.pop_scope();
    }

    /// `inner::NAME` for a name declared in inline module `<file module>::inner`: facts name
    /// globals and aliases relative to the file's module.
    fn relative_name(&self, container: &str, name: &str) -> String {
        match container
            .strip_prefix(self.file_module.as_str())
            .and_then(|rest| rest.strip_prefix("::"))
        {
            Some(rest) if !rest.is_empty() => format!("{rest}::{name}"),
            _ => name.to_string(),
        }
    }

    fn lower_item(&mut self, item: &Item, container: &str, reported: bool) {
        match item {
            Item::Fn(f) => {
                let qualname = format!("{container}::{}", ident_name(&f.sig.ident));
                let start = fn_start(&f.vis, &f.sig);
                self.lower_fn(
                    &[],
                    &f.attrs,
                    start,
                    &f.sig,
                    &f.block,
                    FunctionKind::Function,
                    None,
                    qualname,
                );
            }
            Item::Impl(i) => self.lower_impl(i),
            Item::Trait(t) => self.lower_trait(t, container),
            Item::Struct(s) => {
                let qualname = format!("{container}::{}", ident_name(&s.ident));
                let span = self.item_span(&s.vis, s.struct_token.span, s);
                let generics = self.names.push_generics(&s.generics);
                let fields = self.fields(&s.fields);
                self.names.pop_generics(generics);
                self.define_class(qualname, span, &s.attrs, fields);
            }
            Item::Union(u) => {
                let qualname = format!("{container}::{}", ident_name(&u.ident));
                let span = self.item_span(&u.vis, u.union_token.span, u);
                let generics = self.names.push_generics(&u.generics);
                let fields = self.named_fields(u.fields.named.iter());
                self.names.pop_generics(generics);
                self.define_class(qualname, span, &u.attrs, fields);
            }
            Item::Enum(e) => {
                let qualname = format!("{container}::{}", ident_name(&e.ident));
                let span = self.item_span(&e.vis, e.enum_token.span, e);
                self.define_class(qualname, span, &e.attrs, Vec::new());
            }
            Item::Static(s) if reported => {
                let info = self.names.static_info(&s.ty);
                self.push_global(container, &s.ident, info);
            }
            Item::Const(c) if reported => {
                let info = self.names.static_info(&c.ty);
                self.push_global(container, &c.ident, info);
            }
            Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    let path = format!("{container}::{}", ident_name(&m.ident));
                    self.names.enter_module(path.clone());
                    self.lower_module(items, &path, reported);
                    self.names.leave_module();
                }
            }
            _ => {}
        }
    }

    fn push_global(&mut self, container: &str, ident: &syn::Ident, info: StaticInfo) {
        let span = self.span(ident.span(), ident.span());
        let name = self.relative_name(container, &ident_name(ident));
        if let Some(guarded) = info.guarded {
            self.globals.push(Variable {
                name: format!("{name}{GUARDED_SUFFIX}"),
                ty: guarded,
                span,
            });
        }
        if let Some(ty) = info.ty {
            self.globals.push(Variable { name, ty, span });
        }
    }

    /// `lazy_static! { static ref X: T = ..; }` and `thread_local! { static X: T = ..; }`.
    fn lower_static_macro(&mut self, mac: &Macro, container: &str, reported: bool) {
        if !is_static_macro(mac) {
            return;
        }
        for (ident, ty) in parse_static_decls(&mac.tokens) {
            let info = self.names.static_info(&ty);
            self.names.declare_static(ident_name(&ident), info.clone());
            if reported {
                self.push_global(container, &ident, info);
            }
        }
    }

    /// An item's span from its visibility or keyword (attributes excluded, as for
    /// functions) to its end.
    fn item_span(
        &self,
        vis: &Visibility,
        keyword: proc_macro2::Span,
        item: &impl syn::spanned::Spanned,
    ) -> Span {
        let start = match vis {
            Visibility::Public(p) => p.span,
            Visibility::Restricted(r) => r.pub_token.span,
            Visibility::Inherited => keyword,
        };
        self.span(start, item.span())
    }

    fn fields(&self, fields: &syn::Fields) -> Vec<Variable> {
        match fields {
            syn::Fields::Named(named) => self.named_fields(named.named.iter()),
            syn::Fields::Unnamed(unnamed) => unnamed
                .unnamed
                .iter()
                .enumerate()
                .flat_map(|(i, f)| {
                    let s = syn::spanned::Spanned::span(&f.ty);
                    self.field_variables(i.to_string(), &f.ty, self.span(s, s))
                })
                .collect(),
            syn::Fields::Unit => Vec::new(),
        }
    }

    fn named_fields<'f>(&self, fields: impl Iterator<Item = &'f syn::Field>) -> Vec<Variable> {
        fields
            .filter_map(|f| {
                let ident = f.ident.as_ref()?;
                let span = self.span(ident.span(), ident.span());
                Some(self.field_variables(ident_name(ident), &f.ty, span))
            })
            .flatten()
            .collect()
    }

    /// A field with a known type, and for a lock or cell its `<field>.<guarded>` twin.
    fn field_variables(&self, name: String, ty: &Type, span: Span) -> Vec<Variable> {
        let mut out = Vec::new();
        if let Some(guarded) = self.names.guarded_type(ty) {
            out.push(Variable {
                name: format!("{name}{GUARDED_SUFFIX}"),
                ty: guarded,
                span,
            });
        }
        if let Some(ty) = self.names.type_ref(ty) {
            out.insert(0, Variable { name, ty, span });
        }
        out
    }

    /// The class entry for `qualname`, created on first sight; a definition's span wins over
    /// an `impl` block's.
    fn class_entry(
        &mut self,
        qualname: &str,
        span: Span,
        is_definition: bool,
    ) -> Option<&mut Class> {
        if let Some(&i) = self.class_index.get(qualname) {
            let class = self.classes.get_mut(i)?;
            if is_definition {
                class.span = span;
            }
            return Some(class);
        }
        self.class_index
            .insert(qualname.to_string(), self.classes.len());
        self.classes.push(Class {
            qualname: qualname.to_string(),
            span,
            bases: Vec::new(),
            decorators: Vec::new(),
            fields: Vec::new(),
        });
        self.classes.last_mut()
    }

    fn define_class(
        &mut self,
        qualname: String,
        span: Span,
        attrs: &[Attribute],
        fields: Vec<Variable>,
    ) {
        let decorators = self.class_decorators(attrs);
        if let Some(class) = self.class_entry(&qualname, span, true) {
            extend_unique(&mut class.decorators, decorators);
            class.fields.extend(fields);
        }
    }

    /// Derives and non-builtin attributes of a type, as resolved paths.
    fn class_decorators(&self, attrs: &[Attribute]) -> Vec<String> {
        let mut out = Vec::new();
        for attr in attrs {
            if attr.path().is_ident("derive") {
                let derived = attr.parse_args_with(
                    syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
                );
                if let Ok(paths) = derived {
                    out.extend(paths.iter().map(|p| self.names.resolve(&segments(p))));
                }
            } else {
                let mut decorators = Vec::new();
                self.decorators_of(attr, &mut decorators);
                out.extend(decorators.into_iter().filter_map(|d| match d.callee {
                    Callee::Path(p) => Some(p),
                    _ => None,
                }));
            }
        }
        out
    }

    /// The decorators an outer attribute stands for: itself, or for
    /// `#[cfg_attr(pred, tokio::main)]` the attributes it may expand to.
    fn decorators_of(&self, attr: &Attribute, out: &mut Vec<Decorator>) {
        if !matches!(attr.style, AttrStyle::Outer) {
            return;
        }
        let span = self.span(attr.pound_token.span, attr.bracket_token.span.close());
        if attr.path().is_ident("cfg_attr") {
            let metas = attr.parse_args_with(
                syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
            );
            for meta in metas.iter().flatten().skip(1) {
                self.push_decorator(meta.path(), span, out);
            }
            return;
        }
        self.push_decorator(attr.path(), span, out);
    }

    fn push_decorator(&self, path: &syn::Path, span: Span, out: &mut Vec<Decorator>) {
        let segs = segments(path);
        let Some(first) = segs.first() else {
            return;
        };
        if (segs.len() == 1 && IGNORED_ATTRIBUTES.contains(&first.as_str()))
            || IGNORED_ATTRIBUTE_TOOLS.contains(&first.as_str())
        {
            return;
        }
        out.push(Decorator {
            callee: Callee::Path(self.names.resolve(&segs)),
            span,
        });
    }

    fn lower_impl(&mut self, imp: &ItemImpl) {
        let generics = self.names.push_generics(&imp.generics);
        let self_path = self
            .names
            .impl_type_path(&imp.self_ty)
            .unwrap_or_else(|| self.node_text(&*imp.self_ty));
        let span = self.span(imp.impl_token.span, imp.brace_token.span.close());
        let trait_path = imp
            .trait_
            .as_ref()
            .map(|(_, path, _)| self.names.resolve(&segments(path)));
        let decorators = self.class_decorators(&imp.attrs);
        // A blanket `impl<T: Bound> Trait for T` is no type of its own.
        let is_blanket = self.names.is_generic(&self_path);
        if !is_blanket && let Some(class) = self.class_entry(&self_path, span, false) {
            if let Some(t) = trait_path {
                extend_unique(&mut class.bases, [t]);
            }
            extend_unique(&mut class.decorators, decorators);
        }
        self.names.push_self_type(Some(self_path.clone()));
        for item in &imp.items {
            if let syn::ImplItem::Fn(f) = item {
                let qualname = format!("{self_path}::{}", ident_name(&f.sig.ident));
                let start = fn_start(&f.vis, &f.sig);
                self.lower_fn(
                    &imp.attrs,
                    &f.attrs,
                    start,
                    &f.sig,
                    &f.block,
                    FunctionKind::Method,
                    Some(self_path.clone()),
                    qualname,
                );
            }
        }
        self.names.pop_self_type();
        self.names.pop_generics(generics);
    }

    fn lower_trait(&mut self, t: &ItemTrait, container: &str) {
        let path = format!("{container}::{}", ident_name(&t.ident));
        let span = self.span(t.trait_token.span, t.brace_token.span.close());
        let supertraits: Vec<String> = t
            .supertraits
            .iter()
            .filter_map(|b| match b {
                syn::TypeParamBound::Trait(tb) => Some(self.names.resolve(&segments(&tb.path))),
                _ => None,
            })
            .collect();
        let decorators = self.class_decorators(&t.attrs);
        if let Some(class) = self.class_entry(&path, span, true) {
            extend_unique(&mut class.bases, supertraits);
            extend_unique(&mut class.decorators, decorators);
        }
        let generics = self.names.push_generics(&t.generics);
        self.names.push_self_type(Some(path.clone()));
        for item in &t.items {
            if let syn::TraitItem::Fn(f) = item
                && let Some(block) = &f.default
            {
                let qualname = format!("{path}::{}", ident_name(&f.sig.ident));
                let start = fn_start(&Visibility::Inherited, &f.sig);
                self.lower_fn(
                    &t.attrs,
                    &f.attrs,
                    start,
                    &f.sig,
                    block,
                    FunctionKind::Method,
                    Some(path.clone()),
                    qualname,
                );
            }
        }
        self.names.pop_self_type();
        self.names.pop_generics(generics);
    }

    fn node_text(&self, node: &impl syn::spanned::Spanned) -> String {
        let s = node.span();
        self.text(s, s)
    }

    // -----------------------------------------------------------------------------------
    // Functions

    #[allow(clippy::too_many_arguments)]
    fn lower_fn(
        &mut self,
        outer_attrs: &[Attribute],
        attrs: &[Attribute],
        start: proc_macro2::Span,
        sig: &Signature,
        block: &Block,
        kind: FunctionKind,
        class: Option<String>,
        qualname: String,
    ) {
        let generics = self.names.push_generics(&sig.generics);
        // An `#[async_trait]` on the impl block applies to its methods.
        let decorators = outer_attrs
            .iter()
            .chain(attrs)
            .fold(Vec::new(), |mut out, a| {
                self.decorators_of(a, &mut out);
                out
            });
        let close = block.brace_token.span.close();
        let params: Vec<Param> = sig.inputs.iter().map(|arg| self.param(arg)).collect();
        let returns = match &sig.output {
            ReturnType::Type(_, ty) => self.names.type_ref(ty),
            ReturnType::Default => None,
        };
        let function = Function {
            qualname,
            name: ident_name(&sig.ident),
            kind,
            is_async: sig.asyncness.is_some(),
            class,
            decorators,
            span: self.span(start, close),
            name_span: self.span(sig.ident.span(), sig.ident.span()),
            parent: self.current_fn(),
            params,
            returns,
            ..Default::default()
        };
        self.begin_function(function);
        // An item cannot capture the locals of an enclosing function.
        let floor = std::mem::replace(&mut self.var_floor, self.vars.len());
        self.push_frame();
        for arg in &sig.inputs {
            match arg {
                FnArg::Receiver(r) => {
                    let ty = self.names.type_ref(&r.ty);
                    let guarded = self.names.guarded_type(&r.ty);
                    self.bind("self".to_string(), ty, guarded, None);
                }
                FnArg::Typed(t) => self.bind_param(&t.pat, &t.ty),
            }
        }
        let end = self.byte_start(close);
        let saved = self.enter_body(end);
        self.walk_block(block, true);
        self.ctx = saved;
        self.pop_frame();
        self.var_floor = floor;
        self.end_function();
        self.names.pop_generics(generics);
    }

    fn param(&self, arg: &FnArg) -> Param {
        let (name, annotation) = match arg {
            FnArg::Receiver(r) => ("self".to_string(), self.names.type_ref(&r.ty)),
            FnArg::Typed(t) => (pat_name(&t.pat), self.names.type_ref(&t.ty)),
        };
        Param {
            name,
            annotation,
            default_call: None,
            default_args: Vec::new(),
        }
    }

    /// Binds a parameter; `State(state): State<Arc<AppState>>` and `Json(body): Json<Req>`
    /// give the inner binding the wrapped type.
    fn bind_param(&mut self, pat: &Pat, ty: &Type) {
        if let Pat::TupleStruct(ts) = pat
            && ts.elems.len() == 1
            && let Type::Path(tp) = ty
            && let (Some(pat_last), Some(ty_last)) =
                (ts.path.segments.last(), tp.path.segments.last())
            && pat_last.ident == ty_last.ident
            && let syn::PathArguments::AngleBracketed(args) = &ty_last.arguments
            && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
            && let Some(elem) = ts.elems.first()
        {
            let inner_ty = self.names.type_ref(inner);
            let guarded = self.names.guarded_type(inner);
            self.bind_value(elem, inner_ty, guarded, None);
            return;
        }
        let guarded = self.names.guarded_type(ty);
        let ty = self.names.type_ref(ty);
        self.bind_value(pat, ty, guarded, None);
    }

    fn current_fn(&self) -> Option<FunctionId> {
        self.stack.last().map(|s| s.id)
    }

    fn begin_function(&mut self, function: Function) -> FunctionId {
        let id = self.functions.len() as FunctionId;
        self.stack.push(FnState {
            id,
            qualname: function.qualname.clone(),
            calls: Vec::new(),
            awaits: Vec::new(),
            guards: Vec::new(),
            moves: Vec::new(),
            shadows: Vec::new(),
            children: HashMap::new(),
        });
        self.functions.push(function);
        id
    }

    fn end_function(&mut self) {
        let Some(state) = self.stack.pop() else {
            return;
        };
        let mut awaits = state.awaits;
        awaits.sort_by_key(|s| (s.start_byte, s.end_byte));
        awaits.dedup();
        let guards = finish_guards(state.guards, &awaits, &state.moves, &state.shadows);
        if let Some(f) = self.functions.get_mut(state.id as usize) {
            f.calls = state.calls;
            f.awaits = awaits;
            f.guards = guards;
        }
    }

    fn enter_body(&mut self, end: usize) -> BodyCtx {
        std::mem::replace(
            &mut self.ctx,
            BodyCtx {
                temp_end: end,
                block_end: end,
                let_scrutinee_end: None,
                bound_guard: None,
            },
        )
    }

    /// `{closure}`, then `{closure}#2`, ... within one parent; returns (name, qualname).
    fn child_names(&mut self, base: &'static str) -> (String, String) {
        match self.stack.last_mut() {
            Some(parent) => {
                let n = parent.children.entry(base).or_insert(0);
                *n += 1;
                let qualname = if *n == 1 {
                    format!("{}::{base}", parent.qualname)
                } else {
                    format!("{}::{base}#{n}", parent.qualname)
                };
                (base.to_string(), qualname)
            }
            None => (base.to_string(), format!("{}::{base}", self.names.module())),
        }
    }

    fn on_closure(&mut self, c: &ExprClosure) {
        if self.stack.len() >= MAX_FUNCTION_NESTING {
            self.push_frame();
            c.inputs.iter().for_each(|p| self.bind_pattern(p, None));
            self.visit_expr(&c.body);
            self.pop_frame();
            return;
        }
        let is_async = c.asyncness.is_some();
        let (kind, base) = if is_async {
            (FunctionKind::AsyncBlock, "{async block}")
        } else {
            (FunctionKind::Closure, "{closure}")
        };
        let (name, qualname) = self.child_names(base);
        let start = closure_start(c);
        let name_token = match &c.asyncness {
            Some(a) => a.span,
            None => c.or1_token.span,
        };
        let params = c
            .inputs
            .iter()
            .map(|p| {
                let (pat, ty) = split_type(p);
                Param {
                    name: pat_name(pat),
                    annotation: ty.and_then(|t| self.names.type_ref(t)),
                    default_call: None,
                    default_args: Vec::new(),
                }
            })
            .collect();
        let returns = match &c.output {
            ReturnType::Type(_, ty) => self.names.type_ref(ty),
            ReturnType::Default => None,
        };
        let function = Function {
            qualname,
            name,
            kind,
            is_async,
            span: self.span(start, end_of(&c.body)),
            name_span: self.span(name_token, name_token),
            parent: self.current_fn(),
            params,
            returns,
            ..Default::default()
        };
        self.begin_function(function);
        self.push_frame();
        for input in &c.inputs {
            match split_type(input) {
                (pat, Some(ty)) => {
                    let declared = self.names.type_ref(ty);
                    let guarded = self.names.guarded_type(ty);
                    self.bind_value(pat, declared, guarded, None);
                }
                (pat, None) => self.bind_pattern(pat, None),
            }
        }
        match &*c.body {
            Expr::Block(b) if b.label.is_none() => {
                let end = self.byte_start(b.block.brace_token.span.close());
                let saved = self.enter_body(end);
                self.walk_block(&b.block, true);
                self.ctx = saved;
            }
            body => {
                let end = self.byte_end(end_of(body));
                let saved = self.enter_body(end);
                self.visit_expr(body);
                self.ctx = saved;
            }
        }
        self.pop_frame();
        self.end_function();
    }

    fn on_async_block(&mut self, a: &ExprAsync) {
        if self.stack.len() >= MAX_FUNCTION_NESTING {
            self.walk_block(&a.block, true);
            return;
        }
        let (name, qualname) = self.child_names("{async block}");
        let close = a.block.brace_token.span.close();
        let function = Function {
            qualname,
            name,
            kind: FunctionKind::AsyncBlock,
            is_async: true,
            span: self.span(a.async_token.span, close),
            name_span: self.span(a.async_token.span, a.async_token.span),
            parent: self.current_fn(),
            ..Default::default()
        };
        self.begin_function(function);
        let end = self.byte_start(close);
        let saved = self.enter_body(end);
        self.walk_block(&a.block, true);
        self.ctx = saved;
        self.end_function();
    }

    // -----------------------------------------------------------------------------------
    // Local variables

    fn push_frame(&mut self) {
        self.var_frames.push(self.vars.len());
    }

    fn pop_frame(&mut self) {
        let Some(mark) = self.var_frames.pop() else {
            return;
        };
        for var in self.vars.drain(mark..) {
            if let Some(indices) = self.var_index.get_mut(&var.name) {
                indices.pop();
            }
        }
    }

    fn bind(
        &mut self,
        name: String,
        ty: Option<TypeRef>,
        guarded: Option<TypeRef>,
        closure: Option<FunctionId>,
    ) {
        self.var_index
            .entry(name.clone())
            .or_default()
            .push(self.vars.len());
        self.vars.push(LocalVar {
            name,
            ty,
            guarded,
            closure,
        });
    }

    /// Binds a value to a pattern: a plain identifier takes everything known of the value.
    fn bind_value(
        &mut self,
        pat: &Pat,
        ty: Option<TypeRef>,
        guarded: Option<TypeRef>,
        closure: Option<FunctionId>,
    ) {
        match pat {
            Pat::Ident(p) if p.subpat.is_none() => {
                self.bind(ident_name(&p.ident), ty, guarded, closure)
            }
            Pat::Reference(r) => self.bind_value(&r.pat, ty, guarded, closure),
            Pat::Paren(p) => self.bind_value(&p.pat, ty, guarded, closure),
            _ => self.bind_pattern(pat, ty),
        }
    }

    fn lookup_var(&self, name: &str) -> Option<&LocalVar> {
        let index = *self.var_index.get(name)?.last()?;
        if index < self.var_floor {
            return None;
        }
        self.vars.get(index)
    }

    /// Binds the names of a pattern; only a plain identifier (possibly `ref`/`mut`, or
    /// behind `&`/parentheses) takes `ty`, destructured parts are untyped.
    fn bind_pattern(&mut self, pat: &Pat, ty: Option<TypeRef>) {
        match pat {
            Pat::Ident(p) => {
                self.bind(ident_name(&p.ident), ty, None, None);
                if let Some((_, sub)) = &p.subpat {
                    self.bind_pattern(sub, None);
                }
            }
            Pat::Type(p) => {
                let declared = self.names.type_ref(&p.ty);
                self.bind_pattern(&p.pat, declared);
            }
            Pat::Reference(p) => self.bind_pattern(&p.pat, ty),
            Pat::Paren(p) => self.bind_pattern(&p.pat, ty),
            Pat::Tuple(p) => p.elems.iter().for_each(|e| self.bind_pattern(e, None)),
            Pat::TupleStruct(p) => p.elems.iter().for_each(|e| self.bind_pattern(e, None)),
            Pat::Slice(p) => p.elems.iter().for_each(|e| self.bind_pattern(e, None)),
            Pat::Struct(p) => p
                .fields
                .iter()
                .for_each(|f| self.bind_pattern(&f.pat, None)),
            // Every alternative binds the same names.
            Pat::Or(p) => {
                if let Some(first) = p.cases.first() {
                    self.bind_pattern(first, None);
                }
            }
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------
    // Name and type resolution in bodies

    fn path_callee(&self, p: &ExprPath) -> Callee {
        let segs = segments(&p.path);
        if let Some(q) = &p.qself {
            // `<Type>::f` names an associated function of Type; `<T as Trait>::f` of Trait.
            if q.position == 0 {
                let base = self
                    .names
                    .impl_type_path(&q.ty)
                    .unwrap_or_else(|| self.node_text(&*q.ty));
                let mut path = base;
                for seg in &segs {
                    path.push_str("::");
                    path.push_str(seg);
                }
                return Callee::Path(path);
            }
            return Callee::Path(self.names.resolve(&segs));
        }
        if let [single] = segs.as_slice()
            && self.lookup_var(single).is_some()
        {
            return Callee::Path(single.clone());
        }
        Callee::Path(self.names.resolve(&segs))
    }

    fn type_of(&self, expr: &Expr) -> Option<TypeRef> {
        self.type_of_at(expr, 0)
    }

    fn type_of_at(&self, expr: &Expr, depth: u32) -> Option<TypeRef> {
        if depth > MAX_RECEIVER_DEPTH {
            return None;
        }
        match expr {
            Expr::Path(p) if p.qself.is_none() => self.path_type(&p.path),
            Expr::Field(f) => {
                let owner = self.type_of_at(&f.base, depth + 1)?;
                Some(TypeRef::Field {
                    owner: Box::new(owner),
                    name: member_name(&f.member),
                })
            }
            Expr::MethodCall(m) => {
                let name = ident_name(&m.method);
                if TRANSPARENT_METHODS.contains(&name.as_str()) {
                    return self.type_of_at(&m.receiver, depth + 1);
                }
                if m.args.is_empty()
                    && GUARD_METHODS.contains(&name.as_str())
                    && let Some(guarded) = self.guard_target(&m.receiver, depth + 1)
                {
                    return Some(guarded);
                }
                let callee = match self.type_of_at(&m.receiver, depth + 1) {
                    Some(receiver) => Callee::Method { receiver, name },
                    None => Callee::UnknownMethod { name },
                };
                Some(TypeRef::Returned(Box::new(callee)))
            }
            Expr::Call(c) => {
                let Expr::Path(p) = peel_parens(&c.func) else {
                    return None;
                };
                if let [single] = p.path.segments.iter().collect::<Vec<_>>().as_slice()
                    && p.qself.is_none()
                    && self.lookup_var(&ident_name(&single.ident)).is_some()
                {
                    return None;
                }
                let Callee::Path(path) = self.path_callee(p) else {
                    return None;
                };
                if is_wrapping_constructor(&path)
                    && let Some(arg) = c.args.first()
                {
                    return self.type_of_at(arg, depth + 1);
                }
                Some(TypeRef::Returned(Box::new(Callee::Path(path))))
            }
            Expr::Reference(r) => self.type_of_at(&r.expr, depth + 1),
            Expr::Paren(p) => self.type_of_at(&p.expr, depth + 1),
            Expr::Group(g) => self.type_of_at(&g.expr, depth + 1),
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => self.type_of_at(&u.expr, depth + 1),
            Expr::Try(t) => self.type_of_at(&t.expr, depth + 1),
            Expr::Await(a) => self.type_of_at(&a.base, depth + 1),
            Expr::Cast(c) => self.names.type_ref(&c.ty),
            Expr::Struct(s) if s.qself.is_none() => {
                Some(TypeRef::Named(self.names.resolve(&segments(&s.path))))
            }
            _ => None,
        }
    }

    /// What a guard taken from `lock` dereferences to: the guarded type of a local or
    /// static, or the `<field>.<guarded>` twin of a field or imported static.
    fn guard_target(&self, lock: &Expr, depth: u32) -> Option<TypeRef> {
        if let Some(guarded) = self.guarded_of(lock) {
            return Some(guarded);
        }
        match self.type_of_at(lock, depth)? {
            TypeRef::Field { owner, name } => Some(TypeRef::Field {
                owner,
                name: format!("{name}{GUARDED_SUFFIX}"),
            }),
            TypeRef::Global(path) => Some(TypeRef::Global(format!("{path}{GUARDED_SUFFIX}"))),
            _ => None,
        }
    }

    /// For an expression whose value is a lock or cell, the type its guards dereference to,
    /// when the declaration is at hand (locals, statics of this file, `Mutex::new(x)`).
    fn guarded_of(&self, expr: &Expr) -> Option<TypeRef> {
        match peel_parens(expr) {
            Expr::Path(p) if p.qself.is_none() => {
                let segs = segments(&p.path);
                let [single] = segs.as_slice() else {
                    return None;
                };
                match self.lookup_var(single) {
                    Some(var) => var.guarded.clone(),
                    None => self.names.lookup_static(single)?.guarded.clone(),
                }
            }
            Expr::Reference(r) => self.guarded_of(&r.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => self.guarded_of(&u.expr),
            Expr::MethodCall(m) if ident_name(&m.method) == "clone" => self.guarded_of(&m.receiver),
            Expr::Call(c) => {
                let Expr::Path(p) = peel_parens(&c.func) else {
                    return None;
                };
                let Callee::Path(path) = self.path_callee(p) else {
                    return None;
                };
                let arg = c.args.first()?;
                if is_wrapping_constructor(&path) {
                    return self.guarded_of(arg);
                }
                let mut parts = path.rsplit("::");
                let (Some("new"), Some(ty)) = (parts.next(), parts.next()) else {
                    return None;
                };
                LOCK_CONSTRUCTOR_TYPES
                    .contains(&ty)
                    .then(|| self.type_of(arg))
                    .flatten()
            }
            _ => None,
        }
    }

    /// The type of a path used as a value: a local, a static of this module (its declared
    /// type), or an imported static (`Global`).
    fn path_type(&self, path: &syn::Path) -> Option<TypeRef> {
        let segs = segments(path);
        let last = segs.last()?;
        if let [single] = segs.as_slice() {
            if let Some(var) = self.lookup_var(single) {
                return var.ty.clone();
            }
            if let Some(info) = self.names.lookup_static(single) {
                return info.ty.clone();
            }
            if is_screaming_case(single) {
                let resolved = self.names.resolve(&segs);
                return (resolved != *single).then_some(TypeRef::Global(resolved));
            }
            return None;
        }
        is_screaming_case(last).then(|| TypeRef::Global(self.names.resolve(&segs)))
    }

    // -----------------------------------------------------------------------------------
    // Bodies

    fn walk_block(&mut self, block: &Block, is_temp_scope: bool) {
        let close = self.byte_start(block.brace_token.span.close());
        let outer_temp_end = self.ctx.temp_end;
        let outer_block_end = self.ctx.block_end;
        self.ctx.block_end = close;
        self.push_frame();
        let has_items = block.stmts.iter().any(|s| match s {
            Stmt::Item(_) => true,
            Stmt::Macro(m) => is_static_macro(&m.mac),
            _ => false,
        });
        if has_items {
            let container = self.block_container();
            let items = block.stmts.iter().filter_map(|s| match s {
                Stmt::Item(item) => Some(item),
                _ => None,
            });
            self.names.push_scope(items, &container, false);
        }
        let last = block.stmts.len().saturating_sub(1);
        for (i, stmt) in block.stmts.iter().enumerate() {
            match stmt {
                Stmt::Local(local) => self.on_local(local),
                Stmt::Item(item) => self.lower_block_item(item),
                Stmt::Expr(expr, semi) => {
                    self.ctx.temp_end = match semi {
                        Some(semi) => self.byte_end(semi.span),
                        // A tail expression's temporaries outlive the block before 2024,
                        // unless the block is itself a temporary scope.
                        None if i == last => {
                            if is_temp_scope || self.edition >= 2024 {
                                close
                            } else {
                                outer_temp_end
                            }
                        }
                        None => self.byte_end(end_of(expr)),
                    };
                    self.visit_expr(expr);
                }
                Stmt::Macro(m) if is_static_macro(&m.mac) => {
                    let container = self.block_container();
                    self.lower_static_macro(&m.mac, &container, false);
                }
                Stmt::Macro(m) => {
                    self.ctx.temp_end = match &m.semi_token {
                        Some(semi) => self.byte_end(semi.span),
                        None => self.byte_end(m.mac.delimiter.span().close()),
                    };
                    self.on_macro(&m.mac);
                }
            }
        }
        if has_items {
            self.names.pop_scope();
        }
        self.pop_frame();
        self.ctx.temp_end = outer_temp_end;
        self.ctx.block_end = outer_block_end;
    }

    /// Items declared in a function body are named after the function.
    fn block_container(&self) -> String {
        match self.stack.last() {
            Some(state) => state.qualname.clone(),
            None => self.names.module().to_string(),
        }
    }

    fn lower_block_item(&mut self, item: &Item) {
        let container = self.block_container();
        match item {
            Item::Fn(_) => {
                // `Self` of an enclosing impl is not visible in a nested item.
                self.names.push_self_type(None);
                self.lower_item(item, &container, false);
                self.names.pop_self_type();
            }
            Item::Impl(_)
            | Item::Trait(_)
            | Item::Struct(_)
            | Item::Enum(_)
            | Item::Union(_)
            | Item::Mod(_) => self.lower_item(item, &container, false),
            Item::Macro(m) => self.lower_static_macro(&m.mac, &container, false),
            _ => {}
        }
    }

    fn on_local(&mut self, local: &Local) {
        // Temporaries of a `let`-`else` initializer are dropped before its `else` block.
        self.ctx.temp_end = match local.init.as_ref().and_then(|i| i.diverge.as_ref()) {
            Some((else_token, _)) => self.byte_start(else_token.span),
            None => self.byte_end(local.semi_token.span),
        };
        let (pat, declared) = split_type(&local.pat);
        let mut inferred = None;
        let mut inferred_guarded = None;
        let mut closure = None;
        if let Some(init) = &local.init {
            // `let _ = m.lock();` drops the guard at once: only a real binding keeps it.
            if !matches!(pat, Pat::Wild(_))
                && let Some(call) = guard_call_in(&init.expr)
            {
                self.ctx.bound_guard = Some(BoundGuard {
                    key: self.method_call_key(call),
                    binding: pat_binding(pat),
                });
            }
            let next_id = self.functions.len();
            self.visit_expr(&init.expr);
            closure = self.lowered_as_function(&init.expr, next_id);
            self.ctx.bound_guard = None;
            if declared.is_none() {
                inferred = self.type_of(&init.expr);
                inferred_guarded = self.guarded_of(&init.expr);
            }
            if let Some((_, diverge)) = &init.diverge {
                self.visit_scoped(diverge);
            }
        }
        let ty = declared.and_then(|t| self.names.type_ref(t)).or(inferred);
        let guarded = declared
            .and_then(|t| self.names.guarded_type(t))
            .or(inferred_guarded);
        if let Some(name) = pat_binding(pat) {
            let at = self.byte_start(start_of_pat(pat));
            if let Some(state) = self.stack.last_mut() {
                state.shadows.push((name, at));
            }
        }
        self.bind_value(pat, ty, guarded, closure);
    }

    /// Visits an expression that is a temporary scope of its own (an `else` block, an arm).
    fn visit_scoped(&mut self, expr: &Expr) {
        let saved = self.ctx.temp_end;
        match expr {
            Expr::Block(b) if b.label.is_none() => self.walk_block(&b.block, true),
            other => {
                self.ctx.temp_end = self.byte_end(end_of(other));
                self.visit_expr(other);
            }
        }
        self.ctx.temp_end = saved;
    }

    /// The function id a closure or async block `expr` was lowered to, given the number of
    /// functions before it was visited (none when nesting was too deep to lower it).
    fn lowered_as_function(&self, expr: &Expr, next_id: usize) -> Option<FunctionId> {
        let start = match peel_parens(expr) {
            Expr::Closure(c) => closure_start(c),
            Expr::Async(a) => a.async_token.span,
            _ => return None,
        };
        let function = self.functions.get(next_id)?;
        (function.span.start_byte as usize == self.byte_start(start))
            .then_some(next_id as FunctionId)
    }

    fn method_call_key(&self, m: &ExprMethodCall) -> (usize, usize) {
        (
            self.byte_start(start_of(&m.receiver)),
            self.byte_end(m.paren_token.span.close()),
        )
    }

    fn push_call(&mut self, site: CallSite) -> Option<usize> {
        let state = self.stack.last_mut()?;
        state.calls.push(site);
        Some(state.calls.len() - 1)
    }

    fn push_await(&mut self, span: Span) {
        if let Some(state) = self.stack.last_mut() {
            state.awaits.push(span);
        }
    }

    /// Lowers a call; returns where it starts.
    fn on_call(&mut self, call: &ExprCall, awaited: bool) -> proc_macro2::Span {
        let func = peel_parens(&call.func);
        let Expr::Path(path) = func else {
            // `(self.handler)(x)`, `make()()`: the callee is not a path; its parts may call.
            let start = self.walk_expr(&call.func);
            self.visit_args(&call.args, None, 0);
            return start.unwrap_or_else(|| start_of(&call.func));
        };
        let start = start_of(&call.func);
        let span = self.span(start, call.paren_token.span.close());
        let site = CallSite {
            callee: self.path_callee(path),
            kind: CallKind::Call,
            span,
            awaited,
            arg_count: call.args.len() as u32,
            closure_args: Vec::new(),
            callable_args: Vec::new(),
            args: literal_args(call.args.iter()),
            param_args: Vec::new(),
            text: self.text(start, end_of(&call.func)),
        };
        let index = self.push_call(site);
        self.visit_args(&call.args, index, span.end_byte as usize);
        start
    }

    /// Lowers a method call; returns where it (its receiver) starts.
    fn on_method_call(&mut self, m: &ExprMethodCall, awaited: bool) -> proc_macro2::Span {
        let start = self
            .walk_expr(&m.receiver)
            .unwrap_or_else(|| start_of(&m.receiver));
        let name = ident_name(&m.method);
        let callee = match self.type_of(&m.receiver) {
            Some(receiver) => Callee::Method {
                receiver,
                name: name.clone(),
            },
            None => Callee::UnknownMethod { name: name.clone() },
        };
        let span = self.span(start, m.paren_token.span.close());
        if !awaited && m.args.is_empty() && GUARD_METHODS.contains(&name.as_str()) {
            self.record_guard(callee.clone(), span);
        }
        let site = CallSite {
            callee,
            kind: CallKind::Call,
            span,
            awaited,
            arg_count: m.args.len() as u32,
            closure_args: Vec::new(),
            callable_args: Vec::new(),
            args: literal_args(m.args.iter()),
            param_args: Vec::new(),
            text: self.text(start, m.method.span()),
        };
        let index = self.push_call(site);
        self.visit_args(&m.args, index, span.end_byte as usize);
        start
    }

    /// Visits call arguments, recording closures and callables passed to the call at
    /// `site` (an index into the current function's calls) and locals moved into it.
    fn visit_args<'a>(
        &mut self,
        args: impl IntoIterator<Item = &'a Expr>,
        site: Option<usize>,
        call_end: usize,
    ) {
        let mut closures = Vec::new();
        let mut callables = Vec::new();
        let mut moved = Vec::new();
        let mut param_args = Vec::new();
        for arg in args {
            match peel_parens(arg) {
                Expr::Closure(_) | Expr::Async(_) => {
                    let next_id = self.functions.len();
                    self.visit_expr(arg);
                    closures.extend(self.lowered_as_function(arg, next_id));
                }
                Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
                    let name = segments(&p.path).join("");
                    match self.lookup_var(&name) {
                        Some(var) => {
                            closures.extend(var.closure);
                            if let Some(i) = self.current_fn().and_then(|f| {
                                self.functions
                                    .get(f as usize)?
                                    .params
                                    .iter()
                                    .position(|p| p.name == name)
                            }) {
                                param_args.push(i as u32);
                            }
                            moved.push(name);
                        }
                        None if is_function_name(&name) => {
                            callables.push(self.path_callee(p));
                        }
                        None => {}
                    }
                }
                Expr::Path(p) => {
                    let is_fn = p
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| is_function_name(&ident_name(&s.ident)));
                    if is_fn {
                        callables.push(self.path_callee(p));
                    }
                }
                _ => self.visit_expr(arg),
            }
        }
        if let Some(state) = self.stack.last_mut() {
            state
                .moves
                .extend(moved.into_iter().map(|name| (name, call_end)));
            if let Some(call) = site.and_then(|i| state.calls.get_mut(i)) {
                call.closure_args = closures;
                call.callable_args = callables;
                call.param_args = param_args;
            }
        }
    }

    fn record_guard(&mut self, acquire: Callee, span: Span) {
        let key = (span.start_byte as usize, span.end_byte as usize);
        let bound = self
            .ctx
            .bound_guard
            .as_ref()
            .filter(|b| b.key == key)
            .cloned();
        let (until, binding, is_bound) = match bound {
            Some(b) => (self.ctx.block_end, b.binding, true),
            None => (self.ctx.temp_end, None, false),
        };
        let text = self.span_text(&span);
        if let Some(state) = self.stack.last_mut() {
            state.guards.push(PendingGuard {
                acquire,
                span,
                from: span.end_byte as usize,
                until,
                binding,
                bound: is_bound,
                text,
            });
        }
    }

    fn on_await(&mut self, a: &ExprAwait) -> Option<proc_macro2::Span> {
        let start = self.visit_awaited(&a.base);
        let span = self.span(a.dot_token.span, a.await_token.span);
        self.push_await(span);
        start
    }

    /// Visits an expression that is awaited (by `.await` or by `join!`/`select!`).
    fn visit_awaited(&mut self, expr: &Expr) -> Option<proc_macro2::Span> {
        match expr {
            Expr::Call(c) => Some(self.on_call(c, true)),
            Expr::MethodCall(m) => Some(self.on_method_call(m, true)),
            Expr::Paren(p) => {
                self.visit_awaited(&p.expr);
                Some(p.paren_token.span.open())
            }
            _ => self.walk_expr(expr),
        }
    }

    fn on_macro(&mut self, mac: &Macro) {
        let head = self.span(path_start(&mac.path), mac.bang_token.span);
        let complete = match macros::kind_of(mac) {
            MacroKind::Exprs => {
                let (exprs, complete) = macros::parse_exprs(&mac.tokens);
                for expr in exprs {
                    self.visit_expr(&expr);
                }
                complete
            }
            MacroKind::Join => {
                let (exprs, complete) = macros::parse_exprs(&mac.tokens);
                for expr in exprs {
                    self.visit_awaited(&expr);
                }
                self.push_await(head);
                complete
            }
            MacroKind::Select => {
                let parts = macros::parse_select(&mac.tokens);
                for future in &parts.futures {
                    self.visit_awaited(future);
                }
                self.push_await(head);
                for other in &parts.others {
                    self.visit_scoped(other);
                }
                parts.complete
            }
            // A macro of unknown meaning whose arguments are plain expressions
            // (`assert_ok!(f().await)`, `sqlx::query!(q, id)`) evaluates them.
            MacroKind::Opaque => match macros::parse_expr_list(&mac.tokens) {
                Some(exprs) => {
                    for expr in exprs {
                        self.visit_expr(&expr);
                    }
                    true
                }
                None => false,
            },
        };
        // Whatever did not parse may still await: an await missed would hide a held guard
        // and make an awaiting function look like it never awaits. Awaits seen twice are
        // merged when the function is finished.
        if !complete {
            for (dot, await_token) in macros::await_tokens(&mac.tokens) {
                let span = self.span(dot, await_token);
                self.push_await(span);
            }
        }
    }

    fn on_if(&mut self, i: &ExprIf) {
        let then_end = self.byte_start(i.then_branch.brace_token.span.close());
        self.push_frame();
        if condition_has_let(&i.cond) {
            let end = if self.edition >= 2024 {
                then_end
            } else {
                self.ctx.temp_end
            };
            let saved = self.ctx.let_scrutinee_end.replace(end);
            self.visit_expr(&i.cond);
            self.ctx.let_scrutinee_end = saved;
        } else {
            self.visit_condition(&i.cond);
        }
        self.walk_block(&i.then_branch, true);
        self.pop_frame();
        if let Some((_, other)) = &i.else_branch {
            match &**other {
                Expr::If(nested) => self.on_if(nested),
                other => self.visit_scoped(other),
            }
        }
    }

    /// An `if`/`while` condition without `let`: a temporary scope of its own.
    fn visit_condition(&mut self, cond: &Expr) {
        let saved = self.ctx.temp_end;
        self.ctx.temp_end = self.byte_end(end_of(cond));
        self.visit_expr(cond);
        self.ctx.temp_end = saved;
    }

    fn on_while(&mut self, w: &ExprWhile) {
        self.push_frame();
        if condition_has_let(&w.cond) {
            let end = self.byte_start(w.body.brace_token.span.close());
            let saved = self.ctx.let_scrutinee_end.replace(end);
            self.visit_expr(&w.cond);
            self.ctx.let_scrutinee_end = saved;
        } else {
            self.visit_condition(&w.cond);
        }
        self.walk_block(&w.body, true);
        self.pop_frame();
    }

    fn on_let_expr(&mut self, l: &ExprLet) {
        let saved_temp = self.ctx.temp_end;
        let scrutinee_end = self.ctx.let_scrutinee_end.take();
        if let Some(end) = scrutinee_end {
            self.ctx.temp_end = end;
        }
        self.visit_expr(&l.expr);
        self.ctx.temp_end = saved_temp;
        self.ctx.let_scrutinee_end = scrutinee_end;
        self.bind_pattern(&l.pat, None);
    }

    fn on_for(&mut self, f: &ExprForLoop) {
        // The iterator expression's temporaries live as long as the loop.
        self.visit_expr(&f.expr);
        self.push_frame();
        self.bind_pattern(&f.pat, None);
        self.walk_block(&f.body, true);
        self.pop_frame();
    }

    fn on_match(&mut self, m: &ExprMatch) {
        // Scrutinee temporaries live to the end of the enclosing statement: every arm.
        self.visit_expr(&m.expr);
        for arm in &m.arms {
            self.push_frame();
            self.bind_pattern(&arm.pat, None);
            if let Some((_, guard)) = &arm.guard {
                self.visit_condition(guard);
            }
            self.visit_scoped(&arm.body);
            self.pop_frame();
        }
    }
}

impl Lowerer<'_> {
    /// Visits an expression. For call chains (`a.b()?.c().await`) it also returns where the
    /// expression starts, computed on the way: asking `start_of` at every link would make a
    /// chain of n calls cost n².
    fn walk_expr(&mut self, expr: &Expr) -> Option<proc_macro2::Span> {
        match expr {
            Expr::Call(c) => return Some(self.on_call(c, false)),
            Expr::MethodCall(m) => return Some(self.on_method_call(m, false)),
            Expr::Await(a) => return self.on_await(a),
            Expr::Field(f) => return self.walk_expr(&f.base),
            Expr::Try(t) => return self.walk_expr(&t.expr),
            Expr::Cast(c) => return self.walk_expr(&c.expr),
            Expr::Index(i) => {
                let start = self.walk_expr(&i.expr);
                self.walk_expr(&i.index);
                return start;
            }
            Expr::Paren(p) => {
                self.walk_expr(&p.expr);
                return Some(p.paren_token.span.open());
            }
            Expr::Path(p) if p.qself.is_none() => return Some(path_start(&p.path)),
            Expr::Binary(b) => {
                let start = self.walk_expr(&b.left);
                if matches!(b.op, BinOp::And(_) | BinOp::Or(_))
                    && !matches!(&*b.right, Expr::Let(_))
                {
                    // The right operand of a lazy boolean is a temporary scope.
                    let saved = self.ctx.temp_end;
                    self.ctx.temp_end = self.byte_end(end_of(&b.right));
                    self.walk_expr(&b.right);
                    self.ctx.temp_end = saved;
                } else {
                    self.walk_expr(&b.right);
                }
                return start;
            }
            Expr::Closure(c) => self.on_closure(c),
            Expr::Async(a) => self.on_async_block(a),
            Expr::Block(b) => self.walk_block(&b.block, false),
            Expr::Unsafe(u) => self.walk_block(&u.block, false),
            Expr::Loop(l) => self.walk_block(&l.body, true),
            Expr::If(i) => self.on_if(i),
            Expr::While(w) => self.on_while(w),
            Expr::ForLoop(f) => self.on_for(f),
            Expr::Match(m) => self.on_match(m),
            Expr::Let(l) => self.on_let_expr(l),
            Expr::Macro(m) => self.on_macro(&m.mac),
            _ => visit::visit_expr(self, expr),
        }
        None
    }
}

impl<'ast> Visit<'ast> for Lowerer<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        self.walk_expr(expr);
    }

    fn visit_block(&mut self, block: &'ast Block) {
        self.walk_block(block, true);
    }

    fn visit_stmt(&mut self, stmt: &'ast Stmt) {
        match stmt {
            Stmt::Local(local) => self.on_local(local),
            Stmt::Item(item) => self.lower_block_item(item),
            Stmt::Expr(expr, _) => self.visit_expr(expr),
            Stmt::Macro(m) => self.on_macro(&m.mac),
        }
    }

    fn visit_item(&mut self, item: &'ast Item) {
        self.lower_block_item(item);
    }

    fn visit_macro(&mut self, mac: &'ast Macro) {
        self.on_macro(mac);
    }

    // Patterns, types and attributes hold no calls worth reporting; bindings are handled
    // where patterns occur.
    fn visit_pat(&mut self, _: &'ast Pat) {}

    fn visit_type(&mut self, _: &'ast Type) {}

    fn visit_attribute(&mut self, _: &'ast Attribute) {}
}

/// Resolves every guard's live range to the awaits it contains.
fn finish_guards(
    guards: Vec<PendingGuard>,
    awaits: &[Span],
    moves: &[(String, usize)],
    shadows: &[(String, usize)],
) -> Vec<Guard> {
    guards
        .into_iter()
        .filter_map(|g| {
            let mut until = g.until;
            let shadowed_at = |binding: &str| {
                shadows
                    .iter()
                    .filter(|(name, at)| name == binding && *at > g.from && *at <= g.until)
                    .map(|(_, at)| *at)
                    .min()
                    .unwrap_or(usize::MAX)
            };
            if g.bound
                && let Some(binding) = &g.binding
                && let Some(moved_at) = moves
                    .iter()
                    .filter(|(name, at)| name == binding && *at > g.from && *at <= g.until)
                    .map(|(_, at)| *at)
                    .filter(|at| *at < shadowed_at(binding))
                    .min()
            {
                until = until.min(moved_at);
            }
            let first = awaits.partition_point(|a| (a.start_byte as usize) < g.from);
            let held: Vec<Span> = awaits
                .get(first..)
                .unwrap_or_default()
                .iter()
                .take_while(|a| (a.start_byte as usize) < until)
                .copied()
                .collect();
            (!held.is_empty()).then_some(Guard {
                acquire: g.acquire,
                span: g.span,
                binding: g.binding,
                awaits: held,
                text: g.text,
                arg_count: 0,
            })
        })
        .collect()
}

/// The guard-producing call an initializer yields, through `?`, `.unwrap()`-style adapters
/// and temporary lifetime extension (`&m.lock().unwrap().field`).
fn guard_call_in(expr: &Expr) -> Option<&ExprMethodCall> {
    let mut e = peel_parens(expr);
    if let Expr::Reference(r) = e {
        e = peel_parens(&r.expr);
        loop {
            match e {
                Expr::Field(f) => e = peel_parens(&f.base),
                Expr::Index(i) => e = peel_parens(&i.expr),
                Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => e = peel_parens(&u.expr),
                _ => break,
            }
        }
    }
    loop {
        match e {
            Expr::Try(t) => e = peel_parens(&t.expr),
            Expr::MethodCall(m) => {
                let name = ident_name(&m.method);
                if GUARD_METHODS.contains(&name.as_str()) && m.args.is_empty() {
                    return Some(m);
                }
                if !GUARD_ADAPTERS.contains(&name.as_str()) {
                    return None;
                }
                e = peel_parens(&m.receiver);
            }
            _ => return None,
        }
    }
}

/// `lazy_static!` and `thread_local!` declare statics.
fn is_static_macro(mac: &Macro) -> bool {
    mac.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "lazy_static" || s.ident == "thread_local")
}

fn condition_has_let(cond: &Expr) -> bool {
    match peel_parens(cond) {
        Expr::Let(_) => true,
        Expr::Binary(b) if matches!(b.op, BinOp::And(_)) => {
            condition_has_let(&b.left) || condition_has_let(&b.right)
        }
        _ => false,
    }
}

fn split_type(pat: &Pat) -> (&Pat, Option<&Type>) {
    match pat {
        Pat::Type(t) => (&t.pat, Some(&t.ty)),
        other => (other, None),
    }
}

/// The variable a `let` pattern binds the guard to: `g` in `let g`, `let mut g`,
/// `let Ok(g)`, `let Some(mut g)`.
fn pat_binding(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(p) => Some(ident_name(&p.ident)),
        Pat::Type(t) => pat_binding(&t.pat),
        Pat::Paren(p) => pat_binding(&p.pat),
        Pat::Reference(r) => pat_binding(&r.pat),
        Pat::TupleStruct(ts) if ts.elems.len() == 1 => ts.elems.first().and_then(pat_binding),
        _ => None,
    }
}

/// Where the name a pattern binds is written.
fn start_of_pat(pat: &Pat) -> proc_macro2::Span {
    match pat {
        Pat::Ident(p) => p.ident.span(),
        Pat::Type(t) => start_of_pat(&t.pat),
        Pat::Paren(p) => start_of_pat(&p.pat),
        Pat::Reference(r) => start_of_pat(&r.pat),
        Pat::TupleStruct(ts) => ts
            .elems
            .first()
            .map_or_else(|| syn::spanned::Spanned::span(&ts.path), start_of_pat),
        other => syn::spanned::Spanned::span(other),
    }
}

/// A parameter's name as facts report it (`_` when destructured beyond recognition).
fn pat_name(pat: &Pat) -> String {
    pat_binding(pat).unwrap_or_else(|| "_".to_string())
}

fn member_name(member: &Member) -> String {
    match member {
        Member::Named(i) => ident_name(i),
        Member::Unnamed(i) => i.index.to_string(),
    }
}

/// A name that denotes a function rather than a type, variant or constant.
fn is_function_name(name: &str) -> bool {
    !is_type_like(name) && !is_screaming_case(name) && name != "self"
}

fn is_wrapping_constructor(path: &str) -> bool {
    let mut parts = path.rsplit("::");
    let (Some(method), Some(ty)) = (parts.next(), parts.next()) else {
        return false;
    };
    WRAPPING_CONSTRUCTORS.contains(&(ty, method))
}

fn extend_unique(into: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

/// Where a function's definition starts: its visibility or its first keyword.
fn fn_start(vis: &Visibility, sig: &Signature) -> proc_macro2::Span {
    match vis {
        Visibility::Public(p) => return p.span,
        Visibility::Restricted(r) => return r.pub_token.span,
        Visibility::Inherited => {}
    }
    if let Some(t) = &sig.constness {
        t.span
    } else if let Some(t) = &sig.asyncness {
        t.span
    } else if let Some(t) = &sig.unsafety {
        t.span
    } else if let Some(abi) = &sig.abi {
        abi.extern_token.span
    } else {
        sig.fn_token.span
    }
}

/// `static [ref] NAME: Type = expr;` declarations of `lazy_static!` / `thread_local!`.
fn parse_static_decls(tokens: &proc_macro2::TokenStream) -> Vec<(syn::Ident, Type)> {
    use syn::parse::{ParseStream, Parser};
    let mut out = Vec::new();
    let parser = |input: ParseStream| -> syn::Result<()> {
        while !input.is_empty() {
            input.call(Attribute::parse_outer)?;
            input.parse::<Visibility>()?;
            input.parse::<syn::Token![static]>()?;
            if input.peek(syn::Token![ref]) {
                input.parse::<syn::Token![ref]>()?;
            }
            let ident: syn::Ident = input.parse()?;
            input.parse::<syn::Token![:]>()?;
            let ty: Type = input.parse()?;
            input.parse::<syn::Token![=]>()?;
            input.parse::<Expr>()?;
            out.push((ident, ty));
            if input.peek(syn::Token![;]) {
                input.parse::<syn::Token![;]>()?;
            }
        }
        Ok(())
    };
    // A declaration that does not parse ends the list; the ones before it are kept.
    let _ = parser.parse2(tokens.clone());
    out
}

/// Short constant arguments (`#0=0`, `#1=false`, `#0=Duration::ZERO`,
/// `#0=Duration::from_secs(0)`), whitespace removed, for the catalog's `unless-args`.
fn literal_args<'e>(args: impl Iterator<Item = &'e syn::Expr>) -> Vec<String> {
    fn constant(e: &syn::Expr) -> bool {
        match e {
            syn::Expr::Lit(_) | syn::Expr::Path(_) => true,
            syn::Expr::Call(c) => {
                matches!(&*c.func, syn::Expr::Path(_))
                    && c.args.iter().all(|a| matches!(a, syn::Expr::Lit(_)))
            }
            _ => false,
        }
    }
    args.enumerate()
        .filter(|(_, a)| constant(a))
        .filter_map(|(i, a)| {
            let text: String = quote::ToTokens::to_token_stream(a)
                .to_string()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            (text.len() <= 48).then(|| format!("#{i}={text}"))
        })
        .take(8)
        .collect()
}
