//! The pre-commit hook end to end, through `pre-commit try-repo` on a throwaway git repo.
//!
//! Ignored by default: pre-commit builds loopguard with `cargo install` into its own
//! environment (minutes on a 2-core machine) and installs pre-commit from PyPI. Run it with
//! `cargo test --test precommit -- --ignored`.

use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn git(dir: &Path, args: &[&str]) {
    let (ok, text) = run(Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid"));
    assert!(ok, "git {args:?}: {text}");
}

#[test]
#[ignore = "slow: builds loopguard inside pre-commit's environment"]
fn hook_fails_a_blocking_commit_and_passes_a_clean_one() {
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    // pre-commit from PyPI, in a venv of its own.
    let venv = work.path().join("venv");
    let (ok, text) = run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    assert!(ok, "{text}");
    let (ok, text) =
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", "pre-commit"]));
    assert!(ok, "{text}");
    let pre_commit = venv.join("bin/pre-commit");

    let project = work.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    git(&project, &["init", "-q"]);
    std::fs::write(
        project.join("handler.py"),
        "import time\n\n\nasync def handler():\n    time.sleep(1)\n",
    )
    .unwrap();
    git(&project, &["add", "handler.py"]);
    let hook = |project: &Path| {
        run(Command::new(&pre_commit)
            .args(["try-repo"])
            .arg(repo_root)
            .args(["loopguard", "--files", "handler.py"])
            .current_dir(project)
            .env("PRE_COMMIT_HOME", work.path().join("pre-commit-home")))
    };
    let (ok, text) = hook(&project);
    assert!(!ok, "the hook must fail on a blocking call:\n{text}");
    assert!(text.contains("LG305"), "{text}");

    std::fs::write(
        project.join("handler.py"),
        "import asyncio\n\n\nasync def handler():\n    await asyncio.sleep(1)\n",
    )
    .unwrap();
    git(&project, &["add", "handler.py"]);
    let (ok, text) = hook(&project);
    assert!(ok, "the hook must pass on clean code:\n{text}");
    git(&project, &["commit", "-q", "-m", "clean handler"]);
}
