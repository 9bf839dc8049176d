//! Behaviour of [`crate::lower`] on small sources.

use loopguard_core::FileFacts;
use loopguard_core::facts::{CallSite, Callee, Function, FunctionKind, Guard, TypeRef};

use crate::lower;

const MODULE: &str = "app::routes";

fn lower_2021(src: &str) -> FileFacts {
    lower("src/routes.rs", MODULE, src, Some(2021))
}

fn func<'f>(facts: &'f FileFacts, qualname: &str) -> &'f Function {
    facts
        .functions
        .iter()
        .find(|f| f.qualname == qualname)
        .unwrap_or_else(|| {
            let names: Vec<_> = facts.functions.iter().map(|f| &f.qualname).collect();
            panic!("no function {qualname} in {names:?}")
        })
}

fn call<'f>(f: &'f Function, text: &str) -> &'f CallSite {
    f.calls.iter().find(|c| c.text == text).unwrap_or_else(|| {
        let texts: Vec<_> = f.calls.iter().map(|c| &c.text).collect();
        panic!("no call {text} in {} ({texts:?})", f.qualname)
    })
}

fn path(p: &str) -> Callee {
    Callee::Path(p.to_string())
}

fn named(p: &str) -> TypeRef {
    TypeRef::Named(p.to_string())
}

fn method(receiver: TypeRef, name: &str) -> Callee {
    Callee::Method {
        receiver,
        name: name.to_string(),
    }
}

fn guards_of<'f>(facts: &'f FileFacts, qualname: &str) -> &'f [Guard] {
    &func(facts, qualname).guards
}

fn slice<'s>(src: &'s str, span: &loopguard_core::Span) -> &'s str {
    &src[span.start_byte as usize..span.end_byte as usize]
}

#[test]
fn paths_resolve_through_uses_items_and_self() {
    let src = r#"
use std::fs;
use crate::db::{self, Pool as DbPool};
use super::state::AppState;

struct Svc;

impl Svc {
    fn new() -> Self { Svc }
    fn make() -> Self { Self::new() }
}

async fn handler() {
    fs::read_to_string("x").unwrap();
    db::connect();
    DbPool::get();
    helper();
    drop(1);
    Box::new(1);
    AppState::load();
    tokio::fs::read("x").await.unwrap();
    std::thread::sleep(d);
}

fn helper() {}
"#;
    let facts = lower_2021(src);
    assert!(facts.errors.is_empty(), "{:?}", facts.errors);
    let handler = func(&facts, "app::routes::handler");
    assert!(handler.is_async);
    assert_eq!(handler.kind, FunctionKind::Function);
    let expected = [
        ("fs::read_to_string", "std::fs::read_to_string"),
        ("db::connect", "app::db::connect"),
        ("DbPool::get", "app::db::Pool::get"),
        ("helper", "app::routes::helper"),
        ("drop", "drop"),
        ("Box::new", "Box::new"),
        ("AppState::load", "app::state::AppState::load"),
        ("tokio::fs::read", "tokio::fs::read"),
        ("std::thread::sleep", "std::thread::sleep"),
    ];
    for (text, resolved) in expected {
        assert_eq!(call(handler, text).callee, path(resolved), "{text}");
    }
    assert!(call(handler, "tokio::fs::read").awaited);
    assert!(!call(handler, "fs::read_to_string").awaited);
    let make = func(&facts, "app::routes::Svc::make");
    assert_eq!(make.kind, FunctionKind::Method);
    assert_eq!(make.class.as_deref(), Some("app::routes::Svc"));
    assert_eq!(
        call(make, "Self::new").callee,
        path("app::routes::Svc::new")
    );
    assert_eq!(make.returns, Some(named("app::routes::Svc")));
}

