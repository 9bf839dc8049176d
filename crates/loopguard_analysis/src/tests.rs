//! Analysis tests on hand-built facts (the front ends have their own tests; the fixture
//! runner tests both together).

use loopguard_core::catalog::Catalog;
use loopguard_core::diagnostic::Confidence;
use loopguard_core::facts::*;
use loopguard_core::span::Span;

use super::{Options, analyze};

const CATALOG: &str = r#"
[[blocking]]
rule = "LG305"
hint = "use asyncio.sleep"
paths = ["time.sleep"]

[[blocking]]
rule = "LG302"
hint = "use an async driver"
paths = ["sqlite3.connect", "sqlite3.Connection.execute"]

[[blocking]]
rule = "LG201"
hint = "use asyncio.Lock"
paths = ["threading.Lock.__enter__"]

[[constructor]]
paths = ["sqlite3.connect"]
returns = "sqlite3.Connection"

[[constructor]]
paths = ["threading.Lock"]

[[constructor]]
paths = ["vendor.make_client"]
returns = "app.Client"

[[offload]]
paths = ["asyncio.to_thread", "vendor.Pool.submit"]
methods = ["run_in_executor"]

[[loop-callback]]
paths = ["asyncio.AbstractEventLoop.call_soon"]
methods = ["call_soon"]

[[guard]]
kind = "lock"
paths = ["threading.Lock.__enter__"]
"#;

fn catalog() -> Catalog {
    Catalog::from_sources(&[("python", "test.toml", CATALOG)]).unwrap()
}

fn span(line: u32) -> Span {
    Span {
        start_line: line,
        start_col: 5,
        end_line: line,
        end_col: 20,
        start_byte: line * 100,
        end_byte: line * 100 + 15,
    }
}

fn call(callee: Callee, line: u32, text: &str) -> CallSite {
    CallSite {
        callee,
        kind: CallKind::Call,
        span: span(line),
        awaited: false,
        arg_count: 1,
        closure_args: Vec::new(),
        callable_args: Vec::new(),
        args: Vec::new(),
        param_args: Vec::new(),
        text: text.to_string(),
    }
}

fn path(p: &str) -> Callee {
    Callee::Path(p.to_string())
}

fn func(qualname: &str, is_async: bool, calls: Vec<CallSite>) -> Function {
    Function {
        qualname: qualname.to_string(),
        name: qualname.rsplit('.').next().unwrap().to_string(),
        kind: FunctionKind::Function,
        is_async,
        span: span(1),
        name_span: span(1),
        calls,
        ..Default::default()
    }
}

fn file(path: &str, module: &str, functions: Vec<Function>) -> FileFacts {
    FileFacts {
        path: path.to_string(),
        language: Some(Language::Python),
        module: module.to_string(),
        functions,
        ..Default::default()
    }
}

fn run(files: &[FileFacts]) -> Vec<loopguard_core::Diagnostic> {
    let mut d = analyze(files, &catalog(), &Options::default());
    d.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    d
}

#[test]
fn direct_blocking_call_in_async_function() {
    let f = file(
        "app/h.py",
        "app.h",
        vec![func(
            "app.h.handler",
            true,
            vec![call(path("time.sleep"), 3, "time.sleep")],
        )],
    );
    let d = run(&[f]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, "LG305");
    assert!(d[0].chain.is_empty());
    assert_eq!(d[0].confidence, Confidence::Certain);
    assert!(d[0].message.contains("handler"), "{}", d[0].message);
}

#[test]
fn awaited_and_sync_context_calls_are_not_findings() {
    let mut awaited = call(path("time.sleep"), 3, "time.sleep");
    awaited.awaited = true;
    let f = file(
        "m.py",
        "m",
        vec![
            func("m.a", true, vec![awaited]),
            func(
                "m.script",
                false,
                vec![call(path("time.sleep"), 9, "time.sleep")],
            ),
        ],
    );
    assert!(run(&[f]).is_empty());
}

