import type { SandboxPackages } from '../types.ts';
import type { PackageRegistries } from './package-registries.ts';

export const PACKAGE_MANAGERS = ['apt', 'pip', 'npm', 'cargo', 'gem', 'go'] as const;
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

/** A package set with every manager present, entries trimmed, empty ones dropped. */
export type PackageSet = Record<PackageManager, string[]>;

/** Marker lines the script prints; the builder reads them back from the logs. */
export const STEP_MARKER = 'longhaul-install-step:';
export const FAILED_MARKER = 'longhaul-install-failed:';

/** Normalises a spec's packages; undefined when there is nothing to install. */
export function packageSetOf(packages: SandboxPackages | undefined): PackageSet | undefined {
  const set = Object.fromEntries(
    PACKAGE_MANAGERS.map((m) => [m, (packages?.[m] ?? []).map((p) => p.trim()).filter((p) => p !== '')]),
  ) as PackageSet;
  return PACKAGE_MANAGERS.some((m) => set[m].length > 0) ? set : undefined;
}

/**
 * Why a package entry cannot be handed to its manager, or undefined. Entries go
 * on a root shell's command line: no option look-alikes, whitespace or control
 * characters (quoting makes them inert, this makes them impossible).
 */
export function invalidPackage(entry: string): string | undefined {
  if (entry.startsWith('-')) return 'starts with "-"';
  if (/[\s\p{Cc}]/u.test(entry)) return 'contains whitespace or a control character';
  if (entry.length > 512) return 'is longer than 512 characters';
  return undefined;
}

/** The bare package name of an entry (`requests==2.0` → `requests`), to find it in an error message. */
export function packageName(manager: PackageManager, entry: string): string {
  const separators: Record<PackageManager, RegExp> = {
    apt: /[=/]/,
    pip: /[=<>!~;[ @]/,
    npm: /(?!^)@/,
    cargo: /@/,
    gem: /:/,
    go: /@/,
  };
  return entry.split(separators[manager])[0] ?? entry;
}

// Toolchains a manager needs when the image lacks them, from Debian's packages.
const TOOLCHAIN: Record<Exclude<PackageManager, 'apt'>, { check: string; apt: string }> = {
  pip: { check: 'python3 -m pip --version', apt: 'python3-pip' },
  npm: { check: 'command -v npm', apt: 'nodejs npm' },
  cargo: { check: 'command -v cargo', apt: 'cargo' },
  gem: { check: 'command -v gem', apt: 'ruby' },
  go: { check: 'command -v go', apt: 'golang-go' },
};

function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The root shell script that installs a package set into a container derived
 * from the sandbox image. Each manager is one step; a failing step prints
 * {@link FAILED_MARKER} and its name and exits non-zero. Caches and package lists
 * are removed at the end so the committed layer holds only the installs.
 *
 */
export function installScript({
  packages,
  registries,
  buildDir,
  environment,
}: {
  packages: PackageSet;
  registries: PackageRegistries;
  /** The folder mounted in the install container; holds `ca.pem` when a CA is configured. */
  buildDir: string;
  /** Exported by the script rather than set on the container, so none of it is committed into the image. */
  environment: Record<string, string>;
}): string {
  const lines = [
    'set -u',
    'cd /',
    'export DEBIAN_FRONTEND=noninteractive',
    'export HOME=/root',
    `step() { echo "${STEP_MARKER} $1"; }`,
    `failed() { echo "${FAILED_MARKER} $1"; exit 1; }`,
    ...Object.entries(environment).map(([name, value]) => `export ${name}=${quote(value)}`),
  ];
  if (registries.caFile !== undefined) {
    lines.push(
      `cat ${quote(`${buildDir}/ca.pem`)} >>/etc/ssl/certs/ca-certificates.crt`,
      `export NODE_EXTRA_CA_CERTS=${quote(`${buildDir}/ca.pem`)}`,
    );
  }
  if (registries.aptMirror !== undefined) {
    lines.push(
      `. /etc/os-release`,
      `echo "deb ${registries.aptMirror.replaceAll(/["\\$`]/g, '')} $VERSION_CODENAME main" >/etc/apt/sources.list`,
      'rm -f /etc/apt/sources.list.d/*',
    );
  }
  const toolchains = (Object.keys(TOOLCHAIN) as (keyof typeof TOOLCHAIN)[]).filter((m) => packages[m].length > 0);
  lines.push('TOOLCHAIN=""');
  for (const manager of toolchains) {
    const { check, apt } = TOOLCHAIN[manager];
    lines.push(`${check} >/dev/null 2>&1 || TOOLCHAIN="$TOOLCHAIN ${apt}"`);
  }
  const aptList = packages.apt.map(quote).join(' ');
  lines.push(
    `if [ -n "$TOOLCHAIN" ] || ${packages.apt.length > 0 ? 'true' : 'false'}; then`,
    '  step apt-update',
    '  apt-get update -q || failed apt',
    'fi',
  );
  if (packages.apt.length > 0) {
    lines.push('step apt', `apt-get install -y -q --no-install-recommends ${aptList} || failed apt`);
  }
  lines.push(
    'if [ -n "$TOOLCHAIN" ]; then',
    '  step toolchain',
    '  # shellcheck disable=SC2086',
    '  apt-get install -y -q --no-install-recommends $TOOLCHAIN || failed toolchain',
    'fi',
  );
  if (packages.pip.length > 0) {
    lines.push(
      'step pip',
      `python3 -m pip install --no-cache-dir --no-input --break-system-packages --root-user-action=ignore --disable-pip-version-check ${packages.pip.map(quote).join(' ')} || failed pip`,
    );
  }
  if (packages.npm.length > 0) {
    lines.push('step npm', `npm install -g --no-fund --no-audit --no-update-notifier ${packages.npm.map(quote).join(' ')} || failed npm`);
  }
  if (packages.cargo.length > 0) {
    lines.push('step cargo', 'export CARGO_HOME=/tmp/longhaul-cargo', 'mkdir -p "$CARGO_HOME"');
    if (registries.cargoRegistry !== undefined) {
      const registry = registries.cargoRegistry.replaceAll(/["\\$`']/g, '');
      lines.push(
        `printf '[source.crates-io]\\nreplace-with = "longhaul-mirror"\\n[source.longhaul-mirror]\\nregistry = "%s"\\n' '${registry}' >"$CARGO_HOME/config.toml"`,
      );
    }
    lines.push(`cargo install --root /usr/local ${packages.cargo.map(quote).join(' ')} || failed cargo`);
  }
  if (packages.gem.length > 0) {
    const source = registries.gemSource === undefined ? '' : `--clear-sources --source ${quote(registries.gemSource)} `;
    lines.push('step gem', `gem install --no-document ${source}${packages.gem.map(quote).join(' ')} || failed gem`);
  }
  if (packages.go.length > 0) {
    lines.push('step go', 'export GOBIN=/usr/local/bin GOPATH=/tmp/longhaul-go GOCACHE=/tmp/longhaul-go-cache GOFLAGS=-modcacherw');
    for (const entry of packages.go) {
      // `go install` outside a module needs a version.
      lines.push(`go install ${quote(entry.includes('@') ? entry : `${entry}@latest`)} || failed go`);
    }
  }
  lines.push(
    'step cleanup',
    'apt-get clean >/dev/null 2>&1 || true',
    'rm -rf /var/lib/apt/lists/* /root/.npm /root/.cache /root/.cargo /root/go /tmp/longhaul-* 2>/dev/null || true',
    'echo "longhaul-install-done"',
  );
  return `${lines.join('\n')}\n`;
}
