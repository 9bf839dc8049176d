//! Which files exist, which the user asked about, and what module each one is.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::{Path, PathBuf};

use ignore::WalkBuilder;
use ignore::overrides::OverrideBuilder;
use loopguard_core::facts::Language;

use crate::EngineError;

/// Folders never linted unless named on the command line (ruff's defaults plus ours).
pub const DEFAULT_EXCLUDES: &[&str] = &[
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pyenv",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    ".vscode",
    "__pypackages__",
    "_build",
    "buck-out",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
    "target",
    ".loopguard_cache",
    "__pycache__",
];

/// Markers of a project root, in the order they are trusted.
const ROOT_MARKERS: &[&str] = &[
    "loopguard.toml",
    ".loopguard.toml",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "Cargo.toml",
];

/// A source file of the project.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Absolute (or as-given) path on disk.
    pub abs: PathBuf,
    /// Project-relative, `/`-separated path used in every output.
    pub rel: String,
    pub language: Language,
    /// Inside one of the paths the user asked about (findings are reported only for these).
    pub requested: bool,
}

/// The project root: the config file's folder if there is one, else the top-most ancestor
/// holding `.git`, else the nearest ancestor with a project marker, else the path itself.
pub fn project_root(first: &Path, config_dir: Option<&Path>) -> PathBuf {
    if let Some(dir) = config_dir {
        return dir.to_path_buf();
    }
    let start = absolute(first);
    let start = if start.is_file() {
        start.parent().map(Path::to_path_buf).unwrap_or(start)
    } else {
        start
    };
    if let Some(git) = start.ancestors().find(|d| d.join(".git").exists()) {
        return git.to_path_buf();
    }
    for dir in start.ancestors() {
        if ROOT_MARKERS.iter().any(|m| dir.join(m).is_file()) {
            return dir.to_path_buf();
        }
    }
    start
}

/// `p` made absolute, with `..` folded into the folder before it, as ruff and Python's
/// `os.path.abspath` do (a symbolic link followed by `..` is not resolved): `check ../app`
/// run in `tests/` names the root's `app` folder, not `tests/../app`, a path the walk from
/// the root never yields, which was checked again as a source root of its own.
pub fn absolute(p: &Path) -> PathBuf {
    use std::path::Component;
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    if !abs.is_absolute() || !abs.components().any(|c| c == Component::ParentDir) {
        return abs;
    }
    let mut folded = PathBuf::new();
    for c in abs.components() {
        match c {
            // Above the file system's root is the root itself.
            Component::ParentDir => {
                folded.pop();
            }
            c => folded.push(c),
        }
    }
    folded
}

