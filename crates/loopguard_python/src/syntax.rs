//! Small helpers over tree-sitter nodes: field access by precomputed id, child iteration
//! through a reused cursor, source text, and syntax-error collection.

use std::sync::OnceLock;

use loopguard_core::facts::ParseError;
use loopguard_core::span::{LineIndex, Span};
use tree_sitter::{Node, TreeCursor};

/// The grammar fields this crate reads. Looking a field up by name scans the grammar's field
/// table on every call, so ids are resolved once.
#[derive(Clone, Copy)]
pub(crate) enum Field {
    Alias,
    Alternative,
    Arguments,
    Attribute,
    Body,
    Definition,
    Function,
    Left,
    ModuleName,
    Name,
    Object,
    Parameters,
    ReturnType,
    Right,
    Subscript,
    Superclasses,
    Type,
    Value,
}

const FIELD_NAMES: [&str; 18] = [
    "alias",
    "alternative",
    "arguments",
    "attribute",
    "body",
    "definition",
    "function",
    "left",
    "module_name",
    "name",
    "object",
    "parameters",
    "return_type",
    "right",
    "subscript",
    "superclasses",
    "type",
    "value",
];

fn field_ids() -> &'static [u16; 18] {
    static IDS: OnceLock<[u16; 18]> = OnceLock::new();
    IDS.get_or_init(|| {
        let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
        // 0 is never a valid field id: it stands for "this grammar has no such field".
        FIELD_NAMES.map(|name| language.field_id_for_name(name).map_or(0, |id| id.get()))
    })
}

/// Node kind names by kind id. `Node::kind` measures and UTF-8-checks the C string on every
/// call; the walk asks for the kind of every node, often more than once.
fn kind_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
        (0..language.node_kind_count())
            .map(|id| {
                u16::try_from(id)
                    .ok()
                    .and_then(|id| language.node_kind_for_id(id))
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    })
}

/// The node's kind (`call`, `identifier`, `ERROR`, or an anonymous token like `async`).
pub(crate) fn kind(node: Node<'_>) -> &'static str {
    match kind_names().get(usize::from(node.kind_id())) {
        Some(name) => name,
        // `ERROR` sits outside the table.
        None if node.is_error() => "ERROR",
        None => "",
    }
}

/// The child of `node` in `field`, if any.
pub(crate) fn child<'t>(node: Node<'t>, field: Field) -> Option<Node<'t>> {
    let id = field_ids()[field as usize];
    if id == 0 {
        return None;
    }
    node.child_by_field_id(id)
}

/// Every child of `node` in `field` (a field may repeat, e.g. `subscript` in `a[b, c]`).
pub(crate) fn children_in<'t>(node: Node<'t>, field: Field) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let Some(id) = std::num::NonZeroU16::new(field_ids()[field as usize]) else {
        return out;
    };
    let mut cursor = node.walk();
    out.extend(node.children_by_field_id(id, &mut cursor));
    out
}

/// Named children of `node`, comments excluded, through a caller-provided cursor (creating a
/// cursor allocates; indexing children one by one is quadratic).
pub(crate) fn named_children<'t>(node: Node<'t>, cursor: &mut TreeCursor<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    cursor.reset(node);
    if cursor.goto_first_child() {
        loop {
            let current = cursor.node();
            // Comments and line continuations are the grammar's named extras.
            if current.is_named() && !current.is_extra() {
                out.push(current);
            }
            if !cursor.goto_next_sibling() {
                break;
            }
        }
    }
    out
}

/// First named child that is not a comment.
pub(crate) fn first_named<'t>(node: Node<'t>) -> Option<Node<'t>> {
    // `named_child(0)` needs no cursor (a cursor allocates); a leading comment is rare.
    let first = node.named_child(0)?;
    if !first.is_extra() {
        return Some(first);
    }
    let mut cursor = node.walk();
    named_children(node, &mut cursor).into_iter().next()
}

/// Source text of `node`; empty when the byte range is not valid UTF-8 boundaries (never
/// happens with a tree parsed from this very `&str`, but costs nothing to guard).
pub(crate) fn text<'s>(source: &'s str, node: Node<'_>) -> &'s str {
    source.get(node.start_byte()..node.end_byte()).unwrap_or("")
}

