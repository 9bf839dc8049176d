//! Lowering of Python sources to facts: names, types, call sites, guards, errors.

use loopguard_core::FileFacts;
use loopguard_core::facts::{CallKind, CallSite, Callee, Function, FunctionKind, TypeRef};

fn lower(source: &str) -> FileFacts {
    loopguard_python::lower("app/m.py", "app.m", false, source)
}

fn function<'f>(facts: &'f FileFacts, qualname: &str) -> &'f Function {
    facts
        .functions
        .iter()
        .find(|f| f.qualname == qualname)
        .unwrap_or_else(|| {
            let names: Vec<_> = facts.functions.iter().map(|f| &f.qualname).collect();
            panic!("no function {qualname}; have {names:?}")
        })
}

fn call<'f>(function: &'f Function, text: &str) -> &'f CallSite {
    function
        .calls
        .iter()
        .find(|c| c.text == text && c.kind == CallKind::Call)
        .unwrap_or_else(|| {
            let texts: Vec<_> = function.calls.iter().map(|c| (&c.text, c.kind)).collect();
            panic!("no call `{text}` in {}; have {texts:?}", function.qualname)
        })
}

fn sites(function: &Function, kind: CallKind) -> Vec<&CallSite> {
    function.calls.iter().filter(|c| c.kind == kind).collect()
}

fn path(p: &str) -> Callee {
    Callee::Path(p.to_owned())
}

fn returned(p: &str) -> TypeRef {
    TypeRef::Returned(Box::new(path(p)))
}

fn method(receiver: TypeRef, name: &str) -> Callee {
    Callee::Method {
        receiver,
        name: name.to_owned(),
    }
}

fn named(p: &str) -> TypeRef {
    TypeRef::Named(p.to_owned())
}

#[test]
fn imports_resolve_calls_and_become_aliases() {
    let facts = lower(
        "import os.path\nimport requests as rq\nfrom subprocess import run as sh\nimport a.b.c\n\
         def f():\n    os.path.exists('x')\n    rq.get('u')\n    sh(['ls'])\n    a.b.c.d()\n",
    );
    let f = function(&facts, "app.m.f");
    assert_eq!(call(f, "os.path.exists").callee, path("os.path.exists"));
    assert_eq!(call(f, "rq.get").callee, path("requests.get"));
    assert_eq!(call(f, "sh").callee, path("subprocess.run"));
    assert_eq!(call(f, "a.b.c.d").callee, path("a.b.c.d"));
    let aliases: Vec<(&str, &str)> = facts
        .aliases
        .iter()
        .map(|a| (a.name.as_str(), a.target.as_str()))
        .collect();
    assert_eq!(
        aliases,
        [
            ("os", "os"),
            ("rq", "requests"),
            ("sh", "subprocess.run"),
            ("a", "a")
        ]
    );
}

#[test]
fn relative_imports_resolve_against_the_package() {
    let source = "from . import db\nfrom .db import get_db\nfrom ..core import cfg as c\nfrom .. import top\n";
    let module = loopguard_python::lower("app/services/x.py", "app.services.x", false, source);
    let targets: Vec<&str> = module.aliases.iter().map(|a| a.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "app.services.db",
            "app.services.db.get_db",
            "app.core.cfg",
            "app.top"
        ]
    );

    let init = loopguard_python::lower("app/services/__init__.py", "app.services", true, source);
    let targets: Vec<&str> = init.aliases.iter().map(|a| a.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "app.services.db",
            "app.services.db.get_db",
            "app.core.cfg",
            "app.top"
        ]
    );
}

#[test]
fn module_level_alias_assignments_and_typed_globals() {
    let facts = lower(
        "import threading\nimport json\nloads = json.loads\n_lock = threading.Lock()\n\
         timeout: float = 3\nclient: 'Client' = None\nclass Client: ...\nLIMIT = 10\n",
    );
    assert!(
        facts
            .aliases
            .iter()
            .any(|a| a.name == "loads" && a.target == "json.loads")
    );
    let globals: Vec<(&str, &TypeRef)> = facts
        .globals
        .iter()
        .map(|g| (g.name.as_str(), &g.ty))
        .collect();
    assert_eq!(
        globals,
        [
            ("_lock", &returned("threading.Lock")),
            ("timeout", &named("builtins.float")),
            ("client", &named("app.m.Client")),
        ]
    );
}

#[test]
fn local_bindings_shadow_modules() {
    let facts = lower(
        "import requests\nclass X: ...\n\
         def assigned():\n    requests = X()\n    requests.get('u')\n\
         def param(requests):\n    requests.get('u')\n\
         def module_level():\n    requests.get('u')\n",
    );
    assert_eq!(
        call(function(&facts, "app.m.assigned"), "requests.get").callee,
        method(returned("app.m.X"), "get")
    );
    assert_eq!(
        call(function(&facts, "app.m.param"), "requests.get").callee,
        Callee::UnknownMethod {
            name: "get".to_owned()
        }
    );
    assert_eq!(
        call(function(&facts, "app.m.module_level"), "requests.get").callee,
        path("requests.get")
    );
}

