import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { SANDBOX_TOOLS } from '../src/core/agent-toolset.ts';
import type { EnvironmentDefinition } from '../src/schemas/environment.ts';
import type { NewEvent, SessionStore } from '../src/store/session-store.ts';
import { SandboxLostError, SandboxStartError, type DiskFull, type Sandbox, type SandboxDriver, type SandboxSpec, type ToolOutcome } from '../sandbox/types.ts';
import type { CredentialResolver } from '../src/vaults/credential-resolver.ts';
import type { McpServerDefinition } from '../src/schemas/agent.ts';
import type { ToolResultContentBlock } from '../src/schemas/events.ts';
import type { WorkflowEvent } from '../workflows/contract.ts';
import { mcpSessionError, type McpGateway } from './mcp-gateway.ts';
import type { MemorySync } from './memory-sync.ts';
import type { SkillMounts } from './skill-mounts.ts';
import { runWebTool, type WebSearchProvider } from './web-tools.ts';
import { appendWorkflowEvents } from './workflow-events.ts';
import { inSpan } from '../src/telemetry/trace-spans.ts';
import { recordToolCall, secondsSince } from '../src/telemetry/metric-instruments.ts';
import { toolCallAttributes } from '../src/telemetry/gen-ai-attributes.ts';

export type RunToolInput = {
  sessionId: string;
  environment: EnvironmentDefinition;
  /** The model's `toolu_…` id: the executor runs each at most once. */
  toolUseId: string;
  /** Id of the `agent.tool_use` event; `agent.tool_result.tool_use_id` refers to it. */
  eventId: string;
  name: string;
  defaultTimeoutMs: number;
  /** `mcp` calls go to `mcpServer`; absent means a built-in tool. */
  kind?: 'builtin' | 'mcp' | undefined;
  mcpServer?: McpServerDefinition | undefined;
  /** The tool's name on its MCP server. */
  mcpTool?: string | undefined;
  vaultIds?: string[] | undefined;
  /** Workflow events to record before the call starts (e.g. the approval that released it). */
  leading?: WorkflowEvent[] | undefined;
  /** A thread's call: its events go to the thread's log; the sandbox is still the session's. */
  threadId?: string | undefined;
  /** The thread's agent (its status events name it). */
  threadAgentName?: string | undefined;
  /** Attempts made before this activity's first: the step's own activity tried the call once (`runToolsInStep`). */
  priorAttempts?: number | undefined;
};

/** The log a call's events go to. */
const logOf = (input: RunToolInput): string => input.threadId ?? input.sessionId;

export type RunToolResult = { isError: boolean };


export type RunToolDeps = {
  store: SessionStore;
  sandboxes: SandboxDriver;
  webSearch?: WebSearchProvider | undefined;
  heartbeatEveryMs: number;
  mcp?: McpGateway | undefined;
  /** Reads `environment_variable` credentials of the session's vaults for the sandbox's egress proxy. */
  credentials?: Pick<CredentialResolver, 'environmentSecrets'> | undefined;
  /** Syncs the session's memory stores with `/mnt/memory` around each sandbox call. */
  memory?: MemorySync | undefined;
  /** Places the session's skills at `/mnt/skills` before its first sandbox call. */
  skills?: SkillMounts | undefined;
};

/**
 * Runs one tool call and records its result (event + transcript) in one
 * transaction. Safe to retry: a recorded result is returned as is, and the
 * in-sandbox executor re-attaches to a call it already started.
 */
export function runTool(deps: RunToolDeps, input: RunToolInput, knownInput?: Record<string, unknown>): Promise<RunToolResult> {
  return inSpan(`execute_tool ${input.name}`, toolCallAttributes({ name: input.name, toolUseId: input.toolUseId, sessionId: input.sessionId }), async (span) => {
    const startedAt = performance.now();
    const { isError, exitCode } = await runToolOnce(deps, input, knownInput);
    span.setAttribute('longhaul.tool.is_error', isError);
    if (exitCode !== undefined) span.setAttribute('process.exit.code', exitCode);
    recordToolCall({ name: input.name, seconds: secondsSince(startedAt), isError });
    // The workflow's result stays as it was: the exit code is for the trace only.
    return { isError };
  });
}

