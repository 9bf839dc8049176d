//! The cache's failure cases: it may make a run faster, never wrong.

use std::path::{Path, PathBuf};

use loopguard_engine::{CacheUse, Outcome, Settings, check};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "loopguard.toml", "");
        write(root, "svc/__init__.py", "");
        write(
            root,
            "svc/helpers.py",
            "import time\n\n\ndef backoff(n):\n    time.sleep(n)\n",
        );
        write(
            root,
            "svc/api.py",
            "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(1)\n",
        );
        Project { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Adds a module that names FastAPI's `Depends`: in such a project a call added to an
    /// async function that never awaits (`handler`) is no shift, since LG501 may read it
    /// (see `calls_added_to_async_functions_that_never_await_are_shifts_unless_lg501_may_apply`).
    /// The tests of the other ways a run is served edit `handler` so.
    fn name_a_dependency_api(&self) {
        write(
            self.root(),
            "svc/deps.py",
            "from fastapi import Depends\n\n\nasync def needs():\n    return Depends\n",
        );
    }

    /// Rewrites a file with a later mtime (see [`touch_later`]).
    fn edit(&self, rel: &str, text: &str) {
        write(self.root(), rel, text);
        touch_later(&self.root().join(rel));
    }

    /// Gives every source file a later mtime, contents unchanged, as a fresh clone or
    /// checkout does; returns how many.
    fn check_out_afresh(&self) -> usize {
        let files: Vec<PathBuf> = std::fs::read_dir(self.root().join("svc"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        for f in &files {
            touch_later(f);
        }
        files.len()
    }

    fn cache_dir(&self) -> PathBuf {
        self.root().join(".loopguard_cache")
    }

    fn run(&self) -> Outcome {
        check(&Settings {
            paths: vec![self.root().to_path_buf()],
            threads: Some(2),
            ..Default::default()
        })
        .expect("check runs")
    }

    /// A cached run that the cache served as `how`, with the findings of a `--no-cache` run.
    fn run_served_as(&self, how: CacheUse) -> Outcome {
        let o = self.run();
        assert_eq!(o.cache, how);
        assert_eq!(summary(&o), summary(&self.run_uncached()));
        o
    }

    /// A cached run that the cache did not serve as a shift (the analysis ran), with the
    /// findings of a `--no-cache` run.
    fn run_analysed(&self) -> Outcome {
        let o = self.run();
        assert!(
            !matches!(o.cache, CacheUse::Shifted { .. }),
            "{:?}",
            o.cache
        );
        assert_eq!(summary(&o), summary(&self.run_uncached()));
        o
    }

    /// A cached run that analysed the files of the last run again (`SameFiles`), with the
    /// findings of a `--no-cache` run.
    fn run_same_files(&self) -> Outcome {
        let o = self.run();
        assert!(
            matches!(o.cache, CacheUse::SameFiles { .. }),
            "{:?}",
            o.cache
        );
        assert_eq!(summary(&o), summary(&self.run_uncached()));
        o
    }

    /// A cached run naming `rels` (files or folders of the project), as a pre-commit hook
    /// names the staged files.
    fn run_on(&self, rels: &[&str]) -> Outcome {
        check(&Settings {
            paths: rels.iter().map(|r| self.root().join(r)).collect(),
            threads: Some(2),
            ..Default::default()
        })
        .expect("check runs")
    }

    fn run_uncached(&self) -> Outcome {
        check(&Settings {
            paths: vec![self.root().to_path_buf()],
            threads: Some(2),
            no_cache: true,
            ..Default::default()
        })
        .expect("check runs")
    }

    fn cache_files(&self, prefix: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.cache_dir())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .collect();
        v.sort();
        v
    }
}

fn summary(o: &Outcome) -> Vec<String> {
    o.diagnostics
        .iter()
        .map(|d| {
            let chain: Vec<String> = d
                .chain
                .iter()
                .map(|h| format!("{}:{}", h.path, h.span.start_line))
                .collect();
            format!(
                "{} {}:{} {}",
                d.code,
                d.path,
                d.span.start_line,
                chain.join(" ")
            )
        })
        .collect()
}

/// Asserts that `o` holds a finding whose summary starts with `prefix`.
fn assert_finding(o: &Outcome, prefix: &str) {
    assert!(
        summary(o).iter().any(|s| s.starts_with(prefix)),
        "no {prefix}: {:?}",
        summary(o)
    );
}

/// How the cache serves a run that analyses the last run's files again after one edit.
fn same_files(kept_resolutions: bool) -> CacheUse {
    CacheUse::SameFiles {
        parsed: 1,
        kept_resolutions,
    }
}

/// Bumps a file's mtime past the cache's stat key even on coarse-grained file systems.
fn touch_later(p: &Path) {
    let f = std::fs::File::options().append(true).open(p).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    f.set_modified(later).unwrap();
}

#[test]
fn cold_warm_and_edited_runs_agree_with_no_cache() {
    let p = Project::new();
    let cold = p.run();
    assert_eq!(
        cold.cache,
        CacheUse::Facts {
            parsed: 2,
            kept_resolutions: false
        }
    );
    assert_eq!(summary(&cold), summary(&p.run_uncached()));
    assert!(p.cache_dir().join("CACHEDIR.TAG").is_file());
    assert!(p.cache_dir().join(".gitignore").is_file());

    let warm = p.run();
    assert_eq!(warm.cache, CacheUse::Results);
    assert_eq!(summary(&warm), summary(&cold));

    // Editing the helper (not the reported file) changes the cross-file result.
    p.edit(
        "svc/helpers.py",
        "import subprocess\n\n\ndef backoff(n):\n    subprocess.run(['sleep', str(n)])\n",
    );
    let edited = p.run();
    // Analysed on the same files: the new import is of a module outside the project.
    assert_eq!(
        edited.cache,
        CacheUse::SameFiles {
            parsed: 1,
            kept_resolutions: false
        }
    );
    assert_eq!(
        summary(&edited),
        vec!["LG304 svc/api.py:5 svc/api.py:5 svc/helpers.py:5"]
    );
    assert_eq!(summary(&edited), summary(&p.run_uncached()));
}

#[test]
fn touched_but_unchanged_file_is_confirmed_by_content_hash() {
    let p = Project::new();
    p.run();
    touch_later(&p.root().join("svc/helpers.py"));
    let o = p.run();
    // The stat key differs, the content hash matches: no re-parse, same findings.
    assert_eq!(o.cache, CacheUse::Touched { files: 1 });
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    assert_eq!(p.run().cache, CacheUse::Results);
}

/// A fresh clone or checkout gives every file a new mtime: more files than a run compares
/// with their cached facts, all with the contents the cache holds. Each is confirmed by its
/// content hash and the stored results stand; a real edit among them is still seen.
#[test]
fn a_fresh_checkout_keeps_the_results_and_still_sees_an_edit() {
    let p = Project::new();
    p.name_a_dependency_api();
    let n = 2 * loopguard_engine::MAX_SHIFTED_FILES;
    for i in 0..n {
        write(
            p.root(),
            &format!("svc/m{i:02}.py"),
            &format!("import os\n\n\ndef read_{i}(path):\n    return os.stat(path)\n"),
        );
    }
    let before = p.run();
    let files = p.check_out_afresh();
    let touched = p.run();
    assert_eq!(touched.cache, CacheUse::Touched { files });
    assert_eq!(summary(&touched), summary(&before));
    assert_eq!(p.run().cache, CacheUse::Results);

    // Checked out again, with the handler edited: only the edit is compared.
    p.check_out_afresh();
    p.edit(
        "svc/api.py",
        "from svc.helpers import backoff\n\n\nasync def handler():\n    open('x')\n    backoff(1)\n",
    );
    let edited = p.run();
    assert!(
        matches!(edited.cache, CacheUse::SameFiles { parsed: 1, .. }),
        "{:?}",
        edited.cache
    );
    assert_eq!(summary(&edited), summary(&p.run_uncached()));
    assert_eq!(summary(&edited).len(), 2);
}

#[test]
fn code_that_only_moved_reuses_the_results_with_shifted_positions() {
    let p = Project::new();
    let before = p.run();
    // Lines inserted above the blocking call (helper) and above the handler (reported file).
    write(
        p.root(),
        "svc/helpers.py",
        "import time\n\n# Retry pacing.\n\n\ndef backoff(n):\n    time.sleep(n)\n",
    );
    write(
        p.root(),
        "svc/api.py",
        "\"\"\"The API.\"\"\"\nfrom svc.helpers import backoff\n\n\nasync def handler():\n    backoff(1)\n",
    );
    touch_later(&p.root().join("svc/helpers.py"));
    touch_later(&p.root().join("svc/api.py"));
    let moved = p.run();
    assert_eq!(moved.cache, CacheUse::Shifted { changed: 2 });
    assert_ne!(summary(&moved), summary(&before));
    assert_eq!(
        summary(&moved),
        vec!["LG305 svc/api.py:6 svc/api.py:6 svc/helpers.py:7"]
    );
    assert_eq!(summary(&moved), summary(&p.run_uncached()));
    // The cache now holds the new positions.
    assert_eq!(p.run().cache, CacheUse::Results);
    assert_eq!(summary(&p.run()), summary(&p.run_uncached()));

    // Edits in two places, with another linter's `noqa` between them (it silences nothing
    // here, so it does not have to move as the code around it): a shift.
    let helpers = |top: &str, gap: &str| {
        format!(
            "{top}import time\n\n# Retry pacing.\n\n\ndef backoff(n):\n    \
             import os  # noqa: PLC0415\n{gap}    time.sleep(n)\n"
        )
    };
    p.edit("svc/helpers.py", &helpers("", ""));
    p.run();
    p.edit("svc/helpers.py", &helpers("# Pacing.\n", "\n"));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG305 svc/api.py:6 svc/api.py:6 svc/helpers.py:10");
    // One of loopguard's codes there ties the shift to its line: analysed.
    p.edit(
        "svc/helpers.py",
        &helpers("", "").replace("PLC0415", "LG301"),
    );
    p.run();
    p.edit(
        "svc/helpers.py",
        &helpers("# Pacing.\n", "\n").replace("PLC0415", "LG301"),
    );
    p.run_analysed();
}

/// Edits the findings never read keep them: the cached run reuses the results
/// (`Shifted`) and agrees with an uncached run; an edit they do read is analysed again.
#[test]
fn edits_outside_the_code_the_findings_read_reuse_the_results() {
    let p = Project::new();
    let helpers = |extra: &str| {
        format!(
            "import subprocess\nimport time\n\n\ndef backoff(n):\n    time.sleep(n)\n\n\n\
             def report(path):\n    {extra}return path\n"
        )
    };
    p.edit("svc/helpers.py", &helpers(""));
    let before = p.run();
    assert_eq!(
        summary(&before),
        vec!["LG305 svc/api.py:5 svc/api.py:5 svc/helpers.py:6"]
    );

    // `report` is reached from no async code: a blocking call added to it changes nothing.
    p.edit(
        "svc/helpers.py",
        &helpers("subprocess.run(['ls', path])\n    "),
    );
    let o = p.run();
    assert_eq!(o.cache, CacheUse::Shifted { changed: 1 });
    assert_eq!(summary(&o), summary(&before));
    assert_eq!(summary(&o), summary(&p.run_uncached()));

    // A new plain function that nothing names, above the reached one: positions move.
    p.edit(
        "svc/helpers.py",
        &helpers("subprocess.run(['ls', path])\n    ").replace(
            "\n\ndef backoff",
            "\n\ndef probe():\n    return open('x')\n\n\ndef backoff",
        ),
    );
    let o = p.run();
    assert_eq!(o.cache, CacheUse::Shifted { changed: 1 });
    assert_eq!(
        summary(&o),
        vec!["LG305 svc/api.py:5 svc/api.py:5 svc/helpers.py:10"]
    );
    assert_eq!(summary(&o), summary(&p.run_uncached()));

    // The handler now calls `report`: its blocking call is found.
    p.edit("svc/api.py", "from svc.helpers import backoff, report\n\n\nasync def handler():\n    backoff(1)\n    report('x')\n");
    let o = p.run();
    assert!(matches!(o.cache, CacheUse::Facts { .. }), "{:?}", o.cache);
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    assert_finding(&o, "LG304");

    // `report` is reached now: an edit in it is analysed again.
    p.edit(
        "svc/helpers.py",
        &helpers("time.sleep(1)\n    ").replace(
            "\n\ndef backoff",
            "\n\ndef probe():\n    return open('x')\n\n\ndef backoff",
        ),
    );
    let o = p.run_served_as(same_files(true));
    assert_finding(&o, "LG305 svc/api.py:6");

    // A new function under a name the project mentions may be what a call reaches.
    p.edit("svc/api.py", "from svc.helpers import backoff, report\n\n\nasync def handler():\n    backoff(1)\n    report('x')\n    pause()\n");
    p.run();
    p.edit("svc/api.py", "from svc.helpers import backoff, report\n\n\nasync def handler():\n    backoff(1)\n    report('x')\n    pause()\n\n\ndef pause():\n    time.sleep(2)\n");
    let o = p.run();
    assert!(matches!(o.cache, CacheUse::Facts { .. }), "{:?}", o.cache);
    assert_eq!(summary(&o), summary(&p.run_uncached()));
}

/// Calls that reach nothing (no function, no catalog entry, whatever their arguments),
/// added to code the findings read, keep the findings: the run shifts them (`Shifted`),
/// edit after edit, and agrees with an uncached run. Such a call repeats the callee of one
/// the last analysis found reaching nothing (or only async functions), or calls a library
/// path the catalog does not list. A call whose arguments decide
/// (`join(timeout=0)` does not wait, `join()` does), a switch to non-blocking mode and a
/// call that makes demand follow a path it did not follow are analysed again.
#[test]
fn calls_that_reach_nothing_on_the_loop_keep_the_findings() {
    let p = Project::new();
    p.edit(
        "svc/util.py",
        "import time\n\n\ndef probe():\n    time.sleep(1)\n",
    );
    let api_with = |extra: &str, in_wait: &str| {
        format!(
            "import logging\nimport socket\nimport threading\n\nfrom svc import util\n\
             from svc.helpers import backoff\n\n_LOGGER = logging.getLogger(__name__)\n\
             _WORKER = threading.Thread()\n\n\n\
             def unused(sock: socket.socket):\n    sock.setblocking(True)\n    util.probe()\n\n\n\
             async def handler(sock: socket.socket):\n{extra}    _LOGGER.debug('start %s', 1)\n\
             \x20   _WORKER.join(timeout=0)\n    sock.recv(1)\n    backoff(1)\n    await refresh()\n\
             \x20   wait_here()\n\n\n\
             async def refresh():\n    return 1\n\n\n\
             def wait_here():\n{in_wait}    _WORKER.join(timeout=0)\n"
        )
    };
    let api = |extra: &str| api_with(extra, "");
    p.edit("svc/api.py", &api(""));
    let first = p.run();
    assert_eq!(summary(&first), summary(&p.run_uncached()));
    assert_eq!(first.diagnostics.len(), 2, "{:?}", summary(&first));
    assert_finding(&first, "LG301 svc/api.py:20");
    assert_finding(&first, "LG305 svc/api.py:21");

    // A log call with other arguments: its callee reached nothing.
    p.edit("svc/api.py", &api("    _LOGGER.debug('now %s', 2)\n"));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG305 svc/api.py:22");
    // Again, with another argument count: the kept resolutions carried over.
    p.edit(
        "svc/api.py",
        &api("    _LOGGER.debug('again %s %s', 3, 4)\n    _LOGGER.debug('more')\n"),
    );
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG305 svc/api.py:23");

    // A library function the file never called, which the catalog does not list (the
    // catalog alone tells, the path being outside the project), then a log call.
    p.edit(
        "svc/api.py",
        &api("    _ = threading.active_count()\n    logging.info('up')\n"),
    );
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG305 svc/api.py:23");
    // An async function of the project, awaited (the handler awaits already).
    p.edit("svc/api.py", &api("    await refresh()\n"));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG305 svc/api.py:22");
    // One the catalog lists blocks: in an async function that awaits, the run makes its
    // finding itself (see `blocking_library_calls_added_to_async_code_are_found_as_a_shift`).
    p.edit(
        "svc/api.py",
        &api("    socket.create_connection(('db', 5432))\n"),
    );
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_eq!(o.diagnostics.len(), 3, "{:?}", summary(&o));

    // A method of the library type the receiver is annotated with.
    p.edit("svc/api.py", &api("    sock.recv(2)\n"));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG301 svc/api.py:18");

    // `join()` waits where `join(timeout=0)` does not: in the async handler the run makes
    // its finding itself (the catalog types the receiver, a `threading.Thread`) ...
    p.edit("svc/api.py", &api("    _WORKER.join()\n"));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG204 svc/api.py:18");
    // ... and in a sync function the handler calls, the analysis runs: the kept `join`
    // calls reached nothing only because of their arguments.
    p.edit("svc/api.py", &api_with("", "    _WORKER.join()\n"));
    let o = p.run();
    assert_ne!(o.cache, CacheUse::Shifted { changed: 1 });
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    assert_finding(&o, "LG204 svc/api.py:23 svc/api.py:23 svc/api.py:31");

    // Each edit below against the first text, so that it is the only change.
    p.edit("svc/api.py", &api(""));
    p.run();
    // A switch to non-blocking mode: the receive after it no longer blocks.
    p.edit("svc/api.py", &api("    sock.setblocking(False)\n"));
    let o = p.run();
    assert_ne!(o.cache, CacheUse::Shifted { changed: 1 });
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    assert_eq!(o.diagnostics.len(), 1, "{:?}", summary(&o));

    // `util.probe()` reached nothing while only `unused` called it: demand did not follow
    // it. Called on the loop, it is followed, and blocks.
    p.edit("svc/api.py", &api(""));
    p.run();
    p.edit("svc/api.py", &api("    util.probe()\n"));
    let o = p.run();
    assert_ne!(o.cache, CacheUse::Shifted { changed: 1 });
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    assert_finding(&o, "LG305 svc/api.py:18 svc/api.py:18 svc/util.py:5");
}

/// A library call the catalog lists, added to or removed from an async function that
/// awaits, changes only that call's findings: the run makes them itself from the catalog
/// (`Shifted`), with the function's context (a FastAPI route here), and they are those of
/// an uncached run, field by field. In an async function that never awaits (LG501 reads
/// such a function as a whole) the analysis runs.
#[test]
fn blocking_library_calls_added_to_async_code_are_found_as_a_shift() {
    let p = Project::new();
    let routes = |in_items: &str, in_idle: &str| {
        format!(
            "import asyncio\nimport time\n\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n\
             async def fetch():\n    return 1\n\n\n\
             @app.get('/items')\nasync def items(delay=0.1):\n{in_items}    await fetch()\n    return []\n\n\n\
             @app.get('/idle')\nasync def idle():\n{in_idle}    return 2\n"
        )
    };
    // The edit, run cached: served as a shift or not, and field by field what an uncached
    // run finds.
    let run = |in_items: &str, in_idle: &str, shifted: bool| {
        p.edit("svc/routes.py", &routes(in_items, in_idle));
        let o = p.run();
        assert_eq!(
            o.cache == CacheUse::Shifted { changed: 1 },
            shifted,
            "{:?}",
            o.cache
        );
        assert_eq!(o.diagnostics, p.run_uncached().diagnostics);
        o
    };
    p.edit("svc/routes.py", &routes("", ""));
    p.run();

    let o = run("    time.sleep(1)\n", "", true);
    assert_finding(&o, "LG305 svc/routes.py:15");
    assert_eq!(
        o.diagnostics
            .iter()
            .filter(|d| d.context == "route")
            .count(),
        1
    );
    let o = run("    time.sleep(1)\n    time.sleep(2)\n", "", true);
    assert_finding(&o, "LG305 svc/routes.py:16");
    run("    time.sleep(2)\n", "", true);
    let o = run("", "", true);
    assert!(!summary(&o).iter().any(|s| s.contains("routes.py")));

    // A parameter passed on to library calls (a log line, a sleep) makes no offload
    // wrapper: a shift still. Passed to an offload, it makes one: analysed.
    let o = run(
        "    print('waiting', delay)\n    time.sleep(delay)\n",
        "",
        true,
    );
    assert_finding(&o, "LG305 svc/routes.py:16");
    run(
        "    await asyncio.to_thread(time.sleep, delay)\n",
        "",
        false,
    );
    run("", "", false);

    // `idle` never awaits: analysed (a route that never awaits but blocks is LG501 too).
    let o = run("", "    time.sleep(1)\n", false);
    assert_finding(&o, "LG305 svc/routes.py:21");
    assert_finding(&o, "LG501 svc/routes.py:20");
}

/// A call of a project function the file already calls, added to or removed from an async
/// function that awaits, is a shift: the run makes its findings from the chains kept with
/// the resolutions (the called function's chain with one hop in front), the chain's hops in
/// the edited file moved with it.
#[test]
fn calls_of_project_functions_added_in_async_code_are_found_as_a_shift() {
    let p = Project::new();
    p.name_a_dependency_api();
    write(
        p.root(),
        "svc/store.py",
        "import requests\n\n\nclass Store:\n    def load(self):\n        return self._fetch()\n\n\
         \n    def _fetch(self):\n        return requests.get('http://db')\n\n\
         \n    def fine(self):\n        return 1\n",
    );
    let routes = |top: &str, in_items: &str, in_idle: &str| {
        format!(
            "{top}from svc.helpers import backoff\nfrom svc.store import Store\n\nstore = Store()\n\n\n\
             def local_wait():\n    backoff(2)\n\n\n\
             def cold():\n    return store.load()\n\n\n\
             def setup():\n    cold()\n\n\n\
             async def fetch():\n    return 1\n\n\n\
             async def items():\n{in_items}    local_wait()\n    await fetch()\n    return []\n\n\n\
             async def idle():\n{in_idle}    store.fine()\n    backoff(1)\n    return 2\n\n\n\
             async def watch():\n    await fetch()\n"
        )
    };
    let shifted = |top: &str, in_items: &str, in_idle: &str| {
        p.edit("svc/routes.py", &routes(top, in_items, in_idle));
        p.run_served_as(CacheUse::Shifted { changed: 1 })
    };
    let analysed_text = |text: &str| {
        p.edit("svc/routes.py", text);
        let o = p.run();
        assert!(
            !matches!(o.cache, CacheUse::Shifted { .. }),
            "{:?}",
            o.cache
        );
        assert_eq!(o.diagnostics, p.run_uncached().diagnostics);
        o
    };
    let analysed =
        |top: &str, in_items: &str, in_idle: &str| analysed_text(&routes(top, in_items, in_idle));
    p.edit("svc/routes.py", &routes("", "", ""));
    let base = summary(&p.run());
    assert!(
        base.contains(
            &"LG305 svc/routes.py:24 svc/routes.py:24 svc/routes.py:8 svc/helpers.py:5".to_string()
        ),
        "{base:?}"
    );

    // `backoff` is called in `idle` already: a second call, in `items`, with another argument.
    let o = shifted("", "    backoff(3)\n", "");
    assert_eq!(o.diagnostics, p.run_uncached().diagnostics);
    assert_finding(
        &o,
        "LG305 svc/routes.py:24 svc/routes.py:24 svc/helpers.py:5",
    );
    // A function of this very file: its chain's hop here is where the new facts have it.
    let o = shifted("", "    backoff(3)\n    local_wait()\n", "");
    assert_finding(
        &o,
        "LG305 svc/routes.py:25 svc/routes.py:25 svc/routes.py:8 svc/helpers.py:5",
    );
    // Code moved above the chain's hop, then the call once more: the kept chain moved too.
    shifted("# routes\n", "    backoff(3)\n    local_wait()\n", "");
    let o = shifted(
        "# routes\n",
        "    backoff(3)\n    local_wait()\n    local_wait()\n",
        "",
    );
    assert_finding(
        &o,
        "LG305 svc/routes.py:27 svc/routes.py:27 svc/routes.py:9 svc/helpers.py:5",
    );
    // A call of a method that blocks nowhere, and all of them removed again.
    shifted("# routes\n", "    store.fine()\n", "");
    let o = shifted("# routes\n", "", "");
    assert_eq!(summary(&o).len(), base.len());

    // With the chain's own file moved in the same run, the findings are not made from the
    // kept chains (their hops there would need that file's shift first).
    write(
        p.root(),
        "svc/helpers.py",
        "# helpers\nimport time\n\n\ndef backoff(n):\n    time.sleep(n)\n",
    );
    let o = analysed_text(&routes("# routes\n", "", "").replace(
        "async def watch():\n",
        "async def watch():\n    backoff(3)\n",
    ));
    assert_finding(
        &o,
        "LG305 svc/routes.py:37 svc/routes.py:37 svc/helpers.py:6",
    );

    // Not shifts: a function no finding read (`cold` runs only from `setup`), and a call in
    // a function that never awaits (it could become LG501).
    let o = analysed("# routes\n", "    cold()\n", "");
    assert_finding(
        &o,
        "LG301 svc/routes.py:25 svc/routes.py:25 svc/routes.py:13",
    );
    analysed("# routes\n", "    cold()\n", "    backoff(4)\n");
}

/// A plain sync helper added to a file and called from an async function that awaits, whose
/// calls the catalog resolves alone, is a shift: the run makes the helper's chains itself.
/// So is the same edit undone. The helper is pinned from then on (a later edit of it is
/// analysed). A helper that other code reaches otherwise, or that calls project code, is
/// analysed.
#[test]
fn helpers_added_and_called_from_async_code_are_found_as_a_shift() {
    let p = Project::new();
    let jobs = |before: &str, in_handler: &str, after: &str| {
        format!(
            "import asyncio\nimport time\n\n\ndef existing():\n    return 1\n\n\n{before}\
             async def handler(cfg='a.cfg'):\n{in_handler}    existing()\n    await asyncio.sleep(0)\n\n\n\
             def setup():\n    existing()\n{after}"
        )
    };
    let load = "\n\ndef _load(path):\n    with open(path) as f:\n        return f.read()\n";
    let shifted = |before: &str, in_handler: &str, after: &str| {
        p.edit("svc/jobs.py", &jobs(before, in_handler, after));
        p.run_served_as(CacheUse::Shifted { changed: 1 })
    };
    let analysed = |before: &str, in_handler: &str, after: &str| {
        p.edit("svc/jobs.py", &jobs(before, in_handler, after));
        p.run_analysed();
    };
    p.edit("svc/jobs.py", &jobs("", "", ""));
    let base = summary(&p.run()).len();

    // Appended: `open(path)` passes the parameter on, `f.read()` resolves by name alone.
    let o = shifted("", "    _load('a.cfg')\n", load);
    assert_finding(&o, "LG303 svc/jobs.py:10 svc/jobs.py:10 svc/jobs.py:20");
    // Undone, and done again: the helper and its call go, then come back.
    let o = shifted("", "", "");
    assert_eq!(summary(&o).len(), base);
    // Defined above its caller: an edit in two places, each moving what follows it by its
    // own offset. Undone too.
    let above = "def _load(path):\n    with open(path) as f:\n        return f.read()\n\n\n";
    let o = shifted(above, "    _load('a.cfg')\n", "");
    assert_finding(&o, "LG303 svc/jobs.py:15 svc/jobs.py:15 svc/jobs.py:10");
    let o = shifted("", "", "");
    assert_eq!(summary(&o).len(), base);
    // Handed the caller's own parameter: the helper is no offload wrapper, so neither is
    // the caller.
    let o = shifted("", "    _load(cfg)\n", load);
    assert_finding(&o, "LG303 svc/jobs.py:10 svc/jobs.py:10 svc/jobs.py:20");
    shifted("", "", "");
    shifted("", "    _load('a.cfg')\n", load);
    // A second one, with two rules.
    let nap = "\n\ndef _nap():\n    time.sleep(1)\n    open('x').close()\n";
    let calls = "    _nap()\n    _load('a.cfg')\n";
    let o = shifted("", calls, &format!("{load}{nap}"));
    assert_finding(&o, "LG305 svc/jobs.py:10 svc/jobs.py:10 svc/jobs.py:26");
    assert_finding(&o, "LG303 svc/jobs.py:10 svc/jobs.py:10 svc/jobs.py:27");
    // The helpers are pinned now: an edit of one is analysed, and its findings go.
    let settled = format!("{load}\n\ndef _nap():\n    return 1\n");
    analysed("", calls, &settled);
    assert!(
        !summary(&p.run())
            .iter()
            .any(|d| d.starts_with("LG305 svc/jobs"))
    );

    // Not shifts, each from the state above: a helper that sync code calls too, one handed
    // to the loop by reference, one that calls a function of the project.
    let with = |call: &str, helper: &str| {
        analysed("", &format!("{calls}{call}"), &format!("{settled}{helper}"));
        p.edit("svc/jobs.py", &jobs("", calls, &settled));
        p.run();
    };
    let helper = |name: &str, body: &str| format!("\n\ndef {name}(path):\n{body}");
    with(
        "    _load2('a')\n",
        &format!(
            "{}\n\ndef warm():\n    _load2('b')\n",
            helper("_load2", "    return open(path)\n")
        ),
    );
    with(
        "    _load3('a')\n    asyncio.get_running_loop().call_soon(_load3, 'b')\n",
        &helper("_load3", "    return open(path)\n"),
    );
    with(
        "    _load4('a')\n",
        &helper("_load4", "    existing()\n    return open(path)\n"),
    );
    assert_eq!(summary(&p.run()).len(), base + 1);
}

/// A sync method added to a class and called as `self.m()` from an async method: a helper
/// like a module-level one, unless another function may answer the call (an override in a
/// subclass, anywhere in the project) or a call elsewhere may reach it (by its name).
#[test]
fn helper_methods_added_and_called_from_async_code_are_found_as_a_shift() {
    let p = Project::new();
    let camera = |method: &str, call: &str| {
        format!(
            "import asyncio\nimport logging\n\n_LOGGER = logging.getLogger(__name__)\n\n\n\
             class Base:\n    async def async_update(self):\n        await asyncio.sleep(0)\n\n\n\
             class Camera(Base):\n    def __init__(self, path):\n        self._path = path\n\n\
             {method}    async def async_image(self):\n        await asyncio.sleep(0)\n\
             {call}        _LOGGER.debug('read')\n\n\n\
             async def async_setup_entry(add):\n    add(Camera('/dev/null'))\n"
        )
    };
    // Another module's subclass overrides `_render` (it has async code: it is parsed); a
    // third calls `_peek` by name.
    p.edit(
        "svc/night.py",
        "import time\n\nfrom svc.camera import Camera\n\n\n\
         class NightCamera(Camera):\n    def _render(self):\n        time.sleep(1)\n\n\
         \x20   async def async_wake(self):\n        return None\n",
    );
    p.edit(
        "svc/probe.py",
        "async def probe(thing):\n    thing._peek()\n",
    );
    p.edit("svc/camera.py", &camera("", ""));
    let base = summary(&p.run()).len();
    let method = |name: &str| {
        format!(
            "    def {name}(self):\n        with open(self._path, 'rb') as f:\n{}\n\n",
            "            return f.read()"
        )
    };
    let call = |name: &str| format!("        self.{name}()\n");

    let edit = |name: &str| p.edit("svc/camera.py", &camera(&method(name), &call(name)));
    // `open(self._path)` names the class's own `_path`, which nothing named before: demand,
    // which needs the class (`async_setup_entry` makes one), needs nothing new.
    edit("_read_image");
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(
        &o,
        "LG303 svc/camera.py:22 svc/camera.py:22 svc/camera.py:17",
    );
    // Undone: the method and its call go.
    p.edit("svc/camera.py", &camera("", ""));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_eq!(summary(&o).len(), base);

    // `self._render()` reaches the subclass's override too, which sleeps.
    edit("_render");
    let o = p.run_analysed();
    assert_finding(&o, "LG305 svc/camera.py:22 svc/camera.py:22 svc/night.py:8");
    p.edit("svc/camera.py", &camera("", ""));
    p.run();
    // `thing._peek()` may reach any method named `_peek`, this one too.
    edit("_peek");
    p.run_analysed();
}

/// An async function that never awaits (many of HA's `async_setup_entry`) takes blocking
/// library calls and helpers as shifts too, unless LG501, which reads its calls as a whole,
/// may apply to it: decorated (a route's context comes from its decorator), or in a
/// project that names a dependency API (`Depends(f)` elsewhere makes `f` a dependency).
#[test]
fn calls_added_to_async_functions_that_never_await_are_shifts_unless_lg501_may_apply() {
    let p = Project::new();
    let setup = |body: &str, tail: &str| {
        format!("import time\n\n\nasync def async_setup_entry(add):\n{body}    add(1)\n{tail}")
    };
    let load = "\n\ndef _load(path):\n    with open(path) as f:\n        return f.read()\n";
    p.edit("svc/setup.py", &setup("", ""));
    let base = summary(&p.run()).len();
    p.edit("svc/setup.py", &setup("    time.sleep(1)\n", ""));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG305 svc/setup.py:5");
    p.edit("svc/setup.py", &setup("", ""));
    p.run_served_as(CacheUse::Shifted { changed: 1 });
    p.edit("svc/setup.py", &setup("    _load('a.cfg')\n", load));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG303 svc/setup.py:5 svc/setup.py:5 svc/setup.py:10");
    p.edit("svc/setup.py", &setup("", ""));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_eq!(summary(&o).len(), base);
    // An awaited offload of a new helper: the function awaits from then on, which no
    // finding reads here.
    p.edit(
        "svc/setup.py",
        &setup(
            "    await asyncio.to_thread(_load, 'a.cfg')\n",
            &format!("{load}\n\nimport asyncio\n"),
        ),
    );
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_eq!(summary(&o).len(), base);
    p.edit("svc/setup.py", &setup("", ""));
    p.run_served_as(CacheUse::Shifted { changed: 1 });

    // A route that never awaits: its decorator gives it its context.
    let route = |body: &str| {
        format!(
            "import time\n\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n\
             @app.get('/')\nasync def index():\n{body}    return 1\n"
        )
    };
    p.edit("svc/web.py", &route(""));
    p.run();
    p.edit("svc/web.py", &route("    time.sleep(1)\n"));
    let o = p.run_analysed();
    assert_finding(&o, "LG501 svc/web.py:9");
    // A route that awaits, and stops: LG501 applies from then on.
    p.edit(
        "svc/web.py",
        &route("    time.sleep(1)\n    await asyncio.sleep(0)\n")
            .replace("import time\n", "import asyncio\nimport time\n"),
    );
    let o = p.run();
    assert!(
        !summary(&o)
            .iter()
            .any(|s| s.starts_with("LG501 svc/web.py"))
    );
    p.edit(
        "svc/web.py",
        &route("    time.sleep(1)\n").replace("import time\n", "import asyncio\nimport time\n"),
    );
    let o = p.run_analysed();
    assert_finding(&o, "LG501 svc/web.py:10");
    // `Depends(async_setup_entry)` in another file: the function is a dependency now.
    p.edit(
        "svc/deps.py",
        "from fastapi import Depends\n\nfrom svc.setup import async_setup_entry\n\n\n\
         async def view(x=Depends(async_setup_entry)):\n    return x\n",
    );
    p.run();
    p.edit("svc/setup.py", &setup("    time.sleep(1)\n", ""));
    let o = p.run_analysed();
    assert_finding(&o, "LG501 svc/setup.py:4");
}

/// An import of a library added with its call on the loop is a shift, and so is taking
/// both out again, unless a lookup from another file may reach the new name through the
/// module (`routes.requests`, `from svc.routes import *`), or the import is of a project
/// module, which demand follows.
#[test]
fn imports_added_with_their_calls_are_shifts_unless_another_file_may_look_them_up() {
    let p = Project::new();
    let routes = |import: &str, call: &str| {
        format!(
            "import asyncio\n{import}\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n\
             async def fetch():\n    return 1\n\n\n\
             @app.get('/items')\nasync def items(url: str):\n{call}    await fetch()\n    return []\n"
        )
    };
    p.edit("svc/routes.py", &routes("", ""));
    let base = summary(&p.run()).len();
    p.edit(
        "svc/routes.py",
        &routes("import requests\n", "    requests.get(url)\n"),
    );
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG301 svc/routes.py:15");
    p.edit("svc/routes.py", &routes("", ""));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_eq!(summary(&o).len(), base);
    // An alias under a new local name, and one that replaces another.
    p.edit(
        "svc/routes.py",
        &routes("import requests as http\n", "    http.get(url)\n"),
    );
    p.run_served_as(CacheUse::Shifted { changed: 1 });
    p.edit(
        "svc/routes.py",
        &routes("import urllib.request as http\n", "    http.urlopen(url)\n"),
    );
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG301 svc/routes.py:15");
    p.edit("svc/routes.py", &routes("", ""));
    p.run_served_as(CacheUse::Shifted { changed: 1 });

    // A project module: demand follows the import.
    p.edit(
        "svc/routes.py",
        &routes("from svc import helpers\n", "    helpers.backoff(1)\n"),
    );
    let o = p.run_analysed();
    assert_finding(
        &o,
        "LG305 svc/routes.py:15 svc/routes.py:15 svc/helpers.py:5",
    );
    p.edit("svc/routes.py", &routes("", ""));
    p.run_analysed();

    // Another file looks `requests` up through the module, by attribute, by a star import,
    // or through a third module that names it otherwise: what it calls changes with the
    // import.
    write(
        p.root(),
        "svc/reexport.py",
        "from svc import routes as web\n\n\nasync def noop():\n    return web\n",
    );
    for other in [
        "from svc import routes\n\n\nasync def other():\n    routes.requests.get('x')\n",
        "from svc.routes import *\n\n\nasync def other():\n    requests.get('x')\n",
        "from svc.reexport import web\n\n\nasync def other():\n    web.requests.get('x')\n",
    ] {
        p.edit("svc/other.py", other);
        p.run();
        p.edit(
            "svc/routes.py",
            &routes("import requests\n", "    requests.get(url)\n"),
        );
        let o = p.run_analysed();
        assert_finding(&o, "LG301 svc/other.py:5");
        p.edit("svc/routes.py", &routes("", ""));
        let o = p.run_analysed();
        assert!(!summary(&o).iter().any(|s| s.contains("other.py")));
    }
}

/// A helper added together with an awaited offload of it (`await asyncio.to_thread(f)`,
/// `await self.hass.async_add_executor_job(self._read)`) runs on a worker thread only: no
/// finding, and a shift, as is taking both out again. A helper also called on the loop, or
/// scheduled on it, or an offload passing a parameter on (which may make an offload
/// wrapper of the caller), is analysed.
#[test]
fn helpers_added_with_an_offload_of_them_are_shifts() {
    let p = Project::new();
    let cam = |method: &str, call: &str| {
        format!(
            "import asyncio\n\n\nclass Camera:\n    def __init__(self, hass, path):\n        \
             self.hass = hass\n        self._path = path\n\n    def _size(self):\n        \
             return 1\n{method}\n    async def refresh(self):\n        \
             await self.hass.async_add_executor_job(self._size)\n\n    \
             async def update(self, path):\n        await asyncio.sleep(0)\n{call}        \
             self._path = path\n\n\nasync def setup(hass):\n    cam = Camera(hass, 'a')\n    \
             await cam.update('b')\n"
        )
    };
    let read = "\n    def _read_image(self):\n        with open(self._path, 'rb') as f:\n            \
                return f.read()\n";
    p.edit("svc/cam.py", &cam("", ""));
    let base = summary(&p.run());
    // (The second after the first: an offload the catalog resolves alone leaves the file's
    // kept resolutions behind, and the first needs them.)
    for call in [
        "        await self.hass.async_add_executor_job(self._read_image)\n",
        "        await asyncio.to_thread(self._read_image)\n",
    ] {
        p.edit("svc/cam.py", &cam(read, call));
        let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
        assert_eq!(summary(&o), base);
        p.edit("svc/cam.py", &cam("", ""));
        p.run_served_as(CacheUse::Shifted { changed: 1 });
    }
    // A module-level helper, with an argument that is no parameter.
    let load = "def _load(name):\n    with open(name) as f:\n        return f.read()\n\n\n";
    let with_load = |call: &str| format!("{load}{}", cam("", call));
    p.edit(
        "svc/cam.py",
        &with_load("        await asyncio.to_thread(_load, 'x.cfg')\n"),
    );
    p.run_served_as(CacheUse::Shifted { changed: 1 });
    p.edit("svc/cam.py", &cam("", ""));
    p.run_served_as(CacheUse::Shifted { changed: 1 });

    // Called on the loop too: its blocking call is found.
    p.edit(
        "svc/cam.py",
        &cam(
            read,
            "        await asyncio.to_thread(self._read_image)\n        self._read_image()\n",
        ),
    );
    let o = p.run_analysed();
    assert_finding(&o, "LG303 svc/cam.py:22 svc/cam.py:22 svc/cam.py:13");
    p.edit("svc/cam.py", &cam("", ""));
    p.run();
    // Scheduled on the loop: its blocking call runs there.
    p.edit(
        "svc/cam.py",
        &cam(
            read,
            "        asyncio.get_running_loop().call_soon(self._read_image)\n",
        ),
    );
    let o = p.run_analysed();
    assert!(
        summary(&o)
            .iter()
            .any(|s| s.starts_with("LG303 svc/cam.py:"))
    );
    p.edit("svc/cam.py", &cam("", ""));
    p.run();
    // A parameter passed on to the offload.
    p.edit(
        "svc/cam.py",
        &with_load("        await asyncio.to_thread(_load, path)\n"),
    );
    p.run_analysed();
}

/// An async function added with calls of it, or none, is a shift when every call in it is
/// one whose findings the run makes (library calls here): a call of an async function
/// gives no finding. One that is decorated, or handed over by reference, is analysed.
#[test]
fn async_functions_added_and_called_are_shifts() {
    let p = Project::new();
    let cam = |method: &str, call: &str, tail: &str| {
        format!(
            "import asyncio\nimport time\n\n\nclass Camera:\n    def __init__(self, path):\n        \
             self._path = path\n{method}\n    async def update(self, path):\n        \
             await asyncio.sleep(0)\n{call}        self._path = path\n\n\n\
             async def setup():\n    cam = Camera('a')\n    await cam.update('b')\n{tail}"
        )
    };
    let probe = "\n    async def _async_probe(self):\n        open(self._path).close()\n";
    p.edit("svc/cam.py", &cam("", "", ""));
    let base = summary(&p.run()).len();
    p.edit(
        "svc/cam.py",
        &cam(probe, "        await self._async_probe()\n", ""),
    );
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG303 svc/cam.py:10");
    p.edit("svc/cam.py", &cam("", "", ""));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_eq!(summary(&o).len(), base);
    // Module-level, called by nothing.
    let tail = "\n\nasync def _lg_probe(n):\n    await asyncio.sleep(0)\n    time.sleep(n)\n";
    p.edit("svc/cam.py", &cam("", "", tail));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG305 svc/cam.py:21");
    p.edit("svc/cam.py", &cam("", "", ""));
    p.run_served_as(CacheUse::Shifted { changed: 1 });

    // Calling a method no async code called before, whose chain no run kept.
    p.edit(
        "svc/cam.py",
        &cam("\n    def _nap(self):\n        time.sleep(1)\n", "", ""),
    );
    p.run();
    p.edit(
        "svc/cam.py",
        &cam(
            "\n    def _nap(self):\n        time.sleep(1)\n\n    async def _async_nap(self):\n        self._nap()\n",
            "",
            "",
        ),
    );
    let o = p.run_analysed();
    assert_finding(&o, "LG305 svc/cam.py:13 svc/cam.py:13 svc/cam.py:10");
    p.edit("svc/cam.py", &cam("", "", ""));
    p.run();
    // Handed over by reference: it runs as a loop callback would.
    p.edit(
        "svc/cam.py",
        &cam(
            probe,
            "        asyncio.get_running_loop().call_soon(self._async_probe)\n",
            "",
        ),
    );
    p.run_analysed();
    p.edit("svc/cam.py", &cam("", "", ""));
    p.run();
    // Decorated: a decorator may give it a context or a role.
    p.edit(
        "svc/cam.py",
        &cam(
            "",
            "",
            "\n\n@app.get('/x')\nasync def _lg_route():\n    time.sleep(1)\n",
        ),
    );
    let o = p.run_analysed();
    assert_finding(&o, "LG305 svc/cam.py:21");
}

/// A file the cache has no entry for (not UTF-8, so never parsed) leaves library calls
/// resolvable without the index: its module is named as the load names it, so a blocking
/// call added on the loop is still a shift.
#[test]
fn library_calls_are_shifts_next_to_a_file_that_is_not_utf8() {
    let p = Project::new();
    std::fs::write(p.root().join("svc/legacy.py"), b"x = '\xff'\n").unwrap();
    let api = |extra: &str| {
        format!(
            "import time\nfrom svc.helpers import backoff\n\n\nasync def handler():\n{extra}    \
             backoff(1)\n    await tick()\n\n\nasync def tick():\n    pass\n"
        )
    };
    p.edit("svc/api.py", &api(""));
    p.run();
    p.edit("svc/api.py", &api("    time.sleep(2)\n"));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG305 svc/api.py:6");
}

/// An inline closure belongs to the body of the function it is in, even before it has a
/// call: a blocking call added to it is analysed again and found.
#[test]
fn a_call_added_to_an_inline_closure_of_async_code_is_found() {
    let p = Project::new();
    let api = |body: &str| {
        format!(
            "import time\nfrom svc.helpers import backoff\n\n\nasync def handler():\n    \
             cb = lambda: {body}\n    backoff(1)\n    return cb\n"
        )
    };
    p.edit("svc/api.py", &api("None"));
    assert_eq!(summary(&p.run()).len(), 1);
    p.edit("svc/api.py", &api("time.sleep(5)"));
    let o = p.run_served_as(same_files(true));
    assert_eq!(summary(&o).len(), 2, "{:?}", summary(&o));
}

#[test]
fn code_moved_out_of_a_block_or_a_new_noqa_is_analyzed_again() {
    let p = Project::new();
    write(
        p.root(),
        "svc/guarded.py",
        "import threading\n\nlock = threading.Lock()\n\n\nasync def tick():\n    with lock:\n        pass\n    await tock()\n\n\nasync def tock():\n    pass\n",
    );
    p.run();
    // Same calls in the same order, but the await is now under the lock.
    p.edit("svc/guarded.py", "import threading\n\nlock = threading.Lock()\n\n\nasync def tick():\n    with lock:\n        pass\n        await tock()\n\n\nasync def tock():\n    pass\n");
    let o = p.run_served_as(same_files(true));
    assert_finding(&o, "LG20");
    // A `noqa` added on the reported line changes what is reported.
    p.edit(
        "svc/api.py",
        "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(1)  # noqa\n",
    );
    let o = p.run_served_as(same_files(true));
    assert!(!summary(&o).iter().any(|s| s.starts_with("LG305")));
}

/// A shard whose framing is intact but one file's facts in it are not: facts are decoded
/// only when a run needs them, so this shows up late, and that file is parsed again.
#[test]
fn a_damaged_entry_in_an_intact_shard_is_parsed_again_with_a_note() {
    let p = Project::new();
    p.name_a_dependency_api();
    let expected = summary(&p.run());
    let mut damaged = 0;
    for f in p.cache_files("facts-") {
        let mut bytes = std::fs::read(&f).unwrap();
        // Invalid UTF-8 where the helper's facts spell its blocking call.
        if let Some(at) = bytes.windows(10).position(|w| w == b"time.sleep") {
            bytes[at..at + 10].fill(0xff);
            std::fs::write(&f, bytes).unwrap();
            damaged += 1;
        }
    }
    assert_eq!(damaged, 1);
    // The handler changes: the analysis runs, on the helper's cached facts.
    p.edit("svc/api.py", "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(1)\n    backoff(2)\n");
    let o = p.run();
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    assert_eq!(summary(&o).len(), expected.len() + 1);
    assert!(
        o.notifications
            .iter()
            .any(|n| n.kind == "cache" && n.message.contains("corrupt")),
        "{:?}",
        o.notifications
    );
    let again = p.run();
    assert!(again.notifications.iter().all(|n| n.kind != "cache"));
    assert_eq!(summary(&again), summary(&o));
}

#[test]
fn corrupt_truncated_and_foreign_cache_files_are_rebuilt_with_a_note() {
    let p = Project::new();
    let expected = summary(&p.run());
    for (prefix, damage) in [
        ("index-", b"\xff\xfe garbage".to_vec()),
        ("facts-", Vec::new()),
        ("results.", b"{\"not\": \"postcard\"}".to_vec()),
    ] {
        let files = p.cache_files(prefix);
        assert!(!files.is_empty(), "{prefix}");
        if prefix == "facts-" {
            // Truncate the first shard to nothing and every other one to half.
            for (k, f) in files.iter().enumerate() {
                let bytes = std::fs::read(f).unwrap();
                let keep = if k == 0 { 0 } else { bytes.len() / 2 };
                std::fs::write(f, &bytes[..keep]).unwrap();
            }
            // Make the run need facts: change the reported file.
            p.edit("svc/api.py", "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(1)\n    backoff(2)\n");
        } else {
            std::fs::write(&files[0], damage).unwrap();
        }
        let o = p.run();
        assert_eq!(
            summary(&o),
            summary(&p.run_uncached()),
            "after damaging {prefix}"
        );
        if prefix != "results." {
            assert!(
                o.notifications.iter().any(|n| n.kind == "cache"),
                "a note about the {prefix} file: {:?}",
                o.notifications
            );
        }
        // And the next run is clean and warm again.
        let again = p.run();
        assert!(again.notifications.iter().all(|n| n.kind != "cache"));
        assert_eq!(summary(&again), summary(&p.run_uncached()));
    }
    assert!(!expected.is_empty());
}

#[test]
fn deleted_and_renamed_files() {
    let p = Project::new();
    p.run();
    std::fs::rename(p.root().join("svc/api.py"), p.root().join("svc/routes.py")).unwrap();
    let renamed = p.run();
    assert_eq!(
        summary(&renamed),
        vec!["LG305 svc/routes.py:5 svc/routes.py:5 svc/helpers.py:5"]
    );
    std::fs::remove_file(p.root().join("svc/helpers.py")).unwrap();
    let deleted = p.run();
    assert!(deleted.diagnostics.is_empty(), "{:?}", summary(&deleted));
    assert_eq!(summary(&deleted), summary(&p.run_uncached()));
}

#[test]
fn config_change_invalidates_results() {
    let p = Project::new();
    assert_eq!(p.run().diagnostics.len(), 1);
    write(p.root(), "loopguard.toml", "ignore = [\"LG305\"]\n");
    let o = p.run();
    assert_ne!(o.cache, CacheUse::Results);
    assert!(o.diagnostics.is_empty());
    // `src` shapes facts (module names): a different cache key, old files removed.
    let before = p.cache_files("facts-");
    write(p.root(), "loopguard.toml", "src = [\"lib\"]\n");
    let o = p.run();
    assert_eq!(
        o.cache,
        CacheUse::Facts {
            parsed: 2,
            kept_resolutions: false
        }
    );
    let after = p.cache_files("facts-");
    assert!(!after.is_empty());
    // Only the new key's files are left.
    assert!(before.iter().all(|b| !after.contains(b)));
}

#[test]
fn concurrent_runs_never_corrupt_the_cache() {
    let p = Project::new();
    for i in 0..12 {
        write(
            p.root(),
            &format!("svc/m{i}.py"),
            &format!("from svc.helpers import backoff\n\nasync def h{i}():\n    backoff({i})\n"),
        );
    }
    let expected = summary(&p.run_uncached());
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| summary(&p.run()))).collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), expected);
        }
    });
    let o = p.run();
    assert!(
        o.notifications.iter().all(|n| n.kind != "cache"),
        "{:?}",
        o.notifications
    );
    assert_eq!(summary(&o), expected);
}