#[test]
fn receivers_are_typed_from_params_fields_lets_and_statics() {
    let src = r#"
use std::sync::{Arc, LazyLock, Mutex};
use axum::extract::State;

pub struct AppState {
    db: Mutex<Conn>,
}

struct Pool;

static POOL: LazyLock<Mutex<Vec<u8>>> = LazyLock::new(|| Mutex::new(Vec::new()));

async fn handler(State(state): State<Arc<AppState>>) {
    state.db.lock().unwrap();
}

impl AppState {
    fn by_self(&self) {
        self.db.lock();
        self.helper();
    }
}

fn locals(m: &Mutex<u8>) {
    let c = m.clone();
    c.lock();
    let shared = Arc::new(Mutex::new(0));
    shared.lock();
    let x = Pool::new();
    x.get();
    let y = x.get();
    y.query();
    let z: Mutex<u8> = make();
    z.lock();
    let copy = z;
    copy.lock();
    POOL.lock();
    unknown.lock();
}
"#;
    let facts = lower_2021(src);
    let app_state = named("app::routes::AppState");
    let db_field = TypeRef::Field {
        owner: Box::new(app_state.clone()),
        name: "db".into(),
    };
    let handler = func(&facts, "app::routes::handler");
    assert_eq!(
        call(handler, "state.db.lock").callee,
        method(db_field.clone(), "lock")
    );
    assert_eq!(handler.params[0].name, "state");
    assert_eq!(handler.params[0].annotation, Some(app_state.clone()));

    let by_self = func(&facts, "app::routes::AppState::by_self");
    assert_eq!(
        call(by_self, "self.db.lock").callee,
        method(db_field, "lock")
    );
    assert_eq!(
        call(by_self, "self.helper").callee,
        method(app_state.clone(), "helper")
    );

    let mutex = named("std::sync::Mutex");
    let locals = func(&facts, "app::routes::locals");
    assert_eq!(call(locals, "c.lock").callee, method(mutex.clone(), "lock"));
    assert_eq!(call(locals, "z.lock").callee, method(mutex.clone(), "lock"));
    assert_eq!(
        call(locals, "copy.lock").callee,
        method(mutex.clone(), "lock")
    );
    assert_eq!(
        call(locals, "POOL.lock").callee,
        method(mutex.clone(), "lock")
    );
    let new_mutex = TypeRef::Returned(Box::new(path("std::sync::Mutex::new")));
    assert_eq!(
        call(locals, "shared.lock").callee,
        method(new_mutex, "lock")
    );
    let pool = TypeRef::Returned(Box::new(path("app::routes::Pool::new")));
    assert_eq!(call(locals, "x.get").callee, method(pool.clone(), "get"));
    let got = TypeRef::Returned(Box::new(method(pool, "get")));
    assert_eq!(call(locals, "y.query").callee, method(got, "query"));
    assert_eq!(
        call(locals, "unknown.lock").callee,
        Callee::UnknownMethod {
            name: "lock".into()
        }
    );

    let class = facts
        .classes
        .iter()
        .find(|c| c.qualname == "app::routes::AppState")
        .unwrap();
    assert_eq!(class.fields[0].name, "db");
    assert_eq!(class.fields[0].ty, mutex);
    let pool_global = facts.globals.iter().find(|g| g.name == "POOL").unwrap();
    assert_eq!(pool_global.ty, named("std::sync::Mutex"));
}

#[test]
fn async_blocks_in_sync_functions_are_their_own_async_functions() {
    let src = r#"
fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        work().await;
    });
    rt.block_on(async move { other().await });
}
"#;
    let facts = lower_2021(src);
    let main = func(&facts, "app::routes::main");
    assert!(!main.is_async);
    assert!(main.awaits.is_empty());
    let first = func(&facts, "app::routes::main::{async block}");
    let second = func(&facts, "app::routes::main::{async block}#2");
    for block in [first, second] {
        assert_eq!(block.kind, FunctionKind::AsyncBlock);
        assert!(block.is_async);
        assert_eq!(block.parent, Some(0));
        assert_eq!(block.awaits.len(), 1);
        assert_eq!(slice(src, &block.name_span), "async");
    }
    assert!(call(first, "work").awaited);
    assert!(main.calls.iter().all(|c| c.text != "work"));
    let block_ons: Vec<_> = main
        .calls
        .iter()
        .filter(|c| c.text == "rt.block_on")
        .collect();
    assert_eq!(block_ons.len(), 2);
    assert_eq!(block_ons[0].closure_args, vec![1]);
    assert_eq!(block_ons[1].closure_args, vec![2]);
    let runtime = TypeRef::Returned(Box::new(path("tokio::runtime::Runtime::new")));
    assert_eq!(block_ons[0].callee, method(runtime, "block_on"));
}

