//! The binaries end to end on small temporary projects.

use assert_cmd::Command;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::write(root.join("pkg/__init__.py"), "").unwrap();
    std::fs::write(
        root.join("pkg/api.py"),
        "import time\n\nasync def handler():\n    time.sleep(1)\n",
    )
    .unwrap();
    std::fs::write(root.join("pkg/broken.py"), b"x = '\xff'\n").unwrap();
    std::fs::write(
        root.join("lib.rs"),
        "async fn f() { std::thread::sleep(d); }\n",
    )
    .unwrap();
    dir
}

fn json_of(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap()
}

#[test]
fn floor_counts_files_and_skips_bad_ones() {
    let dir = project();
    let out = Command::cargo_bin("loopguard-parse-floor")
        .unwrap()
        .args(["--lang", "python", "--threads", "2", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json_of(&out.stdout);
    assert_eq!(v["files"], 3);
    assert_eq!(v["parsed"], 2);
    assert_eq!(v["skipped"]["not_utf8"], 1);
    assert_eq!(v["threads"], 2);

    let out = Command::cargo_bin("loopguard-parse-floor")
        .unwrap()
        .args(["--lang", "python", "--only-async", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let v = json_of(&out.stdout);
    assert_eq!(v["parsed"], 1);
    assert_eq!(v["not_async"], 1);

    let out = Command::cargo_bin("loopguard-parse-floor")
        .unwrap()
        .args(["--lang", "rust"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Rust: files 1 parsed 1"), "{text}");
}

#[test]
fn sweep_runs_workers_and_reports_no_panics() {
    let dir = project();
    for lang in ["python", "rust"] {
        let out = Command::cargo_bin("loopguard-parse-floor")
            .unwrap()
            .args(["--lang", lang, "--sweep", "--sweep-chunk", "1"])
            .arg(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{text}");
        assert!(text.contains("0 panics, 0 crashes"), "{text}");
    }
}

#[test]
fn missing_path_is_a_usage_error() {
    Command::cargo_bin("loopguard-parse-floor")
        .unwrap()
        .args(["--lang", "python", "/no/such/folder"])
        .assert()
        .code(2);
}

#[test]
fn phases_lists_every_phase() {
    let dir = project();
    let out = Command::cargo_bin("loopguard-phases")
        .unwrap()
        .args(["--json", "--threads", "1"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out.stdout);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    for want in [
        "walk (discover)",
        "· parse async files",
        "load (engine, with demand)",
        "analysis (incl. index)",
        "check, nothing changed",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}