/// Runs that name other paths (a pre-commit hook names the staged files; a check of the
/// whole tree names the root) keep their own results, resolutions and parsed files: the
/// last run of each of the `cache::RUNS` settings used most recently.
#[test]
fn runs_of_other_paths_keep_their_own_results() {
    let p = Project::new();
    p.name_a_dependency_api();
    let staged = ["svc/api.py"];
    let uncached_staged = || {
        summary(
            &check(&Settings {
                paths: vec![p.root().join(staged[0])],
                threads: Some(2),
                no_cache: true,
                ..Default::default()
            })
            .unwrap(),
        )
    };
    p.run();
    let o = p.run_on(&staged);
    assert_eq!(summary(&o), uncached_staged());
    // Each run finds its own results (before, each evicted the other's).
    assert_eq!(p.run_served_as(CacheUse::Results).cache, CacheUse::Results);
    assert_eq!(p.run_on(&staged).cache, CacheUse::Results);
    assert_eq!(p.run().cache, CacheUse::Results);

    // An edit on the loop. The first run after it compares the file with its cached facts;
    // the other run finds the new facts cached by the first one (which parsed the file),
    // but its own results and resolutions are of the old text: the file's previous entry
    // and facts, kept for it, make the edit its own too.
    p.edit("svc/api.py", "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(0)\n    backoff(1)\n");
    p.run_served_as(same_files(true));
    // (This run parses `svc/api.py` alone, and its files name no `Depends`: the call
    // added to `handler`, which never awaits, is a shift here.)
    let o = p.run_on(&staged);
    assert_eq!(o.cache, CacheUse::Shifted { changed: 1 });
    assert_eq!(summary(&o), uncached_staged());
    assert_eq!(p.run_on(&staged).cache, CacheUse::Results);
    assert_eq!(p.run().cache, CacheUse::Results);

    // Runs of RUNS other settings evict the whole tree's, and their files go with them.
    // (Naming `svc` would be naming the root: the same files requested, the same run.)
    let others: [&[&str]; 3] = [
        &["svc/helpers.py"],
        &["svc/__init__.py"],
        &["svc/api.py", "svc/helpers.py"],
    ];
    assert_eq!(others.len() + 1, loopguard_engine::cache::RUNS);
    for paths in &others {
        p.run_on(paths);
    }
    assert_eq!(p.run_on(&staged).cache, CacheUse::Results);
    assert_eq!(
        p.cache_files("results.").len(),
        loopguard_engine::cache::RUNS
    );
    // A run that parses nothing (`svc/helpers.py` has no async code) keeps no resolutions.
    assert!(p.cache_files("resolutions.").len() <= loopguard_engine::cache::RUNS);
    let o = p.run();
    assert_ne!(o.cache, CacheUse::Results);
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    assert_eq!(
        p.cache_files("results.").len(),
        loopguard_engine::cache::RUNS
    );
}

