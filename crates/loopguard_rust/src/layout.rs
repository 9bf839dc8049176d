//! Crate layout: which crate a `.rs` file belongs to, its edition, and the module path the
//! file defines (`my_crate::db` for `src/db.rs`).
//!
//! Only the conventional Cargo layout is understood (`src/lib.rs`, `src/main.rs`,
//! `src/bin/`, `tests/`, `examples/`, `benches/`); `[lib] path = ..` overrides and `#[path]`
//! attributes are not followed. Nothing is cached here: the engine memoizes per directory.

use std::path::{Component, Path, PathBuf};

/// The crate a file belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrateInfo {
    /// Crate name as Rust code spells it (`my-crate` in Cargo.toml gives `my_crate`).
    pub name: String,
    /// The package's `src` directory (`<dir of Cargo.toml>/src`). `tests/`, `examples/` and
    /// `benches/` are its siblings.
    pub src_root: PathBuf,
    /// `package.edition`, following `edition.workspace = true`; `None` when not declared.
    pub edition: Option<u16>,
}

/// The crate of `file`: the nearest `Cargo.toml` above it that has a `[package]`.
///
/// Returns `None` for files outside any package, or when the manifest cannot be read.
pub fn crate_info_for(file: &Path) -> Option<CrateInfo> {
    for dir in file.ancestors().skip(1) {
        let manifest_path = dir.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest_path) else {
            continue;
        };
        let manifest: toml::Table = text.parse().ok()?;
        // A virtual workspace manifest has no package: the file is not in a crate.
        let package = manifest.get("package")?.as_table()?;
        let name = package.get("name")?.as_str()?.replace('-', "_");
        let edition = match package.get("edition") {
            Some(toml::Value::String(s)) => s.parse().ok(),
            Some(toml::Value::Table(t)) if is_workspace_inherited(t) => {
                workspace_edition(dir, package.get("workspace").and_then(|w| w.as_str()))
            }
            _ => None,
        };
        return Some(CrateInfo {
            name,
            src_root: dir.join("src"),
            edition,
        });
    }
    None
}

fn is_workspace_inherited(table: &toml::Table) -> bool {
    table.get("workspace").and_then(toml::Value::as_bool) == Some(true)
}

/// `[workspace.package] edition` of the workspace that `package_dir` belongs to: the
/// explicit `package.workspace` path, or the nearest manifest above with `[workspace]`.
fn workspace_edition(package_dir: &Path, explicit_root: Option<&str>) -> Option<u16> {
    let read_edition = |dir: &Path| -> Option<Option<u16>> {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        let manifest: toml::Table = text.parse().ok()?;
        let workspace = manifest.get("workspace")?.as_table()?;
        Some(
            workspace
                .get("package")
                .and_then(|p| p.get("edition"))
                .and_then(toml::Value::as_str)
                .and_then(|s| s.parse().ok()),
        )
    };
    if let Some(root) = explicit_root {
        return read_edition(&package_dir.join(root)).flatten();
    }
    package_dir
        .ancestors()
        .skip(1)
        .find_map(read_edition)
        .flatten()
}

/// The module path `file` defines within the crate described by `info`.
///
/// `src/lib.rs`, `src/main.rs` -> `my_crate`; `src/a/b.rs` -> `my_crate::a::b`;
/// `src/a/mod.rs` -> `my_crate::a`; `src/bin/x.rs` -> `x` (a crate of its own);
/// `tests/it.rs`, `examples/demo.rs`, `benches/b.rs` -> their stem. Files outside the
/// package: their stem.
pub fn module_path(info: &CrateInfo, file: &Path) -> String {
    let stem = || crate_name_of(file.file_stem().and_then(|s| s.to_str()).unwrap_or("main"));
    if let Ok(rel) = file.strip_prefix(&info.src_root) {
        let parts = components(rel);
        return match parts.as_slice() {
            [] => info.name.clone(),
            [only] if *only == "lib.rs" || *only == "main.rs" => info.name.clone(),
            ["bin", rest @ ..] if !rest.is_empty() => target_module(rest),
            parts => {
                let mut path = info.name.clone();
                for segment in module_segments(parts, false) {
                    path.push_str("::");
                    path.push_str(&segment);
                }
                path
            }
        };
    }
    let package_dir = info.src_root.parent().unwrap_or(&info.src_root);
    if let Ok(rel) = file.strip_prefix(package_dir) {
        let parts = components(rel);
        if let [first, rest @ ..] = parts.as_slice()
            && matches!(*first, "tests" | "examples" | "benches")
            && !rest.is_empty()
        {
            return target_module(rest);
        }
    }
    stem()
}