#[test]
fn unbound_names_are_builtins_and_star_imports_supply_the_rest() {
    let facts = lower("def f():\n    open('x')\n    undefined_thing()\n");
    let f = function(&facts, "app.m.f");
    assert_eq!(call(f, "open").callee, path("builtins.open"));
    assert_eq!(
        call(f, "undefined_thing").callee,
        path("builtins.undefined_thing")
    );

    let starred = lower("from helpers import *\ndef f():\n    open('x')\n    fetch()\n");
    let f = function(&starred, "app.m.f");
    assert_eq!(call(f, "open").callee, path("builtins.open"));
    assert_eq!(call(f, "fetch").callee, path("helpers.fetch"));
}

#[test]
fn calls_of_parameters_and_untyped_locals_are_skipped() {
    let facts = lower(
        "import requests\ndef f(callback, items):\n    callback()\n    x = items[0]\n    x()\n    \
         g = requests.get\n    g('u')\n",
    );
    let f = function(&facts, "app.m.f");
    let texts: Vec<&str> = sites(f, CallKind::Call)
        .iter()
        .map(|c| c.text.as_str())
        .collect();
    assert_eq!(texts, ["g"]);
    assert_eq!(call(f, "g").callee, path("requests.get"));
}

#[test]
fn sqlite_connection_is_a_typed_receiver() {
    let facts = lower(
        "import sqlite3\nasync def handler():\n    conn = sqlite3.connect('db')\n    \
         cur = conn.execute('select 1')\n    cur.fetchall()\n",
    );
    let f = function(&facts, "app.m.handler");
    assert_eq!(call(f, "sqlite3.connect").callee, path("sqlite3.connect"));
    let execute = call(f, "conn.execute");
    assert_eq!(
        execute.callee,
        method(returned("sqlite3.connect"), "execute")
    );
    assert_eq!(execute.arg_count, 1);
    assert_eq!(
        call(f, "cur.fetchall").callee,
        method(
            TypeRef::Returned(Box::new(method(returned("sqlite3.connect"), "execute"))),
            "fetchall"
        )
    );
}

#[test]
fn receivers_typed_by_annotations_with_and_chained_calls() {
    let facts = lower(
        "from typing import Optional\nimport httpx\nfrom sqlalchemy.orm import Session\n\
         def f(db: Optional[Session], s: 'Session | None', c: httpx.Client | None = None):\n    \
         db.query(1)\n    s.commit()\n    c.get('u')\n    \
         with httpx.Client() as client:\n        client.post('u')\n    \
         httpx.Client().get('u')\n    n: Session = make()\n    n.flush()\n",
    );
    let f = function(&facts, "app.m.f");
    let session = named("sqlalchemy.orm.Session");
    assert_eq!(call(f, "db.query").callee, method(session.clone(), "query"));
    assert_eq!(
        call(f, "s.commit").callee,
        method(session.clone(), "commit")
    );
    assert_eq!(
        call(f, "c.get").callee,
        method(named("httpx.Client"), "get")
    );
    assert_eq!(
        call(f, "client.post").callee,
        method(returned("httpx.Client"), "post")
    );
    assert_eq!(
        call(f, "httpx.Client().get").callee,
        method(returned("httpx.Client"), "get")
    );
    assert_eq!(call(f, "n.flush").callee, method(session, "flush"));
    let params: Vec<Option<&TypeRef>> = f.params.iter().map(|p| p.annotation.as_ref()).collect();
    assert_eq!(
        params,
        [
            Some(&named("sqlalchemy.orm.Session")),
            Some(&named("sqlalchemy.orm.Session")),
            Some(&named("httpx.Client")),
        ]
    );
}

#[test]
fn with_on_a_module_global_lock() {
    let facts = lower(
        "import threading\n_lock = threading.Lock()\nasync def f():\n    with _lock:\n        pass\n    \
         _lock.acquire()\n",
    );
    let f = function(&facts, "app.m.f");
    let with = sites(f, CallKind::With);
    assert_eq!(with.len(), 1);
    assert_eq!(
        with[0].callee,
        method(returned("threading.Lock"), "__enter__")
    );
    assert_eq!(with[0].text, "_lock");
    assert_eq!(
        call(f, "_lock.acquire").callee,
        method(returned("threading.Lock"), "acquire")
    );
    // No await in the body: no guard.
    assert!(f.guards.is_empty());
}

#[test]
fn with_on_a_call_is_a_call_and_an_enter() {
    let facts = lower(
        "import threading\ndef f():\n    with threading.Lock() as held, open('p'):\n        pass\n",
    );
    let f = function(&facts, "app.m.f");
    assert_eq!(call(f, "threading.Lock").callee, path("threading.Lock"));
    let with: Vec<&Callee> = sites(f, CallKind::With).iter().map(|c| &c.callee).collect();
    assert_eq!(
        with,
        [
            &method(returned("threading.Lock"), "__enter__"),
            &method(returned("builtins.open"), "__enter__"),
        ]
    );
}