#[test]
fn closures_passed_to_offloads_are_closure_args_with_their_own_calls() {
    let src = r#"
async fn f(d: Duration) {
    let v = tokio::task::spawn_blocking(|| std::fs::read("x")).await;
    let g = move || std::thread::sleep(d);
    tokio::task::spawn_blocking(g);
    tokio::task::spawn_blocking(do_work);
    let h = async || tick().await;
}
fn do_work() {}
"#;
    let facts = lower_2021(src);
    let f = func(&facts, "app::routes::f");
    let spawns: Vec<_> = f
        .calls
        .iter()
        .filter(|c| c.callee == path("tokio::task::spawn_blocking"))
        .collect();
    assert_eq!(spawns.len(), 3);
    assert!(spawns[0].awaited);
    let first_closure = func(&facts, "app::routes::f::{closure}");
    assert_eq!(first_closure.kind, FunctionKind::Closure);
    assert_eq!(first_closure.parent, Some(0));
    assert_eq!(spawns[0].closure_args, vec![1]);
    assert_eq!(
        call(first_closure, "std::fs::read").callee,
        path("std::fs::read")
    );
    assert!(f.calls.iter().all(|c| c.text != "std::fs::read"));
    let second_closure = func(&facts, "app::routes::f::{closure}#2");
    assert_eq!(spawns[1].closure_args, vec![2]);
    assert_eq!(
        call(second_closure, "std::thread::sleep").callee,
        path("std::thread::sleep")
    );
    assert_eq!(spawns[2].callable_args, vec![path("app::routes::do_work")]);
    let async_closure = func(&facts, "app::routes::f::{async block}");
    assert_eq!(async_closure.kind, FunctionKind::AsyncBlock);
    assert!(async_closure.is_async);
    assert_eq!(async_closure.awaits.len(), 1);
    // Closure bodies' awaits are not the parent's.
    assert_eq!(f.awaits.len(), 1);
}

const MUTEX_PRELUDE: &str = "use std::sync::Mutex;\nuse std::cell::RefCell;\n";

fn guards_in(body: &str, edition: u16) -> Vec<Guard> {
    let src = format!(
        "{MUTEX_PRELUDE}async fn f(m: &Mutex<Vec<u8>>, cell: &RefCell<u8>, am: &tokio::sync::Mutex<u8>) {{\n{body}\n}}\n"
    );
    let facts = lower("src/routes.rs", MODULE, &src, Some(edition));
    assert!(facts.errors.is_empty(), "{:?}", facts.errors);
    guards_of(&facts, "app::routes::f").to_vec()
}

#[test]
fn let_guard_held_across_await_is_reported() {
    let guards = guards_in("let g = m.lock().unwrap();\ntick().await;\ng.len();", 2021);
    assert_eq!(guards.len(), 1);
    let g = &guards[0];
    assert_eq!(g.binding.as_deref(), Some("g"));
    assert_eq!(g.awaits.len(), 1);
    assert_eq!(g.text, "m.lock()");
    assert_eq!(g.arg_count, 0);
    assert_eq!(g.acquire, method(named("std::sync::Mutex"), "lock"));
    assert_eq!(g.span.start_line, 4);
}

#[test]
fn guard_adapters_and_let_else_still_bind_the_guard() {
    for body in [
        "let g = m.lock().expect(\"poisoned\");\ntick().await;",
        "let g = m.lock().unwrap_or_else(|e| e.into_inner());\ntick().await;",
        "let g = m.lock().map_err(|_| E)?;\ntick().await;",
        "let Ok(g) = m.lock() else { return };\ntick().await;",
        "let first = &m.lock().unwrap()[0];\ntick().await;",
        "let g = m.lock();\ntick().await;",
        // Shadowing does not drop the first guard; `drop` then drops the new `g`.
        "let g = m.lock().unwrap();\nlet g = g.len();\ndrop(g);\ntick().await;",
    ] {
        let guards = guards_in(body, 2021);
        assert_eq!(guards.len(), 1, "{body}");
        assert_eq!(guards[0].awaits.len(), 1, "{body}");
    }
}

#[test]
fn dropped_moved_or_scoped_guards_are_not_held() {
    for body in [
        "let g = m.lock().unwrap();\nlet n = g.len();\ndrop(g);\ntick().await;",
        "let g = m.lock().unwrap();\nstd::mem::drop(g);\ntick().await;",
        "let g = m.lock().unwrap();\nconsume(g);\ntick().await;",
        "{\n let g = m.lock().unwrap();\n g.len();\n}\ntick().await;",
        "let n = m.lock().unwrap().len();\ntick().await;",
        "let _ = m.lock().unwrap();\ntick().await;",
        "let v = m.lock().unwrap().clone();\ntick().await;",
        "if m.lock().unwrap().is_empty() {\n tick().await;\n}",
        "let g = am.lock().await;\ntick().await;",
        "let n = tick().await + m.lock().unwrap().len();",
        "let c = || { let g = m.lock().unwrap(); };\ntick().await;",
        "let Some(x) = m.lock().unwrap().first().copied() else {\n return tick().await;\n};",
    ] {
        assert_eq!(guards_in(body, 2021), Vec::new(), "{body}");
    }
}