/// app/services.py: `def get_agent(): return _query()` (line 4) and `def _query():
/// sqlite3.connect(..).execute(..)` (line 8).
fn get_agent_and_query() -> [Function; 2] {
    let conn = TypeRef::Returned(Box::new(path("sqlite3.connect")));
    [
        func(
            "app.services.get_agent",
            false,
            vec![call(path("app.services._query"), 4, "_query")],
        ),
        func(
            "app.services._query",
            false,
            vec![call(
                Callee::Method {
                    receiver: conn,
                    name: "execute".into(),
                },
                8,
                "conn.execute",
            )],
        ),
    ]
}

#[test]
fn chain_through_helpers_across_modules_and_aliases() {
    // app/routes.py: async def get_agent(): service.get_agent()  (imported via package alias)
    // app/services.py: def get_agent(): return _query()
    //                  def _query(): sqlite3.connect(..).execute(..)
    let routes = file(
        "app/routes.py",
        "app.routes",
        vec![func(
            "app.routes.get_agent",
            true,
            vec![call(path("app.get_agent"), 10, "get_agent")],
        )],
    );
    let mut init = file("app/__init__.py", "app", vec![]);
    init.aliases.push(Alias {
        name: "get_agent".into(),
        target: "app.services.get_agent".into(),
    });
    let [get_agent, query] = get_agent_and_query();
    let services = file(
        "app/services.py",
        "app.services",
        vec![
            get_agent,
            query,
            // A cycle must not hang the fixed point.
            func(
                "app.services.loop_a",
                false,
                vec![call(path("app.services.loop_b"), 12, "loop_b")],
            ),
            func(
                "app.services.loop_b",
                false,
                vec![call(path("app.services.loop_a"), 13, "loop_a")],
            ),
        ],
    );
    let d = run(&[routes, init, services]);
    assert_eq!(d.len(), 1, "{d:#?}");
    let f = &d[0];
    assert_eq!(f.code, "LG302");
    assert_eq!(f.path, "app/routes.py");
    assert_eq!(f.api, "sqlite3.Connection.execute");
    let hops: Vec<_> = f
        .chain
        .iter()
        .map(|h| (h.function.as_str(), h.span.start_line))
        .collect();
    assert_eq!(
        hops,
        vec![
            ("app.routes.get_agent", 10),
            ("app.services.get_agent", 4),
            ("app.services._query", 8)
        ]
    );
    assert!(f.message.contains("2 calls deep"), "{}", f.message);
}

#[test]
fn offloaded_closures_and_async_callees_do_not_propagate() {
    // async def h(): loop.run_in_executor(None, lambda: time.sleep(1)); helper_async()
    let mut offload = call(
        Callee::UnknownMethod {
            name: "run_in_executor".into(),
        },
        3,
        "loop.run_in_executor",
    );
    offload.closure_args = vec![1];
    let mut lambda = func(
        "m.h.<lambda>",
        false,
        vec![call(path("time.sleep"), 3, "time.sleep")],
    );
    lambda.kind = FunctionKind::Closure;
    lambda.parent = Some(0);
    // A lambda that is not offloaded runs inline: its blocking call counts for `h`.
    let mut inline = func(
        "m.h.<lambda>",
        false,
        vec![call(path("time.sleep"), 5, "time.sleep")],
    );
    inline.kind = FunctionKind::Closure;
    inline.parent = Some(0);
    let f = file(
        "m.py",
        "m",
        vec![
            func(
                "m.h",
                true,
                vec![offload, call(path("m.other"), 4, "other")],
            ),
            lambda,
            inline,
            func(
                "m.other",
                true,
                vec![call(path("time.sleep"), 20, "time.sleep")],
            ),
        ],
    );
    let d = run(&[f]);
    let lines: Vec<_> = d
        .iter()
        .map(|d| (d.function.as_str(), d.span.start_line))
        .collect();
    assert_eq!(lines, vec![("m.h", 5), ("m.other", 20)]);
}

