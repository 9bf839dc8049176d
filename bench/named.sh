#!/usr/bin/env bash
# Runs loopguard on DIR naming every Python and Rust file under it on the command line, as
# `pre-commit run --all-files` does (the hook is `require_serial`, so one process gets them
# all):  named.sh LOOPGUARD DIR ARGS...
set -euo pipefail
lg=$1 dir=$2
shift 2
cd "$dir"
mapfile -t files < <(find . \( -name '*.py' -o -name '*.rs' \) -type f -not -path '*/.loopguard_cache/*' | sort)
exec "$lg" check "${files[@]}" "$@"
