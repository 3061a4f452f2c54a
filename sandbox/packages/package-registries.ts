/**
 * Where package managers fetch from, as the worker's operator configures it.
 * Machines without internet reach registries through mirrors; each setting here
 * is handed to the install step (and to sandboxes allowed to use package
 * managers) in the manager's own configuration. Unset: the manager's default
 * public registry.
 */
export type PackageRegistries = {
  /** pip index (`PIP_INDEX_URL`). An http:// index is also marked trusted. */
  pipIndexUrl?: string | undefined;
  /** npm registry (`npm_config_registry`). */
  npmRegistry?: string | undefined;
  /** Debian mirror replacing the image's apt sources, e.g. `http://debian-mirror.example.com/debian`. */
  aptMirror?: string | undefined;
  /** A sparse cargo index (`sparse+https://…/`) replacing crates.io. */
  cargoRegistry?: string | undefined;
  /** RubyGems source replacing the default one. */
  gemSource?: string | undefined;
  /** `GOPROXY`. */
  goProxy?: string | undefined;
  /** More hosts that sandboxes with `allow_package_managers` may reach (the public registries, when reachable). */
  extraHosts?: readonly string[] | undefined;
  /** PEM file on the worker's machine with CAs to trust while installing (registries behind TLS inspection). */
  caFile?: string | undefined;
};

/**
 * Reads the registry settings from `LONGHAUL_PIP_INDEX_URL`, `LONGHAUL_NPM_REGISTRY`,
 * `LONGHAUL_APT_MIRROR`, `LONGHAUL_CARGO_REGISTRY`, `LONGHAUL_GEM_SOURCE`,
 * `LONGHAUL_GOPROXY`, `LONGHAUL_PACKAGE_REGISTRY_HOSTS` (comma-separated) and
 * `LONGHAUL_PACKAGE_CA_FILE`.
 *
 * @example
 * new DockerSandboxDriver({ dataDir, packageRegistries: packageRegistriesFromEnv(process.env) });
 */
export function packageRegistriesFromEnv(env: Record<string, string | undefined>): PackageRegistries {
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const hosts = get('LONGHAUL_PACKAGE_REGISTRY_HOSTS');
  return {
    pipIndexUrl: get('LONGHAUL_PIP_INDEX_URL'),
    npmRegistry: get('LONGHAUL_NPM_REGISTRY'),
    aptMirror: get('LONGHAUL_APT_MIRROR'),
    cargoRegistry: get('LONGHAUL_CARGO_REGISTRY'),
    gemSource: get('LONGHAUL_GEM_SOURCE'),
    goProxy: get('LONGHAUL_GOPROXY'),
    extraHosts: hosts?.split(',').map((h) => h.trim()).filter(Boolean),
    caFile: get('LONGHAUL_PACKAGE_CA_FILE'),
  };
}

/** Environment variables that point pip, npm and go at the configured registries. */
export function registryEnvironment(registries: PackageRegistries): Record<string, string> {
  const env: Record<string, string> = {};
  if (registries.pipIndexUrl !== undefined) {
    env['PIP_INDEX_URL'] = registries.pipIndexUrl;
    const url = safeUrl(registries.pipIndexUrl);
    if (url?.protocol === 'http:') env['PIP_TRUSTED_HOST'] = url.host;
  }
  if (registries.npmRegistry !== undefined) env['npm_config_registry'] = registries.npmRegistry;
  if (registries.goProxy !== undefined) env['GOPROXY'] = registries.goProxy;
  return env;
}

/** Hosts (with port when the URL has one) of every configured registry, plus `extraHosts`. */
export function registryHosts(registries: PackageRegistries): string[] {
  const urls = [registries.pipIndexUrl, registries.npmRegistry, registries.aptMirror, registries.cargoRegistry?.replace(/^sparse\+/, ''), registries.gemSource];
  const goProxies = (registries.goProxy ?? '').split(/[,|]/).filter((p) => p.includes('://'));
  const hosts = [...urls, ...goProxies].flatMap((u) => {
    const url = u === undefined ? undefined : safeUrl(u);
    return url === undefined ? [] : [url.host];
  });
  return [...new Set([...hosts, ...(registries.extraHosts ?? [])])];
}

function safeUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