#[test]
fn temporaries_are_held_to_the_end_of_their_statement() {
    for body in [
        "m.lock().unwrap().push(fetch().await);",
        "let n = m.lock().unwrap().len() + fetch().await;",
        "match m.lock().unwrap().first() {\n Some(_) => tick().await,\n None => {}\n}",
        "for x in m.lock().unwrap().iter() {\n tick().await;\n}",
        "while let Some(x) = m.lock().unwrap().pop() {\n tick().await;\n}",
    ] {
        let guards = guards_in(body, 2021);
        assert_eq!(guards.len(), 1, "{body}");
        assert_eq!(guards[0].binding, None, "{body}");
        assert_eq!(guards[0].awaits.len(), 1, "{body}");
    }
}

#[test]
fn if_let_scrutinee_temporaries_depend_on_the_edition() {
    let else_await =
        "if let Some(x) = m.lock().unwrap().first() {\n let _ = x;\n} else {\n tick().await;\n}";
    assert_eq!(guards_in(else_await, 2021).len(), 1);
    assert_eq!(guards_in(else_await, 2024), Vec::new());
    let then_await = "if let Some(x) = m.lock().unwrap().first() {\n tick().await;\n}";
    assert_eq!(guards_in(then_await, 2021).len(), 1);
    assert_eq!(guards_in(then_await, 2024).len(), 1);
    // Edition unknown: 2021 rules.
    let src = format!("{MUTEX_PRELUDE}async fn f(m: &Mutex<Vec<u8>>) {{\n{else_await}\n}}");
    let facts = lower("src/routes.rs", MODULE, &src, None);
    assert_eq!(guards_of(&facts, "app::routes::f").len(), 1);
}

#[test]
fn refcell_borrows_are_guards() {
    let guards = guards_in("let mut b = cell.borrow_mut();\ntick().await;", 2021);
    assert_eq!(guards.len(), 1);
    assert_eq!(
        guards[0].acquire,
        method(named("std::cell::RefCell"), "borrow_mut")
    );
    let guards = guards_in(
        "let b = cell.borrow();\n*b;\ntick().await;\ntick().await;",
        2021,
    );
    assert_eq!(guards[0].awaits.len(), 2);
}

#[test]
fn awaits_inside_select_and_join_are_seen() {
    let src = r#"
async fn f(mut rx: Receiver, m: &std::sync::Mutex<u8>) {
    let g = m.lock().unwrap();
    tokio::select! {
        v = rx.recv() => { handle(v).await; }
        _ = tokio::time::sleep(d), if ready() => {}
    }
    drop(g);
    let (a, b) = tokio::join!(one(), two());
    println!("{}", compute(a));
}
"#;
    let facts = lower_2021(src);
    let f = func(&facts, "app::routes::f");
    assert_eq!(f.awaits.len(), 3, "select, the handler's await, join");
    assert!(call(f, "rx.recv").awaited);
    assert!(call(f, "tokio::time::sleep").awaited);
    assert!(call(f, "handle").awaited);
    assert!(call(f, "one").awaited && call(f, "two").awaited);
    assert!(!call(f, "compute").awaited);
    assert!(!call(f, "ready").awaited);
    let handle = call(f, "handle");
    assert_eq!(slice(src, &handle.span), "handle(v)");
    assert_eq!(handle.span.start_line, 5);
    assert_eq!(f.guards.len(), 1);
    assert_eq!(f.guards[0].awaits.len(), 2, "the select and its handler");
    assert_eq!(slice(src, &f.awaits[0]), "tokio::select!");
}

