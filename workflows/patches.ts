/**
 * Every `patched()` id of the session workflow, in one place. A patch guards a change in
 * the commands the workflow issues, so that histories recorded before it still replay
 * (`test/fixtures/histories/`, replayed by `test/integration/workflow-replay.test.ts`).
 *
 * A patch can go, together with its old branch, once no open session started before it:
 * `deprecatePatch()` it for one release, then delete it, and retire the fixtures
 * recorded before it.
 */
export const PATCHES = {
  /** An interrupt kills running sandbox tools at once (not at their next heartbeat), and ends the step. */
  interruptKillsTools: 'interrupt-kills-tools',
  /** A model call runs its step's tools itself when none waits for an answer (one activity per step, not two). */
  toolsInStep: 'tools-in-step',
  /** The workflow copies signalled files into the sandbox: before the next model call, or at once when idle. */
  mountFiles: 'mount-files',
  /** An idle session gives its container back after `idleSandboxReleaseMs`. */
  releaseIdleSandbox: 'release-idle-sandbox',
  /** User events taken for a model call that an interrupt cancelled are delivered with the next turn. */
  requeueUnsentOnInterrupt: 'requeue-unsent-on-interrupt',
  /** Archive and delete remove the session's files (and delete its rows) as the workflow ends. */
  removeOnDelete: 'remove-on-delete',
  /** A terminate that arrives while files are copied in before a turn ends the session then, not after the turn. */
  terminateDuringMount: 'terminate-during-mount',
  /** A run continues as new a step's worth of events before `maxHistoryEvents`, so no run's history passes it. */
  historyHeadroom: 'history-headroom',
  /** A model call goes on to the next steps itself while nothing needs the workflow (`stepsPerActivity`). */
  stepsInActivity: 'steps-in-activity',
  /**
   * User events an interrupted model call had taken are recorded as the session idles, and
   * start no turn by themselves (before, they went back to the inbox and started one at once).
   */
  interruptRecordsUnsent: 'interrupt-records-unsent',
  /** A new session starts its sandbox as it begins, not with its first turn. */
  sandboxAtSessionStart: 'sandbox-at-session-start',
  /**
   * Calls left to the workflow warm the sandbox only when one of them runs there: a custom
   * tool's call, an MCP or web tool held for approval, or a denied call no longer starts one.
   */
  warmOnlyForSandboxTools: 'warm-only-for-sandbox-tools',
} as const;
