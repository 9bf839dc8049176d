#!/usr/bin/env bash
# Validates a SARIF file with Microsoft's SARIF Multitool (the validator behind the SARIF
# web validator), running both its SARIF rules and its GitHub code scanning ("Gh") rules.
#
#   scripts/sarif-multitool.sh FILE.sarif
#
# Installs @microsoft/sarif-multitool from npm into ${SARIF_TOOL_DIR} on first use (about
# 100 MB; a few seconds). Prints every result of the validation and exits non-zero when there
# is any error or warning (notes, such as "consider providing code snippets", are allowed).
# Needs node and npm.
set -euo pipefail

if [[ $# -ne 1 || ! -f $1 ]]; then
    echo "usage: $0 FILE.sarif" >&2
    exit 2
fi
sarif_file=$1

tool_dir=${SARIF_TOOL_DIR:-$HOME/.cache/loopguard-sarif-multitool}
version=${SARIF_MULTITOOL_VERSION:-5.7.0}

multitool_path() {
    # The package resolves the binary of this platform's optional dependency.
    (cd "$tool_dir" 2>/dev/null && node -p "require('@microsoft/sarif-multitool')" 2>/dev/null) || true
}

multitool=$(multitool_path)
if [[ -z $multitool || ! -f $multitool ]]; then
    echo "installing @microsoft/sarif-multitool@$version into $tool_dir" >&2
    mkdir -p "$tool_dir"
    npm install --prefix "$tool_dir" --no-audit --no-fund --loglevel=error \
        "@microsoft/sarif-multitool@$version" >&2
    multitool=$(multitool_path)
    if [[ -z $multitool || ! -f $multitool ]]; then
        echo "error: the multitool binary for this platform was not installed" >&2
        exit 2
    fi
fi
# npm may skip the package's postinstall script (which only marks the binary executable).
chmod u+x "$multitool"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
report=$work/validation.sarif

# The self-contained .NET binary needs ICU unless globalization is invariant; loopguard's
# files are UTF-8 JSON, so invariant mode changes nothing for them.
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
status=0
"$multitool" validate --rule-kind "Gh;Sarif" --level "Error;Warning;Note" \
    --output "$report" "$sarif_file" || status=$?

if [[ ! -f $report ]]; then
    echo "error: the multitool wrote no report (exit status $status)" >&2
    exit 2
fi

# The multitool exits 0 even when it finds errors: count the results of its report instead.
# A result without a level is a warning (SARIF's default).
node - "$report" "$status" <<'JS'
const fs = require('fs');
const [reportPath, status] = process.argv.slice(2);
const run = JSON.parse(fs.readFileSync(reportPath, 'utf8')).runs[0];
const counts = { error: 0, warning: 0, note: 0, none: 0 };
for (const r of run.results || []) {
  counts[r.level || 'warning'] = (counts[r.level || 'warning'] || 0) + 1;
}
const failures = [];
for (const inv of run.invocations || []) {
  if (inv.executionSuccessful === false) failures.push('the validation did not complete');
  for (const n of inv.toolExecutionNotifications || []) {
    if ((n.level || 'warning') !== 'note') failures.push(`tool: ${n.message && n.message.text}`);
  }
}
if (status !== '0') failures.push(`the multitool exited with status ${status}`);
console.log(`sarif-multitool: ${counts.error} errors, ${counts.warning} warnings, ${counts.note} notes`);
for (const f of failures) console.log(`sarif-multitool: ${f}`);
process.exit(counts.error + counts.warning + failures.length > 0 ? 1 : 0);
JS