#[test]
fn unparsable_files_give_one_error_and_nothing_else() {
    let facts = lower_2021("fn ok() {}\nfn broken( {\n");
    assert_eq!(facts.errors.len(), 1);
    assert!(facts.functions.is_empty());
    assert!(
        facts.errors[0].message.starts_with("2:"),
        "{}",
        facts.errors[0].message
    );
    let facts = lower_2021("let s = \"unterminated");
    assert_eq!(facts.errors.len(), 1);
    let deep = format!("fn f() {{ {}1{} }}", "(".repeat(5000), ")".repeat(5000));
    assert_eq!(lower_2021(&deep).errors.len(), 1);
    let long = format!("fn f() {{ let x = 1{}; }}", " + 1".repeat(30_000));
    assert_eq!(lower_2021(&long).errors.len(), 1);
    let fine = format!("fn f() {{ let x = 1{}; }}", " + 1".repeat(5000));
    assert_eq!(lower_2021(&fine).errors.len(), 0);
    assert_eq!(lower_2021("").errors.len(), 0);
    assert_eq!(
        lower_2021("\u{feff}#!/usr/bin/env run\nfn main() {}")
            .errors
            .len(),
        0
    );
}

#[test]
fn spans_point_at_the_source_with_characters_and_bytes() {
    let src = "// é è\nfn main() { let é = 1; foo(é).bar(); }\n";
    let facts = lower_2021(src);
    let main = func(&facts, "app::routes::main");
    assert_eq!(slice(src, &main.name_span), "main");
    assert_eq!(
        slice(src, &main.span),
        "fn main() { let é = 1; foo(é).bar(); }"
    );
    let foo = call(main, "foo");
    assert_eq!(slice(src, &foo.span), "foo(é)");
    assert_eq!((foo.span.start_line, foo.span.start_col), (2, 24));
    let bar = call(main, "foo(é).bar");
    assert_eq!(slice(src, &bar.span), "foo(é).bar()");
}

#[test]
fn classes_traits_and_impls_merge_by_name() {
    let src = r#"
use async_trait::async_trait;
pub trait Repo: Send {
    async fn get(&self) -> u8;
    fn name(&self) -> String { self.kind() }
}
#[derive(Clone, serde::Serialize)]
struct Db { conn: std::sync::Mutex<u8>, }
#[async_trait]
impl Repo for Db {
    async fn get(&self) -> u8 { 1 }
}
impl Db { fn new() -> Self { Db { conn: todo() } } }
enum Kind { A }
impl std::fmt::Display for Kind {}
impl<T: Repo> Repo for T {}
"#;
    let facts = lower_2021(src);
    let db: Vec<_> = facts
        .classes
        .iter()
        .filter(|c| c.qualname == "app::routes::Db")
        .collect();
    assert_eq!(db.len(), 1);
    assert_eq!(db[0].bases, vec!["app::routes::Repo".to_string()]);
    assert!(db[0].decorators.contains(&"Clone".to_string()));
    assert!(db[0].decorators.contains(&"serde::Serialize".to_string()));
    assert!(
        db[0]
            .decorators
            .contains(&"async_trait::async_trait".to_string())
    );
    assert_eq!(db[0].span.start_line, 8, "the definition's span wins");
    assert_eq!(
        slice(src, &db[0].span),
        "struct Db { conn: std::sync::Mutex<u8>, }"
    );
    let repo = facts
        .classes
        .iter()
        .find(|c| c.qualname == "app::routes::Repo")
        .unwrap();
    assert_eq!(repo.bases, vec!["Send".to_string()]);
    let default = func(&facts, "app::routes::Repo::name");
    assert_eq!(default.kind, FunctionKind::Method);
    assert_eq!(default.class.as_deref(), Some("app::routes::Repo"));
    assert_eq!(
        call(default, "self.kind").callee,
        method(named("app::routes::Repo"), "kind")
    );
    assert!(
        facts
            .functions
            .iter()
            .all(|f| f.qualname != "app::routes::Repo::get")
    );
    let get = func(&facts, "app::routes::Db::get");
    assert!(get.is_async);
    assert_eq!(
        get.decorators[0].callee,
        path("async_trait::async_trait"),
        "the impl's attribute applies to its methods"
    );
    let kind = facts
        .classes
        .iter()
        .find(|c| c.qualname == "app::routes::Kind")
        .unwrap();
    assert_eq!(kind.bases, vec!["std::fmt::Display".to_string()]);
    assert!(facts.classes.iter().all(|c| c.qualname != "T"));
}

