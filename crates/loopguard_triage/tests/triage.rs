//! End-to-end behaviour of `write_triage` on a directory: fresh generation, re-runs,
//! human edits, items that disappear, leftovers of interrupted runs.

use std::collections::BTreeMap;
use std::path::Path;

use loopguard_core::diagnostic::{Confidence, Diagnostic, Hop, Label};
use loopguard_core::rules::{self, Severity};
use loopguard_core::span::Span;
use loopguard_triage::{FileOutcome, TriageOptions, TriageSummary, write_triage};

fn span(line: u32) -> Span {
    Span {
        start_line: line,
        start_col: 9,
        end_line: line,
        end_col: 30,
        start_byte: line * 40,
        end_byte: line * 40 + 21,
    }
}

fn hop(function: &str, path: &str, line: u32, call: &str) -> Hop {
    Hop {
        function: function.into(),
        path: path.into(),
        span: span(line),
        call: call.into(),
    }
}

fn finding(
    code: &str,
    path: &str,
    line: u32,
    function: &str,
    call: &str,
    context: &str,
) -> Diagnostic {
    let rule = rules::by_code(code).unwrap();
    Diagnostic {
        code: rule.code,
        severity: rule.severity,
        confidence: Confidence::Certain,
        message: format!("{} `{call}` in async function `{function}`", rule.category),
        path: path.into(),
        span: span(line),
        help: None,
        function: function.into(),
        call: call.into(),
        chain: Vec::new(),
        api: call.into(),
        related: Vec::new(),
        context: context.into(),
    }
}

/// An async function calling the rate limiter's sync helper, which takes a thread lock.
fn rate_limit(
    path: &str,
    line: u32,
    function: &str,
    context: &str,
    helper_line: u32,
) -> Diagnostic {
    let mut d = finding(
        "LG201",
        path,
        line,
        function,
        "_check_in_memory_rate_limit",
        context,
    );
    d.api = "threading.Lock.__enter__".into();
    d.help = Some(
        "use asyncio.Lock (`async with lock:`); a thread lock stalls the loop while another thread holds it"
            .into(),
    );
    d.message = format!(
        "`_check_in_memory_rate_limit` reaches blocking lock acquisition `threading.Lock.__enter__` (1 call deep) in async function `{function}`"
    );
    d.chain = vec![
        hop(function, path, line, "_check_in_memory_rate_limit"),
        hop(
            "app.core.rate_limit._check_in_memory_rate_limit",
            "src/app/core/rate_limit.py",
            helper_line,
            "_rate_limit_lock",
        ),
    ];
    d
}

/// The project of the seeds: a rate limiter in middleware, a JWKS fetch in a dependency,
/// sync SQLite in a route, an async endpoint that never awaits, a sleep in a callback.
fn project(shift: u32) -> Vec<Diagnostic> {
    let mut jwks = finding(
        "LG301",
        "src/app/api/deps.py",
        31 + shift,
        "app.api.deps.get_current_user",
        "fetch_jwks",
        "dependency",
    );
    jwks.api = "requests.get".into();
    jwks.help = Some(
        "use httpx.AsyncClient or aiohttp, or `await asyncio.to_thread(requests.get, ...)`".into(),
    );
    jwks.chain = vec![
        hop(
            "app.api.deps.get_current_user",
            "src/app/api/deps.py",
            31 + shift,
            "fetch_jwks",
        ),
        hop(
            "app.core.jwt.fetch_jwks",
            "src/app/core/jwt.py",
            14,
            "_download",
        ),
        hop(
            "app.core.jwt._download",
            "src/app/core/jwt.py",
            40,
            "requests.get",
        ),
    ];
    let mut sqlite = finding(
        "LG302",
        "src/app/api/sessions.py",
        22 + shift,
        "app.api.sessions.list_sessions",
        "db.execute",
        "route",
    );
    sqlite.api = "sqlite3.Connection.execute".into();
    sqlite.help = Some("use aiosqlite, or `await asyncio.to_thread(...)`".into());
    let mut endpoint = finding(
        "LG501",
        "src/app/api/styles.py",
        12,
        "app.api.styles.list_styles",
        "list_styles",
        "route",
    );
    endpoint.api = "app.api.styles.list_styles".into();
    endpoint.message = "route `list_styles` is declared `async def` but never awaits, and does blocking work (`get_db`: blocking database call)".into();
    endpoint.help = Some("declare it `def` so the framework runs it in its threadpool (`loopguard check --fix` does it)".into());
    let mut sleep = finding(
        "LG305",
        "src/app/events.py",
        8,
        "app.events.on_tick",
        "time.sleep",
        "callback",
    );
    sleep.confidence = Confidence::Likely;
    sleep.help = Some("use `await asyncio.sleep(...)`".into());
    let mut guard = finding(
        "LG202",
        "src/app/cache.py",
        50,
        "app.cache.Cache.refresh",
        "self._lock",
        "async",
    );
    guard.related = vec![Label {
        path: "src/app/cache.py".into(),
        span: span(53),
        message: "awaited while the guard is held".into(),
    }];
    guard.severity = Severity::Error;
    vec![
        rate_limit(
            "src/app/middleware.py",
            41 + shift,
            "app.middleware.RateLimitMiddleware.dispatch",
            "middleware",
            129 + shift,
        ),
        rate_limit(
            "src/app/api/auth.py",
            57,
            "app.api.auth.login",
            "route",
            129 + shift,
        ),
        jwks,
        sqlite,
        endpoint,
        sleep,
        guard,
    ]
}

