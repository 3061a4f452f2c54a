# Shared helpers for Longhaul's bash scripts. Source it; it defines functions only.
# shellcheck shell=bash

# Repo root, whichever script sources this file.
LONGHAUL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this file
LONGHAUL_CACHE="$LONGHAUL_ROOT/.cache"

# Prefix for every line; the root ./longhaul wrapper sets it to tell setup apart from the CLI.
: "${LONGHAUL_LOG_PREFIX:=[setup]}"

log() { printf '%s %s\n' "$LONGHAUL_LOG_PREFIX" "$*" >&2; }
warn() { printf '%s warning: %s\n' "$LONGHAUL_LOG_PREFIX" "$*" >&2; }

# die "what is missing" "how to get it"
die() {
  printf '%s error: %s\n' "$LONGHAUL_LOG_PREFIX" "$1" >&2
  if [[ -n "${2:-}" ]]; then printf '%s   fix: %s\n' "$LONGHAUL_LOG_PREFIX" "$2" >&2; fi
  exit 1
}

have() { command -v "$1" >/dev/null 2>&1; }

is_root() { [[ "$(id -u)" == 0 ]]; }

# version_ge A B: true when dotted version A >= B ("v" prefix and suffixes after "-" ignored).
version_ge() {
  local a="${1#v}" b="${2#v}"
  a="${a%%-*}" b="${b%%-*}"
  local -a x y
  IFS=. read -r -a x <<<"$a"
  IFS=. read -r -a y <<<"$b"
  local i n=$(( ${#x[@]} > ${#y[@]} ? ${#x[@]} : ${#y[@]} ))
  for ((i = 0; i < n; i++)); do
    local p="${x[i]:-0}" q="${y[i]:-0}"
    p="${p//[^0-9]/}" q="${q//[^0-9]/}"
    if ((10#${p:-0} > 10#${q:-0})); then return 0; fi
    if ((10#${p:-0} < 10#${q:-0})); then return 1; fi
  done
  return 0
}

# Milliseconds since the epoch, for phase timings.
now_ms() { date +%s%3N; }

# Starts a long-lived service (a daemon) in a session and process group of its own, stdin
# closed, output to LOG, so that a signal to the caller's process group (a CI step's
# timeout, a supervisor stopping `longhaul dev`) does not reach it; fd 9 (the setup lock)
# is not inherited. Prints the service's pid.
#   start_detached LOG COMMAND [ARGS...]
start_detached() {
  local log="$1"
  shift
  setsid "$@" >"$log" 2>&1 </dev/null 9>&- &
  echo "$!"
}

# "1.2s" from a start time taken with now_ms.
elapsed_since() {
  local ms=$(( $(now_ms) - $1 ))
  printf '%d.%01ds' $((ms / 1000)) $(((ms % 1000) / 100))
}

# Hash of a file's contents (first 16 hex chars of sha256), or of stdin.
# shellcheck disable=SC2120 # the argument is optional
short_sha256() { sha256sum "$@" | cut -c1-16; }

# Identity of the sandbox image: every file under sandbox/image, names and contents.
# test/integration/setup-env.test.ts recomputes it the same way; keep the two in step.
sandbox_image_hash() {
  (cd "$LONGHAUL_ROOT/sandbox/image" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) |
    short_sha256
}
