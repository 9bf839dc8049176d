//! Name and type resolution over the walked file, and assembly of the final facts.
//!
//! Everything here works from the bindings the walk recorded: no tree walk of its own, only
//! a look at the few nodes of each queued expression. Recursion (through attribute chains
//! and variables assigned from variables) is bounded by [`MAX_DEPTH`] and by a guard against
//! a variable being resolved in terms of itself (`x = x.next()`).

use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;

use loopguard_core::facts::{
    Alias, CallKind, CallSite, Callee, Class, Decorator, FileFacts, Guard, Language, Param,
    TypeRef, Variable,
};
use loopguard_core::span::{LineIndex, Span};
use tree_sitter::Node;

use crate::builtins::{is_builtin, is_builtin_callback};
use crate::scope::{Binding, MODULE_SCOPE, ParamRole, ScopeId, ScopeKind};
use crate::syntax::{
    Field, callee_text, child, children_in, first_named, kind, named_children, normalized_text,
    strip_parens, text,
};
use crate::walk::{ClassInfo, LockCall, Pending, Walked, join, param_parts};

/// How deep resolution follows attribute chains, calls and variables.
const MAX_DEPTH: u32 = 40;

/// What an expression denotes, as far as this file tells.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    /// A module, class, function or module-level object elsewhere, by dotted path.
    Path(String),
    /// A value of a known (or derivable) type.
    Typed(TypeRef),
    /// `self` in a method of the class (index).
    SelfOf(u32),
    /// `super()` in a method of the class (qualified name).
    Super(String),
    /// A variable holding a lambda (function id).
    Lambda(u32),
    Unknown,
}

/// How a generic type's arguments are treated.
enum Peel {
    /// `Optional[T]`, `Annotated[T, ..]`, `Final[T]`: the type is `T`.
    First,
    /// `Union[T, None]`: the first argument that is not `None`.
    FirstNotNone,
    /// Keep the generic itself, drop its arguments.
    Keep,
}

fn peel_rule(path: &str, peel_iterators: bool) -> Peel {
    let short = path
        .strip_prefix("typing.")
        .or_else(|| path.strip_prefix("typing_extensions."))
        .or_else(|| path.strip_prefix("collections.abc."));
    match short {
        Some(
            "Optional" | "Annotated" | "Final" | "ClassVar" | "Required" | "NotRequired"
            | "ReadOnly",
        ) => Peel::First,
        Some("Union") => Peel::FirstNotNone,
        // The value a `@contextmanager` generator yields is what `with .. as x` binds.
        Some(
            "Iterator" | "Generator" | "Iterable" | "AsyncIterator" | "AsyncGenerator"
            | "AsyncIterable",
        ) if peel_iterators => Peel::First,
        _ => Peel::Keep,
    }
}

fn is_annotated(path: &str) -> bool {
    matches!(path, "typing.Annotated" | "typing_extensions.Annotated")
}

/// Types whose methods never block and whose attributes are never properties worth a site:
/// recording them would only bloat facts.
fn is_builtin_type(ty: &TypeRef) -> bool {
    match ty {
        TypeRef::Named(path) => path.starts_with("builtins."),
        TypeRef::Returned(callee) => {
            matches!(&**callee, Callee::Path(p) if p.starts_with("builtins."))
        }
        _ => false,
    }
}

