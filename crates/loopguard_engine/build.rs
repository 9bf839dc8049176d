//! The build's identity for the cache key: a hash of the workspace's sources, rule catalogs
//! and lock file, so that a loopguard built again from the same sources (a CI job that runs
//! `cargo install` every time) reads the cache an earlier build wrote, and one built from
//! other sources never does. Outside this workspace's layout the identity is empty and the
//! cache is keyed by the version alone.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("../..");
    let mut inputs: Vec<PathBuf> = Vec::new();
    for dir in ["crates", "src", "rules"] {
        let dir = root.join(dir);
        if dir.is_dir() {
            println!("cargo:rerun-if-changed={}", dir.display());
            collect(&dir, &mut inputs);
        }
    }
    for file in ["Cargo.lock", "Cargo.toml"] {
        let file = root.join(file);
        if file.is_file() {
            println!("cargo:rerun-if-changed={}", file.display());
            inputs.push(file);
        }
    }
    inputs.sort();
    let mut hash = Fnv64::new();
    for path in &inputs {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let rel = path.strip_prefix(&root).unwrap_or(path);
        hash.write(rel.to_string_lossy().as_bytes());
        hash.write(&(bytes.len() as u64).to_le_bytes());
        hash.write(&bytes);
    }
    let id = if inputs.is_empty() {
        String::new()
    } else {
        format!("{:016x}", hash.0)
    };
    println!("cargo:rustc-env=LOOPGUARD_BUILD_ID={id}");
}

/// Source and data files under `dir`, skipping tests, fixtures and build output: what a
/// test reads cannot change what the binary writes to its cache.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(name.as_ref(), "tests" | "fixtures" | "target" | "benches") {
                collect(&path, out);
            }
        } else if name.ends_with(".rs") || name.ends_with(".toml") || name.ends_with(".scm") {
            out.push(path);
        }
    }
}

/// FNV-1a, 64 bits: stable across Rust releases (std's hasher is not promised to be).
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