#[test]
fn self_lock_from_init_is_a_field_receiver() {
    let facts = lower(
        "import threading\nclass Cache:\n    def __init__(self):\n        self._lock = threading.RLock()\n        \
         self.size: int = 0\n\n    async def get(self, key):\n        with self._lock:\n            \
         await self.refresh(key)\n\n    async def refresh(self, key): ...\n",
    );
    let init = function(&facts, "app.m.Cache.__init__");
    let attributes: Vec<(&str, &TypeRef)> = init
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), &a.ty))
        .collect();
    assert_eq!(
        attributes,
        [
            ("_lock", &returned("threading.RLock")),
            ("size", &named("builtins.int"))
        ]
    );

    let get = function(&facts, "app.m.Cache.get");
    assert_eq!(get.kind, FunctionKind::Method);
    assert_eq!(get.class.as_deref(), Some("app.m.Cache"));
    let lock_field = TypeRef::Field {
        owner: Box::new(named("app.m.Cache")),
        name: "_lock".to_owned(),
    };
    let with = sites(get, CallKind::With);
    assert_eq!(with.len(), 1);
    assert_eq!(with[0].callee, method(lock_field.clone(), "__enter__"));
    let refresh = call(get, "self.refresh");
    assert_eq!(refresh.callee, path("app.m.Cache.refresh"));
    assert!(refresh.awaited);

    assert_eq!(get.guards.len(), 1);
    let guard = &get.guards[0];
    assert_eq!(guard.acquire, method(lock_field, "__enter__"));
    assert_eq!(guard.text, "self._lock");
    assert_eq!(guard.awaits, get.awaits);
    assert_eq!(guard.span.start_line, 8);
}

#[test]
fn guards_collect_only_awaits_of_their_body_and_function() {
    let facts = lower(
        "import threading\nlock = threading.Lock()\nasync def f():\n    await before()\n    \
         with lock as held:\n        await first()\n        async with other():\n            pass\n        \
         async def inner():\n            await not_counted()\n        g = lambda: None\n    await after()\n",
    );
    let f = function(&facts, "app.m.f");
    assert_eq!(f.awaits.len(), 3);
    assert_eq!(f.guards.len(), 1);
    let guard = &f.guards[0];
    assert_eq!(guard.binding.as_deref(), Some("held"));
    // `await first()` and the `async with` (which awaits `__aenter__`).
    let lines: Vec<u32> = guard.awaits.iter().map(|s| s.start_line).collect();
    assert_eq!(lines, [6, 7]);
    let inner = function(&facts, "app.m.f.<locals>.inner");
    assert_eq!(inner.awaits.len(), 1);
    assert!(inner.guards.is_empty());
}

#[test]
fn untyped_with_values_are_skipped() {
    let facts = lower("async def f(lock):\n    with lock:\n        await g()\n");
    let f = function(&facts, "app.m.f");
    assert!(sites(f, CallKind::With).is_empty());
    assert!(f.guards.is_empty());
}

#[test]
fn depends_defaults_and_annotated_metadata() {
    let facts = lower(
        "from typing import Annotated\nfrom fastapi import Depends\nfrom sqlalchemy.orm import Session\n\
         from app.deps import get_db, get_user\n\
         SessionDep = Annotated[Session, Depends(get_db)]\n\
         async def a(db = Depends(get_db)): ...\n\
         async def b(db: Annotated[Session, Depends(get_db)], user=Depends(get_user)): ...\n\
         async def c(db: SessionDep): ...\n",
    );
    let depends = Some(path("fastapi.Depends"));
    let get_db = vec![path("app.deps.get_db")];

    let a = &function(&facts, "app.m.a").params[0];
    assert_eq!(
        (a.default_call.clone(), a.default_args.clone()),
        (depends.clone(), get_db.clone())
    );

    let b = &function(&facts, "app.m.b").params;
    assert_eq!(b[0].annotation, Some(named("sqlalchemy.orm.Session")));
    assert_eq!(b[0].default_call, depends);
    assert_eq!(b[0].default_args, get_db);
    assert_eq!(b[1].default_args, vec![path("app.deps.get_user")]);

    let c = &function(&facts, "app.m.c").params[0];
    assert_eq!(c.annotation, Some(named("sqlalchemy.orm.Session")));
    assert_eq!(c.default_call, depends);
    assert_eq!(c.default_args, get_db);
}