/// `expr` without enclosing parentheses: `((f()))` is `f()`.
pub(crate) fn strip_parens(mut node: Node<'_>) -> Node<'_> {
    // Bounded by the nesting of the tree; each step goes one level down.
    while kind(node) == "parenthesized_expression" {
        match first_named(node) {
            Some(inner) => node = inner,
            None => break,
        }
    }
    node
}

/// Whether the node starts with the `async` keyword (`async def`, `async with`, `async for`).
pub(crate) fn starts_with_async(node: Node<'_>) -> bool {
    node.child(0).is_some_and(|first| kind(first) == "async")
}

/// Source text with whitespace, line continuations and comments removed, keeping one space
/// where two words would otherwise merge (`await x`): `self.db \n .get` is `self.db.get`.
pub(crate) fn normalized_text(source: &str, node: Node<'_>) -> String {
    let raw = text(source, node);
    if !raw
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b == b'\\' || b == b'#')
    {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    let mut in_comment = false;
    for ch in raw.chars() {
        if in_comment {
            in_comment = ch != '\n';
            continue;
        }
        if ch == '#' {
            in_comment = true;
            pending_space = true;
            continue;
        }
        if ch.is_whitespace() || ch == '\\' {
            pending_space = true;
            continue;
        }
        if pending_space && is_word_char(ch) && out.chars().next_back().is_some_and(is_word_char) {
            out.push(' ');
        }
        pending_space = false;
        out.push(ch);
    }
    out
}

/// Longest text kept for an expression that is not a plain name/attribute/call chain.
const MAX_OPAQUE_TEXT: usize = 40;
/// Deepest chain rendered by [`callee_text`]; deeper prefixes become `…`.
const MAX_TEXT_DEPTH: u32 = 32;

/// The text of a callee or receiver expression with the arguments of inner calls elided:
/// `sqlite3.connect(...).execute`, `httpx.Client().get`, `self.items[...].close`. Keeps
/// messages short and a chain of n calls from costing n² bytes of text.
pub(crate) fn callee_text(source: &str, node: Node<'_>) -> String {
    let mut out = String::new();
    write_callee_text(source, node, 0, &mut out);
    out
}

fn write_callee_text(source: &str, node: Node<'_>, depth: u32, out: &mut String) {
    if depth > MAX_TEXT_DEPTH {
        out.push('…');
        return;
    }
    match kind(node) {
        "identifier" => out.push_str(text(source, node)),
        "attribute" => {
            if let Some(object) = child(node, Field::Object) {
                write_callee_text(source, object, depth + 1, out);
            }
            out.push('.');
            if let Some(attribute) = child(node, Field::Attribute) {
                out.push_str(text(source, attribute));
            }
        }
        "call" => {
            if let Some(function) = child(node, Field::Function) {
                write_callee_text(source, function, depth + 1, out);
            }
            let has_arguments =
                child(node, Field::Arguments).is_some_and(|args| args.named_child_count() > 0);
            out.push_str(if has_arguments { "(...)" } else { "()" });
        }
        "subscript" => {
            if let Some(value) = child(node, Field::Value) {
                write_callee_text(source, value, depth + 1, out);
            }
            out.push_str("[...]");
        }
        "parenthesized_expression" => {
            out.push('(');
            if let Some(inner) = first_named(node) {
                write_callee_text(source, inner, depth + 1, out);
            }
            out.push(')');
        }
        "await" => {
            out.push_str("await ");
            if let Some(inner) = first_named(node) {
                write_callee_text(source, inner, depth + 1, out);
            }
        }
        _ => {
            let full = normalized_text(source, node);
            if full.chars().count() > MAX_OPAQUE_TEXT {
                out.extend(full.chars().take(MAX_OPAQUE_TEXT));
                out.push('…');
            } else {
                out.push_str(&full);
            }
        }
    }
}

fn is_word_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// At most this many syntax errors are reported per file; a badly broken file yields a
/// cascade that helps nobody.
const MAX_ERRORS: usize = 50;

/// Syntax errors (ERROR and MISSING nodes), outermost first, with the construct they occur
/// in. Only subtrees that contain an error are visited.
pub(crate) fn collect_errors(
    root: Node<'_>,
    source: &str,
    lines: &LineIndex<'_>,
) -> Vec<ParseError> {
    let mut errors = Vec::new();
    if !root.has_error() {
        return errors;
    }
    let mut truncated = 0usize;
    // (node, innermost construct, innermost def/class) triples; an explicit stack keeps deep
    // trees safe.
    let mut stack: Vec<(Node<'_>, Context<'_>)> = vec![(root, Context::default())];
    let mut cursor = root.walk();
    while let Some((node, context)) = stack.pop() {
        if node.is_error() || node.is_missing() {
            if context.in_type_parameters && is_type_parameter_default(node, source) {
                continue;
            }
            if errors.len() >= MAX_ERRORS {
                truncated += 1;
                continue;
            }
            errors.push(describe_error(node, context, source, lines));
            // The inside of an ERROR node is the unparsable text itself: one report is enough.
            continue;
        }
        let mut context = context;
        if describes_construct(kind(node)) {
            context.construct = Some(node);
        }
        if matches!(kind(node), "function_definition" | "class_definition") {
            context.definition = Some(node);
        }
        context.in_type_parameters |= kind(node) == "type_parameter";
        let start = stack.len();
        cursor.reset(node);
        if cursor.goto_first_child() {
            loop {
                let current = cursor.node();
                if current.has_error() || current.is_missing() {
                    stack.push((current, context));
                }
                if !cursor.goto_next_sibling() {
                    break;
                }
            }
        }
        stack[start..].reverse();
    }
    if truncated > 0
        && let Some(last) = errors.last()
    {
        let span = last.span;
        errors.push(ParseError {
            message: format!("{truncated} more syntax errors not shown"),
            span,
        });
    }
    errors
}

/// Where an error sits: the innermost construct worth naming and the definition around it.
#[derive(Clone, Copy, Default)]
struct Context<'t> {
    construct: Option<Node<'t>>,
    definition: Option<Node<'t>>,
    /// Inside a `[T, ...]` type parameter list.
    in_type_parameters: bool,
}