#[test]
fn attributes_become_resolved_decorators() {
    let src = r#"
use actix_web::get;
/// Docs are not decorators.
#[tokio::main(flavor = "current_thread")]
#[allow(dead_code)]
async fn main() {}
#[get("/")]
#[tracing::instrument(skip(state))]
async fn index() {}
#[cfg_attr(not(test), tokio::main(worker_threads = 2))]
async fn real_main() {}
"#;
    let facts = lower_2021(src);
    let main = func(&facts, "app::routes::main");
    let decorators: Vec<_> = main.decorators.iter().map(|d| d.callee.clone()).collect();
    assert_eq!(decorators, vec![path("tokio::main")]);
    assert_eq!(
        slice(src, &main.decorators[0].span),
        "#[tokio::main(flavor = \"current_thread\")]"
    );
    let index = func(&facts, "app::routes::index");
    let decorators: Vec<_> = index.decorators.iter().map(|d| d.callee.clone()).collect();
    assert_eq!(
        decorators,
        vec![path("actix_web::get"), path("tracing::instrument")]
    );
    let real_main = func(&facts, "app::routes::real_main");
    assert_eq!(real_main.decorators[0].callee, path("tokio::main"));
}

#[test]
fn nested_functions_have_their_own_scope() {
    let src = r#"
use std::sync::Mutex;
async fn outer(m: &Mutex<u8>) {
    use std::fs;
    fn inner() {
        fs::read("x");
        m.lock();
    }
    inner();
    let closure = || m.lock();
}
"#;
    let facts = lower_2021(src);
    let outer = func(&facts, "app::routes::outer");
    let inner = func(&facts, "app::routes::outer::inner");
    assert_eq!(inner.kind, FunctionKind::Function);
    assert_eq!(inner.parent, Some(0));
    assert_eq!(
        call(outer, "inner").callee,
        path("app::routes::outer::inner")
    );
    assert_eq!(call(inner, "fs::read").callee, path("std::fs::read"));
    // `m` of `outer` is not visible in an item.
    assert_eq!(
        call(inner, "m.lock").callee,
        Callee::UnknownMethod {
            name: "lock".into()
        }
    );
    let closure = func(&facts, "app::routes::outer::{closure}");
    assert_eq!(
        call(closure, "m.lock").callee,
        method(named("std::sync::Mutex"), "lock")
    );
}

#[test]
fn module_level_uses_and_inline_modules_are_aliases() {
    let src = r#"
pub use crate::db::get_db;
use std::sync::{Arc, Mutex};
type Shared = Arc<Mutex<u8>>;
mod inner {
    use super::Shared;
    pub static LOCK: std::sync::RwLock<u8> = std::sync::RwLock::new(0);
    pub fn f(s: Shared) { s.lock(); LOCK.read(); super::top(); }
}
fn top() { inner::LOCK.write(); }
"#;
    let facts = lower_2021(src);
    let alias = |name: &str| {
        facts
            .aliases
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.target.as_str())
    };
    assert_eq!(alias("get_db"), Some("app::db::get_db"));
    assert_eq!(alias("Mutex"), Some("std::sync::Mutex"));
    assert_eq!(alias("Shared"), Some("std::sync::Mutex"));
    assert_eq!(alias("inner::Shared"), Some("app::routes::Shared"));
    assert!(
        facts
            .globals
            .iter()
            .any(|g| g.name == "inner::LOCK" && g.ty == named("std::sync::RwLock"))
    );
    let f = func(&facts, "app::routes::inner::f");
    assert_eq!(
        call(f, "s.lock").callee,
        method(named("std::sync::Mutex"), "lock")
    );
    assert_eq!(
        call(f, "LOCK.read").callee,
        method(named("std::sync::RwLock"), "read")
    );
    assert_eq!(call(f, "super::top").callee, path("app::routes::top"));
    let top = func(&facts, "app::routes::top");
    assert_eq!(
        call(top, "inner::LOCK.write").callee,
        method(TypeRef::Global("app::routes::inner::LOCK".into()), "write")
    );
}

#[test]
fn lazy_static_bodies_declare_typed_globals() {
    let src = r#"
use std::sync::Mutex;
lazy_static::lazy_static! {
    static ref CACHE: Mutex<Vec<u8>> = Mutex::new(Vec::new());
}
async fn f() { let g = CACHE.lock().unwrap(); tick().await; }
"#;
    let facts = lower_2021(src);
    assert!(facts.globals.iter().any(|g| g.name == "CACHE"));
    let guards = guards_of(&facts, "app::routes::f");
    assert_eq!(guards.len(), 1);
    assert_eq!(guards[0].acquire, method(named("std::sync::Mutex"), "lock"));
}

