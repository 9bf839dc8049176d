//! The build's identity for the cache key: a hash of the workspace's sources, rule catalogs
//! and lock file, so that a loopguard built again from the same sources (a CI job that runs
//! `cargo install` every time) reads the cache an earlier build wrote, and one built from
//! other sources never does. Outside this workspace's layout the identity is empty and the
//! cache is keyed by the version alone.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("../..");
    // What the binary is built from: each crate's sources, build script and manifest, the
    // binary's own sources, the catalogs, the lock file. Not tests or fixtures: editing one
    // must not rebuild this crate, and cannot change what the binary writes to its cache.
    let mut parts: Vec<PathBuf> = Vec::new();
    if let Ok(read) = std::fs::read_dir(root.join("crates")) {
        for entry in read.flatten() {
            for part in ["src", "build.rs", "Cargo.toml"] {
                parts.push(entry.path().join(part));
            }
        }
    }
    for part in ["src", "rules", "Cargo.toml", "Cargo.lock"] {
        parts.push(root.join(part));
    }
    let mut inputs: Vec<PathBuf> = Vec::new();
    for part in parts.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", part.display());
        collect(part, &mut inputs);
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

/// `path` if it is a file, else every file below it.
fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    let Ok(read) = std::fs::read_dir(path) else {
        out.push(path.to_path_buf());
        return;
    };
    for entry in read.flatten() {
        collect(&entry.path(), out);
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
