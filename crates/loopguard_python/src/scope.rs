//! Scopes and the names they bind, collected during the walk and consulted afterwards, when
//! every binding of the file is known (Python names are resolved per scope, not per line).

use rustc_hash::FxHashMap as HashMap;

use tree_sitter::Node;

pub(crate) type ScopeId = u32;

/// The module scope is always the first one.
pub(crate) const MODULE_SCOPE: ScopeId = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    Module,
    /// A `def` or `lambda`: the function id.
    Function(u32),
    /// A class body: the class index. Visible only to code directly in the body.
    Class(u32),
}

/// What the first parameter of a method stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamRole {
    Plain,
    /// `self` of an instance method of the class.
    SelfOf(u32),
    /// `cls` of a classmethod of the class.
    ClsOf(u32),
}

#[derive(Clone, Debug)]
pub(crate) enum Binding<'a> {
    /// `import a.b as x`, `from a import b`: the dotted target path.
    Import(String),
    /// `def name`: the function id.
    Def(u32),
    /// `class Name`: the class index.
    Class(u32),
    Param {
        annotation: Option<Node<'a>>,
        role: ParamRole,
    },
    /// An assignment, annotated declaration, `with .. as`, walrus or `type X = ..`.
    Var {
        value: Option<Node<'a>>,
        annotation: Option<Node<'a>>,
        /// The statement that binds it (for spans of globals).
        site: Node<'a>,
    },
    /// Bound, type unknowable (loop targets, unpacking, `except .. as`, comprehension vars).
    Opaque,
    /// `global name`: the name lives in the module scope.
    Global,
    /// `nonlocal name`: the name lives in an enclosing function.
    Nonlocal,
}

/// How much a value expression tells about a variable's type; a later assignment replaces
/// an earlier one only when it tells more (`x = None` then `x = Client()`).
fn value_rank(value: Option<Node<'_>>) -> u8 {
    match value.map(crate::syntax::kind) {
        None | Some("none") => 0,
        Some(
            "string"
            | "concatenated_string"
            | "integer"
            | "float"
            | "true"
            | "false"
            | "list"
            | "dictionary"
            | "set"
            | "tuple"
            | "list_comprehension"
            | "dictionary_comprehension"
            | "set_comprehension"
            | "expression_list",
        ) => 1,
        Some(_) => 2,
    }
}

pub(crate) struct Scope<'a> {
    pub kind: ScopeKind,
    pub parent: Option<ScopeId>,
    pub bindings: HashMap<&'a str, Binding<'a>>,
    /// Binding names in first-bound order, so module aliases/globals come out deterministic.
    pub order: Vec<&'a str>,
}

impl<'a> Scope<'a> {
    pub fn new(kind: ScopeKind, parent: Option<ScopeId>) -> Self {
        Scope {
            kind,
            parent,
            bindings: HashMap::default(),
            order: Vec::new(),
        }
    }

    /// Records a binding of `name`. Python scoping is flow-insensitive: any binding makes the
    /// name local to the scope, and for its type the most telling binding is kept.
    pub fn bind(&mut self, name: &'a str, binding: Binding<'a>) {
        use std::collections::hash_map::Entry;
        match self.bindings.entry(name) {
            Entry::Vacant(slot) => {
                slot.insert(binding);
                self.order.push(name);
            }
            Entry::Occupied(mut slot) => {
                let existing = slot.get_mut();
                if let Some(merged) = merge(existing, binding) {
                    *existing = merged;
                }
            }
        }
    }

    pub fn is_global_declared(&self, name: &str) -> bool {
        matches!(self.bindings.get(name), Some(Binding::Global))
    }
}

/// The binding that should replace `existing` when `new` binds the same name, if any.
fn merge<'a>(existing: &mut Binding<'a>, new: Binding<'a>) -> Option<Binding<'a>> {
    match (existing, new) {
        // Declarations decide where the name lives, whatever came first.
        (_, new @ (Binding::Global | Binding::Nonlocal)) => Some(new),
        (Binding::Global | Binding::Nonlocal, _) => None,
        (
            Binding::Var {
                value, annotation, ..
            },
            Binding::Var {
                value: new_value,
                annotation: new_annotation,
                site,
            },
        ) => {
            if annotation.is_none() {
                *annotation = new_annotation;
            }
            if value_rank(new_value) > value_rank(*value) {
                *value = new_value;
                // The site follows the value that gives the type.
                return Some(Binding::Var {
                    value: new_value,
                    annotation: *annotation,
                    site,
                });
            }
            None
        }
        // `def f(session=None): session = session or Session()` types an untyped parameter.
        (
            Binding::Param {
                annotation: None,
                role: ParamRole::Plain,
            },
            new @ Binding::Var { .. },
        ) => Some(new),
        (Binding::Opaque, new @ Binding::Var { .. }) => Some(new),
        _ => None,
    }
}