#[test]
fn lambdas_passed_to_run_in_executor_are_closure_args() {
    let facts = lower(
        "import asyncio, requests\nasync def f(url):\n    loop = asyncio.get_running_loop()\n    \
         await loop.run_in_executor(None, lambda: requests.get(url))\n    \
         fetch = lambda: requests.get(url)\n    await loop.run_in_executor(None, fetch)\n",
    );
    let f = function(&facts, "app.m.f");
    let lambdas: Vec<(u32, &Function)> = facts
        .functions
        .iter()
        .enumerate()
        .filter(|(_, g)| g.kind == FunctionKind::Closure)
        .map(|(i, g)| (i as u32, g))
        .collect();
    assert_eq!(lambdas.len(), 2);
    for (_, lambda) in &lambdas {
        assert_eq!(lambda.qualname, "app.m.f.<lambda>");
        assert_eq!(lambda.parent, Some(1));
        assert_eq!(call(lambda, "requests.get").callee, path("requests.get"));
    }
    let offloads: Vec<&CallSite> = f
        .calls
        .iter()
        .filter(|c| c.text == "loop.run_in_executor")
        .collect();
    assert_eq!(offloads.len(), 2);
    assert_eq!(offloads[0].closure_args, vec![lambdas[0].0]);
    assert_eq!(offloads[1].closure_args, vec![lambdas[1].0]);
    assert!(offloads[0].awaited);
    assert_eq!(
        offloads[0].callee,
        method(returned("asyncio.get_running_loop"), "run_in_executor")
    );
    // The lambda's call belongs to the lambda, not to `f`.
    assert!(f.calls.iter().all(|c| c.text != "requests.get"));
}

#[test]
fn callables_passed_by_reference() {
    let facts = lower(
        "import asyncio, time, functools\nfrom functools import partial\nimport requests\n\
         class Ticker:\n    def start(self, loop):\n        loop.call_soon(self._tick)\n    def _tick(self): ...\n\
         async def f(data):\n    await asyncio.to_thread(time.sleep, 1)\n    \
         await asyncio.to_thread(functools.partial(requests.get, 'u'))\n    \
         await asyncio.to_thread(partial(time.sleep, 1))\n    print(data, str, input)\n",
    );
    let f = function(&facts, "app.m.f");
    let to_thread: Vec<&CallSite> = f
        .calls
        .iter()
        .filter(|c| c.text == "asyncio.to_thread")
        .collect();
    assert_eq!(to_thread[0].callable_args, vec![path("time.sleep")]);
    assert_eq!(to_thread[0].arg_count, 2);
    assert_eq!(to_thread[1].callable_args, vec![path("requests.get")]);
    assert_eq!(to_thread[2].callable_args, vec![path("time.sleep")]);
    assert_eq!(
        call(f, "functools.partial").callable_args,
        vec![path("requests.get")]
    );
    // Data and builtin types are not callbacks; builtin functions are.
    assert_eq!(call(f, "print").callable_args, vec![path("builtins.input")]);

    let start = function(&facts, "app.m.Ticker.start");
    assert_eq!(
        call(start, "loop.call_soon").callable_args,
        vec![path("app.m.Ticker._tick")]
    );
}

#[test]
fn nested_def_in_async_def_is_its_own_sync_function() {
    let facts = lower(
        "import time\nasync def outer():\n    def helper():\n        time.sleep(1)\n    helper()\n    \
         await other()\n",
    );
    let outer = function(&facts, "app.m.outer");
    let helper = function(&facts, "app.m.outer.<locals>.helper");
    assert!(outer.is_async);
    assert!(!helper.is_async);
    assert!(!helper.has_async_syntax);
    assert_eq!(helper.kind, FunctionKind::Function);
    assert_eq!(helper.parent, Some(1));
    assert_eq!(call(helper, "time.sleep").callee, path("time.sleep"));
    assert_eq!(
        call(outer, "helper").callee,
        path("app.m.outer.<locals>.helper")
    );
    assert!(outer.calls.iter().all(|c| c.text != "time.sleep"));
    assert!(outer.has_async_syntax);
}

#[test]
fn module_code_lives_in_a_module_function() {
    let facts = lower("import asyncio\nasync def main(): ...\nasyncio.run(main())\n");
    let module = &facts.functions[0];
    assert_eq!(module.qualname, "app.m.<module>");
    assert_eq!(module.name, "<module>");
    assert!(!module.is_async);
    assert_eq!(call(module, "asyncio.run").callee, path("asyncio.run"));
    assert_eq!(call(module, "main").callee, path("app.m.main"));
    assert_eq!(call(module, "asyncio.run").callable_args, vec![]);
}

#[test]
fn decorators_resolve_without_arguments() {
    let facts = lower(
        "import functools\nfrom fastapi import FastAPI, APIRouter\nfrom homeassistant.core import callback\n\
         app = FastAPI()\nrouter = APIRouter()\n\
         @app.get('/x')\nasync def a(): ...\n@router.post('/y')\nasync def b(): ...\n\
         @callback\ndef c(): ...\n@functools.lru_cache(maxsize=1)\ndef d(): ...\n\
         class K:\n    @property\n    def p(self): ...\n    @staticmethod\n    def s(x): ...\n    \
         @classmethod\n    def k(cls):\n        cls.s(1)\n",
    );
    let decorator = |name: &str| function(&facts, name).decorators[0].callee.clone();
    assert_eq!(
        decorator("app.m.a"),
        method(returned("fastapi.FastAPI"), "get")
    );
    assert_eq!(
        decorator("app.m.b"),
        method(returned("fastapi.APIRouter"), "post")
    );
    assert_eq!(decorator("app.m.c"), path("homeassistant.core.callback"));
    assert_eq!(decorator("app.m.d"), path("functools.lru_cache"));
    assert_eq!(decorator("app.m.K.p"), path("builtins.property"));
    // `s` is static: its first parameter is an ordinary one.
    assert_eq!(function(&facts, "app.m.K.s").params[0].name, "x");
    assert_eq!(
        call(function(&facts, "app.m.K.k"), "cls.s").callee,
        path("app.m.K.s")
    );
}

