//! The one walk over the syntax tree.
//!
//! It creates functions and classes in source order, records every binding in its scope,
//! the awaits (and the sync `with` guards they are reached under), and queues the nodes that
//! need name resolution ([`Pending`]). Resolution runs afterwards ([`crate::resolve`]), when
//! all bindings of the file are known: a function may call a module-level function defined
//! below it, and any assignment in a function makes the name local to all of it.
//!
//! The walk uses an explicit stack, so deeply nested code (long `a + b + ...` chains in
//! generated files) cannot overflow the thread's stack.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use loopguard_core::facts::{Function, FunctionKind};
use loopguard_core::span::{LineIndex, Span};
use tree_sitter::{Node, TreeCursor};

use crate::scope::{Binding, MODULE_SCOPE, ParamRole, Scope, ScopeId, ScopeKind};
use crate::syntax::{
    Field, child, children_in, first_named, kind, named_children, normalized_text,
    starts_with_async, strip_parens, text,
};

/// The synthetic `<module>` function holding module-level code.
pub(crate) const MODULE_FUNCTION: u32 = 0;

const AWAITED: u8 = 1;
/// The node is the function part of a call: an attribute there is a method, not a property.
const CALLEE: u8 = 2;
/// The node is assigned or deleted, not read.
const TARGET: u8 = 4;
/// The node is inside a subtree with a syntax error.
const IN_ERROR: u8 = 8;

/// Nesting depth up to which assignment target patterns are unpacked.
const MAX_PATTERN_DEPTH: u32 = 16;

/// What the resolution phase needs about a function besides its facts.
pub(crate) struct FnInfo<'a> {
    pub parameters: Option<Node<'a>>,
    pub return_type: Option<Node<'a>>,
    /// The `decorated_definition` around the def, if decorated.
    pub decorated: Option<Node<'a>>,
    /// The scope the `def` appears in: annotations, defaults and decorators resolve there.
    pub outer_scope: ScopeId,
    pub class: Option<u32>,
    /// Role of the first parameter (self / cls of a method).
    pub first_param_role: ParamRole,
    pub self_name: Option<&'a str>,
}

pub(crate) struct ClassInfo<'a> {
    pub qualname: String,
    pub span: Span,
    pub superclasses: Option<Node<'a>>,
    pub decorated: Option<Node<'a>>,
    pub outer_scope: ScopeId,
    pub scope: ScopeId,
    pub has_bases: bool,
    /// Attributes assigned through `self.` in the class's methods: plain data, not properties.
    pub self_attrs: HashSet<&'a str>,
}

/// A sync `with` item that may become a [`loopguard_core::facts::Guard`], and the awaits
/// reached while its body runs.
pub(crate) struct GuardDraft {
    pub fid: u32,
    pub awaits: Vec<Span>,
}

/// A node whose facts need name resolution, in walk (source) order.
pub(crate) enum Pending<'a> {
    Call {
        node: Node<'a>,
        fid: u32,
        scope: ScopeId,
        awaited: bool,
    },
    With {
        item: Node<'a>,
        expr: Node<'a>,
        fid: u32,
        scope: ScopeId,
        guard: u32,
        binding: Option<&'a str>,
    },
    Property {
        node: Node<'a>,
        fid: u32,
        scope: ScopeId,
    },
    Subscript {
        node: Node<'a>,
        fid: u32,
        scope: ScopeId,
    },
    Iterate {
        node: Node<'a>,
        fid: u32,
        scope: ScopeId,
    },
    SelfAttr {
        fid: u32,
        name: &'a str,
        value: Option<Node<'a>>,
        annotation: Option<Node<'a>>,
        site: Node<'a>,
        scope: ScopeId,
    },
    ClassField {
        class: u32,
        name: &'a str,
        value: Option<Node<'a>>,
        annotation: Option<Node<'a>>,
        site: Node<'a>,
        scope: ScopeId,
    },
}

/// Everything the walk found.
pub(crate) struct Walked<'a> {
    pub functions: Vec<Function>,
    pub fn_info: Vec<FnInfo<'a>>,
    pub classes: Vec<ClassInfo<'a>>,
    pub scopes: Vec<Scope<'a>>,
    /// `lambda` node id -> its function id.
    pub lambdas: HashMap<usize, u32>,
    /// Targets of `from x import *`, in order.
    pub star_imports: Vec<String>,
    pub pending: Vec<Pending<'a>>,
    pub guards: Vec<GuardDraft>,
    /// `x.acquire()` / `x.release()` calls, in source order per function: an explicit
    /// acquire holds the lock until the matching release.
    pub lock_calls: Vec<LockCall<'a>>,
    /// Every point where a function may suspend (`await`, `async with`, `async for`), with
    /// the function it belongs to, in source order per function.
    pub suspensions: Vec<(u32, Span)>,
    /// Calls whose result is handed to a coroutine consumer (`asyncio.gather(f())`,
    /// `create_task(f())`, `wait_for(f(), 5)`): awaited by it, so not run synchronously.
    pub consumed_calls: Vec<usize>,
    /// `tasks = [f(x) for x in xs]` in function `fid`: the element calls of a collection
    /// bound to a local name, in case the name is later consumed (`gather(*tasks)`).
    pub collections: Vec<(u32, &'a str, Vec<usize>)>,
    /// Local names handed to a consumer (`gather(*tasks)`), per function.
    pub consumed_names: Vec<(u32, &'a str)>,
}

/// Functions (by their last name) that await, schedule or wrap the coroutines passed to them.
const COROUTINE_CONSUMERS: &[&str] = &[
    "as_completed",
    "async_create_background_task",
    "async_create_task",
    "create_task",
    "ensure_future",
    "gather",
    "run_coroutine_threadsafe",
    "shield",
    "start_soon",
    "timeout",
    "wait",
    "wait_for",
];

/// The calls a collection expression builds: the element of a comprehension, the items of a
/// list/tuple/set display.
fn element_calls<'t>(expr: Node<'t>, cursor: &mut tree_sitter::TreeCursor<'t>) -> Vec<usize> {
    let expr = strip_parens(expr);
    match kind(expr) {
        "call" => vec![expr.id()],
        "list_comprehension" | "generator_expression" | "set_comprehension" => {
            child(expr, Field::Body)
                .map(strip_parens)
                .filter(|b| kind(*b) == "call")
                .map(|b| vec![b.id()])
                .unwrap_or_default()
        }
        "list" | "tuple" | "set" => named_children(expr, cursor)
            .into_iter()
            .map(strip_parens)
            .filter(|e| kind(*e) == "call")
            .map(|e| e.id())
            .collect(),
        _ => Vec::new(),
    }
}

