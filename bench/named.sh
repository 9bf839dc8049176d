#!/usr/bin/env bash
# Runs loopguard on DIR naming on the command line every file listed in LIST (paths
# relative to DIR), as `pre-commit run --all-files` does (the hook is `require_serial`, so
# one process gets them all):  named.sh LIST LOOPGUARD DIR ARGS...
# `named.sh --list DIR > LIST` writes the list: every Python and Rust file under DIR.
set -euo pipefail
if [ "$1" = --list ]; then
    cd "$2"
    find . \( -name '*.py' -o -name '*.rs' \) -type f -not -path '*/.loopguard_cache/*' | sort
    exit 0
fi
list=$1 lg=$2 dir=$3
shift 3
mapfile -t files <"$list"
cd "$dir"
exec "$lg" check "${files[@]}" "$@"