/// A pre-commit hook (naming the edited file) parses an edit before the check of the tree:
/// the tree's run still sees the edit as one, whichever way the file goes next.
#[test]
fn an_edit_another_run_parsed_first_is_still_an_edit_for_this_run() {
    let p = Project::new();
    p.name_a_dependency_api();
    let api = "svc/api.py";
    let original = std::fs::read_to_string(p.root().join(api)).unwrap();
    let on_loop = "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(0)\n    backoff(1)\n";
    let direct = "import time\n\n\nasync def handler():\n    time.sleep(1)\n";
    p.run();
    p.run_on(&[api]);

    // Edited, checked by the hook, then by the tree's run.
    p.edit(api, on_loop);
    p.run_on(&[api]);
    p.run_served_as(same_files(true));
    assert_eq!(p.run().cache, CacheUse::Results);

    // Edited, checked by the hook, and edited back to what the tree's results are about:
    // only touched, for the tree's run.
    p.edit(api, direct);
    p.run_on(&[api]);
    p.edit(api, on_loop);
    p.run_served_as(CacheUse::Touched { files: 1 });
    p.run_on(&[api]);

    // Changed twice since this run's results (only the last change is kept): the run still
    // agrees with a run without the cache, by analysing every file.
    p.edit(api, direct);
    p.run_on(&[api]);
    p.edit(api, &original);
    p.run_on(&[api]);
    let o = p.run();
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    assert_eq!(p.run().cache, CacheUse::Results);
}