/// `/`-separated path of `p` relative to `root` (or `p` itself when outside it).
pub fn relative(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p);
    let s = rel.to_string_lossy();
    if std::path::MAIN_SEPARATOR == '/' {
        s.into_owned()
    } else {
        s.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

/// The project's source files, those under the requested paths marked.
pub struct Discovered {
    pub files: Vec<SourceFile>,
    /// Requested folders the root's walk did not reach (outside it, or ignored by its
    /// `.gitignore`): they are source roots of their own.
    pub foreign_roots: Vec<PathBuf>,
}

/// Lists the project's source files; marks those under `requested` paths.
pub fn discover(
    root: &Path,
    requested: &[PathBuf],
    excludes: &[String],
    threads: usize,
) -> Result<Discovered, EngineError> {
    // The default excludes are plain folder names, tested by name in `filter_entry` below;
    // as override globs they cost a quarter of a warm run's CPU on a big tree.
    let mut overrides = OverrideBuilder::new(root);
    for pattern in excludes {
        overrides
            .add(&format!("!{pattern}"))
            .map_err(|e| EngineError::Usage(format!("invalid exclude pattern `{pattern}`: {e}")))?;
    }
    let overrides = overrides
        .build()
        .map_err(|e| EngineError::Usage(format!("invalid exclude patterns: {e}")))?;
    // The working folder is asked for once: `absolute` asks for it per relative path, and a
    // pre-commit hook may name thousands.
    let cwd = std::env::current_dir().ok();
    let requested_abs: Vec<PathBuf> = requested
        .iter()
        .map(|p| match &cwd {
            Some(cwd) if p.is_relative() && !p.as_os_str().is_empty() => absolute(&cwd.join(p)),
            _ => absolute(p),
        })
        .collect();
    // One `stat` per requested path (following symbolic links, as `is_file` does).
    let requested_kinds: Vec<Option<std::fs::FileType>> = requested_abs
        .iter()
        .map(|p| std::fs::metadata(p).ok().map(|m| m.file_type()))
        .collect();
    let requested_of_kind = |is: fn(&std::fs::FileType) -> bool| {
        let kinds = requested_kinds
            .iter()
            .map(move |k| k.as_ref().is_some_and(is));
        requested_abs
            .iter()
            .zip(kinds)
            .filter_map(|(p, yes)| yes.then_some(p))
    };
    // Files in path order (as a `BTreeMap<PathBuf, _>` would keep them), the first one
    // found for a path winning. Sorted by `order_key` rather than kept in a map of paths:
    // comparing `Path`s component by component cost a third of a warm run on a big tree.
    let mut files: Vec<(Vec<u8>, SourceFile)> = Vec::new();

    // Files named on the command line are always linted, even when excluded or ignored.
    for p in requested_of_kind(std::fs::FileType::is_file) {
        if let Some(language) = Language::from_path(p) {
            files.push((
                order_key(p),
                SourceFile {
                    abs: p.clone(),
                    rel: relative(root, p),
                    language,
                    requested: true,
                },
            ));
        }
    }

    let walk = |walk_root: &Path| -> Vec<(PathBuf, Language)> {
        let found = std::sync::Mutex::new(Vec::new());
        WalkBuilder::new(walk_root)
            .overrides(overrides.clone())
            .filter_entry(|entry| {
                !(entry.file_type().is_some_and(|t| t.is_dir())
                    && DEFAULT_EXCLUDES
                        .iter()
                        .any(|name| entry.file_name() == *name))
            })
            .threads(threads)
            .follow_links(false)
            .require_git(false)
            .build_parallel()
            .run(|| {
                let found = &found;
                Box::new(move |entry| {
                    if let Ok(entry) = entry
                        && entry.file_type().is_some_and(|t| t.is_file())
                        && let Some(language) = Language::from_path(entry.path())
                        && let Ok(mut v) = found.lock()
                    {
                        v.push((entry.into_path(), language));
                    }
                    ignore::WalkState::Continue
                })
            });
        found.into_inner().unwrap_or_default()
    };
    // Each file with its order key, sorted by it. The keys answer the two questions about
    // requested paths by binary search (a key is a prefix of another exactly when its path
    // is a component-wise prefix of the other's): testing every requested path against
    // every file was quadratic, and a pre-commit hook names every staged file
    // (`pre-commit run --all-files` names them all).
    let keyed = |found: Vec<(PathBuf, Language)>| {
        let mut keyed: Vec<(Vec<u8>, PathBuf, Language)> = found
            .into_iter()
            .map(|(abs, language)| (order_key(&abs), abs, language))
            .collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        keyed
    };
    let mut found = keyed(walk(root));
    // A requested folder that the root's walk skipped (outside the root, or inside a folder
    // the root's .gitignore ignores) is walked on its own: what the user names is checked.
    let mut foreign: Vec<(Vec<u8>, PathBuf, Language)> = Vec::new();
    let mut foreign_roots = Vec::new();
    for dir in requested_of_kind(std::fs::FileType::is_dir) {
        let key = order_key(dir);
        if !holds_prefix(&found, &key) && !holds_prefix(&foreign, &key) {
            foreign.extend(keyed(walk(dir)));
            foreign.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            foreign_roots.push(dir.clone());
        }
    }
    found.append(&mut foreign);
    // The requested paths that are not inside another one, sorted: the only one that can
    // hold a file is then the last one at or before the file's key.
    let mut outermost: Vec<Vec<u8>> = requested_abs.iter().map(|p| order_key(p)).collect();
    outermost.sort_unstable();
    outermost.dedup_by(|inner, outer| inner.starts_with(outer));
    for (key, abs, language) in found {
        if language == Language::Python && abs.extension().is_some_and(|e| e == "pyi") {
            continue;
        }
        let before = outermost.partition_point(|r| r.as_slice() <= key.as_slice());
        let requested = before > 0 && key.starts_with(&outermost[before - 1]);
        files.push((
            key,
            SourceFile {
                rel: relative(root, &abs),
                abs,
                language,
                requested,
            },
        ));
    }
    // Stable: of two entries for one path, the first pushed (a file named on the command
    // line) is kept.
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|later, first| later.0 == first.0);
    Ok(Discovered {
        files: files.into_iter().map(|(_, f)| f).collect(),
        foreign_roots,
    })
}