fn options(dir: &Path, today: &str) -> TriageOptions {
    TriageOptions {
        out_dir: dir.to_path_buf(),
        today: today.into(),
        priority_overrides: BTreeMap::new(),
    }
}

/// Every file of the directory by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn id_of(summary: &TriageSummary, prefix: &str) -> String {
    let all: Vec<&String> = summary
        .created
        .iter()
        .chain(&summary.updated)
        .chain(&summary.unchanged)
        .collect();
    all.iter()
        .find(|id| id.starts_with(prefix))
        .map(|id| id.to_string())
        .unwrap_or_else(|| panic!("no item {prefix}* in {all:?}"))
}

/// Replaces text that comes from the rule pages (docs/rules/*.md), so the snapshots pin this
/// crate's rendering and not the wording of the rule docs.
fn without_rule_docs(text: &str) -> String {
    let mut out = text.to_string();
    for rule in rules::RULES {
        if let Some(why) = rule.section("Why is this bad?") {
            let unwrapped = why
                .split("\n\n")
                .map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("\n\n");
            out = out.replace(why, &format!("<{} Why is this bad?>", rule.code));
            out = out.replace(&unwrapped, &format!("<{} Why is this bad?>", rule.code));
        }
        if let Some(example) = rule.section("Use instead") {
            for block in example.split("```").skip(1).step_by(2) {
                out = out.replace(block, &format!("<{} example>\n", rule.code));
            }
        }
    }
    out
}

#[test]
fn fresh_generation() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_triage(&project(0), &options(dir.path(), "2026-03-01")).unwrap();
    assert_eq!(summary.created.len(), 6, "{summary:?}");
    assert_eq!(summary.items(), 6);
    assert_eq!(summary.findings, 7);
    assert_eq!(summary.readme, FileOutcome::Created);
    assert_eq!(
        summary.items_by_priority,
        [
            ("p0".to_string(), 2),
            ("p1".into(), 2),
            ("p2".into(), 1),
            ("p3".into(), 1)
        ]
        .into()
    );
    let rate = id_of(&summary, "lg201-check-in-memory-rate-limit-");
    insta::assert_snapshot!(
        "rate_limit_item",
        without_rule_docs(&read(dir.path(), &format!("{rate}.md")))
    );
    insta::assert_snapshot!("readme", read(dir.path(), "README.md"));
    let jwks = read(
        dir.path(),
        &format!("{}.md", id_of(&summary, "lg301-fetch-jwks-")),
    );
    assert!(
        jwks.contains("# Blocking HTTP call (`requests.get`) reached from an async dependency via `fetch_jwks`\n"),
        "{jwks}"
    );
    assert!(jwks.contains("The call path is `fetch_jwks` → `_download` → `requests.get`."));
    let endpoint = read(
        dir.path(),
        &format!("{}.md", id_of(&summary, "lg501-list-styles-")),
    );
    insta::assert_snapshot!("endpoint_item", without_rule_docs(&endpoint));
}