/// Files an older loopguard (another cache key) wrote are removed when the cache is
/// written; the current key's files and files that are not loopguard's stay.
#[test]
fn files_of_other_cache_keys_are_removed() {
    let p = Project::new();
    p.run();
    let key = p.cache_files("index-")[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("index-")
        .trim_end_matches(".bin")
        .to_string();
    let stale = [
        "index-00000000deadbeef.bin".to_string(),
        "results.0123456789abcdef-00000000deadbeef.bin".to_string(),
        "resolutions.0123456789abcdef-00000000deadbeef.bin".to_string(),
        // The current key, a run the index does not name.
        format!("results.0123456789abcdef-{key}.bin"),
        format!("resolutions.0123456789abcdef-{key}.bin"),
    ]
    .map(|name| p.cache_dir().join(name));
    let facts = p.cache_dir().join("facts-00000000deadbeef-03.bin");
    let foreign = p.cache_dir().join("notes.txt");
    for f in stale.iter().chain([&facts, &foreign]) {
        std::fs::write(f, b"old").unwrap();
    }
    p.edit("svc/api.py", "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(0)\n    backoff(1)\n");
    p.run();
    for f in stale.iter().chain([&facts]) {
        assert!(!f.exists(), "{} is still there", f.display());
    }
    assert!(foreign.exists());
    for kind in ["index-", "results.", "resolutions.", "facts-"] {
        assert!(!p.cache_files(kind).is_empty(), "no {kind} file left");
    }
}

#[test]
fn clean_removes_only_loopguard_caches() {
    let p = Project::new();
    p.run();
    assert!(loopguard_engine::cache::clean(&p.cache_dir()).unwrap());
    assert!(!p.cache_dir().exists());
    let other = p.root().join("not_a_cache");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("data.txt"), "keep me").unwrap();
    assert!(loopguard_engine::cache::clean(&other).is_err());
    assert!(other.join("data.txt").exists());
}