#[test]
fn contextmanager_returns_peel_the_iterator() {
    let facts = lower(
        "import contextlib\nfrom typing import Iterator, AsyncIterator, Generator\nimport sqlite3\n\
         @contextlib.contextmanager\ndef conn() -> Iterator[sqlite3.Connection]:\n    yield sqlite3.connect('x')\n\
         @contextlib.asynccontextmanager\nasync def aconn() -> AsyncIterator['sqlite3.Connection']:\n    yield None\n\
         def gen() -> Generator[int, None, None]:\n    yield 1\n",
    );
    let conn = function(&facts, "app.m.conn");
    assert!(conn.is_generator);
    assert_eq!(conn.returns, Some(named("sqlite3.Connection")));
    assert_eq!(
        function(&facts, "app.m.aconn").returns,
        Some(named("sqlite3.Connection"))
    );
    assert_eq!(
        function(&facts, "app.m.gen").returns,
        Some(named("typing.Generator"))
    );
}

#[test]
fn super_calls_and_self_methods() {
    let facts = lower(
        "class Base:\n    def save(self): ...\nclass Child(Base):\n    def save(self):\n        \
         super().save()\n        self.validate()\n        self.repo.put(1)\n    def validate(self): ...\n",
    );
    let save = function(&facts, "app.m.Child.save");
    assert_eq!(
        call(save, "super().save").callee,
        Callee::Super {
            class: "app.m.Child".to_owned(),
            name: "save".to_owned()
        }
    );
    assert_eq!(
        call(save, "self.validate").callee,
        path("app.m.Child.validate")
    );
    assert_eq!(
        call(save, "self.repo.put").callee,
        method(
            TypeRef::Field {
                owner: Box::new(named("app.m.Child")),
                name: "repo".to_owned()
            },
            "put"
        )
    );
    assert!(save.calls.iter().all(|c| c.text != "super"));
    let bases = &facts.classes[1].bases;
    assert_eq!(bases, &["app.m.Base".to_owned()]);
}

#[test]
fn classes_fields_bases_and_decorators() {
    let facts = lower(
        "import threading\nfrom dataclasses import dataclass, field\nfrom pydantic import BaseModel\n\
         from typing import Generic, TypeVar, ClassVar\nT = TypeVar('T')\n\
         @dataclass\nclass Config(Generic[T]):\n    name: str\n    lock: ClassVar[threading.Lock]\n    \
         _mutex = threading.Lock()\n    items: list[int] = field(default_factory=list)\n\
         class M(BaseModel, metaclass=Meta):\n    pass\n",
    );
    let config = &facts.classes[0];
    assert_eq!(config.qualname, "app.m.Config");
    assert_eq!(config.bases, ["typing.Generic"]);
    assert_eq!(config.decorators, ["dataclasses.dataclass"]);
    let fields: Vec<(&str, &TypeRef)> = config
        .fields
        .iter()
        .map(|f| (f.name.as_str(), &f.ty))
        .collect();
    assert_eq!(
        fields,
        [
            ("name", &named("builtins.str")),
            ("lock", &named("threading.Lock")),
            ("_mutex", &returned("threading.Lock")),
            ("items", &named("builtins.list")),
        ]
    );
    assert_eq!(facts.classes[1].bases, ["pydantic.BaseModel"]);
}

#[test]
fn property_subscript_and_iteration_sites_on_typed_receivers() {
    let facts = lower(
        "from app.store import Store\nclass Repo:\n    @property\n    def rows(self): ...\n    \
         def __init__(self):\n        self.count = 0\n    def use(self, store: Store, plain):\n        \
         self.rows\n        self.count\n        store.size\n        store['k']\n        \
         for x in store:\n            pass\n        plain.size\n        plain['k']\n        [y for y in store]\n",
    );
    let use_ = function(&facts, "app.m.Repo.use");
    let store = named("app.store.Store");
    let properties: Vec<&Callee> = sites(use_, CallKind::Property)
        .iter()
        .map(|c| &c.callee)
        .collect();
    assert_eq!(
        properties,
        [&path("app.m.Repo.rows"), &method(store.clone(), "size")]
    );
    let subscripts: Vec<&Callee> = sites(use_, CallKind::Subscript)
        .iter()
        .map(|c| &c.callee)
        .collect();
    assert_eq!(subscripts, [&method(store.clone(), "__getitem__")]);
    let iterations: Vec<&Callee> = sites(use_, CallKind::Iterate)
        .iter()
        .map(|c| &c.callee)
        .collect();
    assert_eq!(
        iterations,
        [
            &method(store.clone(), "__iter__"),
            &method(store, "__iter__")
        ]
    );
}

