#!/usr/bin/env python3
"""Builds the "async-heavy" benchmark corpus: N copies of fixtures/py_fastapi_service.

Each copy of the `fastapi_shop` package becomes `shop_NNNN` (its absolute imports and the
mentions in comments rewritten), and the fixture's scripts become `scripts/seed_db_NNNN.py`
importing their own copy. Deterministic: the same N gives byte-identical files, so runs on
different days compare.

    python3 bench/gen_async_corpus.py OUT_DIR [--copies N] [--min-files M]
"""

import argparse
import pathlib
import re
import shutil
import sys

FIXTURE = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "py_fastapi_service"
PACKAGE = "fastapi_shop"


def fixture_files():
    """(relative path, text) of every Python file of the fixture, sorted."""
    return [
        (p.relative_to(FIXTURE), p.read_text(encoding="utf-8"))
        for p in sorted(FIXTURE.rglob("*.py"))
    ]


def rename(text, new):
    # Whole-word replacement: `fastapi_shop.deps`, `from fastapi_shop import`, paths in
    # expectation comments (`fastapi_shop/auth/jwks.py`).
    return re.sub(r"\b%s\b" % PACKAGE, new, text)


def generate(out, copies):
    files = fixture_files()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # An (empty) loopguard config marks OUT as the project root even inside a git checkout.
    (out / "loopguard.toml").write_text("")
    written = 0
    for n in range(copies):
        name = "shop_%04d" % n
        for rel, text in files:
            parts = list(rel.parts)
            if parts[0] == PACKAGE:
                parts[0] = name
            else:
                # scripts/seed_db.py -> scripts/seed_db_0007.py
                stem, dot, ext = parts[-1].rpartition(".")
                parts[-1] = "%s_%04d%s%s" % (stem, n, dot, ext)
            target = out.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rename(text, name), encoding="utf-8")
            written += 1
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--copies", type=int, default=0, help="copies of the package (default: enough for --min-files)")
    ap.add_argument("--min-files", type=int, default=2000)
    args = ap.parse_args()
    per_copy = len(fixture_files())
    if per_copy == 0:
        sys.exit("no Python files under %s" % FIXTURE)
    copies = args.copies or -(-args.min_files // per_copy)
    written = generate(args.out, copies)
    print("%d files (%d copies of %d) in %s" % (written, copies, per_copy, args.out))


if __name__ == "__main__":
    main()