#[test]
fn unusable_files_keep_their_notification_and_do_not_defeat_the_results_cache() {
    let p = Project::new();
    std::fs::write(
        p.root().join("svc/latin1.py"),
        b"async def f():\n    s = '\xe9'\n",
    )
    .unwrap();
    let cold = p.run();
    assert!(cold.notifications.iter().any(|n| n.kind == "not-utf8"));
    let warm = p.run();
    assert_eq!(warm.cache, CacheUse::Results);
    assert!(warm.notifications.iter().any(|n| n.kind == "not-utf8"));
    // Fixed: now it is read, parsed and checked.
    p.edit(
        "svc/latin1.py",
        "import time\n\nasync def f():\n    time.sleep(1)\n",
    );
    let fixed = p.run();
    assert!(fixed.notifications.iter().all(|n| n.kind != "not-utf8"));
    assert_eq!(summary(&fixed), summary(&p.run_uncached()));
    assert!(summary(&fixed).iter().any(|s| s.contains("svc/latin1.py")));
}

/// Files over the size limit and files that are not UTF-8 are skipped with a notification;
/// neither defeats the stored results, not even on a fresh checkout (every file touched),
/// and a skipped file that changes gets its new notification.
#[test]
fn skipped_files_on_a_fresh_checkout_keep_the_results() {
    let p = Project::new();
    write(p.root(), "loopguard.toml", "max-file-size = 400\n");
    let big = |lines: usize| format!("async def g():\n    pass\n{}", "# pad\n".repeat(lines));
    write(p.root(), "svc/big.py", &big(100));
    std::fs::write(
        p.root().join("svc/latin1.py"),
        b"async def f():\n    s = '\xe9'\n",
    )
    .unwrap();
    let notes = |o: &Outcome| -> Vec<String> {
        o.notifications
            .iter()
            .map(|n| format!("{} {}", n.kind, n.message))
            .collect()
    };
    let cold = p.run();
    assert!(notes(&cold).iter().any(|n| n.starts_with("too-large")));
    assert!(notes(&cold).iter().any(|n| n.starts_with("not-utf8")));
    assert_eq!(p.run().cache, CacheUse::Results);

    let files = p.check_out_afresh();
    let touched = p.run();
    assert_eq!(touched.cache, CacheUse::Touched { files });
    assert_eq!(notes(&touched), notes(&cold));
    assert_eq!(summary(&touched), summary(&cold));

    // Grown: the notification says the new size.
    p.edit("svc/big.py", &big(101));
    let grown = p.run();
    assert_ne!(grown.cache, CacheUse::Results);
    assert_eq!(notes(&grown), notes(&p.run_uncached()));
    assert_ne!(notes(&grown), notes(&cold));
    assert_eq!(p.run().cache, CacheUse::Results);
}