pub(crate) struct Resolver<'w, 'a> {
    walked: &'w Walked<'a>,
    source: &'a str,
    /// Variables being resolved right now: a variable defined through itself is unknown.
    resolving: RefCell<Vec<(ScopeId, &'a str)>>,
    /// Classes of this file by qualified name.
    classes_by_name: HashMap<&'w str, u32>,
    /// Parameter names of each function, listed on first use: every call site that passes
    /// a plain name asks for its function's parameters (see `param_args`).
    param_names: Vec<std::cell::OnceCell<Vec<&'a str>>>,
}

impl<'w, 'a> Resolver<'w, 'a> {
    fn text(&self, node: Node<'_>) -> &'a str {
        text(self.source, node)
    }

    fn function_qualname(&self, fid: u32) -> String {
        self.walked
            .functions
            .get(fid as usize)
            .map(|f| f.qualname.clone())
            .unwrap_or_default()
    }

    fn class(&self, class: u32) -> Option<&'w ClassInfo<'a>> {
        self.walked.classes.get(class as usize)
    }

    fn class_qualname(&self, class: u32) -> String {
        self.class(class)
            .map(|c| c.qualname.clone())
            .unwrap_or_default()
    }

    /// The binding `name` refers to from `scope` and the scope that holds it, following
    /// Python's rules: class scopes are seen only from the class body itself.
    fn lookup(&self, name: &str, scope: ScopeId) -> Option<(ScopeId, &'w Binding<'a>)> {
        let scopes = &self.walked.scopes;
        let mut current = Some(scope);
        let mut first = true;
        while let Some(id) = current {
            let s = scopes.get(id as usize)?;
            let visible = first || !matches!(s.kind, ScopeKind::Class(_));
            if visible && let Some(binding) = s.bindings.get(name) {
                match binding {
                    Binding::Global => {
                        let module = scopes.get(MODULE_SCOPE as usize)?;
                        return module.bindings.get(name).map(|b| (MODULE_SCOPE, b));
                    }
                    Binding::Nonlocal => {}
                    _ => return Some((id, binding)),
                }
            }
            first = false;
            current = s.parent;
        }
        None
    }

    /// A name bound nowhere in the file: a builtin, or else whatever a star import brought.
    fn unbound(&self, name: &str) -> Value {
        match self.walked.star_imports.last() {
            Some(star) if !is_builtin(name) => Value::Path(join(star, name)),
            _ => Value::Path(join("builtins", name)),
        }
    }

    /// The scope annotations of parameters bound in `scope` are evaluated in.
    fn annotation_scope(&self, scope: ScopeId) -> ScopeId {
        match self.walked.scopes.get(scope as usize).map(|s| s.kind) {
            Some(ScopeKind::Function(fid)) => self
                .walked
                .fn_info
                .get(fid as usize)
                .map_or(scope, |info| info.outer_scope),
            _ => scope,
        }
    }

    fn resolve_name(&self, name: &'a str, scope: ScopeId, depth: u32) -> Value {
        let Some((bound_in, binding)) = self.lookup(name, scope) else {
            return self.unbound(name);
        };
        match binding {
            Binding::Import(target) => Value::Path(target.clone()),
            Binding::Def(fid) => Value::Path(self.function_qualname(*fid)),
            Binding::Class(class) => Value::Path(self.class_qualname(*class)),
            Binding::Param { annotation, role } => match role {
                ParamRole::SelfOf(class) => Value::SelfOf(*class),
                ParamRole::ClsOf(class) => Value::Path(self.class_qualname(*class)),
                ParamRole::Plain => annotation
                    .and_then(|a| {
                        self.type_ref(a, self.annotation_scope(bound_in), depth + 1, false)
                    })
                    .map_or(Value::Unknown, Value::Typed),
            },
            Binding::Var {
                value, annotation, ..
            } => {
                if let Some(ty) =
                    annotation.and_then(|a| self.type_ref(a, bound_in, depth + 1, false))
                {
                    return Value::Typed(ty);
                }
                let Some(value) = value else {
                    return Value::Unknown;
                };
                if self.resolving.borrow().contains(&(bound_in, name)) {
                    return Value::Unknown;
                }
                self.resolving.borrow_mut().push((bound_in, name));
                let resolved = self.value_of(*value, bound_in, depth + 1);
                self.resolving.borrow_mut().pop();
                resolved
            }
            Binding::Opaque | Binding::Global | Binding::Nonlocal => Value::Unknown,
        }
    }

    /// `C._lock` for a class `C` of this file (`with cls._lock:`, `Registry._lock.acquire()`)
    /// is a field of `C`; its methods and nested classes stay paths.
    fn class_data_attribute(&self, class_path: &str, name: &str) -> Option<TypeRef> {
        let class = *self.classes_by_name.get(class_path)?;
        let info = self.class(class)?;
        let member = self
            .walked
            .scopes
            .get(info.scope as usize)
            .and_then(|s| s.bindings.get(name));
        if matches!(member, Some(Binding::Def(_) | Binding::Class(_))) {
            return None;
        }
        Some(TypeRef::Field {
            owner: Box::new(TypeRef::Named(class_path.to_owned())),
            name: name.to_owned(),
        })
    }

    /// The class of the method `scope` belongs to, for `super()`.
    fn enclosing_method_class(&self, scope: ScopeId) -> Option<String> {
        let mut current = Some(scope);
        while let Some(id) = current {
            let s = self.walked.scopes.get(id as usize)?;
            if let ScopeKind::Function(fid) = s.kind {
                return self.walked.functions.get(fid as usize)?.class.clone();
            }
            current = s.parent;
        }
        None
    }

    fn value_of(&self, node: Node<'a>, scope: ScopeId, depth: u32) -> Value {
        if depth > MAX_DEPTH {
            return Value::Unknown;
        }
        match kind(node) {
            "identifier" => self.resolve_name(self.text(node), scope, depth),
            "attribute" => {
                let (Some(object), Some(attribute)) =
                    (child(node, Field::Object), child(node, Field::Attribute))
                else {
                    return Value::Unknown;
                };
                let name = self.text(attribute);
                match self.value_of(object, scope, depth + 1) {
                    Value::Path(path) => match self.class_data_attribute(&path, name) {
                        Some(field) => Value::Typed(field),
                        None => Value::Path(join(&path, name)),
                    },
                    Value::Typed(owner) => Value::Typed(TypeRef::Field {
                        owner: Box::new(owner),
                        name: name.to_owned(),
                    }),
                    Value::SelfOf(class) => Value::Typed(TypeRef::Field {
                        owner: Box::new(TypeRef::Named(self.class_qualname(class))),
                        name: name.to_owned(),
                    }),
                    Value::Super(_) | Value::Lambda(_) | Value::Unknown => Value::Unknown,
                }
            }
            "call" => {
                let Some(function) = child(node, Field::Function) else {
                    return Value::Unknown;
                };
                let function = strip_parens(function);
                if kind(function) == "identifier"
                    && self.text(function) == "super"
                    && self.lookup("super", scope).is_none()
                    && let Some(class) = self.enclosing_method_class(scope)
                {
                    return Value::Super(class);
                }
                match self.callee_of(function, scope, depth + 1) {
                    // An unknown method's result is unknown: saying so lets the analysis fall
                    // back to the method name of whatever is called on it.
                    Some(Callee::UnknownMethod { .. }) | None => Value::Unknown,
                    Some(callee) => Value::Typed(TypeRef::Returned(Box::new(callee))),
                }
            }
            "await" | "parenthesized_expression" => match first_named(node) {
                Some(inner) => self.value_of(inner, scope, depth + 1),
                None => Value::Unknown,
            },
            "named_expression" => match child(node, Field::Value) {
                Some(inner) => self.value_of(inner, scope, depth + 1),
                None => Value::Unknown,
            },
            "lambda" => self
                .walked
                .lambdas
                .get(&node.id())
                .map_or(Value::Unknown, |&fid| Value::Lambda(fid)),
            "boolean_operator" | "conditional_expression" => {
                // `a or b`, `a if c else b`: the first alternative whose type is known.
                let mut cursor = node.walk();
                let parts = named_children(node, &mut cursor);
                let alternatives: Vec<Node<'a>> = if kind(node) == "conditional_expression" {
                    parts.into_iter().step_by(2).collect()
                } else {
                    parts
                };
                for alternative in alternatives {
                    let value = self.value_of(alternative, scope, depth + 1);
                    if value != Value::Unknown {
                        return value;
                    }
                }
                Value::Unknown
            }
            "string" | "concatenated_string" => {
                let prefix: String = self
                    .text(node)
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                if prefix.contains(['b', 'B']) {
                    builtin_value("bytes")
                } else {
                    builtin_value("str")
                }
            }
            "integer" => builtin_value("int"),
            "float" => builtin_value("float"),
            "true" | "false" => builtin_value("bool"),
            "list" | "list_comprehension" => builtin_value("list"),
            "dictionary" | "dictionary_comprehension" => builtin_value("dict"),
            "set" | "set_comprehension" => builtin_value("set"),
            "tuple" => builtin_value("tuple"),
            _ => Value::Unknown,
        }
    }

