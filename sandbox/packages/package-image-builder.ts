import { createHash } from 'node:crypto';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { getContainerRuntimeClient } from 'testcontainers';
import { EgressProxy, type ResolveHost } from '../egress/egress-proxy.ts';
import { parseHostPatterns } from '../egress/host-pattern.ts';
import { EGRESS_RELAY_PORT, EGRESS_SOCKET_FILE, proxyEnvironment } from '../egress/sandbox-egress.ts';
import { demuxLogs } from '../executor-ready.ts';
import { LABEL_LONGHAUL, LABEL_ROLE } from '../sandbox-resources.ts';
import { type SandboxLogger, type SandboxPackages, SandboxStartError } from '../types.ts';
import {
  FAILED_MARKER,
  installScript,
  invalidPackage,
  PACKAGE_MANAGERS,
  type PackageManager,
  packageName,
  type PackageSet,
  packageSetOf,
} from './install-script.ts';
import { type PackageRegistries, registryEnvironment, registryHosts } from './package-registries.ts';

export const PACKAGE_IMAGE_REPOSITORY = 'longhaul-env';
export const LABEL_PACKAGES_HASH = 'longhaul.packages-hash';
const BUILD_MOUNT = '/run/longhaul-build';
const EXECUTOR_MOUNT = '/opt/longhaul/executor';
const FORMAT_VERSION = 1;

export type PackageImageBuilderOptions = {
  /** Host folder for build folders (the install script and the proxy socket); must be on the Docker host. */
  buildRoot: string;
  /** Host folder with the executor's modules (the egress relay runs from it). */
  executorDir: string;
  registries?: PackageRegistries | undefined;
  resolveHost?: ResolveHost | undefined;
  logger?: SandboxLogger | undefined;
  /** Limit for one image build. Default 20 minutes. */
  installTimeoutMs?: number | undefined;
};

/**
 * Builds and caches one image per (base image, package set): the base image run
 * as root with no network but the egress proxy, the packages installed, the
 * container committed as `longhaul-env:<hash>` with the base image's user, command
 * and working folder. A second session with the same packages starts from the
 * cached image at once. Concurrent requests for one hash share a build in this
 * process; across processes the build container's name is the lock.
 *
 * The install step reaches any public host but no internal address except the
 * configured registry mirrors: package scripts run as root there and must not
 * become a way into the worker's network.
 *
 * @example
 * const images = new PackageImageBuilder({ buildRoot: join(dataDir, '.package-builds'), executorDir });
 * const image = await images.imageFor('longhaul-sandbox:latest', { pip: ['requests==2.32.3'] });
 */
export class PackageImageBuilder {
  readonly #options: PackageImageBuilderOptions;
  readonly #building = new Map<string, Promise<string>>();
  /** Images built by this process (not found in the cache). */
  builds = 0;

  constructor(options: PackageImageBuilderOptions) {
    this.#options = options;
  }

  /** The image to start for `packages` on `baseImage`: the base itself when there is nothing to install. */
  async imageFor(baseImage: string, packages: SandboxPackages | undefined): Promise<string> {
    const set = packageSetOf(packages);
    if (set === undefined) return baseImage;
    assertValid(set);
    const docker = await dockerClient();
    const baseId = await imageId(docker, baseImage);
    if (baseId === undefined) {
      throw new SandboxStartError('image_missing', `sandbox image ${baseImage} is not on the Docker host; build it with \`npm run setup\``);
    }
    const hash = createHash('sha256').update(JSON.stringify({ v: FORMAT_VERSION, baseId, set })).digest('hex').slice(0, 24);
    const tag = `${PACKAGE_IMAGE_REPOSITORY}:${hash}`;
    let building = this.#building.get(hash);
    if (building === undefined) {
      building = this.#ensure(docker, { tag, hash, baseImage: baseId, set }).finally(() => this.#building.delete(hash));
      this.#building.set(hash, building);
    }
    return building;
  }