/// A call of `acquire` or `release` on a value (`self._lock.acquire()`).
pub(crate) struct LockCall<'a> {
    pub fid: u32,
    pub scope: ScopeId,
    pub call: Node<'a>,
    pub receiver: Node<'a>,
    pub is_acquire: bool,
}

enum Task<'a> {
    Visit {
        node: Node<'a>,
        fid: u32,
        scope: ScopeId,
        flags: u8,
    },
    Def {
        node: Node<'a>,
        decorated: Option<Node<'a>>,
        fid: u32,
        scope: ScopeId,
    },
    Class {
        node: Node<'a>,
        decorated: Option<Node<'a>>,
        fid: u32,
        scope: ScopeId,
    },
    BeginGuards {
        first: u32,
        count: u32,
    },
    EndGuards {
        count: u32,
    },
}

pub(crate) struct Walker<'a, 'l> {
    source: &'a str,
    module: &'a str,
    is_package_init: bool,
    lines: &'l LineIndex<'a>,
    cursor: TreeCursor<'a>,
    stack: Vec<Task<'a>>,
    /// Indices into `out.guards` of the sync `with` bodies being walked.
    active_guards: Vec<u32>,
    /// `IN_ERROR` while visiting a node inside a syntax error, else 0.
    inherited: u8,
    out: Walked<'a>,
}

