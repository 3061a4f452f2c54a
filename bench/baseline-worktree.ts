import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { progress } from './stats.ts';

/** A detached checkout of another revision, runnable as it is; disposing it removes it. */
export type BaselineWorktree = {
  root: string;
  /** The full commit `rev` named. */
  commit: string;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * Checks `rev` out beside the repository at `repoRoot` (`git worktree add --detach`),
 * borrowing its `node_modules` and `.cache` through links so nothing is installed:
 * a baseline to measure in the same run as the working tree.
 *
 * @example
 * await using baseline = await addBaselineWorktree({ repoRoot, rev: 'bb11eea' });
 */
export async function addBaselineWorktree({ repoRoot, rev }: { repoRoot: string; rev: string }): Promise<BaselineWorktree> {
  const git = async (...args: string[]) => (await promisify(execFile)('git', ['-C', repoRoot, ...args])).stdout.trim();
  const commit = await git('rev-parse', '--verify', `${rev}^{commit}`);
  const parent = mkdtempSync(join(tmpdir(), 'longhaul-bench-baseline-'));
  const root = join(parent, 'tree');
  const dispose = async () => {
    await git('worktree', 'remove', '--force', root).catch((error: unknown) => progress(`while removing the baseline worktree: ${String(error)}`));
    rmSync(parent, { recursive: true, force: true });
    await git('worktree', 'prune').catch(() => {});
  };
  try {
    progress(`baseline: checking out ${commit.slice(0, 12)} (${rev})`);
    await git('worktree', 'add', '--detach', root, commit);
    for (const shared of ['node_modules', '.cache']) symlinkSync(join(repoRoot, shared), join(root, shared));
    return { root, commit, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
