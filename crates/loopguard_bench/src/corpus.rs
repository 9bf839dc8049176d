//! The files of a run: exactly those loopguard would discover under the given paths
//! (default excludes, `.gitignore`, no `.pyi`), with the module names it would give them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use loopguard_core::facts::Language;
use loopguard_engine::discover;
use loopguard_engine::load;

use crate::Lang;

/// One source file to parse or lower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub abs: PathBuf,
    /// Path relative to the root it was found under, `/`-separated.
    pub rel: String,
    /// Dotted (Python) or `::` (Rust) module path, as loopguard names it.
    pub module: String,
    /// A Python package's `__init__.py`.
    pub is_init: bool,
    /// The Rust crate's edition, if known.
    pub edition: Option<u16>,
}

/// The `lang` files under `paths`, sorted by path, each once. Folders are walked as
/// loopguard walks them, with its module names; files are taken as given (named by their
/// stem: a list of thousands of files must not walk each one's folder).
pub fn collect(paths: &[PathBuf], lang: Lang, threads: usize) -> Result<Vec<Input>, String> {
    let mut out: BTreeMap<PathBuf, Input> = BTreeMap::new();
    for path in paths {
        if !path.exists() {
            return Err(format!("{}: no such file or directory", path.display()));
        }
        let abs = discover::absolute(path);
        if !abs.is_dir() {
            if Language::from_path(&abs) == Some(lang.core()) {
                let stem = abs
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.entry(abs.clone()).or_insert(Input {
                    rel: abs.to_string_lossy().into_owned(),
                    is_init: stem == "__init__",
                    module: stem,
                    abs,
                    edition: None,
                });
            }
            continue;
        }
        let found = discover::discover(&abs, std::slice::from_ref(&abs), &[], threads.max(1))
            .map_err(|e| e.to_string())?;
        let infos = load::module_infos(&found.files, &abs, &[]);
        for (file, info) in found.files.into_iter().zip(infos) {
            if !file.requested || file.language != lang.core() {
                continue;
            }
            out.entry(file.abs.clone()).or_insert(Input {
                abs: file.abs,
                rel: file.rel,
                module: info.name,
                is_init: info.is_init,
                edition: info.edition,
            });
        }
    }
    Ok(out.into_values().collect())
}

/// Why a file was not parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    Unreadable,
    NotUtf8,
    TooLarge,
}

/// Reads a file as UTF-8 text, refusing files over `max_size` bytes (loopguard's
/// `max-file-size`) without reading them.
pub fn read_text(path: &Path, max_size: u64) -> Result<String, Skip> {
    let meta = std::fs::metadata(path).map_err(|_| Skip::Unreadable)?;
    if meta.len() > max_size {
        return Err(Skip::TooLarge);
    }
    let bytes = std::fs::read(path).map_err(|_| Skip::Unreadable)?;
    String::from_utf8(bytes).map_err(|_| Skip::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &[u8]) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn collects_like_loopguard_with_module_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(&root.join("pkg/__init__.py"), b"");
        write(&root.join("pkg/db.py"), b"async def f(): pass\n");
        write(&root.join("pkg/db.pyi"), b"");
        write(&root.join(".venv/lib/x.py"), b"");
        write(&root.join("tool/src/lib.rs"), b"fn f() {}\n");
        let py = collect(&[root.to_path_buf()], Lang::Python, 1).unwrap();
        let names: Vec<(&str, &str, bool)> = py
            .iter()
            .map(|i| (i.rel.as_str(), i.module.as_str(), i.is_init))
            .collect();
        assert_eq!(
            names,
            vec![
                ("pkg/__init__.py", "pkg", true),
                ("pkg/db.py", "pkg.db", false)
            ]
        );
        let rs = collect(&[root.to_path_buf()], Lang::Rust, 1).unwrap();
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].rel, "tool/src/lib.rs");
    }

    #[test]
    fn a_named_file_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        write(&file, b"x = 1\n");
        let got = collect(&[file.clone(), dir.path().to_path_buf()], Lang::Python, 1).unwrap();
        assert_eq!(got.len(), 1);
        // A listed file is named by its stem; a file of the other language is left out.
        write(&dir.path().join("lib.rs"), b"fn f() {}\n");
        let got = collect(&[file.clone(), dir.path().join("lib.rs")], Lang::Python, 1).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].module, "a");
        assert_eq!(got[0].abs, file);
        assert!(collect(&[dir.path().join("missing")], Lang::Python, 1).is_err());
    }

    #[test]
    fn read_text_skips_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.py");
        write(&bad, b"x = '\xff'\n");
        assert_eq!(read_text(&bad, 1 << 20), Err(Skip::NotUtf8));
        let big = dir.path().join("big.py");
        write(&big, b"x = 1\n");
        assert_eq!(read_text(&big, 3), Err(Skip::TooLarge));
        assert_eq!(
            read_text(&dir.path().join("none.py"), 10),
            Err(Skip::Unreadable)
        );
        assert_eq!(read_text(&big, 100).unwrap(), "x = 1\n");
    }
}