#[test]
fn binary_crates_and_statics_imported_from_elsewhere() {
    let src = "use crate::state::POOL;\nfn main() { POOL.lock(); }\n";
    let facts = lower("src/bin/tool.rs", "tool", src, Some(2024));
    assert_eq!(facts.edition, Some(2024));
    let main = func(&facts, "tool::main");
    assert_eq!(
        call(main, "POOL.lock").callee,
        method(TypeRef::Global("tool::state::POOL".into()), "lock")
    );
}

#[test]
fn lowering_the_same_file_twice_gives_the_same_facts() {
    let src = "async fn f(m: &std::sync::Mutex<u8>) { let g = m.lock(); x().await; }";
    assert_eq!(lower_2021(src), lower_2021(src));
}

#[test]
fn caller_stack_limits_fit_a_debug_build_on_a_small_stack() {
    // Just below the limits used when no big-stack thread can be started, in the shapes
    // that cost syn and the lowering the most stack per token.
    let shapes = [
        format!("fn f() {{ {}1; }}", "return ".repeat(390)),
        format!("fn f(x: {}u8{}) {{}}", "Vec<".repeat(130), ">".repeat(130)),
        format!(
            "fn f() {{ let x = {}1{}; }}",
            "(".repeat(98),
            ")".repeat(98)
        ),
        format!("fn f() {{ {}1{} }}", "async { ".repeat(98), " }".repeat(98)),
        format!("fn f() {{ let x = {}1; }}", "|| ".repeat(190)),
    ];
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for src in shapes {
                let facts = crate::lower_on_this_thread(
                    "x.rs",
                    "x",
                    &src,
                    None,
                    crate::LIMITS_CALLER_STACK,
                );
                assert!(facts.errors.is_empty(), "{:?}", facts.errors);
            }
            let too_deep = format!(
                "fn f() {{ let x = {}1{}; }}",
                "(".repeat(101),
                ")".repeat(101)
            );
            let facts = crate::lower_on_this_thread(
                "x.rs",
                "x",
                &too_deep,
                None,
                crate::LIMITS_CALLER_STACK,
            );
            assert_eq!(facts.errors.len(), 1);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn long_call_chains_stay_linear() {
    let chain = format!(
        "async fn f() {{ Router::new(){}; }}",
        ".route(\"/\", get(h))".repeat(3000)
    );
    let facts = lower_2021(&chain);
    let f = func(&facts, "app::routes::f");
    assert_eq!(f.calls.len(), 1 + 3000 * 2);
    assert!(f.calls.iter().all(|c| c.text.chars().count() <= 120));
    let nested = format!("fn f() {{ let x = {}1; }}", "|| ".repeat(200));
    let facts = lower_2021(&nested);
    assert_eq!(facts.functions.len(), 64, "f and 63 nested closures");
}

#[test]
fn generic_fields_and_local_statics() {
    let src = r#"
use std::sync::Mutex;
struct Svc<T> { repo: T, lock: Mutex<T> }
async fn f() {
    thread_local! {
        static CELL: std::cell::RefCell<u8> = std::cell::RefCell::new(0);
    }
    CELL.with(|c| *c.borrow_mut() += 1);
    let b = CELL.borrow_mut();
    tick().await;
}
fn g() { CELL.with(|c| ()); }
"#;
    let facts = lower_2021(src);
    let svc = facts
        .classes
        .iter()
        .find(|c| c.qualname == "app::routes::Svc")
        .unwrap();
    let fields: Vec<_> = svc.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(fields, vec!["lock"], "a generic field has no known type");
    let f = func(&facts, "app::routes::f");
    let refcell = named("std::cell::RefCell");
    assert_eq!(call(f, "CELL.with").callee, method(refcell.clone(), "with"));
    assert_eq!(f.guards.len(), 1);
    assert_eq!(f.guards[0].acquire, method(refcell, "borrow_mut"));
    // The block's static is not visible elsewhere.
    let g = func(&facts, "app::routes::g");
    assert_eq!(
        call(g, "CELL.with").callee,
        Callee::UnknownMethod {
            name: "with".into()
        }
    );
    assert!(facts.globals.is_empty());
}

#[test]
fn guards_dereference_to_the_guarded_type() {
    let src = r#"
use std::sync::{Arc, LazyLock, Mutex};
use rusqlite::Connection;
use crate::state::SHARED;

static POOL: LazyLock<Mutex<Pool>> = LazyLock::new(|| Mutex::new(Pool::new()));

struct Cache {
    conn: Mutex<Connection>,
    stock: tokio::sync::Mutex<Stock>,
}

impl Cache {
    async fn rename(&self, m: &Mutex<Connection>) {
        self.conn.lock().unwrap().execute("x", []);
        self.stock.lock().await.reserve();
        m.lock().unwrap().execute("y", []);
        let local = Arc::new(Mutex::new(Connection::open("db")));
        let g = local.lock().unwrap();
        g.query_row();
        POOL.lock().unwrap().get();
        SHARED.read().unwrap().len();
    }
}
"#;
    let facts = lower_2021(src);
    let cache = facts
        .classes
        .iter()
        .find(|c| c.qualname == "app::routes::Cache")
        .unwrap();
    let field = |name: &str| cache.fields.iter().find(|f| f.name == name).map(|f| &f.ty);
    assert_eq!(field("conn"), Some(&named("std::sync::Mutex")));
    assert_eq!(
        field("conn.<guarded>"),
        Some(&named("rusqlite::Connection"))
    );
    assert_eq!(field("stock.<guarded>"), Some(&named("Stock")));
    let guarded_global = facts.globals.iter().find(|g| g.name == "POOL.<guarded>");
    assert_eq!(guarded_global.map(|g| &g.ty), Some(&named("Pool")));

    let rename = func(&facts, "app::routes::Cache::rename");
    let owner = Box::new(named("app::routes::Cache"));
    let twin = |name: &str| TypeRef::Field {
        owner: owner.clone(),
        name: name.into(),
    };
    assert_eq!(
        call(rename, "self.conn.lock().unwrap().execute").callee,
        method(twin("conn.<guarded>"), "execute")
    );
    assert_eq!(
        call(rename, "self.stock.lock().await.reserve").callee,
        method(twin("stock.<guarded>"), "reserve")
    );
    assert_eq!(
        call(rename, "m.lock().unwrap().execute").callee,
        method(named("rusqlite::Connection"), "execute")
    );
    let opened = TypeRef::Returned(Box::new(path("rusqlite::Connection::open")));
    assert_eq!(
        call(rename, "g.query_row").callee,
        method(opened, "query_row")
    );
    assert_eq!(
        call(rename, "POOL.lock().unwrap().get").callee,
        method(named("Pool"), "get")
    );
    assert_eq!(
        call(rename, "SHARED.read().unwrap().len").callee,
        method(
            TypeRef::Global("app::state::SHARED.<guarded>".into()),
            "len"
        )
    );
    // The acquiring calls themselves keep the lock's type.
    assert_eq!(
        call(rename, "self.conn.lock").callee,
        method(twin("conn"), "lock")
    );
}

#[test]
fn items_wrapped_in_item_macros_are_lowered() {
    let src = r#"
cfg_if::cfg_if! {
    if #[cfg(unix)] {
        use std::fs;
        pub async fn read() { fs::read("x"); }
    } else {
        pub async fn read() {}
    }
}
cfg_rt! {
    pub fn spawn_it() { read(); }
}
macro_rules! cfg_rt { ($($i:item)*) => { $($i)* } }
diesel::table! { users (id) { id -> Integer, } }
"#;
    let facts = lower_2021(src);
    assert!(facts.errors.is_empty());
    let reads: Vec<_> = facts
        .functions
        .iter()
        .filter(|f| f.qualname == "app::routes::read")
        .collect();
    assert_eq!(reads.len(), 2, "both cfg branches");
    assert_eq!(call(reads[0], "fs::read").callee, path("std::fs::read"));
    let spawn = func(&facts, "app::routes::spawn_it");
    assert_eq!(call(spawn, "read").callee, path("app::routes::read"));
    assert_eq!(facts.functions.len(), 3);
}

#[test]
fn unknown_macros_still_show_their_calls_and_awaits() {
    let src = r#"
async fn f(srv: Listener) {
    let (socket, addr) = assert_ok!(srv.accept().await);
    tracing::info!(peer = %lookup(addr).await, "accepted");
    my_dsl! { select * from t where x = y.await };
    spawn_named!("x", async move { inner().await });
}
"#;
    let facts = lower_2021(src);
    let f = func(&facts, "app::routes::f");
    assert_eq!(f.awaits.len(), 3, "{:?}", f.awaits);
    assert!(call(f, "srv.accept").awaited);
    let texts: Vec<_> = f.awaits.iter().map(|a| slice(src, a)).collect();
    assert_eq!(texts, vec![".await", ".await", ".await"]);
    // The async block is a function of its own, its await is not f's.
    let block = func(&facts, "app::routes::f::{async block}");
    assert_eq!(block.awaits.len(), 1);
}