/// `svc/api.py` with its handler calling `backoff` twice.
const PLAIN_API: &str =
    "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(0)\n    backoff(1)\n";

/// Code on the loop changed, but nothing demand follows: the files of the last run are
/// analysed again without demand (`SameFiles`), with the findings of an uncached run.
#[test]
fn an_edit_on_the_loop_that_demand_does_not_follow_analyses_the_same_files() {
    let p = Project::new();
    p.name_a_dependency_api();
    p.run();
    // A second call of a function the handler calls (a call that reaches nothing would
    // be a shift, see `calls_that_reach_nothing_on_the_loop_keep_the_findings`).
    p.edit("svc/api.py", PLAIN_API);
    let o = p.run();
    assert_eq!(o.cache, same_files(true));
    assert_eq!(
        summary(&o),
        vec![
            "LG305 svc/api.py:5 svc/api.py:5 svc/helpers.py:5",
            "LG305 svc/api.py:6 svc/api.py:6 svc/helpers.py:5"
        ]
    );
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    assert_eq!(p.run().cache, CacheUse::Results);

    // The edit analyses the same files and finds `finding`; then back.
    let same_files_then_back = |text: &str, finding: &str| {
        p.edit("svc/api.py", text);
        let o = p.run_same_files();
        assert_finding(&o, finding);
        p.edit("svc/api.py", PLAIN_API);
        p.run();
    };
    // A module outside the project imported, and called on the loop: the import leads
    // demand nowhere, so the same files are analysed.
    same_files_then_back(
        "import shelve\nfrom svc.helpers import backoff\n\n\nasync def handler():\n    backoff(0)\n    backoff(1)\n    shelve.open('x')\n",
        "LG303 svc/api.py:8",
    );

    // A new async function that calls only what the file's live functions call: demand
    // reaches what it did, and the new function. Under a name no file mentions, calling a
    // function whose chain is kept, it is a shift (see
    // `async_functions_added_and_called_are_shifts`); under a mentioned one, the same files.
    let with_retry = |call: &str| {
        format!(
            "import asyncio\nfrom svc.helpers import backoff\n\n\nasync def handler():\n    \
             backoff(0)\n    backoff(1)\n\n\nasync def retry():\n    await asyncio.sleep(0)\n    \
             {call}\n"
        )
    };
    p.edit("svc/api.py", &with_retry("backoff(2)"));
    let o = p.run_served_as(CacheUse::Shifted { changed: 1 });
    assert_finding(&o, "LG305 svc/api.py:12 svc/api.py:12 svc/helpers.py:5");
    p.edit("svc/api.py", PLAIN_API);
    p.run_served_as(CacheUse::Shifted { changed: 1 });
    p.edit(
        "svc/api.py",
        &with_retry("backoff(2)").replace("retry", "sleep"),
    );
    let o = p.run_same_files();
    assert_finding(&o, "LG305 svc/api.py:12 svc/api.py:12 svc/helpers.py:5");
    // Removed again: the same.
    p.edit("svc/api.py", PLAIN_API);
    p.run_same_files();
    // One that awaits another async function of the file, live anyway: the same.
    same_files_then_back(
        &with_retry("await handler()").replace("backoff(0)", "backoff(0)\n    open('x')"),
        "LG303 svc/api.py:7",
    );
    // A new async method: under a name no file mentions, the same files; under one some
    // file mentions (`Job.backoff` could be a path to it from anywhere), demand runs.
    let with_job = |method: &str| {
        format!(
            "import asyncio\nfrom svc.helpers import backoff\n\n\nasync def handler():\n    \
             backoff(0)\n    backoff(1)\n\n\nclass Job:\n    async def run(self):\n        \
             await asyncio.sleep(0)\n{method}"
        )
    };
    p.edit("svc/api.py", &with_job(""));
    p.run();
    let method = |name: &str| {
        format!(
            "\n    async def {name}(self):\n        await asyncio.sleep(0)\n        backoff(3)\n"
        )
    };
    p.edit("svc/api.py", &with_job(&method("settle_later")));
    let o = p.run_same_files();
    assert_finding(&o, "LG305 svc/api.py:16 svc/api.py:16 svc/helpers.py:5");
    p.edit("svc/api.py", &with_job(""));
    p.run();
    p.edit("svc/api.py", &with_job(&method("backoff")));
    let o = p.run();
    assert!(matches!(o.cache, CacheUse::Facts { .. }), "{:?}", o.cache);
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    p.edit("svc/api.py", PLAIN_API);
    p.run();
    // One that calls what no live function called: demand runs.
    write(
        p.root(),
        "svc/helpers.py",
        "import time\n\n\ndef backoff(n):\n    time.sleep(n)\n\n\ndef nap():\n    time.sleep(1)\n",
    );
    touch_later(&p.root().join("svc/helpers.py"));
    p.run();
    p.edit(
        "svc/api.py",
        &with_retry("backoff(2)")
            .replace("import backoff", "import backoff, nap")
            .replace("backoff(2)", "nap()"),
    );
    let o = p.run();
    assert!(matches!(o.cache, CacheUse::Facts { .. }), "{:?}", o.cache);
    assert_finding(&o, "LG305 svc/api.py:12 svc/api.py:12 svc/helpers.py:9");
    assert_eq!(summary(&o), summary(&p.run_uncached()));

    // A call into a function of the project that was not mentioned before: demand runs.
    write(
        p.root(),
        "svc/helpers.py",
        "import time\n\n\ndef backoff(n):\n    time.sleep(n)\n\n\ndef load(path):\n    return open(path).read()\n",
    );
    write(
        p.root(),
        "svc/api.py",
        "import svc.helpers\nfrom svc.helpers import backoff\n\n\nasync def handler():\n    backoff(1)\n",
    );
    touch_later(&p.root().join("svc/helpers.py"));
    touch_later(&p.root().join("svc/api.py"));
    p.run();
    p.edit("svc/api.py", "import svc.helpers\nfrom svc.helpers import backoff\n\n\nasync def handler():\n    backoff(1)\n    svc.helpers.load('x')\n");
    let o = p.run();
    // api.py defines what it did: the call sites of helpers.py keep their resolutions.
    assert_eq!(
        o.cache,
        CacheUse::Facts {
            parsed: 1,
            kept_resolutions: true
        }
    );
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    assert_eq!(summary(&o).len(), 2, "{:?}", summary(&o));
}

