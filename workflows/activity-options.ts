import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { SessionActivities } from '../activities/session-activities.ts';
import type { SessionTuning } from './contract.ts';

/** `SessionTuning` with every default filled in, once. */
export type ResolvedTuning = { [K in keyof SessionTuning]-?: number };

export function resolveTuning(tuning: SessionTuning = {}): ResolvedTuning {
  return {
    maxHistoryEvents: tuning.maxHistoryEvents ?? 2000,
    modelMaxAttempts: tuning.modelMaxAttempts ?? 8,
    modelHeartbeatTimeoutMs: tuning.modelHeartbeatTimeoutMs ?? 30_000,
    toolHeartbeatTimeoutMs: tuning.toolHeartbeatTimeoutMs ?? 30_000,
    toolTimeoutMs: tuning.toolTimeoutMs ?? 600_000,
    idleSandboxReleaseMs: tuning.idleSandboxReleaseMs ?? 15 * 60_000,
    maxStepsPerTurn: tuning.maxStepsPerTurn ?? 1000,
    stepsPerActivity: tuning.stepsPerActivity ?? 8,
  };
}

/** A model call that may take several steps starts none after it has run this long; its timeout allows one more. */
export const FOLLOW_ON_WINDOW_MS = 5 * 60_000;

/**
 * The session's activities, each with the timeouts and retries its kind of work needs:
 * model calls and tool calls heartbeat (a dead worker's call moves on within the
 * heartbeat timeout) and wait for their cancellation to finish, so an interrupt never
 * leaves a call running behind the workflow's back.
 */
export function sessionActivities(tuning: ResolvedTuning) {
  const { callModel } = proxyActivities<SessionActivities>({
    // The request, then the step's tools it may run (each within the tool's own limit); and
    // when it goes on to more steps, those it starts within the window.
    startToCloseTimeout: FOLLOW_ON_WINDOW_MS + 15 * 60_000 + tuning.toolTimeoutMs + 60_000,
    heartbeatTimeout: tuning.modelHeartbeatTimeoutMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: tuning.modelMaxAttempts, nonRetryableErrorTypes: ['ModelRequestInvalid'] },
  });
  const { runTool } = proxyActivities<SessionActivities>({
    // The tool's own limit, plus time to report it.
    startToCloseTimeout: tuning.toolTimeoutMs + 60_000,
    heartbeatTimeout: tuning.toolHeartbeatTimeoutMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
  });
  // Writes of a few rows, idempotent by key: a worker that died under one holds it seconds, not minutes.
  const { emitEvents } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '20 seconds',
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
  });
  // A container start may build a package image for minutes; it heartbeats, so a dead worker's start moves on.
  const { ensureSandbox } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: tuning.toolHeartbeatTimeoutMs,
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
  });
  const { destroySandbox, releaseSandbox, purgeSessionRecords, gradingUsage, ensureSelfHostedWork } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
  });
  const { mountFiles } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '30 minutes',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
  });
  const { interruptTools, yieldSteps } = proxyActivities<SessionActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '100ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 5 },
  });
  return { callModel, runTool, emitEvents, ensureSandbox, destroySandbox, releaseSandbox, purgeSessionRecords, mountFiles, interruptTools, yieldSteps, gradingUsage, ensureSelfHostedWork };
}

export type SessionActivityProxies = ReturnType<typeof sessionActivities>;

/** Removing what a session left once its workflow is over: retried until done. */
export function cleanupActivities() {
  return proxyActivities<SessionActivities>({
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
}