/// Module path of a file of a target made of `<name>.rs` or `<name>/main.rs` plus modules.
fn target_module(parts: &[&str]) -> String {
    let mut segments = module_segments(parts, true).into_iter();
    let Some(first) = segments.next() else {
        return "main".to_string();
    };
    let mut path = crate_name_of(&first);
    for segment in segments {
        path.push_str("::");
        path.push_str(&segment);
    }
    path
}

/// `["a", "b.rs"]` -> `["a", "b"]`; `["a", "mod.rs"]` -> `["a"]`, and `["a", "main.rs"]` too
/// when `main_is_root` (a target directory such as `src/bin/a/`).
fn module_segments(parts: &[&str], main_is_root: bool) -> Vec<String> {
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if last {
            let stem = part.strip_suffix(".rs").unwrap_or(part);
            if (stem == "mod" || (main_is_root && stem == "main")) && !out.is_empty() {
                continue;
            }
            out.push(stem.to_string());
        } else {
            out.push((*part).to_string());
        }
    }
    out
}

fn components(path: &Path) -> Vec<&str> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect()
}

fn crate_name_of(stem: &str) -> String {
    stem.replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_name_and_edition_and_maps_files_to_modules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("my-crate");
        write(
            &root.join("Cargo.toml"),
            "[package]\nname = \"my-crate\"\nedition = \"2021\"\n",
        );
        let lib = root.join("src/lib.rs");
        write(&lib, "");
        let info = crate_info_for(&lib).unwrap();
        assert_eq!(info.name, "my_crate");
        assert_eq!(info.edition, Some(2021));
        assert_eq!(info.src_root, root.join("src"));

        let cases = [
            ("src/lib.rs", "my_crate"),
            ("src/main.rs", "my_crate"),
            ("src/db.rs", "my_crate::db"),
            ("src/a/b.rs", "my_crate::a::b"),
            ("src/a/mod.rs", "my_crate::a"),
            ("src/bin/tool.rs", "tool"),
            ("src/bin/big-tool/main.rs", "big_tool"),
            ("src/bin/big-tool/util.rs", "big_tool::util"),
            ("tests/it.rs", "it"),
            ("tests/common/mod.rs", "common"),
            ("examples/demo-app.rs", "demo_app"),
            ("benches/speed.rs", "speed"),
            ("build.rs", "build"),
        ];
        for (rel, expected) in cases {
            assert_eq!(module_path(&info, &root.join(rel)), expected, "{rel}");
        }
        let outside = dir.path().join("elsewhere/script.rs");
        assert_eq!(module_path(&info, &outside), "script");
    }

    #[test]
    fn follows_workspace_edition() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/*\"]\n[workspace.package]\nedition = \"2024\"\n",
        );
        let member = dir.path().join("crates/core");
        write(
            &member.join("Cargo.toml"),
            "[package]\nname = \"core_x\"\nedition.workspace = true\n",
        );
        let file = member.join("src/deep/mod.rs");
        write(&file, "");
        let info = crate_info_for(&file).unwrap();
        assert_eq!(info.name, "core_x");
        assert_eq!(info.edition, Some(2024));
        assert_eq!(module_path(&info, &file), "core_x::deep");
    }

    #[test]
    fn files_outside_packages_have_no_crate() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("Cargo.toml"),
            "[workspace]\nmembers = []\n",
        );
        let file = dir.path().join("scripts/x.rs");
        write(&file, "");
        assert_eq!(crate_info_for(&file), None);
        let no_manifest = tempfile::tempdir().unwrap();
        let loose = no_manifest.path().join("a/b.rs");
        write(&loose, "");
        // The temp dir may sit under some unrelated manifest only in exotic setups.
        assert!(crate_info_for(&loose).is_none_or(|i| i.name != "a"));
    }

    #[test]
    fn missing_edition_is_none() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("Cargo.toml"), "[package]\nname = \"x\"\n");
        let file = dir.path().join("src/lib.rs");
        write(&file, "");
        assert_eq!(crate_info_for(&file).unwrap().edition, None);
    }
}