    /// What calling `node` calls.
    fn callee_of(&self, node: Node<'a>, scope: ScopeId, depth: u32) -> Option<Callee> {
        if depth > MAX_DEPTH {
            return None;
        }
        let node = strip_parens(node);
        match kind(node) {
            "identifier" => match self.resolve_name(self.text(node), scope, depth + 1) {
                Value::Path(path) => Some(Callee::Path(path)),
                // Calling a parameter, an instance or an unknown local: nothing to resolve.
                _ => None,
            },
            "attribute" => {
                let object = child(node, Field::Object)?;
                let name = self.text(child(node, Field::Attribute)?).to_owned();
                Some(match self.value_of(object, scope, depth + 1) {
                    Value::Path(path) => Callee::Path(join(&path, &name)),
                    Value::Typed(receiver) => Callee::Method { receiver, name },
                    Value::SelfOf(class) => Callee::Path(join(&self.class_qualname(class), &name)),
                    Value::Super(class) => Callee::Super { class, name },
                    Value::Lambda(_) | Value::Unknown => Callee::UnknownMethod { name },
                })
            }
            _ => None,
        }
    }

    /// The dotted path a type expression's head names (`typing.Optional`, `app.db.Service`).
    fn path_of(&self, node: Node<'a>, scope: ScopeId, depth: u32) -> Option<String> {
        match self.value_of(node, scope, depth + 1) {
            Value::Path(path) => Some(path),
            _ => None,
        }
    }

    /// If `name` is a type alias (`X = Annotated[..]`, `type X = ..`), the aliased type
    /// expression and the scope it is written in.
    fn type_alias(&self, name: &str, scope: ScopeId) -> Option<(Node<'a>, ScopeId)> {
        let (bound_in, binding) = self.lookup(name, scope)?;
        let Binding::Var {
            value: Some(value),
            annotation,
            ..
        } = binding
        else {
            return None;
        };
        let annotated_alias = annotation.is_none_or(|a| self.text(a).ends_with("TypeAlias"));
        let type_like = matches!(
            kind(*value),
            "type" | "subscript" | "generic_type" | "binary_operator" | "union_type" | "string"
        );
        (annotated_alias && type_like).then_some((*value, bound_in))
    }

    /// The type an annotation denotes, wrappers peeled (see [`TypeRef::Named`]).
    fn type_ref(
        &self,
        node: Node<'a>,
        scope: ScopeId,
        depth: u32,
        peel_iterators: bool,
    ) -> Option<TypeRef> {
        if depth > MAX_DEPTH {
            return None;
        }
        let depth = depth + 1;
        match kind(node) {
            "type" | "parenthesized_expression" => {
                self.type_ref(first_named(node)?, scope, depth, peel_iterators)
            }
            "identifier" => {
                if let Some((alias, alias_scope)) = self.type_alias(self.text(node), scope) {
                    return self.type_ref(alias, alias_scope, depth, peel_iterators);
                }
                self.path_of(node, scope, depth).map(TypeRef::Named)
            }
            "attribute" => self.path_of(node, scope, depth).map(TypeRef::Named),
            "generic_type" => {
                let base = first_named(node)?;
                let arguments = generic_arguments(node);
                self.generic(base, &arguments, scope, depth, peel_iterators)
            }
            "subscript" => {
                let base = child(node, Field::Value)?;
                let arguments = children_in(node, Field::Subscript);
                self.generic(base, &arguments, scope, depth, peel_iterators)
            }
            "union_type" | "binary_operator" => {
                let mut cursor = node.walk();
                named_children(node, &mut cursor)
                    .into_iter()
                    .find_map(|part| self.type_ref(part, scope, depth, peel_iterators))
            }
            "string" => {
                let content = named_children(node, &mut node.walk())
                    .into_iter()
                    .find(|n| kind(*n) == "string_content")?;
                self.type_ref_text(self.text(content), scope, depth, peel_iterators)
            }
            _ => None,
        }
    }

    fn generic(
        &self,
        base: Node<'a>,
        arguments: &[Node<'a>],
        scope: ScopeId,
        depth: u32,
        peel_iterators: bool,
    ) -> Option<TypeRef> {
        let path = self.path_of(base, scope, depth)?;
        match peel_rule(&path, peel_iterators) {
            Peel::First => self.type_ref(*arguments.first()?, scope, depth, false),
            Peel::FirstNotNone => arguments
                .iter()
                .find_map(|a| self.type_ref(*a, scope, depth, false)),
            Peel::Keep => Some(TypeRef::Named(path)),
        }
    }

    /// A string annotation (`"Foo"`, `"Optional[app.X]"`, `"Foo | None"`), read without
    /// parsing it again: top-level `|` alternatives, one level of generic, dotted names.
    fn type_ref_text(
        &self,
        annotation: &str,
        scope: ScopeId,
        depth: u32,
        peel_iterators: bool,
    ) -> Option<TypeRef> {
        if depth > MAX_DEPTH {
            return None;
        }
        let depth = depth + 1;
        let alternative = split_top_level(annotation, '|')
            .into_iter()
            .map(str::trim)
            .find(|part| !part.is_empty() && *part != "None")?;
        if let Some(open) = alternative.find('[') {
            let base = alternative.get(..open)?.trim();
            let inner = alternative.get(open + 1..)?.trim_end().strip_suffix(']')?;
            let arguments = split_top_level(inner, ',');
            let path = self.dotted_text_path(base, scope, depth)?;
            return match peel_rule(&path, peel_iterators) {
                Peel::First => self.type_ref_text(arguments.first()?, scope, depth, false),
                Peel::FirstNotNone => arguments
                    .iter()
                    .find_map(|a| self.type_ref_text(a, scope, depth, false)),
                Peel::Keep => Some(TypeRef::Named(path)),
            };
        }
        self.dotted_text_path(alternative, scope, depth)
            .map(TypeRef::Named)
    }

    /// `a.b.C` written in a string: `a` resolved like a name, the rest appended.
    fn dotted_text_path(&self, dotted: &str, scope: ScopeId, depth: u32) -> Option<String> {
        let dotted = dotted.trim();
        let valid = !dotted.is_empty()
            && dotted.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_')
            });
        if !valid {
            return None;
        }
        let (head, rest) = dotted.split_once('.').unwrap_or((dotted, ""));
        let head_path = match self.lookup_text_name(head, scope, depth)? {
            Value::Path(path) => path,
            _ => return None,
        };
        Some(join(&head_path, rest))
    }

