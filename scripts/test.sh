#!/usr/bin/env bash
# Runs setup, the typecheck, then the tests (test/**/*.test.ts) one file at a time (files that
# mostly wait on the real clock run beside that line).
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

# Files that spend minutes waiting for the real clock (a cron schedule firing at minute
# boundaries) and little CPU: run beside the others, not in the line, when there are others.
# Their output is held and printed whole when they finish, so the two never interleave.
WAIT_ON_CLOCK=(test/api/deployments.test.ts)
main_files=()
beside_files=()
for f in "${files[@]}"; do
  beside=0
  for w in "${WAIT_ON_CLOCK[@]}"; do [[ "$f" == "$w" || "$f" == "./$w" ]] && beside=1; done
  if ((beside)); then beside_files+=("$f"); else main_files+=("$f"); fi
done
if ((${#main_files[@]} == 0)); then main_files=("${beside_files[@]}"); beside_files=(); fi

log "running ${#files[@]} test file(s)${beside_files[*]:+ (${beside_files[*]} beside the others)}"
started=$(now_ms)
status=0
beside_pid=""
if ((${#beside_files[@]} > 0)); then
  beside_log=$(mktemp)
  node --test --test-concurrency=1 --test-timeout=600000 ${options[@]+"${options[@]}"} "${beside_files[@]}" >"$beside_log" 2>&1 &
  beside_pid=$!
  # Stopped with the script (Ctrl-C, a failed setup of the line), never left running.
  trap 'kill "$beside_pid" 2>/dev/null || true' EXIT
fi
times_log=$(mktemp)
node --test --test-concurrency=1 --test-timeout=600000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=./test/support/file-times-reporter.ts --test-reporter-destination="$times_log" \
  ${options[@]+"${options[@]}"} "${main_files[@]}" || status=$?
cat "$times_log"
rm -f "$times_log"
if [[ -n "$beside_pid" ]]; then
  beside_status=0
  wait "$beside_pid" || beside_status=$?
  log "── ${beside_files[*]} (ran beside the others):"
  cat "$beside_log"
  rm -f "$beside_log"
  ((beside_status == 0)) || status=$beside_status
fi
if ((status != 0)); then die "tests failed after $(elapsed_since "$started")" "see the failures above"; fi
log "tests passed in $(elapsed_since "$started")"