/// A changed file that defines more than before: when nothing it adds is mentioned
/// anywhere, the other files keep their resolutions, renumbered where they point into it;
/// a new name some file already mentions, or a dunder method (looked up without being
/// named), makes every call site resolve again.
#[test]
fn a_file_that_defines_more_keeps_the_other_files_resolutions_unless_they_name_it() {
    let p = Project::new();
    let helpers = |extra: &str, pool_body: &str| {
        format!(
            "import time\n\n\n{extra}def backoff(n):\n    {}time.sleep(n)\n\n\n\
             class Pool:\n{pool_body}",
            if extra.is_empty() {
                ""
            } else {
                "_probe()\n    "
            }
        )
    };
    p.edit("svc/helpers.py", &helpers("", "    pass\n"));
    p.edit(
        "svc/api.py",
        "import svc.helpers\nfrom svc.helpers import Pool, backoff\n\n\n\
         async def handler():\n    backoff(1)\n    Pool()\n\n\n\
         async def reader():\n    svc.helpers.load('x')\n",
    );
    p.run();
    let facts = |kept_resolutions| CacheUse::Facts {
        parsed: 1,
        kept_resolutions,
    };

    // A helper inserted above `backoff` (which now calls it): api.py's resolution of
    // `backoff` points one function further down.
    p.edit(
        "svc/helpers.py",
        &helpers("def _probe():\n    return open('x')\n\n\n", "    pass\n"),
    );
    let o = p.run_served_as(facts(true));
    assert_finding(&o, "LG303 svc/api.py:6");

    // `load`, which api.py calls but no file defined: every call site resolves again.
    let with_probe = helpers("def _probe():\n    return open('x')\n\n\n", "    pass\n");
    p.edit(
        "svc/helpers.py",
        &format!("{with_probe}\n\ndef load(path):\n    return open(path).read()\n"),
    );
    let o = p.run_served_as(facts(false));
    assert_finding(&o, "LG303 svc/api.py:11");

    // A constructor added to a class api.py builds: `Pool()` now runs it.
    let with_load = format!("{with_probe}\n\ndef load(path):\n    return open(path).read()\n");
    p.edit(
        "svc/helpers.py",
        &with_load.replace(
            "    pass\n",
            "    def __init__(self):\n        time.sleep(1)\n",
        ),
    );
    let o = p.run_served_as(facts(false));
    assert_finding(&o, "LG305 svc/api.py:7");
}