#[test]
fn awaited_through_parentheses_and_text_is_normalized() {
    let facts = lower(
        "async def f(client: 'Client'):\n    await (client.fetch())\n    x = (await client  .  get(1))\n    \
         client \\\n        .post()\n    asyncio.wait_for(client.fetch(), 1)\n",
    );
    let f = function(&facts, "app.m.f");
    assert!(call(f, "client.fetch").awaited);
    let get = call(f, "client.get");
    assert!(get.awaited);
    assert!(!call(f, "client.post").awaited);
    let fetches: Vec<bool> = f
        .calls
        .iter()
        .filter(|c| c.text == "client.fetch")
        .map(|c| c.awaited)
        .collect();
    // `wait_for(client.fetch(), 1)` awaits the coroutine it is handed.
    assert_eq!(fetches, [true, true]);
    assert_eq!(f.awaits.len(), 2);
}

#[test]
fn global_declaration_types_the_module_variable() {
    let facts = lower(
        "import redis\n_client = None\ndef connect():\n    global _client\n    _client = redis.Redis()\n\
         async def use():\n    _client.get('k')\n",
    );
    assert_eq!(
        call(function(&facts, "app.m.use"), "_client.get").callee,
        method(returned("redis.Redis"), "get")
    );
    assert!(facts.globals.iter().any(|g| g.name == "_client"));
}

#[test]
fn imported_variables_stay_paths_and_with_uses_global() {
    let facts = lower(
        "from app.state import lock\nasync def f():\n    lock.acquire()\n    with lock:\n        await g()\n",
    );
    let f = function(&facts, "app.m.f");
    assert_eq!(
        call(f, "lock.acquire").callee,
        path("app.state.lock.acquire")
    );
    let enter = method(TypeRef::Global("app.state.lock".to_owned()), "__enter__");
    assert_eq!(sites(f, CallKind::With)[0].callee, enter);
    // The `acquire()` is never released, so it is held to the end of the function too.
    let acquires: Vec<&Callee> = f.guards.iter().map(|g| &g.acquire).collect();
    assert_eq!(acquires, [&path("app.state.lock.acquire"), &enter]);
}

#[test]
fn function_facts_spans_and_flags() {
    let source = "async def f(a, *args, b: int = 1, **kw):\n    yield 1\n";
    let facts = lower(source);
    let f = function(&facts, "app.m.f");
    assert!(f.is_async);
    assert!(f.is_generator);
    assert!(!f.has_async_syntax);
    assert_eq!(f.name_span.start_line, 1);
    assert_eq!(f.name_span.start_col, 11);
    assert_eq!(f.name_span.end_col, 12);
    assert_eq!(f.span.start_byte, 0);
    assert_eq!(f.span.end_byte as usize, source.len() - 1);
    let names: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "args", "b", "kw"]);
    assert_eq!(f.params[2].annotation, Some(named("builtins.int")));
}

#[test]
fn syntax_errors_are_reported_and_the_rest_is_lowered() {
    let facts = lower(
        "import time\ndef broken(:\n    time.sleep(1)\n\nx = = 2\n\nasync def fine():\n    time.sleep(2)\n",
    );
    let messages: Vec<(&str, u32)> = facts
        .errors
        .iter()
        .map(|e| (e.message.as_str(), e.span.start_line))
        .collect();
    assert_eq!(
        messages,
        [
            (
                "syntax error in parameter list of function definition `broken` at line 2: missing `)`",
                2
            ),
            ("syntax error in assignment at line 5: cannot parse `=`", 5),
        ]
    );
    let sleep = path("time.sleep");
    assert_eq!(
        call(function(&facts, "app.m.broken"), "time.sleep").callee,
        sleep
    );
    let fine = function(&facts, "app.m.fine");
    assert!(fine.is_async);
    assert_eq!(call(fine, "time.sleep").callee, sleep);
}

#[test]
fn code_swallowed_by_an_unclosed_bracket_is_still_lowered() {
    // tree-sitter recovers `x = (1 +` by reading the following lines as part of it, down to
    // an annotation position; the call in there is still found.
    let facts = lower("import time\nx = (1 +\n\nasync def fine():\n    time.sleep(2)\n");
    assert!(!facts.errors.is_empty());
    assert!(
        facts
            .functions
            .iter()
            .flat_map(|f| &f.calls)
            .any(|c| c.callee == path("time.sleep"))
    );
}

