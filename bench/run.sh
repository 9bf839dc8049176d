#!/usr/bin/env bash
# loopguard's benchmark: loopguard against ruff and the raw parse floor on four corpora.
# Not part of CI: it downloads (ruff and the Home Assistant wheel from PyPI, hyperfine and
# GNU time from Debian if missing) and takes several minutes on 2 cores.
#
#   bench/run.sh [CORPUS...]      corpora: stdlib ha async-heavy rust (default: all)
#
# Environment: RUNS (default 5) and WARMUP (1) per measurement; THREAD_CORPORA (set but empty: none; default
# "stdlib ha async-heavy rust") where 1 vs 2 threads is measured; SWEEP=0 skips the no-panic
# sweeps; SKIP_BUILD=1 re-measures the binaries of the last run (bench/out/bin), so that
# re-running some corpora keeps one binary across the report; PHASES=0 skips the per-phase timings; PROFILE=0 skips the perf profiles (cold,
# 1 thread, and warm) bucketed by phase with bench/perf_buckets.py.
# Writes raw results to bench/out/ (hyperfine JSON, GNU time output, floor and phase
# JSON, sweep reports) and the tables to stdout and bench/out/results.md.
set -euo pipefail

# bash reads a script as it runs: run a copy, so that editing this file mid-run is safe.
if [ -z "${LOOPGUARD_BENCH_DIR:-}" ]; then
    LOOPGUARD_BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
    export LOOPGUARD_BENCH_DIR
    copy=$(mktemp /tmp/loopguard-bench-run.XXXXXX)
    cp "$0" "$copy"
    status=0
    bash "$copy" "$@" || status=$?
    rm -f "$copy"
    exit $status
fi
BENCH=$LOOPGUARD_BENCH_DIR
ROOT=$(dirname "$BENCH")
OUT=$BENCH/out
RES=$OUT/results
CORP=$BENCH/corpora
VENV=$BENCH/.venv
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
# Unset: every corpus; set but empty: none.
THREAD_CORPORA=${THREAD_CORPORA-"stdlib ha async-heavy rust"}
SWEEP=${SWEEP:-1}
PHASES=${PHASES:-1}
PROFILE=${PROFILE:-1}
HA_VERSION=2026.2.3
CORPORA=("$@")
[ ${#CORPORA[@]} -eq 0 ] && CORPORA=(stdlib ha async-heavy rust)

# Copies of the release binaries: the target folder is shared, and a rebuild during the
# run would change the binary under measurement (and, through its mtime, the cache key).
BIN=$OUT/bin
LG=$BIN/loopguard
FLOOR=$BIN/loopguard-parse-floor
PHASES_BIN=$BIN/loopguard-phases
RUFF=$VENV/bin/ruff

log() { printf '\n== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools
setup_tools() {
    local missing=()
    command -v hyperfine >/dev/null || missing+=(hyperfine)
    [ -x /usr/bin/time ] || missing+=(time)
    if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing ${missing[*]} (apt)"
        apt-get install -y "${missing[@]}" >/dev/null 2>&1 \
            || { apt-get update >/dev/null 2>&1 && apt-get install -y "${missing[@]}" >/dev/null 2>&1; } \
            || echo "could not install ${missing[*]}; falling back" >&2
    fi
    if [ ! -x "$RUFF" ]; then
        log "installing ruff into $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q ruff
    fi
}

# ---------------------------------------------------------------- corpora
# Each corpus folder holds an empty loopguard.toml, so that loopguard takes it as the
# project root (these folders live inside the loopguard git checkout, whose root would
# otherwise win).
corpus_dir() { echo "$CORP/$1"; }

setup_corpus() {
    local c=$1 dir
    dir=$(corpus_dir "$c")
    [ -f "$dir/loopguard.toml" ] && return 0
    log "preparing corpus $c"
    rm -rf "$dir"
    mkdir -p "$dir"
    case $c in
    stdlib)
        # A copy, so that the edit-one-file measurement never touches the real stdlib.
        local src
        src=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
        (cd "$src" && tar cf - --exclude=site-packages --exclude=__pycache__ .) | (cd "$dir" && tar xf -)
        echo "$src ($(python3 --version 2>&1))" >"$dir/SOURCE"
        ;;
    ha)
        mkdir -p "$CORP/download"
        "$VENV/bin/pip" download -q --no-deps "homeassistant==$HA_VERSION" --python-version 3.14 \
            --only-binary=:all: -d "$CORP/download"
        python3 -m zipfile -e "$CORP"/download/homeassistant-"$HA_VERSION"-*.whl "$dir"
        echo "homeassistant==$HA_VERSION wheel" >"$dir/SOURCE"
        ;;
    async-heavy)
        python3 "$BENCH/gen_async_corpus.py" "$dir" --min-files 2000 >&2
        ;;
    rust)
        # A copy of the cargo registry sources, so that edits never reach cargo's own.
        local reg=${CARGO_HOME:-$HOME/.cargo}/registry/src
        cp -a "$reg"/. "$dir"/
        echo "$reg" >"$dir/SOURCE"
        ;;
    *) echo "unknown corpus $c" >&2; exit 2 ;;
    esac
    touch "$dir/loopguard.toml"
}