/// Whether some key in `sorted` starts with `prefix` (they follow it in order).
fn holds_prefix(sorted: &[(Vec<u8>, PathBuf, Language)], prefix: &[u8]) -> bool {
    let at = sorted.partition_point(|(k, _, _)| k.as_slice() < prefix);
    sorted
        .get(at)
        .is_some_and(|(k, _, _)| k.starts_with(prefix))
}

/// A byte string whose order and equality are those of `Path`'s (component by component):
/// each component as a kind tag, its bytes and a 0 byte. The 0 ends a component below any
/// byte a name can hold, so `a` sorts before `a.b` and `a/z` before `a.b/c`, as with paths.
fn order_key(p: &Path) -> Vec<u8> {
    use std::path::Component;
    let mut key = Vec::with_capacity(p.as_os_str().len() + 16);
    for c in p.components() {
        // Tags in the order of `Component`'s variants, which is how `Path` compares kinds.
        let (tag, bytes) = match c {
            Component::Prefix(p) => (1, p.as_os_str().as_encoded_bytes()),
            Component::RootDir => (2, &[][..]),
            Component::CurDir => (3, &[][..]),
            Component::ParentDir => (4, &[][..]),
            Component::Normal(name) => (5, name.as_encoded_bytes()),
        };
        key.push(tag);
        key.extend_from_slice(bytes);
        key.push(0);
    }
    key
}

/// Python module names: a file in a package (its folder has `__init__.py`) is named by the
/// chain of package folders above it; any other file by its path relative to the nearest
/// source root (configured `src` entries, `src/`, the project root).
pub struct PythonModules {
    package_dirs: HashSet<PathBuf>,
    src_roots: Vec<PathBuf>,
}

impl PythonModules {
    pub fn new(files: &[SourceFile], root: &Path, configured_src: &[PathBuf]) -> Self {
        let package_dirs = files
            .iter()
            .filter(|f| f.abs.file_name().is_some_and(|n| n == "__init__.py"))
            .filter_map(|f| f.abs.parent().map(Path::to_path_buf))
            .collect();
        let mut src_roots: Vec<PathBuf> = configured_src.to_vec();
        src_roots.push(root.join("src"));
        src_roots.push(root.to_path_buf());
        // Deepest first, so `root/src` wins over `root`.
        src_roots.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        PythonModules {
            package_dirs,
            src_roots,
        }
    }

    /// (module name, is the package's `__init__.py`).
    pub fn module_of(&self, abs: &Path) -> (String, bool) {
        let stem = abs
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_init = stem == "__init__";
        let mut parts: Vec<String> = Vec::new();
        if !is_init {
            parts.push(stem);
        }
        let mut dir = abs.parent();
        let in_package = dir.is_some_and(|d| self.package_dirs.contains(d));
        if in_package {
            while let Some(d) = dir {
                if !self.package_dirs.contains(d) {
                    break;
                }
                if let Some(name) = d.file_name() {
                    parts.push(name.to_string_lossy().into_owned());
                }
                dir = d.parent();
            }
        } else if let Some(d) = dir
            && let Some(src) = self.src_roots.iter().find(|r| d.starts_with(r))
            && let Ok(rest) = d.strip_prefix(src)
        {
            let mut folders: Vec<String> = rest
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            folders.reverse();
            parts.extend(folders);
        }
        parts.reverse();
        (parts.join("."), is_init)
    }
}

