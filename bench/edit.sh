#!/usr/bin/env bash
# The "one file edited" measurements of bench/run.sh: restore FILE from BACKUP, then edit it
# so that every run sees a different edit.
#
#   edit.sh move python|rust BACKUP FILE   a comment line inserted after line 1: all code
#                                          below it moves (its facts shift, nothing else)
#   edit.sh code python|rust BACKUP FILE   a new function appended: the file's facts change
#   edit.sh loop python|rust BACKUP FILE   a call added as the first statement of the first
#                                          async function: code on the loop changes
set -euo pipefail
kind=$1 lang=$2 backup=$3 file=$4
cp -p "$backup" "$file"
stamp=$(date +%s%N)
stamp_u64="${stamp}u64"
case "$kind/$lang" in
move/rust) sed -i "1a // loopguard bench edit $stamp" "$file" ;;
move/python) sed -i "1a # loopguard bench edit $stamp" "$file" ;;
code/rust) printf '\nfn _loopguard_bench_edit_%s() {}\n' "$stamp" >>"$file" ;;
code/python) printf '\n\ndef _loopguard_bench_edit_%s():\n    return 1\n' "$stamp" >>"$file" ;;
loop/python)
    python3 - "$file" "$stamp" <<'PY'
import re, sys
path, stamp = sys.argv[1], sys.argv[2]
lines = open(path).read().split("\n")
# The first `async def`; its signature ends at the first line ending in ":" at bracket
# depth 0; the body's first line gives the indentation (no parser: any Python version).
start = next(i for i, l in enumerate(lines) if re.match(r"\s*async def ", l))
depth, i = 0, start
while True:
    code = lines[i].split("#")[0].rstrip()
    depth += sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
    if depth == 0 and code.endswith(":"):
        break
    i += 1
body = next(j for j in range(i + 1, len(lines)) if lines[j].strip() and not lines[j].lstrip().startswith("#"))
indent = lines[body][: len(lines[body]) - len(lines[body].lstrip())]
lines.insert(body, indent + "_ = len(%r)" % stamp)
open(path, "w").write("\n".join(lines))
PY
    ;;
loop/rust)
    # After the opening line of the first `async fn` whose body starts on that line.
    line=$(grep -n -m1 -E '^\s*(pub(\([a-z]+\))? )?async fn .*\{\s*$' "$file" | cut -d: -f1)
    [ -n "$line" ] || { echo "edit.sh: no async fn in $file" >&2; exit 2; }
    sed -i "${line}a let _ = std::hint::black_box($stamp_u64);" "$file"
    ;;
*)
    echo "edit.sh: unknown edit $kind/$lang" >&2
    exit 2
    ;;
esac