  async #ensure(docker: Dockerode, build: Build): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      if ((await imageId(docker, build.tag)) !== undefined) return build.tag;
      try {
        await this.#build(docker, build);
        return build.tag;
      } catch (error) {
        // Another process is building the same image: wait for it, then use its result.
        if (!isNameConflict(error) || attempt > 0) throw error;
        await waitUntilGone(docker, buildContainerName(build.hash), this.#timeoutMs);
      }
    }
  }

  get #timeoutMs(): number {
    return this.#options.installTimeoutMs ?? 20 * 60_000;
  }

  async #build(docker: Dockerode, { tag, hash, baseImage, set }: Build): Promise<void> {
    const { registries = {}, logger } = this.#options;
    const started = Date.now();
    const buildDir = join(this.#options.buildRoot, hash);
    await rm(buildDir, { recursive: true, force: true });
    await mkdir(buildDir, { recursive: true, mode: 0o700 });
    if (registries.caFile !== undefined) await copyFile(registries.caFile, join(buildDir, 'ca.pem'));
    const environment = { ...proxyEnvironment({ noProxy: false }), ...registryEnvironment(registries) };
    await writeFile(join(buildDir, 'install.sh'), installScript({ packages: set, registries, buildDir: BUILD_MOUNT, environment }));
    const proxy = await EgressProxy.listen({
      socketPath: join(buildDir, EGRESS_SOCKET_FILE),
      policy: { allowedHosts: 'any', secrets: [], internalHosts: parseHostPatterns(registryHosts(registries)) },
      resolveHost: this.#options.resolveHost,
      logger,
      logContext: { packagesHash: hash },
    });
    let container: Dockerode.Container | undefined;
    try {
      container = await docker.createContainer({
        name: buildContainerName(hash),
        Image: baseImage,
        User: '0:0',
        Entrypoint: ['python3'],
        Cmd: [
          `${EXECUTOR_MOUNT}/egress_relay.py`,
          '--port',
          String(EGRESS_RELAY_PORT),
          '--socket',
          `${BUILD_MOUNT}/${EGRESS_SOCKET_FILE}`,
          '--',
          'sh',
          `${BUILD_MOUNT}/install.sh`,
        ],
        Labels: { [LABEL_LONGHAUL]: '1', [LABEL_ROLE]: 'package-build', [LABEL_PACKAGES_HASH]: hash },
        HostConfig: {
          NetworkMode: 'none',
          Init: true,
          Mounts: [
            { Type: 'bind', Source: buildDir, Target: BUILD_MOUNT },
            { Type: 'bind', Source: this.#options.executorDir, Target: EXECUTOR_MOUNT, ReadOnly: true },
          ],
        },
      });
      logger?.info('building sandbox package image', { packagesHash: hash, packages: set });
      await container.start();
      const exitCode = await waitForExit(container, this.#timeoutMs);
      const logs = demuxLogs(await container.logs({ stdout: true, stderr: true }));
      if (exitCode !== 0) throw installFailure(set, exitCode, logs, this.#timeoutMs);
      const base = (await docker.getImage(baseImage).inspect()).Config;
      const [repo, imageTag] = tag.split(':') as [string, string];
      await container.commit({
        repo,
        tag: imageTag,
        comment: `longhaul environment packages ${hash}`,
        changes: [
          `USER ${base.User || 'root'}`,
          ...(base.WorkingDir ? [`WORKDIR ${base.WorkingDir}`] : []),
          `CMD ${JSON.stringify(base.Cmd ?? ['sleep', 'infinity'])}`,
          `ENTRYPOINT ${JSON.stringify(base.Entrypoint ?? [])}`,
          `LABEL ${LABEL_LONGHAUL}="1" ${LABEL_ROLE}="environment-image" ${LABEL_PACKAGES_HASH}="${hash}"`,
        ],
      });
      this.builds += 1;
      logger?.info('built sandbox package image', { packagesHash: hash, image: tag, durationMs: Date.now() - started });
    } finally {
      await container?.remove({ force: true }).catch(() => undefined);
      await proxy.close();
      await rm(buildDir, { recursive: true, force: true });
    }
  }
}

type Build = { tag: string; hash: string; baseImage: string; set: PackageSet };

function buildContainerName(hash: string): string {
  return `longhaul-env-build-${hash}`;
}

function assertValid(set: PackageSet): void {
  for (const manager of PACKAGE_MANAGERS) {
    for (const entry of set[manager]) {
      const problem = invalidPackage(entry);
      if (problem !== undefined) {
        throw new SandboxStartError('packages_failed', `the environment's ${manager} package ${JSON.stringify(entry)} ${problem}`);
      }
    }
  }
}

/**
 * Names the manager whose step failed and, when its output mentions them, the
 * packages it could not install; the end of the output follows.
 */
function installFailure(set: PackageSet, exitCode: number, logs: string, timeoutMs: number): SandboxStartError {
  const lines = logs.trimEnd().split('\n');
  const marker = lines.findLast((l) => l.startsWith(FAILED_MARKER));
  const step = marker?.slice(FAILED_MARKER.length).trim();
  const output = lines.filter((l) => !l.startsWith('longhaul-install-')).slice(-15).join('\n');
  if (step === undefined) {
    const why = exitCode === TIMED_OUT ? `did not finish within ${timeoutMs} ms` : `exited with code ${exitCode}`;
    return new SandboxStartError('packages_failed', `installing the environment's packages ${why}:\n${output}`);
  }
  if (step === 'toolchain') {
    return new SandboxStartError('packages_failed', `installing the package managers the environment's packages need failed (apt):\n${output}`);
  }
  const manager = step as PackageManager;
  const entries = set[manager] ?? [];
  // Error lines name the culprit; progress lines name every package.
  const errorLines = output.split('\n').filter((l) => /error|not found|unable|could not|no matching|^E:/i.test(l));
  const mentionedIn = (text: string): string[] => entries.filter((e) => text.toLowerCase().includes(packageName(manager, e).toLowerCase()));
  const inErrors = mentionedIn(errorLines.join('\n'));
  const named = inErrors.length > 0 ? inErrors : mentionedIn(output);
  const which = (named.length > 0 ? named : entries).join(', ');
  return new SandboxStartError('packages_failed', `${manager} could not install the environment's package${named.length === 1 ? '' : 's'} ${which}:\n${output}`);
}

const TIMED_OUT = -1;

async function waitForExit(container: Dockerode.Container, timeoutMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<number>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
  });
  try {
    const result = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, timeout]);
    return typeof result === 'number' ? result : result.StatusCode;
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntilGone(docker: Dockerode, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await docker.getContainer(name).inspect();
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function imageId(docker: Dockerode, name: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(name).inspect()).Id;
  } catch {
    return undefined;
  }
}

async function dockerClient(): Promise<Dockerode> {
  return (await getContainerRuntimeClient()).container.dockerode;
}

function isNameConflict(error: unknown): boolean {
  return (error as { statusCode?: number } | undefined)?.statusCode === 409;
}
