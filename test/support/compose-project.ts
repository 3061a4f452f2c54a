/**
 * A compose file as its services will run: anchors merged, `${VAR}` interpolated from an
 * env file, short forms expanded. `docker compose config` does it when the Compose plugin
 * is installed; otherwise the file is read with the `yaml` package and the subset of
 * Compose it uses is expanded here, to the same shape (the schema below checks both).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { z } from 'zod';

const run = promisify(execFile);

const ComposeVolume = z.looseObject({
  type: z.string(),
  source: z.string().optional(),
  target: z.string(),
  read_only: z.boolean().optional(),
  bind: z.looseObject({ propagation: z.string().optional(), create_host_path: z.boolean().optional() }).optional(),
});

export const ComposeService = z.looseObject({
  image: z.string().optional(),
  build: z.looseObject({ context: z.string() }).optional(),
  command: z.array(z.string()).optional(),
  entrypoint: z.array(z.string()).optional(),
  user: z.string().optional(),
  init: z.boolean().optional(),
  restart: z.string().optional(),
  network_mode: z.string().optional(),
  environment: z.record(z.string(), z.string().nullable()).default({}),
  depends_on: z.record(z.string(), z.looseObject({ condition: z.string() })).default({}),
  volumes: z.array(ComposeVolume).default([]),
  ports: z.array(z.looseObject({ target: z.number(), published: z.string().optional() })).default([]),
  healthcheck: z.looseObject({ test: z.array(z.string()) }).optional(),
  deploy: z.looseObject({ replicas: z.number().optional() }).optional(),
  cap_add: z.array(z.string()).default([]),
  security_opt: z.array(z.string()).default([]),
  device_cgroup_rules: z.array(z.string()).default([]),
});
export type ComposeService = z.infer<typeof ComposeService>;

export type ComposeProject = {
  services: Record<string, ComposeService>;
  /** Who expanded it: the real `docker compose config`, or this file's fallback. */
  loadedBy: 'docker compose' | 'yaml';
};

/** Whether `docker compose` (the Compose v2 CLI plugin) answers on this machine. */
export async function hasComposePlugin(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  try {
    await run('docker', ['compose', 'version'], { env });
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads `file` with `envFile` as its `.env`. Only `envFile` feeds the interpolation:
 * compose runs with an environment of PATH, HOME and the DOCKER_* settings, so a
 * developer's own variables (or .env) cannot leak in.
 */
export async function loadComposeProject({ file, envFile }: { file: string; envFile: string }): Promise<ComposeProject> {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => name === 'PATH' || name === 'HOME' || name.startsWith('DOCKER_')),
  );
  if (await hasComposePlugin(env)) {
    const { stdout } = await run('docker', ['compose', '-f', file, '--env-file', envFile, 'config', '--format', 'json'], { env });
    const config = JSON.parse(stdout) as { services: Record<string, unknown> };
    return { services: parseServices(config.services), loadedBy: 'docker compose' };
  }
  const variables = parseEnvFile(await readFile(envFile, 'utf8'));
  const raw = interpolate(parse(await readFile(file, 'utf8'), { merge: true }), variables) as { services: Record<string, Record<string, unknown>> };
  const services = Object.fromEntries(Object.entries(raw.services).map(([name, service]) => [name, expandShortForms(service, dirname(file))]));
  return { services: parseServices(services), loadedBy: 'yaml' };
}

function parseServices(services: Record<string, unknown>): Record<string, ComposeService> {
  // `docker compose config` prints null for some settings left unset (command, entrypoint).
  const unsetDropped = (service: unknown) => Object.fromEntries(Object.entries(service as Record<string, unknown>).filter(([, value]) => value !== null));
  return Object.fromEntries(Object.entries(services).map(([name, service]) => [name, ComposeService.parse(unsetDropped(service))]));
}

/** `NAME=value` lines; `#` comments and blank lines skipped (values are taken verbatim). */
export function parseEnvFile(text: string): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) throw new Error(`not a NAME=value line: ${line}`);
    variables[match[1]!] = match[2]!;
  }
  return variables;
}

/** `${NAME}`, `${NAME:-default}` and `$$`, the forms the file uses; anything else fails loudly. */
function interpolate(value: unknown, variables: Record<string, string>): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([^}]*)\}|\$/g, (token, expression: string | undefined) => {
      if (token === '$$') return '$';
      const match = expression === undefined ? null : /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/.exec(expression);
      if (!match) throw new Error(`interpolation ${JSON.stringify(token)} in ${JSON.stringify(value)} is not one this fallback knows`);
      const [, name, fallback] = match;
      const set = variables[name!];
      return set !== undefined && set !== '' ? set : (fallback ?? '');
    });
  }
  if (Array.isArray(value)) return value.map((item) => interpolate(item, variables));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, variables)]));
  }
  return value;
}

/** The long forms `docker compose config` prints, for the short forms the file uses. */
function expandShortForms(service: Record<string, unknown>, projectDir: string): Record<string, unknown> {
  const expanded: Record<string, unknown> = { ...service };
  if (typeof service['build'] === 'string') expanded['build'] = { context: resolve(projectDir, service['build']) };
  if (typeof service['command'] === 'string') expanded['command'] = service['command'].split(/\s+/).filter(Boolean);
  if (Array.isArray(service['depends_on'])) {
    expanded['depends_on'] = Object.fromEntries(service['depends_on'].map((name: string) => [name, { condition: 'service_started' }]));
  }
  if (Array.isArray(service['environment'])) {
    expanded['environment'] = Object.fromEntries(service['environment'].map((entry: string) => [entry.split('=')[0], entry.slice(entry.indexOf('=') + 1)]));
  }
  if (Array.isArray(service['ports'])) {
    expanded['ports'] = service['ports'].map((port: unknown) => {
      if (typeof port !== 'string') return port;
      const [published, target] = port.split(':');
      return { published, target: Number(target) };
    });
  }
  if (Array.isArray(service['volumes'])) {
    expanded['volumes'] = service['volumes'].map((volume: unknown) => {
      if (typeof volume !== 'string') return volume;
      const [source = '', target = '', mode] = volume.split(':');
      const isPath = source.startsWith('/') || source.startsWith('.');
      return { type: isPath ? 'bind' : 'volume', source: isPath ? resolve(projectDir, source) : source, target, ...(mode === 'ro' ? { read_only: true } : {}) };
    });
  }
  return expanded;
}
