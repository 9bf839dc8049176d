#!/usr/bin/env bash
# Precision check on real code: loopguard and `ruff --select ASYNC` on Home Assistant core.
#
# Home Assistant is the largest asyncio code base, and it has its own run-time detector of
# blocking calls in the event loop, so real findings should be rare: what loopguard reports
# there is mostly a measure of its false positives (reviewed by hand in docs/precision.md).
#
# Works from a fresh clone. Downloads the Home Assistant wheel (PyPI, `pip download`) and
# ruff (PyPI, into a venv) into a cache folder, builds loopguard in release mode, checks
# `homeassistant/` with both tools and prints findings per rule and confidence and the wall
# times. Exits 0 whatever is found.
#
# Usage: scripts/ha-precision.sh
# Environment:
#   HA_VERSION           Home Assistant release (default 2026.2.3, the one reviewed)
#   RUFF_VERSION         ruff release from PyPI (default 0.17.5)
#   HA_PRECISION_CACHE   cache folder (default ${XDG_CACHE_HOME:-~/.cache}/loopguard-ha-precision)
#   HA_SAMPLE            also print this many findings drawn at random for review (default 0)
#   HA_SAMPLE_SEED       seed of that draw (default 2026), so a review can be repeated
#   PYTHON               Python 3 used for pip, the venv and the summaries (default python3)

set -euo pipefail

HA_VERSION="${HA_VERSION:-2026.2.3}"
RUFF_VERSION="${RUFF_VERSION:-0.17.5}"
CACHE="${HA_PRECISION_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loopguard-ha-precision}"
HA_SAMPLE="${HA_SAMPLE:-0}"
HA_SAMPLE_SEED="${HA_SAMPLE_SEED:-2026}"
PYTHON="${PYTHON:-python3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

step() { printf '==> %s\n' "$*" >&2; }

# Seconds since the epoch with microseconds (bash 5), for wall times without `time` parsing.
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { "$PYTHON" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

mkdir -p "$CACHE/wheels" "$CACHE/out"

# --- Home Assistant source ------------------------------------------------------------------
# The wheel is pure Python; --python-version lets pip fetch it whatever the local interpreter.
TREE="$CACHE/homeassistant-$HA_VERSION"
if [[ ! -f "$TREE/.unpacked" ]]; then
    wheel="$(ls "$CACHE/wheels"/homeassistant-"$HA_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
    if [[ -z "$wheel" ]]; then
        step "downloading homeassistant==$HA_VERSION"
        "$PYTHON" -m pip download --quiet --no-deps "homeassistant==$HA_VERSION" \
            --python-version 3.14 --only-binary=:all: -d "$CACHE/wheels"
        wheel="$(ls "$CACHE/wheels"/homeassistant-"$HA_VERSION"-*.whl | head -n1)"
    fi
    step "unpacking $(basename "$wheel")"
    rm -rf "$TREE"
    mkdir -p "$TREE"
    "$PYTHON" -m zipfile -e "$wheel" "$TREE"
    touch "$TREE/.unpacked"
fi
TARGET="$TREE/homeassistant"

# --- ruff ---------------------------------------------------------------------------------------
RUFF_VENV="$CACHE/ruff-$RUFF_VERSION"
if [[ ! -x "$RUFF_VENV/bin/ruff" ]]; then
    step "installing ruff==$RUFF_VERSION into $RUFF_VENV"
    rm -rf "$RUFF_VENV"
    "$PYTHON" -m venv "$RUFF_VENV"
    "$RUFF_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "ruff==$RUFF_VERSION"
fi

# --- loopguard ----------------------------------------------------------------------------------
step "building loopguard (release)"
(cd "$ROOT" && cargo build --release --quiet)
LOOPGUARD="$ROOT/target/release/loopguard"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain -- crates rules src Cargo.toml 2>/dev/null || true)" ]]; then
    COMMIT="$COMMIT+dirty"
fi

# --- runs ---------------------------------------------------------------------------------------
LG_JSON="$CACHE/out/loopguard.json"
RUFF_JSON="$CACHE/out/ruff.json"

step "loopguard check $TARGET"
start="$(now)"
"$LOOPGUARD" check "$TARGET" --no-cache --no-config --exit-zero --output-format json -o "$LG_JSON"
end="$(now)"
LG_WALL="$(elapsed "$start" "$end")"

step "ruff check --select ASYNC $TARGET"
start="$(now)"
# --isolated: no configuration file of the cache folder's parents applies. ruff exits 1 on
# findings, which is not a failure here.
"$RUFF_VENV/bin/ruff" check --no-cache --isolated --select ASYNC --output-format json \
    "$TARGET" >"$RUFF_JSON" || [[ $? -eq 1 ]]
end="$(now)"
RUFF_WALL="$(elapsed "$start" "$end")"

# --- report -------------------------------------------------------------------------------------
"$PYTHON" - "$LG_JSON" "$RUFF_JSON" "$LG_WALL" "$RUFF_WALL" "$HA_VERSION" "$RUFF_VERSION" \
    "$COMMIT" "$HA_SAMPLE" "$HA_SAMPLE_SEED" "$TARGET" <<'EOF'
import collections
import json
import random
import sys

(lg_path, ruff_path, lg_wall, ruff_wall, ha_version, ruff_version, commit, sample, seed,
 target) = sys.argv[1:]
lg = json.load(open(lg_path))
findings = lg["findings"]
ruff = json.load(open(ruff_path))

print(f"Home Assistant {ha_version} ({target})")
print()
summary = lg.get("summary", {})
print(f"loopguard {lg['tool']['version']} ({commit}): {len(findings)} findings in "
      f"{summary.get('files', '?')} files, {lg_wall} s wall, "
      f"{len(lg.get('notifications', []))} notifications (parse errors)")
by = collections.Counter((f["code"], f["confidence"]) for f in findings)
rules = sorted({code for code, _ in by})
print(f"  {'rule':<8}{'certain':>9}{'likely':>9}{'total':>9}")
for code in rules:
    certain, likely = by[(code, "certain")], by[(code, "likely")]
    print(f"  {code:<8}{certain:>9}{likely:>9}{certain + likely:>9}")
certain = sum(n for (_, c), n in by.items() if c == "certain")
likely = sum(n for (_, c), n in by.items() if c == "likely")
print(f"  {'all':<8}{certain:>9}{likely:>9}{certain + likely:>9}")
contexts = collections.Counter(f.get("context", "?") for f in findings)
print("  by context: " + ", ".join(f"{k} {v}" for k, v in sorted(contexts.items())))
print()
print(f"ruff {ruff_version} --select ASYNC: {len(ruff)} findings, {ruff_wall} s wall")
for code, n in sorted(collections.Counter(r["code"] for r in ruff).items()):
    print(f"  {code:<10}{n:>5}")

n = min(int(sample), len(findings))
if n > 0:
    print()
    print(f"random sample of {n} loopguard findings (seed {seed}):")
    picked = sorted(random.Random(int(seed)).sample(range(len(findings)), n))
    for i in picked:
        f = findings[i]
        chain = " -> ".join(f"{h['path']}:{h['line']}" for h in f["chain"][1:])
        print(f"  #{i} {f['path']}:{f['start_line']} {f['code']}({f['confidence']}) "
              f"{f['call']} -> {f['api']}" + (f" via {chain}" if chain else ""))
EOF
exit 0