/** What one run of a tool found: the workflow's result, and a bash command's exit status when this attempt ran it. */
type ToolRun = RunToolResult & { exitCode?: number | undefined };

async function runToolOnce(deps: RunToolDeps, input: RunToolInput, knownInput: Record<string, unknown> | undefined): Promise<ToolRun> {
  const { store } = deps;
  const { toolUseId } = input;
  const logId = logOf(input);
  const ctx = Context.current();
  const attempt = ctx.info.attempt + (input.priorAttempts ?? 0);
  const resultKey = `tool:${toolUseId}:result`;
  await appendWorkflowEvents(store, logId, input.leading ?? []);

  // Only a retry can find its result already stored (the worker died after the commit).
  if (attempt > 1) {
    const recorded = await store.findEventByKey(logId, resultKey);
    if (recorded?.event.type === 'agent.tool_result' || recorded?.event.type === 'agent.mcp_tool_result') return { isError: recorded.event.is_error === true };
  }

  // The step that recorded the call hands its input over; anyone else reads it from the log.
  const toolInput = knownInput ?? (await recordedToolInput(store, logId, input.eventId));
  if (input.kind === 'mcp') return runMcpTool(deps, input, toolInput, resultKey);

  if (attempt > 1 && (await store.findEventByKey(logId, `tool:${toolUseId}:lost:${attempt - 1}`))) {
    await recordStatus(store, input, 'running', `tool:${toolUseId}:resumed:${attempt}`);
  }

  const heartbeat = setInterval(() => ctx.heartbeat(), deps.heartbeatEveryMs);
  let outcome: ToolOutcome;
  try {
    if (SANDBOX_TOOLS.has(input.name)) {
      const sandbox = await ensureOrExplain(deps, input, attempt);
      if ('content' in sandbox) outcome = sandbox;
      else {
        // What other sessions saved is in place before the call; what this call saved is
        // committed before its result is recorded, so a crash in between redoes the commit.
        await deps.memory?.pull(input.sessionId, sandbox);
        outcome = await sandbox.runTool({
          toolUseId,
          name: input.name,
          input: toolInput,
          defaultTimeoutMs: input.defaultTimeoutMs,
          signal: ctx.cancellationSignal,
          // Threads share the sandbox, each in a shell of its own: their commands run side by side.
          ...(input.threadId ? { shell: input.threadId } : {}),
        });
        const notes = (await deps.memory?.push(input.sessionId, sandbox)) ?? [];
        if (notes.length > 0) outcome = { ...outcome, content: [...outcome.content, { type: 'text', text: notes.join('\n') }] };
      }
    } else {
      outcome = await runWebTool({ name: input.name, input: toolInput, networking: input.environment.networking, webSearch: deps.webSearch, signal: ctx.cancellationSignal });
    }
  } catch (err) {
    if (err instanceof SandboxLostError) {
      // The container died under the call: say so, and let Temporal retry on a new one.
      await recordStatus(store, input, 'rescheduled', `tool:${toolUseId}:lost:${attempt}`);
      throw ApplicationFailure.retryable(`sandbox lost during ${input.name}: ${err.message}`, 'SandboxLost');
    }
    if (ctx.cancellationSignal.aborted) outcome = { is_error: true, content: [{ type: 'text', text: 'Interrupted by the user.' }] };
    else throw err;
  } finally {
    clearInterval(heartbeat);
  }

  await store.append(
    logId,
    [
      { key: resultKey, event: { type: 'agent.tool_result', tool_use_id: input.eventId, content: outcome.content, is_error: outcome.is_error } },
      ...(outcome.disk_full ? [{ key: `tool:${toolUseId}:disk-full`, event: diskFullError(outcome.disk_full) }] : []),
    ],
    [{ key: resultKey, item: { kind: 'tool_result', tool_use_id: toolUseId, content: outcome.content, is_error: outcome.is_error } }],
  );
  if (ctx.cancellationSignal.aborted) throw new CancelledFailure('tool call interrupted');
  return { isError: outcome.is_error, exitCode: outcome.exit_code };
}

/**
 * A status change a lost sandbox causes: the session's, or a thread's in its own log and,
 * cross-posted, the session's.
 */