#[test]
fn lock_with_statement_and_guard_across_await() {
    let lock_ty = TypeRef::Returned(Box::new(path("threading.Lock")));
    let enter = Callee::Method {
        receiver: lock_ty,
        name: "__enter__".into(),
    };
    let mut with_site = call(enter.clone(), 4, "_lock");
    with_site.kind = CallKind::With;
    let mut h = func("m.h", true, vec![with_site]);
    h.guards.push(Guard {
        acquire: enter,
        span: span(4),
        binding: None,
        awaits: vec![span(5)],
        text: "_lock".into(),
        arg_count: 0,
    });
    let d = run(&[file("m.py", "m", vec![h])]);
    let codes: Vec<_> = d.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec!["LG201", "LG202"]);
    assert_eq!(d[1].related.len(), 1);
}

/// `m.Repo.load_agent`, a method that sleeps: reached by name from `x.load_agent()`.
fn repo_load_agent() -> Function {
    let mut helper = func(
        "m.Repo.load_agent",
        false,
        vec![call(path("time.sleep"), 30, "time.sleep")],
    );
    helper.kind = FunctionKind::Method;
    helper.class = Some("m.Repo".into());
    helper.name = "load_agent".into();
    helper
}

#[test]
fn name_based_fallback_is_likely_and_respects_stoplist() {
    let helper = repo_load_agent();
    let f = file(
        "m.py",
        "m",
        vec![
            func(
                "m.h",
                true,
                vec![
                    call(
                        Callee::UnknownMethod {
                            name: "load_agent".into(),
                        },
                        3,
                        "repo.load_agent",
                    ),
                    call(Callee::UnknownMethod { name: "get".into() }, 4, "d.get"),
                ],
            ),
            helper,
        ],
    );
    let mut facts = f;
    facts.classes.push(Class {
        qualname: "m.Repo".into(),
        span: span(25),
        bases: Vec::new(),
        decorators: Vec::new(),
        fields: Vec::new(),
    });
    let d = run(&[facts]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].confidence, Confidence::Likely);
    assert_eq!(d[0].span.start_line, 3);
}

#[test]
fn repeated_call_sites_resolve_the_same_within_a_file_but_not_across_files() {
    // Resolutions are reused for repeated sites of one file; the name-based fallback depends
    // on the file's imports, so the same site in another file must be resolved on its own.
    let helper = repo_load_agent();
    let site = |line| {
        call(
            Callee::UnknownMethod {
                name: "load_agent".into(),
            },
            line,
            "repo.load_agent",
        )
    };
    let mut m = file(
        "m.py",
        "m",
        vec![
            func("m.h", true, vec![site(3), site(4)]),
            func("m.g", true, vec![site(8)]),
            helper,
        ],
    );
    m.classes.push(Class {
        qualname: "m.Repo".into(),
        span: span(25),
        bases: Vec::new(),
        decorators: Vec::new(),
        fields: Vec::new(),
    });
    // `other` does not import `m`: the fallback cannot see `m.Repo` from there.
    let other = file(
        "other.py",
        "other",
        vec![func("other.h", true, vec![site(5)])],
    );
    let d = run(&[m, other]);
    let at: Vec<(&str, u32)> = d
        .iter()
        .map(|d| (d.path.as_str(), d.span.start_line))
        .collect();
    assert_eq!(at, vec![("m.py", 3), ("m.py", 4), ("m.py", 8)]);
}

#[test]
fn reads_are_code_on_the_loop_what_it_reaches_and_its_inline_closures() {
    // handler -> helper -> deep (blocking); an inline closure of the handler without calls;
    // a sync function nothing on the loop calls.
    let mut closure = func("m.handler.<lambda>", false, Vec::new());
    closure.kind = FunctionKind::Closure;
    closure.parent = Some(0);
    let f = file(
        "m.py",
        "m",
        vec![
            func("m.handler", true, vec![call(path("m.helper"), 3, "helper")]),
            closure,
            func("m.helper", false, vec![call(path("m.deep"), 8, "deep")]),
            func(
                "m.deep",
                false,
                vec![call(path("time.sleep"), 12, "time.sleep")],
            ),
            func("m.report", false, vec![call(path("m.deep"), 16, "deep")]),
        ],
    );
    let (d, reads) = super::analyze_with_reads(&[f], &catalog(), &Options::default());
    assert_eq!(d.len(), 1);
    assert_eq!(reads.hot, vec![vec![0, 1, 2, 3]]);
}

