//! Embeds every catalog file under `rules/<language>/*.toml` into the binary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let rules = manifest.join("../../rules");
    println!("cargo:rerun-if-changed={}", rules.display());
    let mut entries: Vec<(String, String, PathBuf)> = Vec::new();
    for lang in ["python", "rust"] {
        let dir = rules.join(lang);
        println!("cargo:rerun-if-changed={}", dir.display());
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("toml") {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string();
                println!("cargo:rerun-if-changed={}", path.display());
                entries.push((lang.to_string(), name, canonical(&path)));
            }
        }
    }
    entries.sort();
    let mut out = String::from("&[\n");
    for (lang, name, path) in &entries {
        let _ = writeln!(
            out,
            "    ({lang:?}, {name:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    out.push(']');
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out_dir.join("catalog_files.rs"), out) {
        panic!("cannot write catalog_files.rs: {e}");
    }
    // Rule pages are embedded with include_str!, which tracks them; the folder is tracked
    // so a new page is noticed.
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("../../docs/rules").display()
    );
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}