#[test]
fn rerun_without_changes_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    write_triage(&project(0), &options(dir.path(), "2026-03-01")).unwrap();
    let before = files(dir.path());
    // Another day: nothing dated may change when the findings did not.
    let summary = write_triage(&project(0), &options(dir.path(), "2026-03-09")).unwrap();
    assert_eq!(files(dir.path()), before);
    assert_eq!(summary.unchanged.len(), 6);
    assert!(summary.created.is_empty() && summary.updated.is_empty());
    assert_eq!(summary.readme, FileOutcome::Unchanged);
}

#[test]
fn ids_are_stable_when_lines_move() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_triage(&project(0), &options(dir.path(), "2026-03-01")).unwrap();
    let second = write_triage(&project(17), &options(dir.path(), "2026-03-02")).unwrap();
    assert_eq!(first.created, {
        let mut ids = second.updated.clone();
        ids.extend(second.unchanged.clone());
        ids.sort();
        ids
    });
    assert!(second.created.is_empty() && second.no_longer_detected.is_empty());
}

#[test]
fn human_edits_survive_reruns() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_triage(&project(0), &options(dir.path(), "2026-03-01")).unwrap();
    let id = id_of(&summary, "lg201-");
    let name = format!("{id}.md");
    let original = read(dir.path(), &name);
    let edited = original
        .replace("status: pending", "status: in-progress")
        .replace("\npriority: p0\n", "\npriority: p1\n")
        .replace("route]", "route, perf, \"needs owner\"]")
        .replace("- [ ] Tests pass", "- [x] Tests pass")
        .replace(
            "priority p0\n",
            "priority p0\n\n### 2026-03-02 - Investigated\n**By:** Dana\n- Only the in-memory fallback is affected\n",
        )
        .replace(
            "## Technical Details",
            "## Resources\n\n- Incident 4711\n\n## Technical Details",
        )
        .replace(
            "<!-- loopguard:end problem -->\n",
            "<!-- loopguard:end problem -->\n\nThe Redis path is fine (Lua script).\n",
        )
        // Inside markers: loopguard owns it and rewrites it.
        .replace("- **Confidence**: certain", "- **Confidence**: edited by hand");
    std::fs::write(dir.path().join(&name), &edited).unwrap();

    // Lines moved: same item, findings block rewritten, nothing logged.
    let moved = write_triage(&project(17), &options(dir.path(), "2026-03-05")).unwrap();
    assert!(moved.updated.contains(&id));
    let text = read(dir.path(), &name);
    assert!(text.contains("status: in-progress\n"));
    assert!(text.contains("\npriority: p1\n"));
    assert!(text.contains("loopguard_priority: p0\n"));
    assert!(text.contains(
        "tags: [loopguard, LG201, blocking-lock, middleware, route, perf, \"needs owner\"]\n"
    ));
    assert!(text.contains("- [x] Tests pass\n"));
    assert!(text.contains("## Resources\n\n- Incident 4711\n\n## Technical Details"));
    assert!(
        text.contains("<!-- loopguard:end problem -->\n\nThe Redis path is fine (Lua script).\n")
    );
    assert!(text.contains("**By:** Dana\n- Only the in-memory fallback is affected\n"));
    assert!(
        text.contains(
            "- `src/app/middleware.py:58` in `app.middleware.RateLimitMiddleware.dispatch`"
        )
    );
    assert!(!text.contains("src/app/middleware.py:41"));
    assert!(text.contains("- **Confidence**: certain\n"));
    assert!(!text.contains("findings changed"));
    assert_eq!(
        text.replace(":58`", ":41`").replace(":146`", ":129`"),
        edited.replace(
            "- **Confidence**: edited by hand",
            "- **Confidence**: certain"
        ),
        "only the line numbers inside markers may differ"
    );

    // A finding added: logged once at the end of the Work Log.
    let mut more = project(17);
    more.push(rate_limit(
        "src/app/api/auth.py",
        90,
        "app.api.auth.refresh",
        "route",
        146,
    ));
    let added = write_triage(&more, &options(dir.path(), "2026-03-06")).unwrap();
    assert!(added.updated.contains(&id));
    let text = read(dir.path(), &name);
    assert!(
        text.contains(
            "- Only the in-memory fallback is affected\n- 2026-03-06: findings changed: 2 -> 3 (loopguard)\n\n## Notes"
        ),
        "{text}"
    );
    assert!(text.contains("status: in-progress\n"));
    let again = write_triage(&more, &options(dir.path(), "2026-03-07")).unwrap();
    assert!(again.unchanged.contains(&id));
}