lang_of() { [ "$1" = rust ] && echo rust || echo python; }

# The async file edited by the "one file edited" measurement.
touch_file_of() {
    local c=$1 dir pick=""
    dir=$(corpus_dir "$c")
    case $c in
    stdlib) pick=asyncio/base_events.py ;;
    ha) pick=homeassistant/core.py ;;
    async-heavy) pick=shop_0000/routers/orders.py ;;
    esac
    if [ -n "$pick" ] && [ -f "$dir/$pick" ]; then
        echo "$dir/$pick"
    elif [ "$c" = rust ]; then
        grep -rl --include='*.rs' 'async fn' "$dir" | LC_ALL=C sort | head -1
    else
        grep -rl --include='*.py' 'async def' "$dir" | LC_ALL=C sort | head -1
    fi
}

# ---------------------------------------------------------------- measuring
# Other work on the machine (a shared 2-core box) skews every figure: before each
# measurement wait, up to QUIET_WAIT seconds, for a second in which the CPUs are at least
# 90% idle. How long it waited and how busy it still was go to out/load.txt.
QUIET_WAIT=${QUIET_WAIT:-180}
busy_percent() {
    local a b
    read -r -a a < <(head -1 /proc/stat)
    sleep 1
    read -r -a b < <(head -1 /proc/stat)
    local total=0 idle i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    idle=$((b[4] - a[4] + b[5] - a[5]))
    [ "$total" -gt 0 ] && echo $((100 * (total - idle) / total)) || echo 0
}
wait_quiet() {
    local start=$SECONDS busy
    while :; do
        busy=$(busy_percent)
        if [ "$busy" -le 10 ] || [ $((SECONDS - start)) -ge "$QUIET_WAIT" ]; then break; fi
    done
    echo "$1 waited $((SECONDS - start))s, busy ${busy}%, load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/load.txt"
}

# measure NAME PREPARE COMMAND: median of $RUNS runs (after $WARMUP) -> $RES/NAME.json
measure() {
    local name=$1 prepare=$2 cmd=$3
    wait_quiet "$name"
    echo "-- $name: $cmd" >&2
    if command -v hyperfine >/dev/null; then
        local args=(--style basic -i --runs "$RUNS" --warmup "$WARMUP" --export-json "$RES/$name.json")
        [ -n "$prepare" ] && args+=(--prepare "$prepare")
        hyperfine "${args[@]}" "$cmd" >>"$OUT/hyperfine.log" 2>&1
    else
        local args=(--runs "$RUNS" --warmup "$WARMUP" --export-json "$RES/$name.json")
        [ -n "$prepare" ] && args+=(--prepare "$prepare")
        python3 "$BENCH/timeit.py" "${args[@]}" -- "$cmd" >>"$OUT/hyperfine.log" 2>&1
    fi
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("   median %.3f s" % r["median"])' "$RES/$name.json" >&2
}