/// The other way round: a file that defines less keeps the other files' resolutions,
/// renumbered, unless what went is named by another file or by the file's own definitions
/// (an attribute type another file's lookup reads); and an addition named only there is no
/// addition either.
#[test]
fn a_file_that_defines_less_keeps_the_other_files_resolutions_unless_a_lookup_reaches_it() {
    let p = Project::new();
    let helpers = |probe: bool, load: bool, acquire: bool| {
        let mut text = String::from("import time\n\n\n");
        if probe {
            text.push_str("def _probe():\n    return open('x')\n\n\n");
        }
        text.push_str("def backoff(n):\n");
        if probe {
            text.push_str("    _probe()\n");
        }
        text.push_str("    time.sleep(n)\n\n\n");
        if load {
            text.push_str("def load(path):\n    return open(path).read()\n\n\n");
        }
        text.push_str("class Conn:\n    def close(self):\n        time.sleep(1)\n\n\n");
        text.push_str("class Pool:\n    def get(self):\n        return 1\n");
        if acquire {
            text.push_str("\n    def acquire(self) -> Conn:\n        return Conn()\n");
        }
        // `Service.conn` is typed by what `Pool.acquire` returns: api.py's
        // `s.conn.close()` reaches `Conn.close` through it, without naming `acquire`.
        text.push_str(
            "\n\nclass Service:\n    def __init__(self):\n        self.pool = Pool()\n\
             \x20       self.conn = self.pool.acquire()\n",
        );
        text
    };
    p.edit("svc/helpers.py", &helpers(true, true, true));
    p.edit(
        "svc/api.py",
        "import svc.helpers\nfrom svc.helpers import Service, backoff\n\n\n\
         async def handler():\n    backoff(1)\n\n\n\
         async def reader():\n    svc.helpers.load('x')\n\n\n\
         async def worker(s: Service):\n    s.conn.close()\n",
    );
    p.run();
    let facts = |kept_resolutions| CacheUse::Facts {
        parsed: 1,
        kept_resolutions,
    };

    // The helper above `backoff` goes (and its call): api.py's resolution of `backoff`
    // points one function further up.
    p.edit("svc/helpers.py", &helpers(false, true, true));
    let o = p.run_served_as(facts(true));
    assert_finding(&o, "LG305 svc/api.py:6");
    assert_finding(&o, "LG303 svc/api.py:10");
    assert_finding(&o, "LG305 svc/api.py:14");

    // `load`, which api.py calls: every call site resolves again, and its finding goes.
    p.edit("svc/helpers.py", &helpers(false, false, true));
    let o = p.run_served_as(facts(false));
    assert!(!summary(&o).iter().any(|s| s.contains("api.py:10")));

    // `Pool.acquire`, which only helpers.py's own definitions name, goes, then comes back:
    // `s.conn.close()` stops and starts reaching `Conn.close`.
    p.edit("svc/helpers.py", &helpers(false, false, false));
    let o = p.run_served_as(facts(false));
    assert!(!summary(&o).iter().any(|s| s.contains("api.py:14")));
    p.edit("svc/helpers.py", &helpers(false, false, true));
    let o = p.run_served_as(facts(false));
    assert_finding(&o, "LG305 svc/api.py:14");
}

/// Function numbers that a reused run shifted (an inert function added above the handler)
/// stay right for the next run that analyses the same files.
#[test]
fn same_files_after_a_shifted_reuse_agree_with_no_cache() {
    let p = Project::new();
    p.name_a_dependency_api();
    p.run();
    let api = |body: &str| {
        format!(
            "from svc.helpers import backoff\n\n\ndef _spare():\n    return 1\n\n\n\
             async def handler():\n{body}    backoff(1)\n"
        )
    };
    p.edit("svc/api.py", &api(""));
    p.run_served_as(CacheUse::Shifted { changed: 1 });

    p.edit("svc/api.py", &api("    backoff(0)\n"));
    let o = p.run();
    // The shifted run numbered api.py's functions anew (an inert function added); the
    // resolutions kept by the first run were carried over to its results, renumbered.
    assert_eq!(o.cache, same_files(true));
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    // This run kept its own: the next edit on the loop uses them.
    p.edit("svc/api.py", &api("    backoff(2)\n"));
    p.run_served_as(same_files(true));

    // Then the helper the handler reaches stops blocking: analysed again, finding gone.
    p.edit(
        "svc/helpers.py",
        "import time\n\n\ndef backoff(n):\n    return n\n",
    );
    let o = p.run();
    assert_ne!(o.cache, CacheUse::Results);
    assert!(summary(&o).is_empty(), "{:?}", summary(&o));
    assert_eq!(summary(&o), summary(&p.run_uncached()));
}

/// A shifted reuse carries the kept resolutions on to its results (the shifted file's
/// carried over to its new facts when each of its calls repeats a kept one or reaches
/// nothing, dropped otherwise; the others renumbered where the shifted file numbers its
/// functions anew), so the next edit on the loop resolves only what changed.
#[test]
fn kept_resolutions_outlive_a_shifted_reuse() {
    let p = Project::new();
    p.name_a_dependency_api();
    let helpers = |top: &str, spare_body: &str| {
        format!(
            "{top}import time\n\n\ndef backoff(n):\n    time.sleep(n)\n\n\n\
             def spare(path):\n    return {spare_body}\n"
        )
    };
    p.edit("svc/helpers.py", &helpers("", "len(path)"));
    // A second caller, unchanged from here on: its kept resolutions are the ones taken.
    p.edit(
        "svc/worker.py",
        "from svc.helpers import backoff\n\n\nasync def tick():\n    backoff(2)\n",
    );
    p.run();
    // Code moved.
    p.edit("svc/helpers.py", &helpers("# moved\n", "len(path)"));
    p.run_served_as(CacheUse::Shifted { changed: 1 });

    p.edit("svc/api.py", "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(0)\n    backoff(1)\n");
    let o = p.run();
    assert_eq!(o.cache, same_files(true));
    assert_eq!(
        summary(&o),
        vec![
            "LG305 svc/api.py:5 svc/api.py:5 svc/helpers.py:6",
            "LG305 svc/api.py:6 svc/api.py:6 svc/helpers.py:6",
            "LG305 svc/worker.py:5 svc/worker.py:5 svc/helpers.py:6"
        ]
    );
    assert_eq!(summary(&o), summary(&p.run_uncached()));

    // An inert function inserted above `backoff` (a shift that numbers helpers.py's
    // functions anew): worker.py's resolution of `backoff` is renumbered with it, or its
    // chain below would run through the inert function.
    let with_spare = helpers("# moved\n", "len(path)").replace(
        "def backoff",
        "def _unused(n):\n    return n\n\n\ndef backoff",
    );
    p.edit("svc/helpers.py", &with_spare);
    assert_eq!(p.run().cache, CacheUse::Shifted { changed: 1 });
    p.edit("svc/api.py", "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(2)\n    backoff(1)\n");
    let o = p.run();
    assert_eq!(o.cache, same_files(true));
    assert_eq!(
        summary(&o),
        vec![
            "LG305 svc/api.py:5 svc/api.py:5 svc/helpers.py:10",
            "LG305 svc/api.py:6 svc/api.py:6 svc/helpers.py:10",
            "LG305 svc/worker.py:5 svc/worker.py:5 svc/helpers.py:10"
        ]
    );
    assert_eq!(summary(&o), summary(&p.run_uncached()));
    // And removed again.
    p.edit("svc/helpers.py", &helpers("# moved\n", "len(path)"));
    assert_eq!(p.run().cache, CacheUse::Shifted { changed: 1 });
    p.edit("svc/api.py", "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(3)\n    backoff(1)\n");
    p.run_served_as(same_files(true));

    // Twice in a row, and then an edit on the loop in the file that was shifted.
    p.edit("svc/helpers.py", &helpers("# moved\n\n", "len(path)"));
    assert_eq!(p.run().cache, CacheUse::Shifted { changed: 1 });
    p.edit("svc/api.py", "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(4)\n    backoff(1)\n");
    assert_eq!(p.run().cache, same_files(true));
    p.edit(
        "svc/helpers.py",
        &helpers("# moved\n\n", "len(path)").replace("time.sleep(n)", "return n"),
    );
    let o = p.run();
    assert_eq!(o.cache, same_files(true));
    assert!(summary(&o).is_empty(), "{:?}", summary(&o));
    assert_eq!(summary(&o), summary(&p.run_uncached()));
}

/// A damaged facts shard during a same-files load: the files are parsed again, the
/// findings are right, and the damage is noted.
#[test]
fn same_files_with_damaged_facts_fall_back_to_parsing() {
    let p = Project::new();
    p.run();
    for shard in p.cache_files("facts-") {
        let len = std::fs::metadata(&shard).unwrap().len();
        if len > 8 {
            let mut bytes = std::fs::read(&shard).unwrap();
            let at = bytes.len() - 4;
            bytes.truncate(at);
            std::fs::write(&shard, bytes).unwrap();
        }
    }
    p.edit("svc/api.py", "from svc.helpers import backoff\n\n\nasync def handler():\n    backoff(0)\n    backoff(1)\n");
    let o = p.run();
    assert!(matches!(o.cache, CacheUse::Facts { .. }), "{:?}", o.cache);
    assert!(
        o.notifications.iter().any(|n| n.kind == "cache"),
        "{:?}",
        o.notifications
    );
    assert_eq!(summary(&o), summary(&p.run_uncached()));
}

/// A changed file that defines something differently (a return annotation) but leaves
/// demand as it was: the same files are analysed, every call site resolved again.
#[test]
fn a_changed_definition_resolves_every_call_site_again() {
    let p = Project::new();
    p.run();
    p.edit(
        "svc/helpers.py",
        "import time\n\n\ndef backoff(n) -> float:\n    time.sleep(n)\n    return 0.0\n",
    );
    let o = p.run_served_as(same_files(false));
    assert_eq!(summary(&o).len(), 1, "{:?}", summary(&o));
}