#[test]
fn gone_items_are_marked_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_triage(&project(0), &options(dir.path(), "2026-03-01")).unwrap();
    let sleep_id = id_of(&first, "lg305-");
    let name = format!("{sleep_id}.md");
    let edited = read(dir.path(), &name).replace("status: pending", "status: in-progress");
    std::fs::write(dir.path().join(&name), edited).unwrap();

    let fixed: Vec<Diagnostic> = project(0)
        .into_iter()
        .filter(|d| d.code != "LG305")
        .collect();
    let second = write_triage(&fixed, &options(dir.path(), "2026-03-04")).unwrap();
    assert_eq!(second.no_longer_detected, vec![sleep_id.clone()]);
    assert_eq!(second.unchanged.len(), 5);
    let text = read(dir.path(), &name);
    assert!(
        text.contains("status: in-progress\n"),
        "status is the human's"
    );
    assert!(text.contains("\n\n> No longer detected on 2026-03-04.\n<!-- loopguard:end title -->"));
    assert!(
        text.contains("- 2026-03-04: findings changed: 1 -> 0, no longer detected (loopguard)\n")
    );
    let readme = read(dir.path(), "README.md");
    assert!(readme.contains("### No longer detected"));
    assert!(readme.contains(&format!(
        "| [{sleep_id}]({sleep_id}.md) | p3 | in-progress | LG305 |"
    )));
    assert!(readme.contains("| 2026-03-04 |"));

    // Still gone: nothing changes, nothing is logged twice.
    let before = files(dir.path());
    let third = write_triage(&fixed, &options(dir.path(), "2026-03-09")).unwrap();
    assert_eq!(files(dir.path()), before);
    assert_eq!(third.no_longer_detected, vec![sleep_id.clone()]);

    // Back again: regenerated, the mark removed, the return logged.
    let fourth = write_triage(&project(0), &options(dir.path(), "2026-03-10")).unwrap();
    assert!(fourth.updated.contains(&sleep_id));
    let text = read(dir.path(), &name);
    assert!(!text.contains("No longer detected on"));
    assert!(text.contains("- 2026-03-10: findings changed: 0 -> 1, detected again (loopguard)\n"));
    assert!(text.contains("status: in-progress\n"));
}

