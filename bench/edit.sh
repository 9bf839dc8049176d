#!/usr/bin/env bash
# The "one file edited" measurements of bench/run.sh: restore FILE from BACKUP, then edit it
# so that every run sees a different edit.
#
#   edit.sh move python|rust BACKUP FILE   a comment line inserted after line 1: all code
#                                          below it moves (its facts shift, nothing else)
#   edit.sh code python|rust BACKUP FILE   a new function appended: the file's facts change
#   edit.sh loop python|rust BACKUP FILE [CMD...]
#                                          a call added as the first statement of the first
#                                          async function: code on the loop changes (Python:
#                                          `len`, a call that reaches nothing, so the stored
#                                          findings are shifted). With CMD, CMD runs on the
#                                          file as it was first, so that the measured run
#                                          sees the call added, not the last run's call with
#                                          another literal in it
#   edit.sh loop_blocking python BACKUP FILE [CMD...]
#                                          a blocking call (`open(..).close()`) added there
#                                          instead: a new finding
#   edit.sh two_places python BACKUP FILE [CMD...]
#                                          a comment line after line 1 and another as the
#                                          first line of the first async function's body:
#                                          one edit in two places, each moving what follows
#   edit.sh loop_project python BACKUP FILE [CMD...]
#                                          the file's first one-line call statement on
#                                          `self` in an async function (`self.set_state(..)`
#                                          in HA's core.py), copied there instead: a call of
#                                          a project function the file already calls
#   edit.sh import_call python BACKUP FILE [CMD...]
#                                          `import shelve` added before the file's first
#                                          import (after `from __future__` ones) and a
#                                          blocking `shelve.open(..)` there: an import of a
#                                          library with its call, a new finding
#
# Two edits in a row (Python), with CMD (the cached check being measured) run in between,
# so that the measured run sees the second edit against the cache the first one left:
#
#   edit.sh after_move python BACKUP FILE CMD...  CMD on the file as it was, a `move`
#                                          edit, CMD (stored findings shifted), then a
#                                          `loop` edit on top of it
#   edit.sh helper python BACKUP FILE CMD...      CMD on the file as it was, then a new
#                                          function appended and called as the first
#                                          statement of the first async function (the file
#                                          defines more than before)
#   edit.sh undo_helper python BACKUP FILE CMD... the `helper` edit, CMD, then the file put
#                                          back as it was (it defines less than before)
set -euo pipefail
kind=$1 lang=$2 backup=$3 file=$4
shift 4
cp -p "$backup" "$file"
stamp=$(date +%s%N)
stamp_u64="${stamp}u64"

# Inserts line $2 (indented like the body) as the first statement of the first `async def`
# of Python file $1; its signature ends at the first line ending in ":" at bracket depth 0
# (no parser: any Python version).
insert_in_first_async_def() {
    python3 - "$1" "$2" <<'PY'
import re, sys
path, stmt = sys.argv[1], sys.argv[2]
lines = open(path).read().split("\n")
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
lines.insert(body, indent + stmt)
open(path, "w").write("\n".join(lines))
PY
}

case "$kind/$lang" in
move/rust) sed -i "1a // loopguard bench edit $stamp" "$file" ;;
move/python) sed -i "1a # loopguard bench edit $stamp" "$file" ;;
code/rust) printf '\nfn _loopguard_bench_edit_%s() {}\n' "$stamp" >>"$file" ;;
code/python) printf '\n\ndef _loopguard_bench_edit_%s():\n    return 1\n' "$stamp" >>"$file" ;;
loop/python)
    [ $# -eq 0 ] || "$@" >/dev/null 2>&1 || true
    insert_in_first_async_def "$file" "_ = len('$stamp')"
    ;;
loop_blocking/python)
    [ $# -eq 0 ] || "$@" >/dev/null 2>&1 || true
    insert_in_first_async_def "$file" "open('/dev/null/$stamp').close()"
    ;;
import_call/python)
    [ $# -eq 0 ] || "$@" >/dev/null 2>&1 || true
    insert_in_first_async_def "$file" "shelve.open('/dev/null/$stamp').close()"
    python3 - "$file" <<'PY'
import re, sys
path = sys.argv[1]
lines = open(path).read().split("\n")
first = next(i for i, l in enumerate(lines)
             if re.match(r"(import|from) ", l) and not l.startswith("from __future__"))
lines.insert(first, "import shelve")
open(path, "w").write("\n".join(lines))
PY
    ;;
two_places/python)
    [ $# -eq 0 ] || "$@" >/dev/null 2>&1 || true
    insert_in_first_async_def "$file" "# loopguard bench edit $stamp"
    sed -i "1a # loopguard bench edit $stamp" "$file"
    ;;
loop_project/python)
    [ $# -eq 0 ] || "$@" >/dev/null 2>&1 || true
    stmt=$(python3 - "$file" <<'PY'
import re, sys
# No parser (any Python version): the enclosing `def` by indentation.
defs = []
call = re.compile(r"^(\s+)(self\.[\w.]+\((?:[^()]|\([^()]*\))*\))\s*$")
for line in open(sys.argv[1]).read().split("\n"):
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    indent = len(line) - len(line.lstrip())
    while defs and defs[-1][0] >= indent:
        defs.pop()
    d = re.match(r"\s*(async\s+)?def ", line)
    if d:
        defs.append((indent, bool(d.group(1))))
        continue
    m = call.match(line)
    if m and defs and defs[-1][1]:
        print(m.group(2))
        sys.exit(0)
sys.exit(1)
PY
) || { echo "edit.sh: no call statement on self in an async function of $file" >&2; exit 2; }
    insert_in_first_async_def "$file" "$stmt"
    ;;
after_move/python)
    "$@" >/dev/null 2>&1 || true
    sed -i "1a # loopguard bench edit $stamp" "$file"
    "$@" >/dev/null 2>&1 || true
    insert_in_first_async_def "$file" "_ = len('$stamp')"
    ;;
helper/python)
    "$@" >/dev/null 2>&1 || true
    insert_in_first_async_def "$file" "_loopguard_bench_helper_$stamp()"
    printf '\n\ndef _loopguard_bench_helper_%s():\n    return open("/dev/null")\n' "$stamp" >>"$file"
    ;;
undo_helper/python)
    "$@" >/dev/null 2>&1 || true
    insert_in_first_async_def "$file" "_loopguard_bench_helper_$stamp()"
    printf '\n\ndef _loopguard_bench_helper_%s():\n    return open("/dev/null")\n' "$stamp" >>"$file"
    "$@" >/dev/null 2>&1 || true
    cp "$backup" "$file"
    ;;
loop/rust)
    [ $# -eq 0 ] || "$@" >/dev/null 2>&1 || true
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
