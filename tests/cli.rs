//! End-to-end tests of the `loopguard` binary: exit codes, output formats, config errors,
//! noqa, bad input files, determinism, baselines, fixes.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn loopguard() -> Command {
    let mut c = Command::cargo_bin("loopguard").expect("binary is built");
    c.env_remove("LOOPGUARD_CACHE_DIR").env("NO_COLOR", "1");
    c
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A small FastAPI-style project with one direct and one indirect finding.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "loopguard.toml", "");
    write(root, "svc/__init__.py", "");
    write(
        root,
        "svc/helpers.py",
        "import time\n\n\ndef backoff(attempt: int) -> None:\n    time.sleep(2 ** attempt)\n",
    );
    write(
        root,
        "svc/handlers.py",
        "import requests\n\nfrom svc.helpers import backoff\n\n\nasync def fetch(url: str) -> dict:\n    backoff(1)\n    return requests.get(url).json()\n",
    );
    dir
}

fn json_of(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).expect("valid JSON output")
}

#[test]
fn findings_exit_1_and_clean_exit_0() {
    let dir = project();
    loopguard()
        .args(["check", "--no-cache"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("LG301"))
        .stdout(predicate::str::contains("LG305"));
    let clean = tempfile::tempdir().unwrap();
    write(
        clean.path(),
        "ok.py",
        "import asyncio\n\nasync def f():\n    await asyncio.sleep(1)\n",
    );
    loopguard()
        .args(["check", "--no-cache"])
        .arg(clean.path())
        .assert()
        .code(0);
    loopguard()
        .args(["check", "--no-cache", "--exit-zero"])
        .arg(dir.path())
        .assert()
        .code(0);
}

#[test]
fn json_output_has_chain_and_schema_fields() {
    let dir = project();
    let out = loopguard()
        .args(["check", "--no-cache", "--output-format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out.stdout);
    assert_eq!(v["version"], 1);
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{v:#}");
    let sleep = findings.iter().find(|f| f["code"] == "LG305").unwrap();
    assert_eq!(sleep["path"], "svc/handlers.py");
    assert_eq!(sleep["start_line"], 7);
    let chain = sleep["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[1]["path"], "svc/helpers.py");
    assert_eq!(chain[1]["line"], 5);
    let http = findings.iter().find(|f| f["code"] == "LG301").unwrap();
    assert!(http["chain"].as_array().unwrap().is_empty());
}

#[test]
fn sarif_output_validates_against_the_schema() {
    let dir = project();
    write(dir.path(), "svc/broken.py", "async def f(:\n    pass\n");
    let sarif_path = dir.path().join("out.sarif");
    loopguard()
        .args([
            "check",
            "--no-cache",
            "--output-format",
            "sarif",
            "--output",
        ])
        .arg(&sarif_path)
        .arg(dir.path())
        .assert()
        .code(1);
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("crates/loopguard_report/tests/data/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &sarif["runs"][0];
    assert!(run["results"].as_array().unwrap().len() >= 2);
    let flows = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("codeFlows").is_some())
        .count();
    assert_eq!(flows, 1, "the indirect finding carries a code flow");
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert!(notes.iter().any(|n| {
        n["message"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("")
            && n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "svc/broken.py"
    }));
}

#[test]
fn github_format_prints_workflow_commands() {
    let dir = project();
    loopguard()
        .args(["check", "--no-cache", "--output-format", "github"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "::error file=svc/handlers.py,line=8",
        ));
}

#[test]
fn select_ignore_and_noqa() {
    let dir = project();
    let out = loopguard()
        .args([
            "check",
            "--no-cache",
            "--output-format",
            "json",
            "--select",
            "LG3",
            "--ignore",
            "LG305",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let v = json_of(&out.stdout);
    let codes: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].clone())
        .collect();
    assert_eq!(codes, vec![serde_json::json!("LG301")]);
    write(
        dir.path(),
        "svc/handlers.py",
        "import requests\n\nfrom svc.helpers import backoff\n\n\nasync def fetch(url: str) -> dict:\n    backoff(1)  # noqa: LG305\n    return requests.get(url).json()  # noqa\n",
    );
    loopguard()
        .args(["check", "--no-cache"])
        .arg(dir.path())
        .assert()
        .code(0);
}

#[test]
fn bad_config_is_exit_2_with_file_and_key() {
    let dir = project();
    write(
        dir.path(),
        "loopguard.toml",
        "select = [\"LG3\"]\nignored = [\"LG305\"]\n",
    );
    loopguard()
        .args(["check", "--no-cache"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("loopguard.toml"))
        .stderr(predicate::str::contains("ignored"));
    write(dir.path(), "loopguard.toml", "select = [\"E501\"]\n");
    loopguard()
        .args(["check", "--no-cache"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("E501"));
    loopguard()
        .args(["check", "--no-cache", "/definitely/not/here"])
        .assert()
        .code(2);
    loopguard().args(["rule", "LG999"]).assert().code(2);
}

#[test]
fn unreadable_non_utf8_and_syntax_errors_are_notifications() {
    let dir = project();
    std::fs::write(
        dir.path().join("svc/latin1.py"),
        b"async def f():\n    s = '\xe9'\n",
    )
    .unwrap();
    write(
        dir.path(),
        "svc/partial.py",
        "import time\n\nasync def good():\n    time.sleep(1)\n\ndef broken(:\n    pass\n",
    );
    let out = loopguard()
        .args(["check", "--no-cache", "--output-format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out.stdout);
    let kinds: Vec<String> = v["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{} {}",
                n["kind"].as_str().unwrap(),
                n["path"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        kinds.contains(&"not-utf8 svc/latin1.py".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"parse-error svc/partial.py".to_string()),
        "{kinds:?}"
    );
    // What parsed is still linted.
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "svc/partial.py")
    );
}

#[test]
fn output_is_identical_for_1_and_8_threads() {
    let dir = project();
    // Async handlers that call sync helpers in requested files without async code: the
    // first look at such a file finds nothing to parse, demand then reaches it, possibly
    // while that first look is still running on another worker.
    for i in 0..20 {
        write(
            dir.path(),
            &format!("svc/gen{i}.py"),
            &format!(
                "import time\nfrom svc.helpers import backoff\nfrom svc.plain{i} import work\n\nasync def h{i}():\n    backoff({i})\n    work()\n    time.sleep(0)\n"
            ),
        );
        write(
            dir.path(),
            &format!("svc/plain{i}.py"),
            "import subprocess\n\ndef work():\n    subprocess.run(['true'])\n",
        );
    }
    let run = |threads: &str| {
        loopguard()
            .args([
                "check",
                "--no-cache",
                "--output-format",
                "sarif",
                "--threads",
                threads,
            ])
            .arg(dir.path())
            .output()
            .unwrap()
            .stdout
    };
    let one = run("1");
    let text = String::from_utf8_lossy(&one);
    // Every demanded helper was parsed: each handler's chain through its plain module.
    for i in 0..20 {
        assert!(
            text.contains(&format!("svc/plain{i}.py")),
            "plain{i} missing"
        );
    }
    for _ in 0..3 {
        assert_eq!(one, run("8"));
    }
}

#[test]
fn baseline_reports_only_new_findings() {
    let dir = project();
    let baseline = dir.path().join("baseline.json");
    loopguard()
        .args(["check", "--no-cache", "--write-baseline"])
        .arg(&baseline)
        .arg(dir.path())
        .assert()
        .code(0);
    loopguard()
        .args(["check", "--no-cache", "--baseline"])
        .arg(&baseline)
        .arg(dir.path())
        .assert()
        .code(0);
    // Lines move (still baselined); a new finding appears; one is fixed.
    write(
        dir.path(),
        "svc/handlers.py",
        "import subprocess\n\nimport requests\n\n\n\nasync def fetch(url: str) -> dict:\n    subprocess.run(['ls'])\n    return requests.get(url).json()\n",
    );
    let out = loopguard()
        .args([
            "check",
            "--no-cache",
            "--output-format",
            "json",
            "--baseline",
        ])
        .arg(&baseline)
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out.stdout);
    let codes: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].clone())
        .collect();
    assert_eq!(codes, vec![serde_json::json!("LG304")]);
    assert_eq!(v["summary"]["fixed_baseline_entries"], 1);
}

#[test]
fn fix_and_diff_turn_sync_async_endpoints_into_def() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "loopguard.toml", "");
    let src = "import sqlite3\n\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get(\"/items\")\nasync def items():\n    conn = sqlite3.connect(\"app.db\")\n    return conn.execute(\"select 1\").fetchall()\n";
    write(dir.path(), "api.py", src);
    loopguard()
        .args(["check", "--no-cache", "--diff"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("-async def items():"))
        .stdout(predicate::str::contains("+def items():"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("api.py")).unwrap(),
        src
    );
    loopguard()
        .args(["check", "--no-cache", "--fix", "--select", "LG501"])
        .arg(dir.path())
        .assert()
        .code(0);
    let fixed = std::fs::read_to_string(dir.path().join("api.py")).unwrap();
    assert!(fixed.contains("\ndef items():"), "{fixed}");
    loopguard()
        .args(["check", "--no-cache"])
        .arg(dir.path())
        .assert()
        .code(0);
}

#[test]
fn rule_and_rules_commands() {
    loopguard()
        .args(["rule", "LG301"])
        .assert()
        .success()
        .stdout(predicate::str::contains("## What it does"));
    loopguard()
        .args(["rule", "blocking-sleep"])
        .assert()
        .success()
        .stdout(predicate::str::contains("LG305"));
    let out = loopguard()
        .args(["rules", "--output-format", "json"])
        .output()
        .unwrap();
    let v = json_of(&out.stdout);
    assert_eq!(v.as_array().unwrap().len(), 12);
}

#[test]
fn checking_a_subfolder_still_follows_calls_into_the_rest_of_the_project() {
    let dir = project();
    write(dir.path(), "svc/api/__init__.py", "");
    write(
        dir.path(),
        "svc/api/routes.py",
        "from svc.helpers import backoff\n\nasync def retry():\n    backoff(3)\n",
    );
    let out = loopguard()
        .args(["check", "--no-cache", "--output-format", "json"])
        .arg(dir.path().join("svc/api"))
        .output()
        .unwrap();
    let v = json_of(&out.stdout);
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["path"], "svc/api/routes.py");
    assert_eq!(f[0]["chain"][1]["path"], "svc/helpers.py");
}

#[test]
fn paths_named_from_another_folder_or_in_bulk_are_the_projects_own_files() {
    let dir = project();
    write(dir.path(), "tests/__init__.py", "");
    // `check ../svc` run in `tests/`: the findings are those of `svc`, under their paths
    // in the project (not `tests/../svc/...`).
    let out = loopguard()
        .args(["check", "--no-cache", "--output-format", "json", "../svc"])
        .current_dir(dir.path().join("tests"))
        .output()
        .unwrap();
    let v = json_of(&out.stdout);
    let paths: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["svc/handlers.py", "svc/handlers.py"], "{v:#}");
    // Every file named, as `pre-commit run --all-files` does: the same findings as the
    // folder, and the files named are the ones checked.
    let mut named = Vec::new();
    for i in 0..300 {
        let rel = format!("svc/gen/m{i:03}.py");
        write(dir.path(), &rel, "def f():\n    return 1\n");
        named.push(rel);
    }
    named.extend(["svc/helpers.py".into(), "svc/handlers.py".into()]);
    let out = loopguard()
        .args([
            "check",
            "--no-cache",
            "--output-format",
            "json",
            "--statistics",
        ])
        .args(&named)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(json_of(&out.stdout)["findings"], v["findings"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("302 file(s) checked"), "{stderr}");
}

#[test]
fn deeply_nested_rust_does_not_crash_the_workers() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Cargo.toml",
        "[package]\nname = \"deep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    let nested = format!("{}1{}", "(".repeat(3000), ")".repeat(3000));
    write(
        dir.path(),
        "src/lib.rs",
        &format!(
            "pub async fn f() -> i32 {{\n    std::thread::sleep(std::time::Duration::from_millis(1));\n    {nested}\n}}\n"
        ),
    );
    let out = loopguard()
        .args(["check", "--no-cache", "--output-format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    // Too deep to lower: reported as a notification, never a crash (exit 0, 1 or 2 only).
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let v = json_of(&out.stdout);
    assert!(
        v["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["path"] == "src/lib.rs")
            || !v["findings"].as_array().unwrap().is_empty(),
        "{v:#}"
    );
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    // `loopguard check | head`: the JSON report of the fixtures (far more than a pipe
    // buffer) meets a closed pipe; the exit status still says "findings", and nothing is
    // printed as an error.
    use std::io::Read;
    use std::process::{Command as Std, Stdio};
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("loopguard"))
        .args(["check", "--no-cache", "--output-format", "json"])
        .arg(&fixtures)
        .env_remove("LOOPGUARD_CACHE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stdout = child.stdout.take().expect("piped");
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let out = child.wait_with_output().expect("exits");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn statistics_tell_how_the_cache_served_the_run() {
    let dir = project();
    let run = || {
        let out = loopguard()
            .args(["check", "--statistics", "--exit-zero"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stderr).unwrap()
    };
    let first = run();
    assert!(
        first.contains(
            "3 file(s) checked, 2 parsed or taken from the cache; cache: 2 file(s) parsed"
        ),
        "{first}"
    );
    assert!(run().contains("cache: nothing changed"));
    // A helper nothing on the loop calls: the stored findings stand.
    let helpers = dir.path().join("svc/helpers.py");
    let mut text = std::fs::read_to_string(&helpers).unwrap();
    text.push_str("\n\ndef unused_probe():\n    return open('x')\n");
    std::fs::write(&helpers, text).unwrap();
    let f = std::fs::File::options()
        .append(true)
        .open(&helpers)
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    let stderr = run();
    assert!(
        stderr.contains("1 changed file(s) matched to their cached facts"),
        "{stderr}"
    );
}

/// The CI job of docs/ci.md: loopguard installed again (the same build, a new file), the
/// cache restored, the tree cloned afresh (every file a new mtime). The restored cache
/// still serves the run.
#[test]
fn a_reinstalled_binary_on_a_fresh_checkout_reuses_the_restored_cache() {
    let dir = project();
    let cache = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let installed = bin.path().join("loopguard");
    std::fs::copy(assert_cmd::cargo::cargo_bin("loopguard"), &installed).unwrap();
    let run = |exe: &Path| {
        let out = std::process::Command::new(exe)
            .args([
                "check",
                "--statistics",
                "--exit-zero",
                "--output-format",
                "json",
            ])
            .arg("--cache-dir")
            .arg(cache.path())
            .arg(dir.path())
            .env_remove("LOOPGUARD_CACHE_DIR")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        (
            String::from_utf8(out.stderr).unwrap(),
            json_of(&out.stdout)["findings"].clone(),
        )
    };
    let (first, findings) = run(&assert_cmd::cargo::cargo_bin("loopguard"));
    assert!(first.contains("2 file(s) parsed"), "{first}");
    assert_eq!(findings.as_array().map(Vec::len), Some(2));
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    for rel in ["svc/__init__.py", "svc/helpers.py", "svc/handlers.py"] {
        let f = std::fs::File::options()
            .append(true)
            .open(dir.path().join(rel))
            .unwrap();
        f.set_modified(later).unwrap();
    }
    let (stderr, again) = run(&installed);
    assert!(
        stderr.contains(
            "cache: nothing changed (3 file(s) with a new modification time, contents as cached)"
        ),
        "{stderr}"
    );
    assert_eq!(again, findings);
    assert!(run(&installed).0.contains("cache: nothing changed, stored"));
}