#[test]
fn leftovers_of_an_interrupted_run_are_not_items() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_triage(&project(0), &options(dir.path(), "2026-03-01")).unwrap();
    let rate = id_of(&first, "lg201-");
    let jwks = id_of(&first, "lg301-");
    // A temp file that looks like an item, a file cut before its first marker, one cut
    // inside a block, and someone's own notes.
    let temp = dir.path().join(".loopguard-Xy12ab.tmp");
    std::fs::write(&temp, read(dir.path(), &format!("{rate}.md"))).unwrap();
    let truncated = "---\nstatus: in-progress\npriority: p0\nissue_id: \"lg20";
    std::fs::write(dir.path().join(format!("{rate}.md")), truncated).unwrap();
    let full = read(dir.path(), &format!("{jwks}.md"));
    let cut = &full[..full.find("<!-- loopguard:end findings -->").unwrap()];
    std::fs::write(dir.path().join(format!("{jwks}.md")), cut).unwrap();
    std::fs::write(dir.path().join("notes.md"), "# My notes\n").unwrap();
    let index_copy = "<!-- loopguard:begin summary -->\nold\n<!-- loopguard:end summary -->\n";
    std::fs::write(dir.path().join("index-copy.md"), index_copy).unwrap();
    std::fs::write(dir.path().join("lg999-old-thing-abcd.md"), "garbage").unwrap();

    let summary = write_triage(&project(0), &options(dir.path(), "2026-03-02")).unwrap();
    assert!(!temp.exists(), "stale temp file is cleaned up");
    assert_eq!(summary.stale_temp_files_removed, vec![temp]);
    assert_eq!(read(dir.path(), &format!("{rate}.md")), truncated);
    assert_eq!(read(dir.path(), &format!("{jwks}.md")), cut);
    assert_eq!(read(dir.path(), "notes.md"), "# My notes\n");
    assert_eq!(read(dir.path(), "index-copy.md"), index_copy);
    let left: Vec<(String, Option<String>)> = summary
        .left_alone
        .iter()
        .map(|l| {
            (
                l.path.file_name().unwrap().to_string_lossy().into_owned(),
                l.item.clone(),
            )
        })
        .collect();
    assert_eq!(
        left,
        vec![
            (format!("{rate}.md"), Some(rate.clone())),
            (format!("{jwks}.md"), Some(jwks.clone())),
            ("lg999-old-thing-abcd.md".to_string(), None),
        ]
    );
    assert!(
        summary.left_alone[0]
            .reason
            .contains("no loopguard markers")
    );
    assert!(
        summary.left_alone[1].reason.contains("no end marker"),
        "{}",
        summary.left_alone[1].reason
    );
    assert_eq!(summary.items(), 6);
    assert_eq!(summary.unchanged.len(), 4);
    let readme = read(dir.path(), "README.md");
    assert!(readme.contains("### Left alone"));
    // The truncated file's front matter is unreadable, its row says so.
    assert!(
        readme.contains(&format!("| [{rate}]({rate}.md) | p0 | ? | LG201 |")),
        "{readme}"
    );
    assert!(!readme.contains("notes.md"));
}

#[test]
fn files_without_markers_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let readme = "# Our triage\n\nHand-written.\n";
    std::fs::write(dir.path().join("README.md"), readme).unwrap();
    let summary = write_triage(&project(0), &options(dir.path(), "2026-03-01")).unwrap();
    assert_eq!(summary.readme, FileOutcome::LeftAlone);
    assert_eq!(read(dir.path(), "README.md"), readme);

    // A README with markers keeps the text around them.
    let generated = read(dir.path(), &format!("{}.md", id_of(&summary, "lg201-")));
    assert!(generated.starts_with("---\n"));
    std::fs::write(
        dir.path().join("README.md"),
        "# Triage\n\nOwned by the platform team.\n\n<!-- loopguard:begin summary -->\nold\n<!-- loopguard:end summary -->\n\nFooter.\n",
    )
    .unwrap();
    let summary = write_triage(&project(0), &options(dir.path(), "2026-03-01")).unwrap();
    assert_eq!(summary.readme, FileOutcome::Updated);
    let text = read(dir.path(), "README.md");
    assert!(text.starts_with("# Triage\n\nOwned by the platform team.\n\n<!-- loopguard:begin summary -->\n7 findings in 6 items"));
    assert!(text.ends_with("<!-- loopguard:end summary -->\n\nFooter.\n"));
}

#[test]
fn priority_overrides_apply_per_context() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), "2026-03-01");
    opts.priority_overrides = [("route".to_string(), "p3".to_string())].into();
    let summary = write_triage(&project(0), &opts).unwrap();
    let sqlite = read(dir.path(), &format!("{}.md", id_of(&summary, "lg302-")));
    assert!(sqlite.contains("\npriority: p3\n"));
    assert!(sqlite.contains(
        "- Priority p3: reached from a route handler (set by `triage-priority.route`).\n"
    ));
    opts.priority_overrides = [("route".to_string(), "urgent".to_string())].into();
    let err = write_triage(&project(0), &opts).unwrap_err().to_string();
    assert!(err.contains("urgent"), "{err}");
}

#[test]
fn errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let err = write_triage(&project(0), &options(&file.join("triage"), "2026-03-01"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not-a-dir"), "{err}");
}
