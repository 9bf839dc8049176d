//! A hand-built report shared by the snapshot and schema tests: three findings (a direct
//! one, one reached through a 3-hop chain across two files, a lock held across an await) and
//! a notification, with sources held in memory.

#![allow(dead_code)]

use std::sync::Arc;

use loopguard_core::diagnostic::{Confidence, Hop, Label, NotificationLevel};
use loopguard_core::span::LineIndex;
use loopguard_core::{Diagnostic, Notification, Severity, Span};
use loopguard_report::Report;

pub const ROUTES: &str = r#"import requests
from app import db


async def get_user(user_id):
    resp = requests.get(f"https://api.example/users/{user_id}")
    return resp.json()


async def get_agent(agent_id):
    agent = _load_agent(agent_id)
    return {"agent": agent}


def _load_agent(agent_id):
    return db.fetch_agent(agent_id)
"#;

pub const DB: &str = r#"import psycopg2


def fetch_agent(agent_id):
    conn = psycopg2.connect("dbname=agents")
    return conn.execute("select 1").fetchone()
"#;

pub const CACHE: &str = r#"import threading


class Cache:
    def __init__(self):
        self._lock = threading.Lock()

    async def refresh(self):
        with self._lock:
            self.data = await fetch_all()
"#;

pub fn source(path: &str) -> Option<Arc<str>> {
    match path {
        "app/routes.py" => Some(Arc::from(ROUTES)),
        "app/db.py" => Some(Arc::from(DB)),
        "app/cache.py" => Some(Arc::from(CACHE)),
        _ => None,
    }
}

pub fn no_source(_: &str) -> Option<Arc<str>> {
    None
}

/// The span of the `nth` (0-based) occurrence of `needle` in `text`.
pub fn span_of(text: &str, needle: &str, nth: usize) -> Span {
    let start = text
        .match_indices(needle)
        .nth(nth)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("`{needle}` not found"));
    LineIndex::new(text).span(start, start + needle.len())
}

pub fn diagnostics() -> Vec<Diagnostic> {
    let lock_held = Diagnostic {
        code: "LG202",
        severity: Severity::Error,
        confidence: Confidence::Certain,
        message: "sync lock `self._lock` (threading.Lock) is held across an await in async function `app.cache.Cache.refresh`".to_string(),
        path: "app/cache.py".to_string(),
        span: span_of(CACHE, "self._lock", 1),
        help: Some("use asyncio.Lock, or release the lock before awaiting".to_string()),
        function: "app.cache.Cache.refresh".to_string(),
        call: "self._lock".to_string(),
        chain: Vec::new(),
        api: "threading.Lock.__enter__".to_string(),
        related: vec![Label {
            path: "app/cache.py".to_string(),
            span: span_of(CACHE, "await fetch_all()", 0),
            message: "await while the lock is held".to_string(),
        }],
        context: "async".to_string(),
    };
    let direct = Diagnostic {
        code: "LG301",
        severity: Severity::Error,
        confidence: Confidence::Certain,
        message: "blocking HTTP call `requests.get` in async function `app.routes.get_user`"
            .to_string(),
        path: "app/routes.py".to_string(),
        span: span_of(
            ROUTES,
            "requests.get(f\"https://api.example/users/{user_id}\")",
            0,
        ),
        help: Some("use httpx.AsyncClient, or `await asyncio.to_thread(...)`".to_string()),
        function: "app.routes.get_user".to_string(),
        call: "requests.get".to_string(),
        chain: Vec::new(),
        api: "requests.get".to_string(),
        related: Vec::new(),
        context: "async".to_string(),
    };
    let chained = Diagnostic {
        code: "LG302",
        severity: Severity::Error,
        confidence: Confidence::Likely,
        message: "`_load_agent` reaches blocking database call `psycopg2.connect` in async function `app.routes.get_agent`".to_string(),
        path: "app/routes.py".to_string(),
        span: span_of(ROUTES, "_load_agent(agent_id)", 0),
        help: Some("use an async driver (asyncpg, psycopg's AsyncConnection), or `await asyncio.to_thread(...)`".to_string()),
        function: "app.routes.get_agent".to_string(),
        call: "_load_agent".to_string(),
        chain: vec![
            Hop {
                function: "app.routes.get_agent".to_string(),
                path: "app/routes.py".to_string(),
                span: span_of(ROUTES, "_load_agent(agent_id)", 0),
                call: "_load_agent".to_string(),
            },
            Hop {
                function: "app.routes._load_agent".to_string(),
                path: "app/routes.py".to_string(),
                span: span_of(ROUTES, "db.fetch_agent(agent_id)", 0),
                call: "db.fetch_agent".to_string(),
            },
            Hop {
                function: "app.db.fetch_agent".to_string(),
                path: "app/db.py".to_string(),
                span: span_of(DB, "psycopg2.connect(\"dbname=agents\")", 0),
                call: "psycopg2.connect".to_string(),
            },
        ],
        api: "psycopg2.connect".to_string(),
        related: Vec::new(),
        context: "route".to_string(),
    };
    let mut all = vec![lock_held, direct, chained];
    all.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    all
}

pub fn notifications() -> Vec<Notification> {
    vec![Notification {
        level: NotificationLevel::Warning,
        kind: "parse-error".to_string(),
        path: Some("app/broken.py".to_string()),
        span: Some(Span {
            start_line: 3,
            start_col: 1,
            end_line: 3,
            end_col: 5,
            start_byte: 20,
            end_byte: 24,
        }),
        message: "invalid syntax; analyzed what could be parsed".to_string(),
    }]
}

pub fn report<'a>(
    diagnostics: &'a [Diagnostic],
    notifications: &'a [Notification],
    source: &'a dyn Fn(&str) -> Option<Arc<str>>,
) -> Report<'a> {
    Report {
        diagnostics,
        notifications,
        files_checked: 4,
        tool_version: "0.1.0",
        source,
        root_uri: None,
        statistics: false,
        fixed_baseline_entries: None,
    }
}

pub fn render(format: loopguard_report::Format, report: &Report) -> String {
    let mut out = Vec::new();
    loopguard_report::write(&format, report, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}