# peak NAME COMMAND: one run under GNU time -v -> $RES/NAME.time.txt
peak() {
    local name=$1 cmd=$2
    wait_quiet "$name"
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v bash -c "$cmd >/dev/null 2>&1" 2>"$RES/$name.time.txt" || true
        grep 'Maximum resident' "$RES/$name.time.txt" | sed 's/^\s*/   /' >&2 || true
    fi
}

TOUCHED=""
BACKUP=""
restore_touched() {
    if [ -n "$TOUCHED" ] && [ -f "$BACKUP" ]; then
        cp -p "$BACKUP" "$TOUCHED"
        rm -f "$BACKUP"
    fi
    TOUCHED=""
}
trap restore_touched EXIT

bench_corpus() {
    local c=$1 dir lang comment
    dir=$(corpus_dir "$c")
    lang=$(lang_of "$c")
    [ "$lang" = rust ] && comment='//' || comment='#'
    log "corpus $c ($dir), load: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "$c start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/load.txt"

    local lg_cache=$OUT/cache/lg-$c ruff_cache=$OUT/cache/ruff-$c
    rm -rf "$lg_cache" "$ruff_cache"
    local lg="$LG check $dir --output-format json"

    # Per-phase timings (one run); also lists the files a check parses, for the floor of
    # exactly those files.
    if [ "$PHASES" = 1 ]; then
        wait_quiet "$c.phases"
        "$PHASES_BIN" "$dir" --json --parsed-list "$RES/$c.parsed.txt" \
            >"$RES/$c.phases.json" 2>"$RES/$c.phases.err" || true
    fi

    # Corpus facts (files, bytes) and parse floors.
    "$FLOOR" --lang "$lang" "$dir" --json >"$RES/$c.floor_all.info.json"
    "$FLOOR" --lang "$lang" "$dir" --json --only-async >"$RES/$c.floor_async.info.json"
    measure "$c.floor_all" "" "$FLOOR --lang $lang $dir"
    measure "$c.floor_async" "" "$FLOOR --lang $lang $dir --only-async"
    if [ -s "$RES/$c.parsed.txt" ]; then
        "$FLOOR" --lang "$lang" --files-from "$RES/$c.parsed.txt" --json >"$RES/$c.floor_same.info.json"
        measure "$c.floor_same" "" "$FLOOR --lang $lang --files-from $RES/$c.parsed.txt"
    fi

    measure "$c.lg_cold" "" "$lg --no-cache"
    peak "$c.lg_cold_mem" "$lg --no-cache"
    # A user's first run: cold, and it writes the cache.
    local first_cache=$OUT/cache/lg-first-$c
    measure "$c.lg_first" "rm -rf $first_cache" "$lg --cache-dir $first_cache"
    rm -rf "$first_cache"
    peak "$c.lg_first_mem" "$lg --cache-dir $first_cache"
    rm -rf "$first_cache"
    $lg --cache-dir "$lg_cache" >/dev/null 2>&1 || true # prime
    measure "$c.lg_warm" "" "$lg --cache-dir $lg_cache"
    # A fresh checkout (a CI job that restores the cache): every source file gets a new
    # mtime, no content changes.
    local touch_all="find $dir -type f -name '*.py' -exec touch {} + && find $dir -type f -name '*.rs' -exec touch {} +"
    measure "$c.lg_checkout" "$touch_all" "$lg --cache-dir $lg_cache"
    # `pre-commit run --all-files`: every source file named on the command line (warm).
    bash "$BENCH/named.sh" --list "$dir" >"$RES/$c.named.txt"
    measure "$c.lg_named_all" "" "bash $BENCH/named.sh $RES/$c.named.txt $LG $dir --output-format json --cache-dir $lg_cache"

    TOUCHED=$(touch_file_of "$c")
    BACKUP=$OUT/touch-backup
    cp -p "$TOUCHED" "$BACKUP"
    echo "$TOUCHED" >"$RES/$c.touched_file.txt"
    # Every run sees a new edit (restore, then edit again). Three kinds: a comment line
    # inserted after line 1, which moves all code below it (loopguard reuses its results
    # with shifted positions); a new function appended, which changes the file's facts
    # but not code the findings read (Python: results reused; Rust: analysed again); a
    # call added to the first async function, code on the loop (Python: a call that
    # reaches nothing, the results reused with shifted positions; Rust: analysed again
    # from the cached facts); for Python also a blocking call added there (analysed
    # again from the cached facts).
    local edit="bash $BENCH/edit.sh move $lang $BACKUP $TOUCHED"
    local edit_code="bash $BENCH/edit.sh code $lang $BACKUP $TOUCHED"
    # (primed on the file as it was, so that each measured run sees the call added)
    local edit_loop="bash $BENCH/edit.sh loop $lang $BACKUP $TOUCHED $lg --cache-dir $lg_cache"
    measure "$c.lg_touch" "$edit" "$lg --cache-dir $lg_cache"
    measure "$c.lg_touch_code" "$edit_code" "$lg --cache-dir $lg_cache"
    measure "$c.lg_touch_loop" "$edit_loop" "$lg --cache-dir $lg_cache"
    if [ "$lang" = python ]; then
        # Two edits in a row, as in an editor that checks on save: code on the loop changed
        # right after an edit that only moved code; a helper function added and called from
        # async code (the file defines more than before); and that helper undone (less).
        measure "$c.lg_touch_loop_blocking" \
            "bash $BENCH/edit.sh loop_blocking $lang $BACKUP $TOUCHED $lg --cache-dir $lg_cache" \
            "$lg --cache-dir $lg_cache"
        measure "$c.lg_touch_two_places" \
            "bash $BENCH/edit.sh two_places $lang $BACKUP $TOUCHED $lg --cache-dir $lg_cache" \
            "$lg --cache-dir $lg_cache"
        measure "$c.lg_touch_import_call" \
            "bash $BENCH/edit.sh import_call $lang $BACKUP $TOUCHED $lg --cache-dir $lg_cache" \
            "$lg --cache-dir $lg_cache"
        # (Only where the file has a one-line call statement on `self` in an async function.)
        if bash "$BENCH/edit.sh" loop_project "$lang" "$BACKUP" "$TOUCHED" >/dev/null 2>&1; then
            measure "$c.lg_touch_loop_project" \
                "bash $BENCH/edit.sh loop_project $lang $BACKUP $TOUCHED $lg --cache-dir $lg_cache" \
                "$lg --cache-dir $lg_cache"
        else
            log "$TOUCHED has no call statement on self in an async function: no loop_project edit"
            cp -p "$BACKUP" "$TOUCHED"
        fi
        measure "$c.lg_touch_after_move" \
            "bash $BENCH/edit.sh after_move $lang $BACKUP $TOUCHED $lg --cache-dir $lg_cache" \
            "$lg --cache-dir $lg_cache"
        measure "$c.lg_touch_helper" \
            "bash $BENCH/edit.sh helper $lang $BACKUP $TOUCHED $lg --cache-dir $lg_cache" \
            "$lg --cache-dir $lg_cache"
        measure "$c.lg_touch_undo_helper" \
            "bash $BENCH/edit.sh undo_helper $lang $BACKUP $TOUCHED $lg --cache-dir $lg_cache" \
            "$lg --cache-dir $lg_cache"
    fi

    if [ "$lang" = python ]; then
        local ruff="$RUFF check --isolated --select ASYNC --exit-zero --quiet $dir"
        restore_touched
        TOUCHED=$(touch_file_of "$c")
        cp -p "$TOUCHED" "$BACKUP"
        measure "$c.ruff_cold" "" "$ruff --no-cache"
        peak "$c.ruff_cold_mem" "$ruff --no-cache"
        RUFF_CACHE_DIR=$ruff_cache $ruff >/dev/null 2>&1 || true # prime
        measure "$c.ruff_warm" "" "RUFF_CACHE_DIR=$ruff_cache $ruff"
        measure "$c.ruff_touch" "$edit" "RUFF_CACHE_DIR=$ruff_cache $ruff"
        measure "$c.ruff_checkout" "$touch_all" "RUFF_CACHE_DIR=$ruff_cache $ruff"
    fi
    restore_touched

    if [[ " $THREAD_CORPORA " == *" $c "* ]]; then
        measure "$c.lg_t1" "" "$lg --no-cache --threads 1"
        measure "$c.lg_t2" "" "$lg --no-cache --threads 2"
        measure "$c.floor_all_t1" "" "$FLOOR --lang $lang $dir --threads 1"
    fi

    if [ "$PROFILE" = 1 ] && command -v perf >/dev/null; then
        # CPU samples of every thread, attributed to the innermost phase on their stack.
        perf record -q -F 299 --call-graph dwarf,16384 -o "$OUT/perf-$c-cold.data" -- \
            $lg --no-cache --threads 1 >/dev/null 2>&1 || true
        perf script -i "$OUT/perf-$c-cold.data" 2>/dev/null | python3 "$BENCH/perf_buckets.py" \
            >"$RES/$c.perf_cold.md" 2>&1 || true
        local i
        $lg --cache-dir "$lg_cache" >/dev/null 2>&1 || true # re-prime after the edits
        for i in 1 2 3 4 5; do
            perf record -q -F 2999 --call-graph dwarf,16384 -o "$OUT/perf-$c-warm-$i.data" -- \
                $lg --cache-dir "$lg_cache" >/dev/null 2>&1 || true
        done
        for i in 1 2 3 4 5; do perf script -i "$OUT/perf-$c-warm-$i.data" 2>/dev/null; echo; done \
            | python3 "$BENCH/perf_buckets.py" >"$RES/$c.perf_warm.md" 2>&1 || true
        rm -f "$OUT"/perf-"$c"-*.data
    fi
    if [ "$SWEEP" = 1 ]; then
        "$FLOOR" --lang "$lang" --sweep "$dir" >"$RES/$c.sweep.txt" 2>&1 || true
        head -1 "$RES/$c.sweep.txt" | sed 's/^/   /' >&2
    fi
    echo "$c end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/load.txt"
}