async function recordStatus(store: SessionStore, input: RunToolInput, status: 'running' | 'rescheduled', key: string): Promise<void> {
  if (input.threadId === undefined) {
    await store.append(input.sessionId, [{ key, event: { type: `session.status_${status}` } }]);
    return;
  }
  const event = { type: `session.thread_status_${status}`, session_thread_id: input.threadId, agent_name: input.threadAgentName ?? '' } as NewEvent['event'];
  await store.append(input.threadId, [{ key, event }]);
  await store.append(input.sessionId, [{ key: `${input.threadId}:${key}`, event }]);
}

/**
 * The operator's side of a full disk: the agent got the tool error and may free space,
 * so the session goes on (`retrying`), but someone watching should know why writes fail.
 */
function diskFullError(full: DiskFull): NewEvent['event'] {
  const mib = Math.floor(full.size_bytes / (1024 * 1024));
  return {
    type: 'session.error',
    error: { type: 'unknown_error', message: `the session's disk is full (${full.free_bytes} bytes free of its ${mib} MiB quota): writes in /workspace and /mnt/session fail until files are deleted`, retry_status: { type: 'retrying' } },
  } as NewEvent['event'];
}

/** One MCP tool call; a server that cannot be reached (or refuses the credential) becomes `session.error` and an error result. */
async function runMcpTool(deps: RunToolDeps, input: RunToolInput, toolInput: Record<string, unknown>, resultKey: string): Promise<RunToolResult> {
  const { store } = deps;
  const { toolUseId } = input;
  const logId = logOf(input);
  const ctx = Context.current();
  const server = input.mcpServer;
  let outcome: ToolOutcomeLike;
  const heartbeat = setInterval(() => ctx.heartbeat(), deps.heartbeatEveryMs);
  try {
    if (!server || !input.mcpTool) throw ApplicationFailure.nonRetryable(`MCP call ${toolUseId} names no server`, 'McpServerMissing');
    if (!deps.mcp) throw new Error('this worker has no MCP gateway');
    const result = await deps.mcp.callTool({
      server,
      vaultIds: input.vaultIds ?? [],
      tool: input.mcpTool,
      input: toolInput,
      signal: ctx.cancellationSignal,
      timeoutMs: input.defaultTimeoutMs,
    });
    outcome = { content: result.content, is_error: result.isError };
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    if (ctx.cancellationSignal.aborted) {
      outcome = { is_error: true, content: [{ type: 'text', text: 'Interrupted by the user.' }] };
    } else {
      // Not retried: the call may have reached the server, and MCP tools can have side effects.
      // The model gets the failure as the tool's result and decides what to do.
      const error = mcpSessionError(err, server?.name ?? 'unknown');
      await store.append(logId, [{ key: `tool:${toolUseId}:mcp-error`, event: { type: 'session.error', error } as never }]);
      outcome = { is_error: true, content: [{ type: 'text', text: `The MCP server ${server?.name ?? ''} could not be used: ${error.message}` }] };
    }
  } finally {
    clearInterval(heartbeat);
  }
  await store.append(
    logId,
    [{ key: resultKey, event: { type: 'agent.mcp_tool_result', mcp_tool_use_id: input.eventId, content: outcome.content, is_error: outcome.is_error } as never }],
    [{ key: resultKey, item: { kind: 'tool_result', tool_use_id: toolUseId, content: outcome.content, is_error: outcome.is_error } }],
  );
  if (ctx.cancellationSignal.aborted) throw new CancelledFailure('tool call interrupted');
  return { isError: outcome.is_error };
}

type ToolOutcomeLike = { content: ToolResultContentBlock[]; is_error: boolean };

/** Sandbox start failures that will not heal by retrying: the environment itself is wrong. */
const PERMANENT_START_FAILURES = new Set(['image_missing', 'packages_failed']);

/** `err` when it is a sandbox start failure that retrying will not fix (see `PERMANENT_START_FAILURES`); else undefined. */
export function permanentStartFailure(err: unknown): SandboxStartError | undefined {
  return err instanceof SandboxStartError && PERMANENT_START_FAILURES.has(err.code) ? err : undefined;
}