#[test]
fn garbage_never_panics() {
    for source in [
        "",
        "\0\0\0",
        "def",
        "class (",
        "@\n",
        "lambda",
        "with",
        "from . import",
        "from .... import x",
        "x: = 1",
        "é = ü()\nprint(é)",
        "def f(:\n  with a as (b, c): await",
        ")))(((",
        "async with x: pass",
        "global x\nnonlocal y",
        "\"\"\"unterminated",
    ] {
        let facts = loopguard_python::lower("x.py", "x", false, source);
        assert!(!facts.functions.is_empty(), "{source:?}");
    }
    let facts = loopguard_python::lower("x.py", "", false, "from .. import y\n");
    assert_eq!(facts.aliases[0].target, "y");
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let mut source = String::from("x = ");
    for _ in 0..20_000 {
        source.push_str("f() + ");
    }
    source.push_str("1\n");
    source.push_str(&"(".repeat(3000));
    source.push_str(&")".repeat(3000));
    source.push('\n');
    let facts = std::thread::spawn(move || loopguard_python::lower("x.py", "x", false, &source))
        .join()
        .unwrap();
    assert_eq!(facts.functions[0].calls.len(), 20_000);
}

#[test]
fn modern_syntax_parses_without_errors() {
    let facts = lower(
        "type Alias[T] = list[T] | None\n\
         def first[T](items: list[T]) -> T:\n    return items[0]\n\
         def defaults[T = int, *Ts = *tuple[int], **P = [int]](): ...\nclass D[T: int = bool]: ...\n\
         type Pair[T = int] = tuple[T, T]\n\
         class Box[T]:\n    def get(self) -> T: ...\n\
         def handle(cmd):\n    match cmd:\n        case {'op': 'go', **rest}:\n            go(rest)\n        \
         case [x, *_] if x > 0:\n            pass\n        case Point(x=0) as p:\n            pass\n        case _:\n            pass\n\
         try:\n    pass\nexcept* (ValueError, TypeError) as group:\n    pass\n\
         name = 'x'\nprint(f\"{name!r:>{10}} {f'{name}'} {\"nested\"}\")\n\
         async def agen():\n    async with a() as x, b():\n        pass\n    [y async for y in x]\n",
    );
    assert_eq!(facts.errors, vec![], "unexpected errors");
    assert!(function(&facts, "app.m.agen").has_async_syntax);
    assert_eq!(
        call(function(&facts, "app.m.handle"), "go").callee,
        path("builtins.go")
    );
}

#[test]
fn class_bodies_and_comprehensions_run_in_the_enclosing_function() {
    let facts = lower(
        "import os\nclass C:\n    X = os.getenv('x')\n    f = lambda self: os.getcwd()\n\
         def g(paths):\n    return [os.stat(p) for p in paths if os.path.exists(p)]\n",
    );
    assert_eq!(
        call(&facts.functions[0], "os.getenv").callee,
        path("os.getenv")
    );
    let lambda = function(&facts, "app.m.C.<lambda>");
    assert_eq!(lambda.parent, Some(0));
    assert_eq!(call(lambda, "os.getcwd").callee, path("os.getcwd"));
    let g = function(&facts, "app.m.g");
    assert_eq!(call(g, "os.stat").callee, path("os.stat"));
    assert_eq!(call(g, "os.path.exists").callee, path("os.path.exists"));
}

#[test]
fn methods_do_not_see_class_scope_names() {
    let facts =
        lower("import json\nclass C:\n    json = None\n    def m(self):\n        json.dumps(1)\n");
    assert_eq!(
        call(function(&facts, "app.m.C.m"), "json.dumps").callee,
        path("json.dumps")
    );
}

#[test]
fn classes_and_functions_nested_in_functions() {
    let facts = lower(
        "def factory():\n    class Local:\n        def run(self):\n            self.go()\n    return Local\n",
    );
    let run = function(&facts, "app.m.factory.<locals>.Local.run");
    assert_eq!(run.class.as_deref(), Some("app.m.factory.<locals>.Local"));
    assert_eq!(run.parent, Some(1));
    assert_eq!(
        call(run, "self.go").callee,
        path("app.m.factory.<locals>.Local.go")
    );
}

#[test]
fn a_variable_defined_through_itself_is_unknown() {
    let facts = lower("def f(node):\n    node = node.next()\n    node.visit()\n");
    let f = function(&facts, "app.m.f");
    assert_eq!(
        call(f, "node.visit").callee,
        Callee::UnknownMethod {
            name: "visit".to_owned()
        }
    );
}

#[test]
fn text_elides_inner_arguments() {
    let facts = lower(
        "import sqlite3\ndef f(rows):\n    sqlite3.connect('db', timeout=1).execute('q').fetchall()\n    \
         rows[0].close()\n    (lambda: 1)()\n    get_conn().cursor()\n",
    );
    let f = function(&facts, "app.m.f");
    let texts: Vec<&str> = f.calls.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "sqlite3.connect(...).execute(...).fetchall",
            "sqlite3.connect(...).execute",
            "sqlite3.connect",
            "rows[...].close",
            "get_conn().cursor",
            "get_conn",
        ]
    );
}