# ---------------------------------------------------------------- main
mkdir -p "$RES" "$OUT/cache"
: >"$OUT/hyperfine.log"
: >"$OUT/load.txt"
setup_tools
for c in "${CORPORA[@]}"; do setup_corpus "$c"; done

if [ "${SKIP_BUILD:-0}" = 1 ] && [ -x "$LG" ] && [ -x "$FLOOR" ] && [ -x "$PHASES_BIN" ]; then
    log "SKIP_BUILD=1: measuring the binaries already in $BIN"
else
    log "building (release)"
    (cd "$ROOT" && cargo build --release -q -p loopguard -p loopguard_bench)
    mkdir -p "$BIN"
    for b in loopguard loopguard-parse-floor loopguard-phases; do
        cp "$ROOT/target/release/$b" "$BIN/$b.tmp" && mv "$BIN/$b.tmp" "$BIN/$b"
    done
    echo "$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- crates src Cargo.toml 2>/dev/null || echo ' (+ uncommitted changes in the work tree)'), built $(date -u +%FT%TZ)" >"$BIN/build.txt"
fi

{
    echo "date: $(date -u +%FT%TZ)"
    echo "binaries: commit $(cat "$BIN/build.txt" 2>/dev/null || echo unknown)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "memory: $(free -m | awk '/Mem:/ {print $2}') MB"
    echo "kernel: $(uname -r)"
    echo "loopguard: $($LG --version)"
    echo "ruff: $($RUFF --version)"
    echo "hyperfine: $(hyperfine --version 2>/dev/null || echo 'absent (bench/timeit.py)')"
    echo "runs: $RUNS (+$WARMUP warmup), median"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

for c in "${CORPORA[@]}"; do bench_corpus "$c"; done

python3 "$BENCH/report.py" "$OUT" | tee "$OUT/results.md"
