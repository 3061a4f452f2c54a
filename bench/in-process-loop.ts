import type Anthropic from '@anthropic-ai/sdk';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createSessionActivities } from '../activities/session-activities.ts';
import type { AgentDefinition } from '../src/schemas/agent.ts';
import type { EnvironmentDefinition } from '../src/schemas/environment.ts';
import type { SessionStore } from '../src/store/session-store.ts';
import type { SandboxDriver } from '../sandbox/types.ts';
import type { WorkflowEvent } from '../workflows/contract.ts';

/**
 * The session loop without Temporal: the same activity functions (model call
 * through the SDK, store appends, sandbox tool call), called in a plain loop in
 * the order the session workflow calls them. Activity context comes from
 * Temporal's mock environment, whose heartbeats go nowhere.
 */
export async function runInProcessLoop({
  store,
  sandboxes,
  anthropic,
  sessionId,
  agent,
  environment,
  prompt,
  heartbeatEveryMs,
}: {
  store: SessionStore;
  sandboxes: SandboxDriver;
  anthropic: Anthropic;
  sessionId: string;
  agent: AgentDefinition;
  environment: EnvironmentDefinition;
  prompt: string;
  heartbeatEveryMs: number;
}): Promise<{ modelCalls: number }> {
  const activities = createSessionActivities({ store, sandboxes, anthropic: anthropic.withOptions({ maxRetries: 0 }), heartbeatEveryMs });
  const inActivity = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment({ attempt: 1 }).run(fn, ...args);

  let emitCounter = 0;
  const key = (type: string) => `wf:${emitCounter++}:${type}`;
  const content = [{ type: 'text' as const, text: prompt }];
  let leading: WorkflowEvent[] = [
    { key: key('user.message'), event: { type: 'user.message', content }, transcript: { kind: 'user', content } },
    { key: key('session.status_running'), event: { type: 'session.status_running' } },
  ];
  // As in the workflow: the sandbox warms while the first model call runs.
  const sandboxReady = inActivity(activities.ensureSandbox, { sessionId, environment });
  let calls = 0;
  for (;;) {
    const result = await inActivity(activities.callModel, { sessionId, callKey: `call:${calls++}`, agent, leading, maxAttempts: 8 });
    leading = [];
    if (result.toolUses.length === 0) break;
    await sandboxReady;
    await Promise.all(
      result.toolUses.map((toolUse) =>
        inActivity(activities.runTool, { sessionId, environment, toolUseId: toolUse.toolUseId, eventId: toolUse.eventId, name: toolUse.name, defaultTimeoutMs: 600_000 }),
      ),
    );
  }
  await inActivity(activities.emitEvents, {
    sessionId,
    events: [{ key: key('session.status_idle'), event: { type: 'session.status_idle', stop_reason: { type: 'end_turn' }, stop_details: null } }],
  });
  return { modelCalls: calls };
}