    fn lookup_text_name(&self, name: &str, scope: ScopeId, depth: u32) -> Option<Value> {
        // Like `resolve_name`, for a name that is not a slice of the source with its
        // lifetime (it comes from inside a string), so it cannot enter the `resolving` guard;
        // variables are followed only while the depth allows.
        match self.lookup(name, scope) {
            None => Some(self.unbound(name)),
            Some((_, Binding::Import(target))) => Some(Value::Path(target.clone())),
            Some((_, Binding::Def(fid))) => Some(Value::Path(self.function_qualname(*fid))),
            Some((_, Binding::Class(class))) => Some(Value::Path(self.class_qualname(*class))),
            Some((bound_in, Binding::Var { value: Some(v), .. })) if depth < MAX_DEPTH => {
                match self.value_of(*v, bound_in, depth + 1) {
                    Value::Path(path) => Some(Value::Path(path)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The call in `Annotated[T, Depends(f)]` metadata (directly, through `Optional`, or
    /// through a type alias), with the scope it is written in.
    fn annotated_call(
        &self,
        node: Node<'a>,
        scope: ScopeId,
        depth: u32,
    ) -> Option<(Node<'a>, ScopeId)> {
        if depth > MAX_DEPTH {
            return None;
        }
        let depth = depth + 1;
        let (base, arguments) = match kind(node) {
            "type" | "parenthesized_expression" => {
                return self.annotated_call(first_named(node)?, scope, depth);
            }
            "identifier" => {
                let (alias, alias_scope) = self.type_alias(self.text(node), scope)?;
                return self.annotated_call(alias, alias_scope, depth);
            }
            "union_type" | "binary_operator" => {
                let mut cursor = node.walk();
                return named_children(node, &mut cursor)
                    .into_iter()
                    .find_map(|part| self.annotated_call(part, scope, depth));
            }
            "generic_type" => (first_named(node)?, generic_arguments(node)),
            "subscript" => (
                child(node, Field::Value)?,
                children_in(node, Field::Subscript),
            ),
            _ => return None,
        };
        let path = self.path_of(base, scope, depth)?;
        if is_annotated(&path) {
            return arguments.iter().skip(1).find_map(|argument| {
                let argument = if kind(*argument) == "type" {
                    first_named(*argument)?
                } else {
                    *argument
                };
                (kind(argument) == "call").then_some((argument, scope))
            });
        }
        match peel_rule(&path, false) {
            Peel::First | Peel::FirstNotNone => arguments
                .iter()
                .find_map(|a| self.annotated_call(*a, scope, depth)),
            Peel::Keep => None,
        }
    }

    /// Argument count, lambdas passed directly, and callables passed by reference.
    fn arguments(&self, arguments: Option<Node<'a>>, scope: ScopeId) -> Arguments {
        self.arguments_and_names(arguments, scope, None)
    }

    /// [`Self::arguments`], and the plain names passed (`f(x, key=y)`: `x`, `y`) into
    /// `names`, in order, for [`Self::param_args`].
    fn arguments_and_names(
        &self,
        arguments: Option<Node<'a>>,
        scope: ScopeId,
        mut names: Option<&mut Vec<&'a str>>,
    ) -> Arguments {
        let mut closures = Vec::new();
        let mut callables = Vec::new();
        let mut literals = Vec::new();
        let Some(arguments) = arguments else {
            return (0, closures, callables, literals);
        };
        let mut cursor = arguments.walk();
        let parts = named_children(arguments, &mut cursor);
        let generator = kind(arguments) == "generator_expression";
        for (index, part) in parts.iter().enumerate() {
            // `f(x for x in xs)`: the generator is the one argument (its parts are listed
            // only for the names, as `param_args` always did).
            if let Some(names) = names.as_deref_mut()
                && let Some(value) = match kind(*part) {
                    "keyword_argument" => child(*part, Field::Value),
                    _ => Some(*part),
                }
                && kind(strip_parens(value)) == "identifier"
            {
                names.push(self.text(strip_parens(value)));
            }
            if generator {
                continue;
            }
            let (expr, label) = match kind(*part) {
                "keyword_argument" => match (child(*part, Field::Value), child(*part, Field::Name))
                {
                    (Some(value), Some(name)) => (value, self.text(name).to_owned()),
                    _ => continue,
                },
                "list_splat" | "dictionary_splat" => continue,
                _ => (*part, format!("#{index}")),
            };
            if literals.len() < 8 && is_literal(expr) {
                let text: String = self
                    .text(expr)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                if text.len() <= 32 {
                    literals.push(format!("{label}={text}"));
                }
            } else if literals.len() < 8
                && matches!(kind(strip_parens(expr)), "identifier" | "call")
                && let Some(class) = self.instance_class(strip_parens(expr), scope)
            {
                // An instance of a known class (`io.BytesIO(data)`, or a local holding one):
                // `#0=:io.BytesIO`, for `unless-args` such as `Image.open` of a buffer.
                literals.push(format!("{label}=:{class}"));
            }
            self.callable_ref(expr, scope, true, &mut closures, &mut callables);
        }
        let count = if generator { 1 } else { parts.len() as u32 };
        (count, closures, callables, literals)
    }

    /// The class an expression is an instance of, when it is a constructor call by path or a
    /// local bound to one (short paths only: they feed `CallSite::args`).
    fn instance_class(&self, expr: Node<'a>, scope: ScopeId) -> Option<String> {
        let ty = match self.value_of(expr, scope, 0) {
            Value::Typed(t) => t,
            _ => return None,
        };
        match ty {
            TypeRef::Returned(callee) => match *callee {
                Callee::Path(p) if p.len() <= 48 => Some(p),
                _ => None,
            },
            TypeRef::Named(p) if p.len() <= 48 => Some(p),
            _ => None,
        }
    }

    /// Records `expr` as a lambda or a callable reference if it is one.
    fn callable_ref(
        &self,
        expr: Node<'a>,
        scope: ScopeId,
        allow_partial: bool,
        closures: &mut Vec<u32>,
        callables: &mut Vec<Callee>,
    ) {
        let expr = strip_parens(expr);
        match kind(expr) {
            "lambda" => closures.extend(self.walked.lambdas.get(&expr.id()).copied()),
            "identifier" => match self.resolve_name(self.text(expr), scope, 0) {
                Value::Path(path) => {
                    let callback = path
                        .strip_prefix("builtins.")
                        .is_none_or(is_builtin_callback);
                    if callback {
                        callables.push(Callee::Path(path));
                    }
                }
                Value::Lambda(fid) => closures.push(fid),
                _ => {}
            },
            "attribute" => match self.callee_of(expr, scope, 0) {
                Some(Callee::UnknownMethod { .. }) | None => {}
                Some(callee) => callables.push(callee),
            },
            // `functools.partial(f, ..)` passed along hands over `f`.
            "call" if allow_partial => {
                let Some(function) = child(expr, Field::Function) else {
                    return;
                };
                if !matches!(self.callee_of(function, scope, 0), Some(Callee::Path(p)) if p == "functools.partial")
                {
                    return;
                }
                let first = child(expr, Field::Arguments).and_then(|args| {
                    let mut cursor = args.walk();
                    named_children(args, &mut cursor)
                        .into_iter()
                        .find(|a| kind(*a) != "keyword_argument")
                });
                if let Some(first) = first {
                    self.callable_ref(first, scope, false, closures, callables);
                }
            }
            _ => {}
        }
    }

    /// The type a value expression gives a variable or attribute.
    fn assigned_type(&self, value: Node<'a>, scope: ScopeId) -> Option<TypeRef> {
        match self.value_of(value, scope, 0) {
            Value::Typed(ty) => Some(ty),
            Value::SelfOf(class) => Some(TypeRef::Named(self.class_qualname(class))),
            _ => None,
        }
    }

    fn variable_type(
        &self,
        value: Option<Node<'a>>,
        annotation: Option<Node<'a>>,
        scope: ScopeId,
    ) -> Option<TypeRef> {
        annotation
            .and_then(|a| self.type_ref(a, scope, 0, false))
            .or_else(|| value.and_then(|v| self.assigned_type(v, scope)))
    }

    /// A decorator's callee: the expression without its call arguments.
    fn decorator_callee(&self, decorator: Node<'a>, scope: ScopeId) -> Option<Callee> {
        let expr = strip_parens(first_named(decorator)?);
        let target = if kind(expr) == "call" {
            child(expr, Field::Function)?
        } else {
            expr
        };
        match kind(target) {
            "identifier" => match self.resolve_name(self.text(target), scope, 0) {
                Value::Path(path) => Some(Callee::Path(path)),
                _ => None,
            },
            _ => self.callee_of(target, scope, 0),
        }
    }

    fn decorators(
        &self,
        decorated: Option<Node<'a>>,
        scope: ScopeId,
        lines: &LineIndex<'_>,
    ) -> Vec<Decorator> {
        let Some(decorated) = decorated else {
            return Vec::new();
        };
        let mut cursor = decorated.walk();
        named_children(decorated, &mut cursor)
            .into_iter()
            .filter(|n| kind(*n) == "decorator")
            .filter_map(|decorator| {
                Some(Decorator {
                    callee: self.decorator_callee(decorator, scope)?,
                    span: span(lines, decorator),
                })
            })
            .collect()
    }

    /// Whether `self.name` in class `class` may run code (a property): declared as one in the
    /// class, or possibly inherited (the class has bases and does not assign it itself).
    fn self_property_possible(&self, class: u32, name: &str) -> bool {
        let Some(info) = self.class(class) else {
            return false;
        };
        let class_binding = self
            .walked
            .scopes
            .get(info.scope as usize)
            .and_then(|s| s.bindings.get(name));
        match class_binding {
            Some(Binding::Def(fid)) => self
                .walked
                .fn_info
                .get(*fid as usize)
                .and_then(|f| f.decorated)
                .is_some_and(|d| self.text(d).contains("property")),
            Some(_) => false,
            None => info.has_bases && !info.self_attrs.contains(name),
        }
    }

    /// Whether `expr` is a dotted path rooted at a module, class, function or builtin
    /// (`os.path`, `Config.DEFAULTS`): attribute reads there are never property sites, and
    /// most attribute reads are of this kind, so they are dismissed before building paths.
    fn names_module_or_class(&self, expr: Node<'a>, scope: ScopeId) -> bool {
        let mut root = expr;
        for _ in 0..MAX_DEPTH {
            if kind(root) != "attribute" {
                break;
            }
            match child(root, Field::Object) {
                Some(object) => root = object,
                None => return false,
            }
        }
        kind(root) == "identifier"
            && matches!(
                self.lookup(self.text(root), scope),
                None | Some((_, Binding::Import(_) | Binding::Def(_) | Binding::Class(_)))
            )
    }

    /// The callee of a dunder (`__getitem__`, `__iter__`, `__enter__`) on the value of
    /// `expr`, when its type is known.
    fn dunder_on(
        &self,
        expr: Node<'a>,
        scope: ScopeId,
        dunder: &str,
        allow_globals: bool,
    ) -> Option<Callee> {
        match self.value_of(expr, scope, 0) {
            Value::SelfOf(class) => Some(Callee::Path(join(&self.class_qualname(class), dunder))),
            Value::Typed(ty) if !is_builtin_type(&ty) => Some(Callee::Method {
                receiver: ty,
                name: dunder.to_owned(),
            }),
            Value::Path(path) if allow_globals && !path.starts_with("builtins.") => {
                Some(Callee::Method {
                    receiver: TypeRef::Global(path),
                    name: dunder.to_owned(),
                })
            }
            _ => None,
        }
    }
}

fn builtin_value(name: &str) -> Value {
    Value::Typed(TypeRef::Named(join("builtins", name)))
}

fn span(lines: &LineIndex<'_>, node: Node<'_>) -> Span {
    lines.span(node.start_byte(), node.end_byte())
}

/// The type arguments of `X[a, b]` in annotation position (`generic_type`).
fn generic_arguments(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    named_children(node, &mut cursor)
        .into_iter()
        .find(|n| kind(*n) == "type_parameter")
        .map(|parameters| {
            let mut cursor = parameters.walk();
            named_children(parameters, &mut cursor)
        })
        .unwrap_or_default()
}

/// `text` split at `separator` where not nested in brackets.
fn split_top_level(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, ch) in text.char_indices() {
        match ch {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            c if c == separator && depth == 0 => {
                parts.push(text.get(start..i).unwrap_or(""));
                start = i + ch.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(text.get(start..).unwrap_or(""));
    parts
}

/// The string form of a class decorator: its path, or for a method of a typed receiver the
/// receiver's path and the method name.
fn callee_string(callee: &Callee) -> Option<String> {
    match callee {
        Callee::Path(path) => Some(path.clone()),
        Callee::Method { receiver, name } => {
            let owner = match receiver {
                TypeRef::Named(path) | TypeRef::Global(path) => path,
                TypeRef::Returned(inner) => match &**inner {
                    Callee::Path(path) => path,
                    _ => return None,
                },
                TypeRef::Field { .. } => return None,
            };
            Some(join(owner, name))
        }
        Callee::UnknownMethod { .. } | Callee::Super { .. } => None,
    }
}

/// Turns the walk's output into [`FileFacts`].
pub(crate) fn finish(
    walked: Walked<'_>,
    source: &str,
    lines: &LineIndex<'_>,
    path: &str,
    module: &str,
) -> FileFacts {
    let resolver = Resolver {
        walked: &walked,
        source,
        resolving: RefCell::new(Vec::new()),
        classes_by_name: walked
            .classes
            .iter()
            .enumerate()
            .map(|(index, class)| (class.qualname.as_str(), index as u32))
            .collect(),
        param_names: (0..walked.fn_info.len())
            .map(|_| Default::default())
            .collect(),
    };
    let count = walked.functions.len();
    let mut calls: Vec<Vec<CallSite>> = vec![Vec::new(); count];
    let mut guards: Vec<Vec<Guard>> = vec![Vec::new(); count];
    let mut attributes: Vec<Vec<Variable>> = vec![Vec::new(); count];
    let mut fields: Vec<Vec<Variable>> = vec![Vec::new(); walked.classes.len()];

    for pending in &walked.pending {
        resolver.lower_pending(
            pending,
            lines,
            &mut calls,
            &mut guards,
            &mut attributes,
            &mut fields,
        );
    }

    resolver.explicit_lock_guards(lines, &mut guards);
    for list in &mut guards {
        list.sort_by_key(|g| g.span.start_byte);
    }

    let mut signatures = Vec::with_capacity(count);
    for info in &walked.fn_info {
        let decorators = resolver.decorators(info.decorated, info.outer_scope, lines);
        let is_context_manager = decorators.iter().any(|d| {
            matches!(&d.callee, Callee::Path(p)
                if p == "contextlib.contextmanager" || p == "contextlib.asynccontextmanager")
        });
        let returns = info
            .return_type
            .and_then(|r| resolver.type_ref(r, info.outer_scope, 0, is_context_manager));
        let params = resolver.params(info.parameters, info.first_param_role, info.outer_scope);
        signatures.push((decorators, returns, params));
    }

    let classes: Vec<Class> = walked
        .classes
        .iter()
        .zip(fields)
        .map(|(info, fields)| Class {
            qualname: info.qualname.clone(),
            span: info.span,
            bases: resolver.bases(info),
            decorators: resolver
                .decorators(info.decorated, info.outer_scope, lines)
                .iter()
                .filter_map(|d| callee_string(&d.callee))
                .collect(),
            fields,
        })
        .collect();

    let (aliases, globals) = resolver.module_names(lines);
    drop(resolver);

    let mut functions = walked.functions;
    for (index, function) in functions.iter_mut().enumerate() {
        function.calls = std::mem::take(&mut calls[index]);
        function.guards = std::mem::take(&mut guards[index]);
        function.attributes = std::mem::take(&mut attributes[index]);
    }
    for (function, (decorators, returns, params)) in functions.iter_mut().zip(signatures) {
        function.decorators = decorators;
        function.returns = returns;
        function.params = params;
    }

    FileFacts {
        path: path.to_owned(),
        language: Some(Language::Python),
        module: module.to_owned(),
        functions,
        classes,
        aliases,
        globals,
        errors: Vec::new(),
        suppressions: Vec::new(),
        edition: None,
    }
}

impl<'w, 'a> Resolver<'w, 'a> {
    fn lower_pending(
        &self,
        pending: &Pending<'a>,
        lines: &LineIndex<'_>,
        calls: &mut [Vec<CallSite>],
        guards: &mut [Vec<Guard>],
        attributes: &mut [Vec<Variable>],
        fields: &mut [Vec<Variable>],
    ) {
        let push = |calls: &mut [Vec<CallSite>], fid: u32, site: CallSite| {
            if let Some(list) = calls.get_mut(fid as usize) {
                list.push(site);
            }
        };
        let site = |callee: Callee, kind: CallKind, span: Span, text: String| CallSite {
            callee,
            kind,
            span,
            awaited: false,
            arg_count: 0,
            closure_args: Vec::new(),
            callable_args: Vec::new(),
            args: Vec::new(),
            param_args: Vec::new(),
            text,
        };
        match *pending {
            Pending::Call {
                node,
                fid,
                scope,
                awaited,
            } => {
                let Some(function) = child(node, Field::Function) else {
                    return;
                };
                let callee = match self.callee_of(function, scope, 0) {
                    // `super()` itself only serves the `super().m()` around it.
                    Some(Callee::Path(p)) if p == "builtins.super" => return,
                    Some(callee) => callee,
                    None => return,
                };
                let mut passed = Vec::new();
                let (arg_count, closure_args, callable_args, args) = self.arguments_and_names(
                    child(node, Field::Arguments),
                    scope,
                    Some(&mut passed),
                );
                let param_args = self.param_args(fid, &passed);
                push(
                    calls,
                    fid,
                    CallSite {
                        callee,
                        kind: CallKind::Call,
                        span: span(lines, node),
                        awaited,
                        arg_count,
                        closure_args,
                        callable_args,
                        args,
                        param_args,
                        text: callee_text(self.source, function),
                    },
                );
            }
            Pending::With {
                item,
                expr,
                fid,
                scope,
                guard,
                binding,
            } => {
                let expr = strip_parens(expr);
                let (callee, text, arg_count) = if kind(expr) == "call" {
                    let Some(function) = child(expr, Field::Function) else {
                        return;
                    };
                    let callee = match self.callee_of(function, scope, 0) {
                        Some(Callee::UnknownMethod { .. }) | None => return,
                        Some(callee) => Callee::Method {
                            receiver: TypeRef::Returned(Box::new(callee)),
                            name: "__enter__".to_owned(),
                        },
                    };
                    let (arg_count, _, _, _) = self.arguments(child(expr, Field::Arguments), scope);
                    (callee, callee_text(self.source, function), arg_count)
                } else {
                    let Some(callee) = self.dunder_on(expr, scope, "__enter__", true) else {
                        return;
                    };
                    (callee, callee_text(self.source, expr), 0)
                };
                let item_span = span(lines, item);
                if let Some(draft) = self.walked.guards.get(guard as usize)
                    && !draft.awaits.is_empty()
                    && let Some(list) = guards.get_mut(fid as usize)
                {
                    list.push(Guard {
                        acquire: callee.clone(),
                        span: item_span,
                        binding: binding.map(str::to_owned),
                        awaits: draft.awaits.clone(),
                        text: text.clone(),
                        arg_count,
                    });
                }
                let mut with_site = site(callee, CallKind::With, item_span, text);
                with_site.arg_count = arg_count;
                push(calls, fid, with_site);
            }
            Pending::Property { node, fid, scope } => {
                let (Some(object), Some(attribute)) =
                    (child(node, Field::Object), child(node, Field::Attribute))
                else {
                    return;
                };
                if self.names_module_or_class(object, scope) {
                    return;
                }
                let name = self.text(attribute);
                let callee = match self.value_of(object, scope, 0) {
                    Value::SelfOf(class) if self.self_property_possible(class, name) => {
                        Callee::Path(join(&self.class_qualname(class), name))
                    }
                    Value::Typed(receiver) if !is_builtin_type(&receiver) => Callee::Method {
                        receiver,
                        name: name.to_owned(),
                    },
                    _ => return,
                };
                let text = callee_text(self.source, node);
                push(
                    calls,
                    fid,
                    site(callee, CallKind::Property, span(lines, node), text),
                );
            }
            Pending::Subscript { node, fid, scope } => {
                let Some(value) = child(node, Field::Value) else {
                    return;
                };
                let Some(callee) = self.dunder_on(value, scope, "__getitem__", false) else {
                    return;
                };
                let text = callee_text(self.source, value);
                let mut subscript = site(callee, CallKind::Subscript, span(lines, node), text);
                subscript.arg_count = 1;
                push(calls, fid, subscript);
            }
            Pending::Iterate { node, fid, scope } => {
                let Some(callee) = self.dunder_on(node, scope, "__iter__", false) else {
                    return;
                };
                let text = callee_text(self.source, node);
                push(
                    calls,
                    fid,
                    site(callee, CallKind::Iterate, span(lines, node), text),
                );
            }
            Pending::SelfAttr {
                fid: owner,
                name,
                value,
                annotation,
                site,
                scope,
            }
            | Pending::ClassField {
                class: owner,
                name,
                value,
                annotation,
                site,
                scope,
            } => {
                // `self.x = ...` types an attribute of the method's class; a class-level
                // `x = ...` a field of the class.
                let list = match pending {
                    Pending::SelfAttr { .. } => attributes.get_mut(owner as usize),
                    _ => fields.get_mut(owner as usize),
                };
                if let Some(ty) = self.variable_type(value, annotation, scope)
                    && let Some(list) = list
                {
                    list.push(Variable {
                        name: name.to_owned(),
                        ty,
                        span: span(lines, site),
                    });
                }
            }
        }
    }

    /// Guards of explicit `x.acquire()` calls: held until the next `x.release()` of the same
    /// receiver in the function (usually in a `finally`), or to the end of the function.
    fn explicit_lock_guards(&self, lines: &LineIndex<'_>, guards: &mut [Vec<Guard>]) {
        let lock_calls = &self.walked.lock_calls;
        if !lock_calls.iter().any(|c| c.is_acquire) {
            return;
        }
        let count = self.walked.functions.len();
        let mut by_function: Vec<Vec<(&LockCall<'a>, String)>> = vec![Vec::new(); count];
        for call in lock_calls {
            if let Some(list) = by_function.get_mut(call.fid as usize) {
                list.push((call, callee_text(self.source, call.receiver)));
            }
        }
        let mut suspensions: Vec<Vec<Span>> = vec![Vec::new(); count];
        for &(fid, span) in &self.walked.suspensions {
            if let Some(list) = suspensions.get_mut(fid as usize) {
                list.push(span);
            }
        }
        for (fid, calls) in by_function.iter().enumerate() {
            let (Some(function), Some(points)) =
                (self.walked.functions.get(fid), suspensions.get(fid))
            else {
                continue;
            };
            if points.is_empty() {
                continue;
            }
            for (acquire, receiver) in calls.iter().filter(|(c, _)| c.is_acquire) {
                let held_from = acquire.call.end_byte() as u32;
                let held_until = calls
                    .iter()
                    .filter(|(c, _)| !c.is_acquire && c.call.start_byte() as u32 >= held_from)
                    .find(|(_, r)| r == receiver)
                    .map_or(function.span.end_byte, |(c, _)| c.call.start_byte() as u32);
                let awaits: Vec<Span> = points
                    .iter()
                    .filter(|p| p.start_byte >= held_from && p.start_byte < held_until)
                    .copied()
                    .collect();
                if awaits.is_empty() {
                    continue;
                }
                let Some(method) = child(acquire.call, Field::Function) else {
                    continue;
                };
                let Some(callee) = self.callee_of(method, acquire.scope, 0) else {
                    continue;
                };
                let (arg_count, _, _, _) =
                    self.arguments(child(acquire.call, Field::Arguments), acquire.scope);
                if let Some(list) = guards.get_mut(fid) {
                    list.push(Guard {
                        acquire: callee,
                        span: span(lines, acquire.call),
                        binding: None,
                        awaits,
                        text: callee_text(self.source, method),
                        arg_count,
                    });
                }
            }
        }
    }

    /// Parameters of function `fid` passed on as plain arguments (indices as in `params`);
    /// `passed` are the plain names among the arguments, in order.
    fn param_args(&self, fid: u32, passed: &[&'a str]) -> Vec<u32> {
        if passed.is_empty() {
            return Vec::new();
        }
        let Some(names) = self.param_names.get(fid as usize).map(|cell| {
            cell.get_or_init(|| {
                let Some(parameters) = self
                    .walked
                    .fn_info
                    .get(fid as usize)
                    .and_then(|i| i.parameters)
                else {
                    return Vec::new();
                };
                let mut cursor = parameters.walk();
                named_children(parameters, &mut cursor)
                    .into_iter()
                    .filter_map(param_parts)
                    .map(|p| self.text(p.name))
                    .collect()
            })
        }) else {
            return Vec::new();
        };
        let mut out: Vec<u32> = passed
            .iter()
            .filter_map(|n| names.iter().position(|p| p == n).map(|i| i as u32))
            .collect();
        out.dedup();
        out
    }

    fn params(
        &self,
        parameters: Option<Node<'a>>,
        first_role: ParamRole,
        scope: ScopeId,
    ) -> Vec<Param> {
        let Some(parameters) = parameters else {
            return Vec::new();
        };
        let mut cursor = parameters.walk();
        named_children(parameters, &mut cursor)
            .into_iter()
            .enumerate()
            .filter_map(|(index, param)| {
                let parts = param_parts(param)?;
                let is_receiver = index == 0 && parts.regular && first_role != ParamRole::Plain;
                let annotation = if is_receiver { None } else { parts.annotation };
                let mut default_call = None;
                let mut default_args = Vec::new();
                let call = parts
                    .default
                    .map(strip_parens)
                    .filter(|d| kind(*d) == "call")
                    .map(|d| (d, scope))
                    .or_else(|| annotation.and_then(|a| self.annotated_call(a, scope, 0)));
                if let Some((call, call_scope)) = call
                    && let Some(function) = child(call, Field::Function)
                {
                    default_call = self.callee_of(function, call_scope, 0);
                    let (_, closures, callables, _) =
                        self.arguments(child(call, Field::Arguments), call_scope);
                    default_args = callables;
                    // A lambda passed to `Depends(lambda: ..)` is still a callable argument.
                    default_args.extend(closures.into_iter().filter_map(|fid| {
                        self.walked
                            .functions
                            .get(fid as usize)
                            .map(|f| Callee::Path(f.qualname.clone()))
                    }));
                }
                Some(Param {
                    name: self.text(parts.name).to_owned(),
                    annotation: annotation.and_then(|a| self.type_ref(a, scope, 0, false)),
                    default_call,
                    default_args,
                })
            })
            .collect()
    }

    fn bases(&self, info: &ClassInfo<'a>) -> Vec<String> {
        let Some(superclasses) = info.superclasses else {
            return Vec::new();
        };
        let mut cursor = superclasses.walk();
        named_children(superclasses, &mut cursor)
            .into_iter()
            .filter(|n| {
                !matches!(
                    kind(*n),
                    "keyword_argument" | "list_splat" | "dictionary_splat"
                )
            })
            .map(|base| {
                // `Generic[T]`, `BaseModel[...]`: the class is the subscripted value.
                let head = if kind(base) == "subscript" {
                    child(base, Field::Value).unwrap_or(base)
                } else {
                    base
                };
                self.path_of(head, info.outer_scope, 0)
                    .unwrap_or_else(|| normalized_text(self.source, base))
            })
            .collect()
    }

    /// Module-level aliases (imports, `name = other.path`) and typed globals.
    fn module_names(&self, lines: &LineIndex<'_>) -> (Vec<Alias>, Vec<Variable>) {
        let mut aliases = Vec::new();
        let mut globals = Vec::new();
        let Some(module) = self.walked.scopes.get(MODULE_SCOPE as usize) else {
            return (aliases, globals);
        };
        for &name in &module.order {
            match module.bindings.get(name) {
                Some(Binding::Import(target)) => aliases.push(Alias {
                    name: name.to_owned(),
                    target: target.clone(),
                }),
                Some(Binding::Var {
                    value,
                    annotation,
                    site,
                }) => {
                    if let Some(ty) =
                        annotation.and_then(|a| self.type_ref(a, MODULE_SCOPE, 0, false))
                    {
                        globals.push(Variable {
                            name: name.to_owned(),
                            ty,
                            span: span(lines, *site),
                        });
                        continue;
                    }
                    let Some(value) = value else {
                        continue;
                    };
                    match self.value_of(*value, MODULE_SCOPE, 0) {
                        Value::Path(target) => aliases.push(Alias {
                            name: name.to_owned(),
                            target,
                        }),
                        Value::Typed(ty) if !is_builtin_type(&ty) => globals.push(Variable {
                            name: name.to_owned(),
                            ty,
                            span: span(lines, *site),
                        }),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        (aliases, globals)
    }
}

/// Argument count, lambdas passed, callables passed, literal argument texts.
type Arguments = (u32, Vec<u32>, Vec<Callee>, Vec<String>);

/// Literals whose text the catalog's `unless-args` can compare: numbers, `True`/`False`/
/// `None`, short strings, and negative numbers.
fn is_literal(expr: Node<'_>) -> bool {
    match kind(expr) {
        "integer" | "float" | "true" | "false" | "none" | "string" => true,
        "unary_operator" => expr
            .named_child(0)
            .is_some_and(|n| matches!(kind(n), "integer" | "float")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_top_level_ignores_nested_separators() {
        assert_eq!(
            split_top_level("Dict[str, int], Callable[[a, b], c]", ','),
            ["Dict[str, int]", " Callable[[a, b], c]"]
        );
        assert_eq!(split_top_level("A | None", '|'), ["A ", " None"]);
    }

    #[test]
    fn wrappers_peel_and_iterators_only_for_context_managers() {
        assert!(matches!(peel_rule("typing.Optional", false), Peel::First));
        assert!(matches!(
            peel_rule("typing_extensions.Annotated", false),
            Peel::First
        ));
        assert!(matches!(
            peel_rule("typing.Union", false),
            Peel::FirstNotNone
        ));
        assert!(matches!(peel_rule("typing.Iterator", false), Peel::Keep));
        assert!(matches!(
            peel_rule("collections.abc.Iterator", true),
            Peel::First
        ));
        assert!(matches!(peel_rule("app.Optional", false), Peel::Keep));
    }
}