#[test]
fn pep695_type_alias_carries_depends() {
    let facts = lower(
        "from typing import Annotated, Optional\nfrom fastapi import Depends\nfrom app.db import Session, get_db\n\
         type SessionDep = Annotated[Session, Depends(get_db)]\n\
         async def a(db: SessionDep): ...\nasync def b(db: Optional[Annotated[Session, Depends(get_db)]] = None): ...\n",
    );
    for name in ["app.m.a", "app.m.b"] {
        let param = &function(&facts, name).params[0];
        assert_eq!(param.annotation, Some(named("app.db.Session")), "{name}");
        assert_eq!(param.default_call, Some(path("fastapi.Depends")), "{name}");
        assert_eq!(param.default_args, vec![path("app.db.get_db")], "{name}");
    }
}

#[test]
fn class_level_lock_through_cls_is_a_field() {
    let facts = lower(
        "import threading\nclass Registry:\n    _lock = threading.Lock()\n    @classmethod\n    \
         async def add(cls):\n        with cls._lock:\n            await save()\n        \
         Registry._lock.acquire()\n        cls.create()\n    @classmethod\n    def create(cls): ...\n",
    );
    let add = function(&facts, "app.m.Registry.add");
    let field = TypeRef::Field {
        owner: Box::new(named("app.m.Registry")),
        name: "_lock".to_owned(),
    };
    assert_eq!(add.guards[0].acquire, method(field.clone(), "__enter__"));
    assert_eq!(
        call(add, "Registry._lock.acquire").callee,
        method(field, "acquire")
    );
    assert_eq!(
        call(add, "cls.create").callee,
        path("app.m.Registry.create")
    );
    assert_eq!(facts.classes[0].fields[0].ty, returned("threading.Lock"));
}

#[test]
fn explicit_acquire_holds_until_release() {
    let facts = lower(
        "import threading\nclass R:\n    def __init__(self):\n        self._lock = threading.Lock()\n\
         \n    async def drop(self, key):\n        self._lock.acquire()\n        try:\n            \
         await self.close(key)\n        finally:\n            self._lock.release()\n        await after()\n\
         \n    async def short(self):\n        self._lock.acquire()\n        self._lock.release()\n        \
         await later()\n\n    async def never_released(self, sem):\n        sem.acquire()\n        \
         async for x in feed():\n            pass\n\n    async def asyncio_style(self, alock: 'asyncio.Lock'):\n        \
         await alock.acquire()\n        await work()\n",
    );
    let drop = function(&facts, "app.m.R.drop");
    assert_eq!(drop.guards.len(), 1);
    let guard = &drop.guards[0];
    let lock = TypeRef::Field {
        owner: Box::new(named("app.m.R")),
        name: "_lock".to_owned(),
    };
    assert_eq!(guard.acquire, method(lock, "acquire"));
    assert_eq!(guard.text, "self._lock.acquire");
    assert_eq!(guard.span.start_line, 7);
    let lines: Vec<u32> = guard.awaits.iter().map(|a| a.start_line).collect();
    assert_eq!(lines, [9]);

    assert!(function(&facts, "app.m.R.short").guards.is_empty());
    let never = function(&facts, "app.m.R.never_released");
    assert_eq!(never.guards.len(), 1);
    assert_eq!(
        never.guards[0].acquire,
        Callee::UnknownMethod {
            name: "acquire".to_owned()
        }
    );
    assert!(function(&facts, "app.m.R.asyncio_style").guards.is_empty());
}

#[test]
fn coroutines_handed_to_consumers_count_as_awaited() {
    let facts = lower(
        "import asyncio\n\nasync def f(c, xs):\n    tasks = [c.upload(x) for x in xs]\n    await asyncio.gather(*tasks, c.fetch(), *[c.sync(x) for x in xs])\n    asyncio.create_task(c.later())\n    c.direct()\n",
    );
    let f = function(&facts, "app.m.f");
    for text in ["c.upload", "c.fetch", "c.sync", "c.later"] {
        assert!(call(f, text).awaited, "{text} is awaited by its consumer");
    }
    assert!(!call(f, "c.direct").awaited);
    assert!(call(f, "asyncio.gather").awaited);
    assert!(!call(f, "asyncio.create_task").awaited);
}

#[test]
fn literal_arguments_are_recorded() {
    let facts =
        lower("def f(t):\n    t.join(timeout=0)\n    t.join(0.5, daemon = False)\n    t.join(x)\n");
    let f = function(&facts, "app.m.f");
    let args: Vec<_> = f.calls.iter().map(|c| c.args.clone()).collect();
    assert_eq!(
        args,
        vec![
            vec!["timeout=0".to_string()],
            vec!["#0=0.5".to_string(), "daemon=False".to_string()],
            Vec::<String>::new()
        ]
    );
}

#[test]
fn pep_696_type_parameter_defaults_parse() {
    let facts = lower(
        "import time\n\nclass Box[T = int, *Ts = *tuple[int, str]]:\n    async def get(self) -> T:\n        time.sleep(1)\n\ndef f[T = dict[str, int]](x: T) -> T:\n    return x\n",
    );
    assert!(facts.errors.is_empty(), "{:?}", facts.errors);
    let get = function(&facts, "app.m.Box.get");
    assert_eq!(call(get, "time.sleep").span.start_line, 5);
}
