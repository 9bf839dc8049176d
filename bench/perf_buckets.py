#!/usr/bin/env python3
"""Buckets a `perf record --call-graph dwarf` profile of loopguard by phase.

    perf record -F 299 --call-graph dwarf,16384 -o perf.data -- target/release/loopguard check DIR --no-cache
    perf script -i perf.data | python3 bench/perf_buckets.py

Each sample (CPU time of one thread) goes to the innermost frame of its stack that names a
phase (parse, tree drop, lowering walk/resolve/syntax errors, read, hash, cache, index,
analysis, ...); allocator and kernel time thus land in the phase that caused them.
"""

import collections
import re
import sys

# (bucket, pattern on the frame's symbol); the innermost (leaf-most) matching frame wins.
MARKERS = [
    ("parse: tree drop (ts_tree_delete)", r"ts_tree_delete|ts_subtree_release|drop_in_place<tree_sitter::Tree>"),
    ("parse: tree-sitter", r"ts_parser_parse"),
    ("parse: syn (incl. lexing)", r"syn::|proc_macro2::|<proc_macro2"),
    ("lower: python tree access (syntax.rs helpers)", r"loopguard_python::syntax"),
    ("lower: python walk", r"loopguard_python::walk"),
    ("lower: python resolve", r"loopguard_python::resolve"),
    ("lower: python other (LineIndex, setup)", r"loopguard_python::"),
    ("lower: rust", r"loopguard_rust::"),
    ("noqa scan", r"loopguard_core::suppression"),
    ("content hash (blake3)", r"blake3"),
    ("cache (postcard, files)", r"loopguard_engine::cache|postcard"),
    ("demand (module lookups)", r"loopguard_engine::demand"),
    ("filter", r"loopguard_engine::filter"),
    ("report", r"loopguard_report"),
    ("index", r"loopguard_analysis::index"),
    ("analysis", r"loopguard_analysis"),
    ("catalog load", r"loopguard_core::catalog::Catalog"),
    ("facts drop", r"drop_in_place<loopguard_core::facts"),
    ("walk (discover)", r"ignore::|loopguard_engine::discover"),
    ("module names", r"module_infos|PythonModules|RustModules|crate_info_for"),
    ("read files", r"std::fs::read|read_to_end|read_to_string|__GI___libc_read|ksys_read"),
    ("stat files", r"std::fs::metadata|statx|__GI___stat"),
    ("byte scan (async)", r"has_async|may_have_roots|TwoWaySearcher|StrSearcher"),
    ("scheduler (rayon idle/steal)", r"rayon_core::registry::WorkerThread::wait_until|rayon_core::sleep"),
    ("load: other", r"loopguard_engine::load"),
    ("engine: other", r"loopguard_engine::"),
    ("process start/exit", r"_dl_|exit_mmap|do_exit|execve"),
]
COMPILED = [(b, re.compile(p)) for b, p in MARKERS]


def bucket_of(frames):
    for sym in frames:  # leaf first
        for bucket, pat in COMPILED:
            if pat.search(sym):
                return bucket
    return "other"


def samples(stream):
    frames = []
    in_sample = False
    for line in stream:
        if not line.strip():
            if in_sample:
                yield frames
            frames, in_sample = [], False
            continue
        if not line.startswith((" ", "\t")):
            in_sample = True
            continue
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            frames.append(parts[1])
    if in_sample:
        yield frames


def main():
    counts = collections.Counter()
    total = 0
    for frames in samples(sys.stdin):
        counts[bucket_of(frames)] += 1
        total += 1
    if not total:
        sys.exit("no samples")
    print("| phase | samples | share |")
    print("|---|---:|---:|")
    for bucket, n in counts.most_common():
        print("| %s | %d | %.1f%% |" % (bucket, n, 100.0 * n / total))
    print("| total | %d | 100%% |" % total)


if __name__ == "__main__":
    main()
