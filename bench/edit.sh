#!/usr/bin/env bash
# The "one file edited" measurements of bench/run.sh: restore FILE from BACKUP, then edit it
# so that every run sees a different edit.
#
#   edit.sh move python|rust BACKUP FILE   a comment line inserted after line 1: all code
#                                          below it moves (its facts shift, nothing else)
#   edit.sh code python|rust BACKUP FILE   a new function appended: the file's facts change
set -euo pipefail
kind=$1 lang=$2 backup=$3 file=$4
cp -p "$backup" "$file"
stamp=$(date +%s%N)
case "$kind/$lang" in
move/rust) sed -i "1a // loopguard bench edit $stamp" "$file" ;;
move/python) sed -i "1a # loopguard bench edit $stamp" "$file" ;;
code/rust) printf '\nfn _loopguard_bench_edit_%s() {}\n' "$stamp" >>"$file" ;;
code/python) printf '\n\ndef _loopguard_bench_edit_%s():\n    return 1\n' "$stamp" >>"$file" ;;
*)
    echo "edit.sh: unknown edit $kind/$lang" >&2
    exit 2
    ;;
esac