/// The findings of a call made from the kept resolutions and chains are those the analysis
/// gives it: for a call of a sync function, its chain with one hop in front; for a catalog
/// API, the direct finding; for a sync function that blocks nowhere, none.
#[test]
fn kept_chains_make_the_findings_the_analysis_makes() {
    use crate::chains::{HotFunction, KeptCallTargets, hot_function, kept_call_findings};
    let routes = file(
        "app/routes.py",
        "app.routes",
        vec![
            func(
                "app.routes.a",
                true,
                vec![
                    call(path("app.services.get_agent"), 10, "get_agent"),
                    call(path("time.sleep"), 11, "time.sleep"),
                ],
            ),
            func(
                "app.routes.b",
                true,
                vec![
                    call(path("app.services.get_agent"), 20, "get_agent"),
                    call(path("app.services.fine"), 21, "fine"),
                ],
            ),
        ],
    );
    let [get_agent, query] = get_agent_and_query();
    let services = file(
        "app/services.py",
        "app.services",
        vec![
            get_agent,
            query,
            func("app.services.fine", false, Vec::new()),
        ],
    );
    let files = [routes, services];
    let catalog = catalog();
    let (diagnostics, reads) = crate::analyze_reusing(
        &files,
        &catalog,
        &Options::default(),
        &crate::kept::Prior::default(),
        true,
    );
    assert_eq!(
        hot_function(&reads.chains, 0, 1),
        Some(&HotFunction::NoChain)
    );
    assert_eq!(
        hot_function(&reads.chains, 1, 2),
        Some(&HotFunction::Sync(Vec::new()))
    );
    let decoded = reads.resolutions[0].decoded().expect("kept");
    let calls = crate::kept::KeptCalls::read(&decoded, &files[0]).expect("fits");
    let function = |f, g| hot_function(&reads.chains, f, g);
    let targets = KeptCallTargets {
        function: &function,
        move_hop: &|_| true,
        direct_only: false,
    };
    let python = catalog.language(Language::Python);
    let mut made = 0;
    for owner in &files[0].functions {
        for site in &owner.calls {
            let kept = calls.repeated(site).expect("kept");
            let got = kept_call_findings(
                owner,
                "app/routes.py",
                site,
                kept,
                python,
                &targets,
                "async",
            )
            .expect("every target known");
            let expected: Vec<_> = diagnostics
                .iter()
                .filter(|d| d.span == site.span)
                .cloned()
                .collect();
            assert_eq!(got, expected, "{}", site.text);
            made += got.len();
        }
    }
    // `get_agent` twice (a chain of 3 hops), `time.sleep` once; `fine` blocks nowhere.
    assert_eq!(made, 3);
    // A function no run vouches for stops them from being made.
    let unknown = KeptCallTargets {
        function: &|_, _| None,
        ..targets
    };
    let site = &files[0].functions[1].calls[0];
    let kept = calls.repeated(site).expect("kept");
    assert!(
        kept_call_findings(
            &files[0].functions[1],
            "app/routes.py",
            site,
            kept,
            python,
            &unknown,
            "async"
        )
        .is_none()
    );
}