/// Rust module paths, memoizing the crate lookup per folder.
#[derive(Default)]
pub struct RustModules {
    crates: HashMap<PathBuf, Option<loopguard_rust::CrateInfo>>,
}

impl RustModules {
    /// Looks up the crate of every folder holding a Rust file of `files`, in parallel (each
    /// lookup reads and parses the nearest `Cargo.toml`; a registry has thousands of
    /// folders).
    pub fn for_files(files: &[SourceFile]) -> RustModules {
        use rayon::prelude::*;
        let mut firsts: Vec<(&Path, &Path)> = files
            .iter()
            .filter(|f| f.language == Language::Rust)
            .filter_map(|f| Some((f.abs.parent()?, f.abs.as_path())))
            .collect();
        firsts.sort_unstable();
        firsts.dedup_by(|a, b| a.0 == b.0);
        let crates = firsts
            .into_par_iter()
            .map(|(dir, file)| (dir.to_path_buf(), loopguard_rust::crate_info_for(file)))
            .collect();
        RustModules { crates }
    }

    /// (module path, edition).
    pub fn module_of(&mut self, abs: &Path) -> (String, Option<u16>) {
        let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        let info = self
            .crates
            .entry(dir)
            .or_insert_with(|| loopguard_rust::crate_info_for(abs));
        match info {
            Some(info) => (loopguard_rust::module_path(info, abs), info.edition),
            None => (
                abs.file_stem()
                    .map(|s| s.to_string_lossy().replace('-', "_"))
                    .unwrap_or_default(),
                None,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }

    #[test]
    fn python_module_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "pkg/__init__.py",
            "pkg/sub/__init__.py",
            "pkg/sub/mod.py",
            "src/app/main.py",
            "scripts/run.py",
            "backend/src/proj/__init__.py",
            "backend/src/proj/api.py",
        ] {
            touch(&root.join(f));
        }
        let files = discover(root, &[root.to_path_buf()], &[], 1).unwrap().files;
        assert_eq!(files.len(), 7);
        let m = PythonModules::new(&files, root, &[]);
        assert_eq!(
            m.module_of(&root.join("pkg/sub/mod.py")),
            ("pkg.sub.mod".into(), false)
        );
        assert_eq!(
            m.module_of(&root.join("pkg/__init__.py")),
            ("pkg".into(), true)
        );
        assert_eq!(m.module_of(&root.join("src/app/main.py")).0, "app.main");
        assert_eq!(m.module_of(&root.join("scripts/run.py")).0, "scripts.run");
        assert_eq!(
            m.module_of(&root.join("backend/src/proj/api.py")).0,
            "proj.api"
        );
    }

