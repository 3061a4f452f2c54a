#!/usr/bin/env bash
# Runs setup, the typecheck, then the tests (test/**/*.test.ts), each file in a process of
# its own, two files at a time (LONGHAUL_TEST_LANES=1: one at a time); see
# scripts/run-test-files.ts.
#
#   scripts/test.sh                       everything
#   scripts/test.sh test/unit             only files under these folders or these files
#   scripts/test.sh test/unit --test-name-pattern=retry    options go to node --test
#
# LONGHAUL_SKIP_TYPECHECK=1 skips tsc (for a quick loop on one file).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LONGHAUL_ROOT"
LONGHAUL_LOG_PREFIX="[test]"

# Crash and store tests start a real PostgreSQL server from the Debian package; production-shape
# tests a real Temporal server, built once into .cache.
LONGHAUL_SETUP_POSTGRES=1 LONGHAUL_SETUP_PYTHON_SDK=1 LONGHAUL_SETUP_TEMPORAL_SERVER=1 LONGHAUL_SETUP_CHROMIUM=1 bash scripts/setup.sh
# shellcheck source=/dev/null
source .cache/env.sh

started=$(now_ms)
if [[ "${LONGHAUL_SKIP_TYPECHECK:-0}" != 1 ]]; then
  log "typecheck (tsc -p tsconfig.json, and the web console's console/tsconfig.json)"
  npx --no-install tsc -p tsconfig.json || die "typecheck failed" "fix the errors above"
  npx --no-install tsc -p console/tsconfig.json || die "typecheck of the web console failed" "fix the errors above"
  log "typecheck passed in $(elapsed_since "$started")"
fi

options=()
targets=()
for arg in "$@"; do
  case "$arg" in
    -*) options+=("$arg") ;;
    *) targets+=("$arg") ;;
  esac
done
if ((${#targets[@]} == 0)); then targets=(test); fi

files=()
for target in "${targets[@]}"; do
  if [[ -d "$target" ]]; then
    while IFS= read -r -d '' f; do files+=("$f"); done \
      < <(find "$target" -name node_modules -prune -o -type f -name '*.test.ts' -print0 | LC_ALL=C sort -z)
  elif [[ -f "$target" ]]; then
    files+=("$target")
  else
    die "no such test file or folder: $target" "pass paths under test/, e.g. npm test -- test/unit"
  fi
done
# An empty selection is a mistake (a typo'd folder, tests moved), never a pass.
((${#files[@]} > 0)) || die "no *.test.ts files under: ${targets[*]}" "add tests, or pass the folder or file that holds them"

# scripts/run-test-files.ts runs them: most in two lanes at once, files that look at Docker
# as a whole alone at the end, files that wait on the wall clock beside the lanes; each
# file's output printed whole, then the added-up counts and the slowest files.
started=$(now_ms)
status=0
node scripts/run-test-files.ts ${options[@]+"${options[@]}"} -- "${files[@]}" || status=$?
if ((status != 0)); then die "tests failed after $(elapsed_since "$started")" "see the failures above"; fi
log "tests passed in $(elapsed_since "$started")"