/// A helper whose calls the catalog resolves alone: the chains made from those resolutions
/// (`chains::local_chains`) give a call of it the findings the analysis gives it, one per
/// rule from the helper's first call of that rule; a method on an unknown receiver resolves
/// alone only when no project class could be guessed for it by name.
#[test]
fn local_chains_of_a_helper_make_the_findings_the_analysis_makes() {
    use crate::chains::{HotFunction, helper_call_findings, local_chains};
    use crate::resolve::external_call_resolution;
    let unknown = |name: &str| Callee::UnknownMethod { name: name.into() };
    let helper = func(
        "app.jobs._load",
        false,
        vec![
            call(path("time.sleep"), 31, "time.sleep"),
            call(path("sqlite3.connect"), 32, "sqlite3.connect"),
            call(path("time.sleep"), 33, "time.sleep"),
            call(unknown("close"), 34, "conn.close"),
        ],
    );
    let handler = func(
        "app.jobs.handler",
        true,
        vec![call(path("app.jobs._load"), 10, "_load")],
    );
    let files = [file("app/jobs.py", "app.jobs", vec![handler, helper])];
    let expected = run(&files);
    let catalog = catalog();
    let python = catalog.language(Language::Python);
    let in_project = |p: &str| p.starts_with("app.");
    let helper = &files[0].functions[1];
    let resolutions: Vec<_> = (helper.calls.iter())
        .map(|s| external_call_resolution(python, s, &in_project).expect("a library call"))
        .collect();
    let chains = local_chains(helper, "app/jobs.py", &resolutions, python).expect("APIs only");
    let HotFunction::Sync(list) = &chains else {
        panic!("a sync helper has chains");
    };
    assert_eq!(list.len(), 2);
    let owner = &files[0].functions[0];
    let mut got = helper_call_findings(
        owner,
        "app/jobs.py",
        &owner.calls[0],
        &chains,
        python,
        false,
        "async",
    )
    .expect("made");
    got.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    assert_eq!(got, expected);
    // The first `time.sleep`, not the second.
    assert!(
        got.iter()
            .any(|d| d.chain.last().map(|h| h.span) == Some(span(31)))
    );
    // `x.fetch_rows()` may be the one project class with such a method: only the index knows.
    let guessed = call(unknown("fetch_rows"), 40, "x.fetch_rows");
    assert!(external_call_resolution(python, &guessed, &in_project).is_none());
    // Nor may a method on what a library constructor returns when that type is the
    // project's (`vendor.make_client()` gives an `app.Client`).
    let made = Callee::Method {
        receiver: TypeRef::Returned(Box::new(path("vendor.make_client"))),
        name: "close".into(),
    };
    assert!(external_call_resolution(python, &call(made, 41, "c.close"), &in_project).is_none());
    // A helper of the project is not a library call.
    assert!(external_call_resolution(python, &owner.calls[0], &in_project).is_none());
}

/// `offloads_alone` finds the offloads the resolver finds by the catalog alone (a library
/// path, a method of a library type, a method by name), and none where the index may have
/// a say or the call schedules on the loop.
#[test]
fn offloads_alone_agrees_with_the_resolver() {
    use crate::index::Index;
    use crate::resolve::{Resolver, offloads_alone};
    let unknown = |name: &str| Callee::UnknownMethod { name: name.into() };
    let typed = |ty: &str, name: &str| Callee::Method {
        receiver: TypeRef::Named(ty.into()),
        name: name.into(),
    };
    let sites = vec![
        (
            call(path("asyncio.to_thread"), 10, "asyncio.to_thread"),
            true,
        ),
        (
            call(unknown("run_in_executor"), 11, "loop.run_in_executor"),
            true,
        ),
        (
            call(typed("vendor.Pool", "submit"), 12, "pool.submit"),
            true,
        ),
        (call(unknown("call_soon"), 13, "loop.call_soon"), false),
        (call(path("app.jobs.offload"), 14, "offload"), false),
        (
            call(typed("app.jobs.Pool", "submit"), 15, "pool.submit"),
            false,
        ),
        (call(path("time.sleep"), 16, "time.sleep"), false),
    ];
    let handler = func(
        "app.jobs.handler",
        true,
        sites.iter().map(|(s, _)| s.clone()).collect(),
    );
    let files = [file(
        "app/jobs.py",
        "app.jobs",
        vec![handler, func("app.jobs.offload", false, vec![])],
    )];
    let catalog = catalog();
    let python = catalog.language(Language::Python);
    let index = Index::build(&files);
    let resolver = Resolver {
        index: &index,
        catalog: python,
        lang: Language::Python,
        file: 0,
    };
    let in_project = |p: &str| p.starts_with("app.");
    for (site, expected) in &sites {
        let alone = offloads_alone(python, site, &in_project);
        assert_eq!(alone, *expected, "{}", site.text);
        let res = resolver.resolve(site);
        if alone {
            assert!(res.offload && !res.loop_callback && res.endpoint.is_none());
        }
    }
}