/// PEP 696 defaults (`def f[T = int]()`, `[*Ts = *tuple[int]]`, Python 3.13) are valid
/// Python the grammar does not know yet: it leaves `T =` as an ERROR inside the type
/// parameter list and parses the rest. Such an error is not reported.
fn is_type_parameter_default(node: Node<'_>, source: &str) -> bool {
    node.is_error() && {
        let text = text(source, node).trim_end();
        let text = text.strip_suffix('*').unwrap_or(text).trim_end();
        text.ends_with('=') && !text.ends_with("==")
    }
}

fn describes_construct(kind: &str) -> bool {
    matches!(
        kind,
        "function_definition"
            | "class_definition"
            | "decorated_definition"
            | "if_statement"
            | "for_statement"
            | "while_statement"
            | "with_statement"
            | "try_statement"
            | "match_statement"
            | "import_statement"
            | "import_from_statement"
            | "return_statement"
            | "assignment"
            | "call"
            | "lambda"
            | "parameters"
            | "argument_list"
            | "string"
            | "list"
            | "dictionary"
            | "tuple"
            | "subscript"
    )
}

fn construct_name(node: Node<'_>, source: &str) -> String {
    let named = |what: &str| match child(node, Field::Name) {
        Some(name) => format!("{what} `{}`", text(source, name)),
        None => what.to_owned(),
    };
    match kind(node) {
        "function_definition" => named("function definition"),
        "class_definition" => named("class definition"),
        "decorated_definition" => "decorated definition".to_owned(),
        "if_statement" => "`if` statement".to_owned(),
        "for_statement" => "`for` loop".to_owned(),
        "while_statement" => "`while` loop".to_owned(),
        "with_statement" => "`with` statement".to_owned(),
        "try_statement" => "`try` statement".to_owned(),
        "match_statement" => "`match` statement".to_owned(),
        "import_statement" | "import_from_statement" => "import".to_owned(),
        "return_statement" => "`return` statement".to_owned(),
        "parameters" => "parameter list".to_owned(),
        "argument_list" => "argument list".to_owned(),
        "string" => "string literal".to_owned(),
        "list" => "list display".to_owned(),
        "dictionary" => "dict display".to_owned(),
        "subscript" => "subscript".to_owned(),
        other => other.replace('_', " "),
    }
}

fn describe_error(
    node: Node<'_>,
    context: Context<'_>,
    source: &str,
    lines: &LineIndex<'_>,
) -> ParseError {
    let span: Span = lines.span(node.start_byte(), node.end_byte());
    let place = match (context.construct, context.definition) {
        (Some(construct), Some(definition)) if construct.id() != definition.id() => format!(
            " in {} of {}",
            construct_name(construct, source),
            construct_name(definition, source)
        ),
        (Some(construct), _) => format!(" in {}", construct_name(construct, source)),
        (None, Some(definition)) => format!(" in {}", construct_name(definition, source)),
        (None, None) => String::new(),
    };
    let message = if node.is_missing() {
        let expected = kind(node);
        let expected = if expected.chars().all(|c| c.is_alphanumeric() || c == '_') {
            expected.replace('_', " ")
        } else {
            format!("`{expected}`")
        };
        format!(
            "syntax error{place} at line {}: missing {expected}",
            span.start_line
        )
    } else {
        let snippet: String = text(source, node)
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("")
            .chars()
            .take(40)
            .collect();
        if snippet.is_empty() {
            format!("syntax error{place} at line {}", span.start_line)
        } else {
            format!(
                "syntax error{place} at line {}: cannot parse `{snippet}`",
                span.start_line
            )
        }
    };
    ParseError { message, span }
}