impl<'a, 'l> Walker<'a, 'l> {
    pub fn walk(
        root: Node<'a>,
        source: &'a str,
        module: &'a str,
        is_package_init: bool,
        lines: &'l LineIndex<'a>,
    ) -> Walked<'a> {
        let module_function = Function {
            qualname: join(module, "<module>"),
            name: "<module>".to_owned(),
            kind: FunctionKind::Function,
            is_async: false,
            span: lines.span(root.start_byte(), root.end_byte()),
            name_span: lines.span(root.start_byte(), root.start_byte()),
            ..Default::default()
        };
        let mut walker = Walker {
            source,
            module,
            is_package_init,
            lines,
            cursor: root.walk(),
            stack: Vec::with_capacity(64),
            active_guards: Vec::new(),
            inherited: 0,
            out: Walked {
                functions: vec![module_function],
                fn_info: vec![FnInfo {
                    parameters: None,
                    return_type: None,
                    decorated: None,
                    outer_scope: MODULE_SCOPE,
                    class: None,
                    first_param_role: ParamRole::Plain,
                    self_name: None,
                }],
                classes: Vec::new(),
                scopes: vec![Scope::new(ScopeKind::Module, None)],
                lambdas: HashMap::default(),
                star_imports: Vec::new(),
                pending: Vec::new(),
                guards: Vec::new(),
                lock_calls: Vec::new(),
                suspensions: Vec::new(),
                consumed_calls: Vec::new(),
                collections: Vec::new(),
                consumed_names: Vec::new(),
            },
        };
        walker.push_visit(root, MODULE_FUNCTION, MODULE_SCOPE, 0);
        while let Some(task) = walker.stack.pop() {
            match task {
                Task::Visit {
                    node,
                    fid,
                    scope,
                    flags,
                } => walker.visit(node, fid, scope, flags),
                Task::Def {
                    node,
                    decorated,
                    fid,
                    scope,
                } => {
                    walker.inherited = 0;
                    walker.define_function(node, decorated, fid, scope);
                }
                Task::Class {
                    node,
                    decorated,
                    fid,
                    scope,
                } => {
                    walker.inherited = 0;
                    walker.define_class(node, decorated, fid, scope);
                }
                Task::BeginGuards { first, count } => {
                    walker.active_guards.extend(first..first + count);
                }
                Task::EndGuards { count } => {
                    let keep = walker.active_guards.len().saturating_sub(count as usize);
                    walker.active_guards.truncate(keep);
                }
            }
        }
        walker.mark_consumed();
        walker.out
    }

    /// Calls handed to coroutine consumers, directly or through a local collection, count
    /// as awaited.
    fn mark_consumed(&mut self) {
        let out = &mut self.out;
        let mut ids: HashSet<usize> = out.consumed_calls.iter().copied().collect();
        for (fid, name, calls) in &out.collections {
            if out.consumed_names.contains(&(*fid, *name)) {
                ids.extend(calls.iter().copied());
            }
        }
        if ids.is_empty() {
            return;
        }
        for p in &mut out.pending {
            if let Pending::Call { node, awaited, .. } = p
                && ids.contains(&node.id())
            {
                *awaited = true;
            }
        }
    }

    /// `gather(f(), *[g(x) for x in xs], *tasks)`: remember what is handed over.
    fn note_consumer_call(&mut self, node: Node<'a>, fid: u32) {
        let Some(function) = child(node, Field::Function) else {
            return;
        };
        let name = match kind(function) {
            "identifier" => self.text(function),
            "attribute" => match child(function, Field::Attribute) {
                Some(a) => self.text(a),
                None => return,
            },
            _ => return,
        };
        if !COROUTINE_CONSUMERS.contains(&name) {
            return;
        }
        let Some(arguments) = child(node, Field::Arguments) else {
            return;
        };
        for arg in named_children(arguments, &mut self.cursor) {
            let arg = match kind(arg) {
                "list_splat" => match first_named(arg) {
                    Some(inner) => inner,
                    None => continue,
                },
                "keyword_argument" | "dictionary_splat" => continue,
                _ => arg,
            };
            if kind(arg) == "identifier" {
                self.out.consumed_names.push((fid, self.text(arg)));
            } else {
                let calls = element_calls(arg, &mut self.cursor);
                self.out.consumed_calls.extend(calls);
            }
        }
    }

    fn span(&self, node: Node<'_>) -> Span {
        self.lines.span(node.start_byte(), node.end_byte())
    }

    fn text(&self, node: Node<'_>) -> &'a str {
        text(self.source, node)
    }

    fn push_visit(&mut self, node: Node<'a>, fid: u32, scope: ScopeId, flags: u8) {
        self.stack.push(Task::Visit {
            node,
            fid,
            scope,
            flags: flags | self.inherited,
        });
    }

    /// Queues the named children of `node` so that they are visited in source order.
    fn push_children(&mut self, node: Node<'a>, fid: u32, scope: ScopeId, flags: u8) {
        let start = self.stack.len();
        self.cursor.reset(node);
        if self.cursor.goto_first_child() {
            loop {
                let current = self.cursor.node();
                if current.is_named() {
                    self.stack.push(Task::Visit {
                        node: current,
                        fid,
                        scope,
                        flags: flags | self.inherited,
                    });
                }
                if !self.cursor.goto_next_sibling() {
                    break;
                }
            }
        }
        self.stack[start..].reverse();
    }

    fn function_mut(&mut self, fid: u32) -> Option<&mut Function> {
        self.out.functions.get_mut(fid as usize)
    }

    fn bind(&mut self, scope: ScopeId, name: &'a str, binding: Binding<'a>) {
        if name.is_empty() {
            return;
        }
        let declared_global = scope != MODULE_SCOPE
            && !matches!(binding, Binding::Global | Binding::Nonlocal)
            && self
                .out
                .scopes
                .get(scope as usize)
                .is_some_and(|s| s.is_global_declared(name));
        // `global x` then `x = Client()` in a function binds the module's `x`.
        let target = if declared_global { MODULE_SCOPE } else { scope };
        if let Some(scope) = self.out.scopes.get_mut(target as usize) {
            scope.bind(name, binding);
        }
    }

    fn new_scope(&mut self, kind: ScopeKind, parent: ScopeId) -> ScopeId {
        self.out.scopes.push(Scope::new(kind, Some(parent)));
        (self.out.scopes.len() - 1) as ScopeId
    }

    fn scope_kind(&self, scope: ScopeId) -> ScopeKind {
        self.out
            .scopes
            .get(scope as usize)
            .map_or(ScopeKind::Module, |s| s.kind)
    }

    fn visit(&mut self, node: Node<'a>, fid: u32, scope: ScopeId, flags: u8) {
        let flags = if node.has_error() {
            flags | IN_ERROR
        } else {
            flags
        };
        // Everything queued while visiting this node inherits the error marker.
        self.inherited = flags & IN_ERROR;
        match kind(node) {
            // Leaves and nodes without calls or bindings.
            "comment"
            | "identifier"
            | "string_start"
            | "string_content"
            | "string_end"
            | "escape_sequence"
            | "integer"
            | "float"
            | "true"
            | "false"
            | "none"
            | "ellipsis"
            | "pass_statement"
            | "break_statement"
            | "continue_statement"
            | "future_import_statement"
            | "keyword_separator"
            | "positional_separator"
            | "wildcard_import"
            | "line_continuation"
            | "type_conversion" => {}
            // Annotations and type parameters are not evaluated for calls; match patterns hold
            // no calls.
            "type" | "type_parameter" | "case_pattern" => {
                // Error recovery can put ordinary code in annotation position (`x = (1 +`
                // swallowing the lines after it): lower what is there.
                if flags & IN_ERROR != 0 {
                    self.push_children(node, fid, scope, IN_ERROR);
                }
            }
            "import_statement" => self.bind_import(node, scope),
            "import_from_statement" => self.bind_import_from(node, scope),
            "global_statement" | "nonlocal_statement" => {
                if scope != MODULE_SCOPE {
                    let global = kind(node) == "global_statement";
                    for name in named_children(node, &mut self.cursor) {
                        let binding = if global {
                            Binding::Global
                        } else {
                            Binding::Nonlocal
                        };
                        let name = self.text(name);
                        self.bind(scope, name, binding);
                    }
                }
            }
            "type_alias_statement" => {
                if let Some(name) = child(node, Field::Left).and_then(type_alias_name) {
                    let name = self.text(name);
                    let value = child(node, Field::Right);
                    self.bind(
                        scope,
                        name,
                        Binding::Var {
                            value,
                            annotation: None,
                            site: node,
                        },
                    );
                }
            }
            "decorated_definition" => {
                let decorators: Vec<Node<'a>> = named_children(node, &mut self.cursor)
                    .into_iter()
                    .filter(|n| kind(*n) == "decorator")
                    .collect();
                if let Some(definition) = child(node, Field::Definition) {
                    let decorated = Some(node);
                    if kind(definition) == "class_definition" {
                        self.stack.push(Task::Class {
                            node: definition,
                            decorated,
                            fid,
                            scope,
                        });
                    } else {
                        self.stack.push(Task::Def {
                            node: definition,
                            decorated,
                            fid,
                            scope,
                        });
                    }
                }
                // Decorator expressions run in the enclosing scope, before the definition.
                for decorator in decorators.into_iter().rev() {
                    self.push_visit(decorator, fid, scope, 0);
                }
            }
            "function_definition" => self.define_function(node, None, fid, scope),
            "class_definition" => self.define_class(node, None, fid, scope),
            "lambda" => self.define_lambda(node, fid, scope),
            "call" => {
                self.note_consumer_call(node, fid);
                let awaited = flags & AWAITED != 0;
                self.out.pending.push(Pending::Call {
                    node,
                    fid,
                    scope,
                    awaited,
                });
                if !awaited {
                    self.note_lock_call(node, fid, scope);
                }
                if let Some(arguments) = child(node, Field::Arguments) {
                    self.push_visit(arguments, fid, scope, 0);
                }
                if let Some(function) = child(node, Field::Function) {
                    self.push_visit(function, fid, scope, CALLEE);
                }
            }
            "await" => {
                let span = self.span(node);
                self.record_await(fid, span, true);
                if let Some(operand) = first_named(node) {
                    let operand = strip_parens(operand);
                    let flags = if kind(operand) == "call" { AWAITED } else { 0 };
                    self.push_visit(operand, fid, scope, flags);
                }
            }
            "attribute" => {
                if flags & (CALLEE | TARGET) == 0 {
                    self.out
                        .pending
                        .push(Pending::Property { node, fid, scope });
                }
                if let Some(object) = child(node, Field::Object) {
                    self.push_visit(object, fid, scope, 0);
                }
            }
            "subscript" => {
                if flags & TARGET == 0 {
                    self.out
                        .pending
                        .push(Pending::Subscript { node, fid, scope });
                }
                self.push_children(node, fid, scope, 0);
            }
            "with_statement" => self.visit_with(node, fid, scope),
            "for_statement" | "for_in_clause" => self.visit_for(node, fid, scope),
            "assignment" => self.visit_assignment(node, fid, scope),
            "augmented_assignment" => {
                if let Some(right) = child(node, Field::Right) {
                    self.push_visit(right, fid, scope, 0);
                }
                if let Some(left) = child(node, Field::Left) {
                    self.push_visit(left, fid, scope, TARGET);
                }
            }
            "named_expression" => {
                let value = child(node, Field::Value);
                if let Some(name) = child(node, Field::Name) {
                    let name = self.text(name);
                    self.bind(
                        scope,
                        name,
                        Binding::Var {
                            value,
                            annotation: None,
                            site: node,
                        },
                    );
                }
                if let Some(value) = value {
                    self.push_visit(value, fid, scope, 0);
                }
            }
            "keyword_argument" => {
                if let Some(value) = child(node, Field::Value) {
                    self.push_visit(value, fid, scope, 0);
                }
            }
            "yield" => {
                if let Some(function) = self.function_mut(fid) {
                    function.is_generator = true;
                }
                self.push_children(node, fid, scope, 0);
            }
            "as_pattern" => {
                // `except E as e` (sync `with` items are handled by `visit_with`).
                if let Some(alias) = child(node, Field::Alias) {
                    self.bind_targets(alias, fid, scope, 0);
                }
                if let Some(expr) = first_named(node) {
                    self.push_visit(expr, fid, scope, 0);
                }
            }
            "delete_statement" => self.push_children(node, fid, scope, TARGET),
            _ => self.push_children(node, fid, scope, 0),
        }
    }

    /// Remembers `x.acquire()` / `x.release()` (an awaited `acquire` is an asyncio lock).
    fn note_lock_call(&mut self, call: Node<'a>, fid: u32, scope: ScopeId) {
        let Some(function) = child(call, Field::Function) else {
            return;
        };
        if kind(function) != "attribute" {
            return;
        }
        let (Some(receiver), Some(method)) = (
            child(function, Field::Object),
            child(function, Field::Attribute),
        ) else {
            return;
        };
        let is_acquire = match self.text(method) {
            "acquire" => true,
            "release" => false,
            _ => return,
        };
        if matches!(kind(receiver), "identifier" | "attribute") {
            self.out.lock_calls.push(LockCall {
                fid,
                scope,
                call,
                receiver,
                is_acquire,
            });
        }
    }

    /// Records a suspension point of `fid`: in the function's awaits if it is an `await`
    /// expression, and in every guard of the same function whose body is being walked.
    fn record_await(&mut self, fid: u32, span: Span, is_await_expression: bool) {
        if let Some(function) = self.function_mut(fid) {
            function.has_async_syntax = true;
            if is_await_expression {
                function.awaits.push(span);
            }
        }
        self.out.suspensions.push((fid, span));
        for &guard in &self.active_guards {
            if let Some(draft) = self.out.guards.get_mut(guard as usize)
                && draft.fid == fid
            {
                draft.awaits.push(span);
            }
        }
    }

    fn visit_with(&mut self, node: Node<'a>, fid: u32, scope: ScopeId) {
        let is_async = starts_with_async(node);
        let mut items = Vec::new();
        let mut clause_end = node.start_byte();
        for part in named_children(node, &mut self.cursor) {
            if kind(part) == "with_clause" {
                clause_end = part.end_byte();
                items.extend(
                    named_children(part, &mut self.cursor)
                        .into_iter()
                        .filter(|n| kind(*n) == "with_item"),
                );
            }
        }
        let body = child(node, Field::Body);
        let mut exprs = Vec::with_capacity(items.len());
        for item in items {
            let Some(value) = child(item, Field::Value) else {
                continue;
            };
            let (expr, alias) = if kind(value) == "as_pattern" {
                let alias = child(value, Field::Alias);
                match first_named(value) {
                    Some(expr) => (expr, alias),
                    None => continue,
                }
            } else {
                (value, None)
            };
            let mut binding = None;
            if let Some(alias) = alias {
                let target = first_named(alias).unwrap_or(alias);
                if kind(target) == "identifier" {
                    let name = self.text(target);
                    binding = Some(name);
                    self.bind(
                        scope,
                        name,
                        Binding::Var {
                            value: Some(expr),
                            annotation: None,
                            site: item,
                        },
                    );
                } else {
                    self.bind_targets(target, fid, scope, 0);
                }
            }
            exprs.push((item, expr, binding));
        }

        if is_async {
            let span = self.lines.span(node.start_byte(), clause_end);
            self.record_await(fid, span, false);
            if let Some(body) = body {
                self.push_visit(body, fid, scope, 0);
            }
        } else {
            let first = self.out.guards.len() as u32;
            for &(item, expr, binding) in &exprs {
                let guard = self.out.guards.len() as u32;
                self.out.guards.push(GuardDraft {
                    fid,
                    awaits: Vec::new(),
                });
                self.out.pending.push(Pending::With {
                    item,
                    expr,
                    fid,
                    scope,
                    guard,
                    binding,
                });
            }
            let count = exprs.len() as u32;
            self.stack.push(Task::EndGuards { count });
            if let Some(body) = body {
                self.push_visit(body, fid, scope, 0);
            }
            self.stack.push(Task::BeginGuards { first, count });
        }
        for &(_, expr, _) in exprs.iter().rev() {
            self.push_visit(expr, fid, scope, 0);
        }
    }

    fn visit_for(&mut self, node: Node<'a>, fid: u32, scope: ScopeId) {
        let left = child(node, Field::Left);
        let right = child(node, Field::Right);
        if let Some(left) = left {
            self.bind_targets(left, fid, scope, 0);
        }
        if starts_with_async(node) {
            let end = right.map_or(node.end_byte(), |r| r.end_byte());
            let span = self.lines.span(node.start_byte(), end);
            self.record_await(fid, span, false);
        } else if let Some(right) = right
            && kind(right) != "expression_list"
        {
            self.out.pending.push(Pending::Iterate {
                node: right,
                fid,
                scope,
            });
        }
        if let Some(alternative) = child(node, Field::Alternative) {
            self.push_visit(alternative, fid, scope, 0);
        }
        if let Some(body) = child(node, Field::Body) {
            self.push_visit(body, fid, scope, 0);
        }
        if let Some(right) = right {
            self.push_visit(right, fid, scope, 0);
        }
        if let Some(left) = left {
            self.push_visit(left, fid, scope, TARGET);
        }
    }

    fn visit_assignment(&mut self, node: Node<'a>, fid: u32, scope: ScopeId) {
        let left = child(node, Field::Left);
        let right = child(node, Field::Right);
        let annotation = child(node, Field::Type);
        // `a = b = f()`: every target gets the innermost value.
        let mut value = right;
        let mut hops = 0;
        while let Some(v) = value
            && kind(v) == "assignment"
            && hops < MAX_PATTERN_DEPTH
        {
            value = child(v, Field::Right);
            hops += 1;
        }
        if let Some(left) = left {
            match kind(left) {
                "identifier" => {
                    let name = self.text(left);
                    if let Some(v) = value {
                        let calls = element_calls(v, &mut self.cursor);
                        if !calls.is_empty() {
                            self.out.collections.push((fid, name, calls));
                        }
                    }
                    self.bind(
                        scope,
                        name,
                        Binding::Var {
                            value,
                            annotation,
                            site: node,
                        },
                    );
                    if let ScopeKind::Class(class) = self.scope_kind(scope) {
                        self.out.pending.push(Pending::ClassField {
                            class,
                            name,
                            value,
                            annotation,
                            site: node,
                            scope,
                        });
                    }
                }
                "attribute" => {
                    if let Some(name) = self.self_attribute(left, fid) {
                        self.out.pending.push(Pending::SelfAttr {
                            fid,
                            name,
                            value,
                            annotation,
                            site: node,
                            scope,
                        });
                    }
                }
                _ => self.bind_targets(left, fid, scope, 0),
            }
        }
        if let Some(annotation) = annotation
            && self.inherited & IN_ERROR != 0
        {
            self.push_visit(annotation, fid, scope, 0);
        }
        if let Some(right) = right {
            self.push_visit(right, fid, scope, 0);
        }
        if let Some(left) = left {
            self.push_visit(left, fid, scope, TARGET);
        }
    }

    /// For `self.x` in a method whose first parameter is `self`: `x`, remembered as a data
    /// attribute of the class.
    fn self_attribute(&mut self, target: Node<'a>, fid: u32) -> Option<&'a str> {
        let object = child(target, Field::Object)?;
        let info = self.out.fn_info.get(fid as usize)?;
        let self_name = info.self_name?;
        let class = info.class?;
        if kind(object) != "identifier" || self.text(object) != self_name {
            return None;
        }
        let name = self.text(child(target, Field::Attribute)?);
        if let Some(class) = self.out.classes.get_mut(class as usize) {
            class.self_attrs.insert(name);
        }
        Some(name)
    }

    /// Binds the names of an unpacking / loop target pattern as opaque locals.
    fn bind_targets(&mut self, node: Node<'a>, fid: u32, scope: ScopeId, depth: u32) {
        if depth > MAX_PATTERN_DEPTH {
            return;
        }
        match kind(node) {
            "identifier" => {
                let name = self.text(node);
                self.bind(scope, name, Binding::Opaque);
            }
            "attribute" => {
                self.self_attribute(node, fid);
            }
            "subscript" => {}
            _ => {
                for part in named_children(node, &mut self.cursor) {
                    self.bind_targets(part, fid, scope, depth + 1);
                }
            }
        }
    }

    fn bind_import(&mut self, node: Node<'a>, scope: ScopeId) {
        for name in named_children(node, &mut self.cursor) {
            match kind(name) {
                // `import a.b` binds `a`.
                "dotted_name" => {
                    if let Some(first) = first_named(name) {
                        let local = self.text(first);
                        self.bind(scope, local, Binding::Import(local.to_owned()));
                    }
                }
                "aliased_import" => {
                    let (Some(target), Some(alias)) =
                        (child(name, Field::Name), child(name, Field::Alias))
                    else {
                        continue;
                    };
                    let target = normalized_text(self.source, target);
                    let alias = self.text(alias);
                    self.bind(scope, alias, Binding::Import(target));
                }
                _ => {}
            }
        }
    }

    fn bind_import_from(&mut self, node: Node<'a>, scope: ScopeId) {
        let Some(module_name) = child(node, Field::ModuleName) else {
            return;
        };
        let base = if kind(module_name) == "relative_import" {
            self.relative_base(module_name)
        } else {
            normalized_text(self.source, module_name)
        };
        for part in named_children(node, &mut self.cursor) {
            if kind(part) == "wildcard_import" {
                self.out.star_imports.push(base.clone());
            }
        }
        for name in children_in(node, Field::Name) {
            let (target, local) = match kind(name) {
                "dotted_name" => (name, name),
                "aliased_import" => {
                    let (Some(target), Some(alias)) =
                        (child(name, Field::Name), child(name, Field::Alias))
                    else {
                        continue;
                    };
                    (target, alias)
                }
                _ => continue,
            };
            let target = join(&base, &normalized_text(self.source, target));
            let local = self.text(local);
            self.bind(scope, local, Binding::Import(target));
        }
    }

    /// The absolute package a relative import (`.`, `..pkg`) names, from this file's module.
    fn relative_base(&self, relative: Node<'a>) -> String {
        let mut level = 0usize;
        let mut rest = None;
        for part in named_children(relative, &mut relative.walk()) {
            match kind(part) {
                "import_prefix" => level = self.text(part).matches('.').count(),
                "dotted_name" => rest = Some(normalized_text(self.source, part)),
                _ => {}
            }
        }
        let mut parts: Vec<&str> = self.module.split('.').filter(|p| !p.is_empty()).collect();
        // A module's own package is its parent; a package's `__init__` is the package itself.
        if !self.is_package_init {
            parts.pop();
        }
        for _ in 1..level {
            parts.pop();
        }
        let base = parts.join(".");
        match rest {
            Some(rest) => join(&base, &rest),
            None => base,
        }
    }

    fn define_function(
        &mut self,
        node: Node<'a>,
        decorated: Option<Node<'a>>,
        outer_fid: u32,
        outer_scope: ScopeId,
    ) {
        let name_node = child(node, Field::Name);
        let name = name_node.map(|n| self.text(n)).unwrap_or_default();
        let display_name = if name.is_empty() { "<invalid>" } else { name };
        let (kind, qualname, class, parent) = match self.scope_kind(outer_scope) {
            ScopeKind::Class(class) => {
                let class_name = self
                    .out
                    .classes
                    .get(class as usize)
                    .map(|c| c.qualname.clone())
                    .unwrap_or_default();
                let parent = (outer_fid != MODULE_FUNCTION).then_some(outer_fid);
                (
                    FunctionKind::Method,
                    join(&class_name, display_name),
                    Some(class),
                    parent,
                )
            }
            ScopeKind::Function(enclosing) => {
                let enclosing_name = self
                    .out
                    .functions
                    .get(enclosing as usize)
                    .map(|f| f.qualname.as_str())
                    .unwrap_or_default();
                (
                    FunctionKind::Function,
                    format!("{enclosing_name}.<locals>.{display_name}"),
                    None,
                    Some(enclosing),
                )
            }
            ScopeKind::Module => (
                FunctionKind::Function,
                join(self.module, display_name),
                None,
                None,
            ),
        };
        let fid = self.out.functions.len() as u32;
        let class_qualname =
            class.and_then(|c| self.out.classes.get(c as usize).map(|c| c.qualname.clone()));
        self.out.functions.push(Function {
            qualname,
            name: display_name.to_owned(),
            kind,
            is_async: starts_with_async(node),
            class: class_qualname,
            span: self.span(node),
            name_span: self.span(name_node.unwrap_or(node)),
            parent,
            ..Default::default()
        });
        self.bind(outer_scope, name, Binding::Def(fid));
        let scope = self.new_scope(ScopeKind::Function(fid), outer_scope);

        let first_param_role = match class {
            Some(class) => match method_kind(decorated, self.source) {
                MethodKind::Static => ParamRole::Plain,
                MethodKind::Class => ParamRole::ClsOf(class),
                MethodKind::Instance => ParamRole::SelfOf(class),
            },
            None => ParamRole::Plain,
        };
        let parameters = child(node, Field::Parameters);
        let mut defaults = Vec::new();
        let mut self_name = None;
        if let Some(parameters) = parameters {
            for (index, param) in named_children(parameters, &mut self.cursor)
                .into_iter()
                .enumerate()
            {
                let Some(parts) = param_parts(param) else {
                    continue;
                };
                let role = if index == 0 && parts.regular {
                    first_param_role
                } else {
                    ParamRole::Plain
                };
                let param_name = self.text(parts.name);
                if matches!(role, ParamRole::SelfOf(_)) {
                    self_name = Some(param_name);
                }
                let annotation = if role == ParamRole::Plain {
                    parts.annotation
                } else {
                    None
                };
                self.bind(scope, param_name, Binding::Param { annotation, role });
                defaults.extend(parts.default);
            }
        }
        self.out.fn_info.push(FnInfo {
            parameters,
            return_type: child(node, Field::ReturnType),
            decorated,
            outer_scope,
            class,
            first_param_role,
            self_name,
        });
        // Defaults run in the enclosing scope when the def executes; the body later, in its
        // own. Pushed in reverse so defaults are walked first (source order).
        if let Some(body) = child(node, Field::Body) {
            self.push_visit(body, fid, scope, 0);
        }
        for default in defaults.into_iter().rev() {
            self.push_visit(default, outer_fid, outer_scope, 0);
        }
    }

    fn define_lambda(&mut self, node: Node<'a>, outer_fid: u32, outer_scope: ScopeId) {
        let enclosing = match self.scope_kind(outer_scope) {
            ScopeKind::Class(class) => self
                .out
                .classes
                .get(class as usize)
                .map(|c| c.qualname.clone())
                .unwrap_or_default(),
            ScopeKind::Function(f) => self
                .out
                .functions
                .get(f as usize)
                .map(|f| f.qualname.clone())
                .unwrap_or_default(),
            ScopeKind::Module => self.module.to_owned(),
        };
        let fid = self.out.functions.len() as u32;
        let keyword = node.child(0).unwrap_or(node);
        self.out.functions.push(Function {
            qualname: join(&enclosing, "<lambda>"),
            name: "<lambda>".to_owned(),
            kind: FunctionKind::Closure,
            is_async: false,
            span: self.span(node),
            name_span: self.span(keyword),
            parent: Some(outer_fid),
            ..Default::default()
        });
        self.out.lambdas.insert(node.id(), fid);
        let scope = self.new_scope(ScopeKind::Function(fid), outer_scope);
        let parameters = child(node, Field::Parameters);
        let mut defaults = Vec::new();
        if let Some(parameters) = parameters {
            for param in named_children(parameters, &mut self.cursor) {
                if let Some(parts) = param_parts(param) {
                    let name = self.text(parts.name);
                    self.bind(
                        scope,
                        name,
                        Binding::Param {
                            annotation: None,
                            role: ParamRole::Plain,
                        },
                    );
                    defaults.extend(parts.default);
                }
            }
        }
        self.out.fn_info.push(FnInfo {
            parameters,
            return_type: None,
            decorated: None,
            outer_scope,
            class: None,
            first_param_role: ParamRole::Plain,
            self_name: None,
        });
        if let Some(body) = child(node, Field::Body) {
            self.push_visit(body, fid, scope, 0);
        }
        for default in defaults.into_iter().rev() {
            self.push_visit(default, outer_fid, outer_scope, 0);
        }
    }

    fn define_class(
        &mut self,
        node: Node<'a>,
        decorated: Option<Node<'a>>,
        outer_fid: u32,
        outer_scope: ScopeId,
    ) {
        let name = child(node, Field::Name)
            .map(|n| self.text(n))
            .unwrap_or_default();
        let display_name = if name.is_empty() { "<invalid>" } else { name };
        let qualname = match self.scope_kind(outer_scope) {
            ScopeKind::Class(class) => {
                let outer = self
                    .out
                    .classes
                    .get(class as usize)
                    .map(|c| c.qualname.as_str())
                    .unwrap_or_default();
                join(outer, display_name)
            }
            ScopeKind::Function(f) => {
                let outer = self
                    .out
                    .functions
                    .get(f as usize)
                    .map(|f| f.qualname.as_str())
                    .unwrap_or_default();
                format!("{outer}.<locals>.{display_name}")
            }
            ScopeKind::Module => join(self.module, display_name),
        };
        let superclasses = child(node, Field::Superclasses);
        let has_bases = superclasses.is_some_and(|args| {
            named_children(args, &mut self.cursor)
                .iter()
                .any(|a| kind(*a) != "keyword_argument")
        });
        let class = self.out.classes.len() as u32;
        let scope = self.new_scope(ScopeKind::Class(class), outer_scope);
        self.out.classes.push(ClassInfo {
            qualname,
            span: self.span(node),
            superclasses,
            decorated,
            outer_scope,
            scope,
            has_bases,
            self_attrs: HashSet::default(),
        });
        self.bind(outer_scope, name, Binding::Class(class));
        // The class body runs as part of the enclosing function, in the class's scope.
        if let Some(body) = child(node, Field::Body) {
            self.push_visit(body, outer_fid, scope, 0);
        }
        if let Some(superclasses) = superclasses {
            self.push_visit(superclasses, outer_fid, outer_scope, 0);
        }
    }
}

/// `a.b` joined with a dot, or whichever part is non-empty.
pub(crate) fn join(base: &str, name: &str) -> String {
    match (base.is_empty(), name.is_empty()) {
        (true, _) => name.to_owned(),
        (_, true) => base.to_owned(),
        _ => format!("{base}.{name}"),
    }
}

/// The name bound by `type X = ...` / `type X[T] = ...`.
fn type_alias_name(left: Node<'_>) -> Option<Node<'_>> {
    let inner = first_named(left)?;
    match kind(inner) {
        "identifier" => Some(inner),
        "generic_type" => first_named(inner).filter(|n| kind(*n) == "identifier"),
        _ => None,
    }
}

/// The pieces of one parameter of a `def` or `lambda`.
pub(crate) struct ParamParts<'a> {
    pub name: Node<'a>,
    pub annotation: Option<Node<'a>>,
    pub default: Option<Node<'a>>,
    /// A plain positional-or-keyword parameter (not `*args`, `**kwargs`): the only kind that
    /// can be a method's `self`.
    pub regular: bool,
}

fn splat_name(node: Node<'_>) -> Option<Node<'_>> {
    first_named(node).filter(|n| kind(*n) == "identifier")
}

pub(crate) fn param_parts(param: Node<'_>) -> Option<ParamParts<'_>> {
    match kind(param) {
        "identifier" => Some(ParamParts {
            name: param,
            annotation: None,
            default: None,
            regular: true,
        }),
        "typed_parameter" => {
            let inner = first_named(param)?;
            let (name, regular) = match kind(inner) {
                "identifier" => (inner, true),
                "list_splat_pattern" | "dictionary_splat_pattern" => (splat_name(inner)?, false),
                _ => return None,
            };
            Some(ParamParts {
                name,
                annotation: child(param, Field::Type),
                default: None,
                regular,
            })
        }
        "default_parameter" | "typed_default_parameter" => {
            let name = child(param, Field::Name).filter(|n| kind(*n) == "identifier")?;
            Some(ParamParts {
                name,
                annotation: child(param, Field::Type),
                default: child(param, Field::Value),
                regular: true,
            })
        }
        "list_splat_pattern" | "dictionary_splat_pattern" => Some(ParamParts {
            name: splat_name(param)?,
            annotation: None,
            default: None,
            regular: false,
        }),
        _ => None,
    }
}

enum MethodKind {
    Instance,
    Class,
    Static,
}

/// `@staticmethod` / `@classmethod` by their text: the first parameter's role is needed while
/// walking, before names can be resolved, and these two are never aliased in practice.
fn method_kind(decorated: Option<Node<'_>>, source: &str) -> MethodKind {
    let Some(decorated) = decorated else {
        return MethodKind::Instance;
    };
    let mut cursor = decorated.walk();
    for decorator in named_children(decorated, &mut cursor) {
        if kind(decorator) != "decorator" {
            continue;
        }
        let Some(expr) = first_named(decorator) else {
            continue;
        };
        match text(source, expr) {
            "staticmethod" | "builtins.staticmethod" => return MethodKind::Static,
            "classmethod" | "builtins.classmethod" => return MethodKind::Class,
            _ => {}
        }
    }
    MethodKind::Instance
}