/**
 * The session's sandbox, or — when it cannot start for a reason retrying will not fix (a
 * missing image, a package that does not install) — the error result the model gets, with
 * a `session.error` saying why. Transient start failures are retried by Temporal.
 */
async function ensureOrExplain(deps: RunToolDeps, input: RunToolInput, attempt: number): Promise<Awaited<ReturnType<SandboxDriver['ensure']>> | ToolOutcome> {
  try {
    return await ensureSessionSandbox(deps, input.sessionId, input.environment, input.vaultIds);
  } catch (err) {
    if (!(err instanceof SandboxStartError)) throw err;
    const permanent = permanentStartFailure(err) !== undefined;
    await deps.store.append(logOf(input), [
      {
        key: `tool:${input.toolUseId}:sandbox-error:${attempt}`,
        event: { type: 'session.error', error: { type: 'unknown_error', message: `the sandbox could not start: ${err.message}`, retry_status: { type: permanent ? 'terminal' : 'retrying' } } } as never,
      },
    ]);
    if (!permanent) throw ApplicationFailure.retryable(`sandbox start failed: ${err.message}`, 'SandboxStartFailed');
    return { is_error: true, content: [{ type: 'text', text: `The sandbox could not start, so ${input.name} did not run: ${err.message}` }] };
  }
}

/** What a sandbox spec is made from besides the environment. */
export type SandboxSpecDeps = {
  credentials?: Pick<CredentialResolver, 'environmentSecrets'> | undefined;
  memory?: Pick<MemorySync, 'mounts'> | undefined;
  skills?: Pick<SkillMounts, 'pinned' | 'install'> | undefined;
};

/**
 * The session's sandbox, started or found (`sandboxSpecFor`), with its skills in place: what
 * every activity that reaches a session's sandbox asks for, so whichever comes first
 * places them, and the agent finds them from its first call on.
 */
export async function ensureSessionSandbox(
  deps: SandboxSpecDeps & { sandboxes: SandboxDriver },
  sessionId: string,
  environment: EnvironmentDefinition,
  vaultIds: readonly string[] | undefined,
): Promise<Sandbox> {
  const sandbox = await deps.sandboxes.ensure(await sandboxSpecFor(deps, sessionId, environment, vaultIds));
  await deps.skills?.install(sessionId, sandbox);
  return sandbox;
}

/** The sandbox spec with the session's memory mounts and the egress secrets of its vaults (placeholders in the container, values only in the proxy). */
export async function sandboxSpecFor(
  deps: SandboxSpecDeps,
  sessionId: string,
  environment: EnvironmentDefinition,
  vaultIds: readonly string[] | undefined,
): Promise<SandboxSpec> {
  // Every start of the container must ask for the same mounts: whichever activity starts it fixes them.
  const [memory = [], pinned = []] = await Promise.all([deps.memory?.mounts(sessionId), deps.skills?.pinned(sessionId)]);
  const skills = pinned.length > 0;
  const spec = { ...sandboxSpec(sessionId, environment), ...(memory.length > 0 ? { memory } : {}), ...(skills ? { skills } : {}) };
  if (!deps.credentials || !vaultIds || vaultIds.length === 0) return spec;
  const secrets = await deps.credentials.environmentSecrets([...vaultIds]);
  return secrets.length > 0 ? { ...spec, egress: { secrets: secrets.map(({ name, value, hosts, header, body }) => ({ name, value, hosts, header, body })) } } : spec;
}

function sandboxSpec(sessionId: string, environment: EnvironmentDefinition): SandboxSpec {
  return {
    sessionId,
    image: environment.image,
    networking: environment.networking,
    memoryMb: environment.memory_mb,
    cpus: environment.cpus,
    pidsLimit: environment.pids_limit,
    diskMb: environment.disk_mb,
    packages: environment.packages,
  };
}

async function recordedToolInput(store: SessionStore, logId: string, eventId: string): Promise<Record<string, unknown>> {
  const toolUse = await store.findEventById(logId, eventId);
  if (toolUse?.event.type !== 'agent.tool_use' && toolUse?.event.type !== 'agent.mcp_tool_use') {
    throw ApplicationFailure.nonRetryable(`tool use event ${eventId} not found`, 'ToolUseMissing');
  }
  return toolUse.event.input;
}