    #[test]
    fn excludes_and_gitignore() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("a.py"));
        touch(&root.join(".venv/lib/x.py"));
        touch(&root.join("gen/skip.py"));
        touch(&root.join("other/keep.rs"));
        std::fs::write(root.join(".ignore"), "gen/\n").unwrap();
        let files = discover(root, &[root.to_path_buf()], &["other/keep.rs".into()], 1)
            .unwrap()
            .files;
        let rels: Vec<_> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["a.py"]);
        // Named on the command line: linted anyway.
        let files = discover(root, &[root.join("gen/skip.py")], &[], 1)
            .unwrap()
            .files;
        assert!(files.iter().any(|f| f.rel == "gen/skip.py" && f.requested));
    }

    #[test]
    fn requested_paths_mark_their_files_and_folders_outside_the_walk_become_roots() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proj");
        for f in [
            "app/main.py",
            "app/api/routes.py",
            "app2/other.py",
            "lib.py",
            "gen/made.py",
        ] {
            touch(&root.join(f));
        }
        std::fs::write(root.join(".ignore"), "gen/\n").unwrap();
        let outside = dir.path().join("vendor");
        touch(&outside.join("pkg/sub/mod.py"));
        let requested = [
            root.join("app"),
            root.join("lib.py"),
            root.join("gen"),
            // Both outside the root, the inner one named after the outer: it is reached
            // by the outer one's walk, so it is not a root of its own.
            outside.clone(),
            outside.join("pkg/sub"),
        ];
        let found = discover(&root, &requested, &[], 2).unwrap();
        let marked: Vec<(&str, bool)> = found
            .files
            .iter()
            .map(|f| (f.rel.as_str(), f.requested))
            .collect();
        let vendor = outside
            .join("pkg/sub/mod.py")
            .to_string_lossy()
            .into_owned();
        assert_eq!(
            marked,
            vec![
                ("app/api/routes.py", true),
                ("app/main.py", true),
                // `app` names a folder: `app2` shares its first letters, not its path.
                ("app2/other.py", false),
                ("gen/made.py", true),
                ("lib.py", true),
                (vendor.as_str(), true),
            ]
        );
        // `gen` is ignored by the root's walk, so it was walked on its own.
        assert_eq!(found.foreign_roots, vec![root.join("gen"), outside]);

        // Relative paths name the same files as absolute ones.
        let cwd = std::env::current_dir().unwrap();
        let relative_app = pathdiff(&root.join("app"), &cwd);
        let found = discover(&root, &[relative_app], &[], 1).unwrap();
        let requested: Vec<&str> = found
            .files
            .iter()
            .filter(|f| f.requested)
            .map(|f| f.rel.as_str())
            .collect();
        assert_eq!(requested, vec!["app/api/routes.py", "app/main.py"]);
    }

    /// `to` relative to `from` (both absolute), with `..` steps.
    fn pathdiff(to: &Path, from: &Path) -> PathBuf {
        let common = to
            .components()
            .zip(from.components())
            .take_while(|(a, b)| a == b)
            .count();
        let mut out = PathBuf::new();
        for _ in from.components().skip(common) {
            out.push("..");
        }
        for c in to.components().skip(common) {
            out.push(c);
        }
        out
    }

    #[test]
    fn default_excludes_are_folder_names_at_any_depth() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(&root.join("app/main.py"));
        touch(&root.join("app/node_modules/dep/x.py"));
        touch(&root.join("app/__pycache__/main.py"));
        touch(&root.join("crate/target/debug/build.rs"));
        touch(&root.join("app/dist.py"));
        touch(&root.join("app/venv_tools/keep.py"));
        let files = discover(root, &[root.to_path_buf()], &[], 2).unwrap().files;
        let rels: Vec<_> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            rels,
            vec!["app/dist.py", "app/main.py", "app/venv_tools/keep.py"]
        );
        // An excluded folder the user names is checked.
        let files = discover(root, &[root.join("app/node_modules")], &[], 2)
            .unwrap()
            .files;
        assert!(
            files
                .iter()
                .any(|f| f.rel == "app/node_modules/dep/x.py" && f.requested)
        );
    }

    #[test]
    fn order_keys_sort_and_compare_as_paths_do() {
        let paths = [
            "/a",
            "/a.b",
            "/a/z",
            "/a.b/c",
            "/a-b",
            "/a/b/c.py",
            "/a/b.py",
            "/a/b",
            "/ab",
            "a",
            "./a",
            "a/./b",
            "a//b",
            "a/b",
            "../a",
            "/a/",
            "/Z",
            "/_",
            "/é",
        ];
        let mut by_path: Vec<&Path> = paths.iter().map(Path::new).collect();
        by_path.sort();
        let mut by_key = by_path.clone();
        by_key.reverse();
        by_key.sort_by_key(|p| order_key(p));
        assert_eq!(by_path, by_key);
        for a in paths.map(Path::new) {
            for b in paths.map(Path::new) {
                assert_eq!(a == b, order_key(a) == order_key(b), "{a:?} vs {b:?}");
            }
        }
    }
}
