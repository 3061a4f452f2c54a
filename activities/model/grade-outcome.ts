import type Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { MAX_RUBRIC_CHARS } from '../../src/core/outcomes.ts';
import type { FileContentReader } from '../../src/store/file-store.ts';
import type { SessionStore } from '../../src/store/session-store.ts';
import type { GradeRequest, GradeResult, GraderInput, OpenOutcome } from '../../workflows/contract.ts';
import { AttemptUsageRecorder, billedUsageOfCall } from './attempt-usage.ts';
import { AGENT_TOOLSET } from '../../src/core/agent-toolset.ts';
import type { Sandbox, SandboxDriver } from '../../sandbox/types.ts';
import type { CredentialResolver } from '../../src/vaults/credential-resolver.ts';
import { ensureSessionSandbox, type SandboxSpecDeps } from '../run-tool.ts';
import { appendWorkflowEvents } from '../workflow-events.ts';
import { classifyModelError } from './classify-model-error.ts';

export const GRADER_SYSTEM = [
  'You are the grader of an autonomous agent\'s work. You did not do the work and you have not seen how it was done.',
  'You get the task, the rubric, and what the agent reported when it finished. Check the work against every criterion of the rubric.',
  'You may read the agent\'s workspace (/workspace) with the read, glob and grep tools to check the work itself; you cannot change anything.',
  'Answer with one JSON object and nothing else:',
  '{"result": "satisfied" | "needs_revision" | "failed", "explanation": "<what meets the rubric, and what does not and why>"}',
  'satisfied: every criterion is met. needs_revision: something is missing or wrong that the agent can fix; say exactly what.',
  'failed: the rubric cannot be applied to this work at all (not: the work is poor).',
].join('\n');

/** `span.outcome_evaluation_ongoing` is recorded every this many heartbeats while the grader works (5 s by default). */
const ONGOING_EVERY_HEARTBEATS = 5;
/** Grader answers that could not be read before the cycle is `failed`. */
const PARSE_TRIES = 3;
const RESULTS = new Set(['satisfied', 'needs_revision', 'failed']);

export type GradeOutcomeDeps = {
  store: SessionStore;
  anthropic: Anthropic;
  files?: FileContentReader | undefined;
  heartbeatEveryMs: number;
  /** The session's sandbox, which the grader may read; without it the grader judges the report alone. */
  sandboxes?: SandboxDriver | undefined;
  credentials?: Pick<CredentialResolver, 'environmentSecrets'> | undefined;
  /** The session's memory mounts, so a container the grader starts has them too. */
  memory?: SandboxSpecDeps['memory'];
  /** Overrides the model the session asks for (the agent's). */
  graderModel?: string | undefined;
};

/** What the grader may do in the workspace: look, never change. */
const GRADER_TOOLS: Anthropic.Messages.Tool[] = [AGENT_TOOLSET.read, AGENT_TOOLSET.glob, AGENT_TOOLSET.grep];
const GRADER_TOOL_NAMES = new Set(GRADER_TOOLS.map((t) => t.name));
/** Model requests of one verdict, reads included. */
const MAX_GRADER_STEPS = 12;

/**
 * One evaluation cycle: asks the grader model for a verdict on the agent's work, in a
 * context of its own. An answer that cannot be read is asked again, up to three times,
 * then the cycle is `failed` with the reason; it never crashes the session. Every
 * request's usage is recorded as the endpoint reports it (`AttemptUsageRecorder`), so a
 * retry after a crash still counts what the lost attempt was billed.
 */
export async function gradeOutcome(deps: GradeOutcomeDeps, input: GraderInput & GradeRequest): Promise<GradeResult> {
  const ctx = Context.current();
  const { store } = deps;
  const { sessionId, outcome } = input;
  const model = deps.graderModel ?? input.model;
  const cycle = gradingCycleKey(outcome);
  const [rubric, report] = await Promise.all([rubricText(deps, outcome), finalReport(store, sessionId, input.reportKey), appendWorkflowEvents(store, sessionId, input.leading)]);
  // The sandbox is reached only when the grader first reads: a verdict on the report alone starts no container.
  const sandboxes = deps.sandboxes;
  const workspace = sandboxes ? () => ensureSessionSandbox({ ...deps, sandboxes }, sessionId, input.environment, input.vaultIds) : undefined;
  let ongoing = 0;
  const beat = setInterval(() => ctx.heartbeat(), deps.heartbeatEveryMs);
  const ongoingTimer = setInterval(() => {
    void store
      .append(sessionId, [{ key: `${cycle}:a${ctx.info.attempt}:ongoing:${ongoing++}`, event: { type: 'span.outcome_evaluation_ongoing', outcome_id: outcome.id, iteration: outcome.iteration } as never }])
      .catch(() => undefined);
  }, deps.heartbeatEveryMs * ONGOING_EVERY_HEARTBEATS);
  try {
    let verdict: { result: GradeResult['result']; explanation: string } | undefined;
    let unreadable = '';
    for (let attempt = 1; attempt <= PARSE_TRIES && !verdict; attempt++) {
      const text = await askGrader(deps, { sessionId, callKey: `${cycle}:t${attempt}`, model, outcome, rubric, report, signal: ctx.cancellationSignal, workspace });
      verdict = parseGraderVerdict(text);
      if (!verdict) unreadable = text.slice(0, 500);
    }
    const billed = await billedUsage(store, sessionId, cycle, model);
    return {
      ...(verdict ?? { result: 'failed' as const, explanation: `The grader's answer could not be understood after ${PARSE_TRIES} tries (it must be a JSON verdict); its last answer began: ${JSON.stringify(unreadable)}` }),
      ...billed,
    };
  } finally {
    clearInterval(beat);
    clearInterval(ongoingTimer);
  }
}

/**
 * One verdict from the grader: it may first read the workspace (read, glob, grep; nothing
 * that writes), step by step, then answers. Each model request's usage is recorded.
 */
async function askGrader(deps: GradeOutcomeDeps, ask: GraderAsk): Promise<string> {
  const messages: Anthropic.Messages.MessageParam[] = [
    {
      role: 'user',
      content: `<task>\n${ask.outcome.description}\n</task>\n\n<rubric>\n${ask.rubric}\n</rubric>\n\n<agent_report iteration="${ask.outcome.iteration}">\n${ask.report || '(the agent reported nothing)'}\n</agent_report>`,
    },
  ];
  for (let step = 0; ; step++) {
    // The last step offers no tools: the grader must answer.
    const tools = ask.workspace && step < MAX_GRADER_STEPS - 1 ? GRADER_TOOLS : undefined;
    const message = await graderRequest(deps, ask, `${ask.callKey}:s${step}`, messages, tools);
    const uses = message.content.filter((b): b is Anthropic.Messages.ToolUseBlock => b.type === 'tool_use');
    if (uses.length === 0 || !ask.workspace) return message.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    messages.push({ role: 'assistant', content: message.content });
    const sandbox = await ask.workspace();
    messages.push({ role: 'user', content: await Promise.all(uses.map((use) => readWorkspace(sandbox, use, ask.signal))) });
  }
}

type GraderAsk = {
  sessionId: string;
  callKey: string;
  model: string;
  outcome: OpenOutcome;
  rubric: string;
  report: string;
  signal: AbortSignal;
  /** The session's sandbox, for reading the work (started on first use); absent when the worker has none. */
  workspace?: (() => Promise<Sandbox>) | undefined;
};

async function graderRequest(deps: GradeOutcomeDeps, ask: GraderAsk, callKey: string, messages: Anthropic.Messages.MessageParam[], tools: Anthropic.Messages.Tool[] | undefined): Promise<Anthropic.Messages.Message> {
  const recorder = new AttemptUsageRecorder({ store: deps.store, sessionId: ask.sessionId, callKey, attempt: Context.current().info.attempt, log: Context.current().log });
  try {
    const stream = deps.anthropic.messages.stream({ model: ask.model, max_tokens: 2000, system: GRADER_SYSTEM, messages, ...(tools ? { tools } : {}) }, { signal: ask.signal });
    stream.on('streamEvent', (event, snapshot) => recorder.onStreamEvent(event, snapshot));
    const message = await stream.finalMessage();
    recorder.setModel(message.usage);
    return message;
  } catch (err) {
    if (ask.signal.aborted) throw err;
    const failure = classifyModelError(err);
    throw ApplicationFailure.create({ type: 'GraderRequestFailed', message: failure.message, nonRetryable: !failure.retryable });
  } finally {
    await recorder.close().catch(() => undefined);
  }
}

/** Runs one of the grader's reads in the session's sandbox; anything else is refused. */
async function readWorkspace(sandbox: Sandbox, use: Anthropic.Messages.ToolUseBlock, signal: AbortSignal): Promise<Anthropic.Messages.ToolResultBlockParam> {
  if (!GRADER_TOOL_NAMES.has(use.name)) {
    return { type: 'tool_result', tool_use_id: use.id, is_error: true, content: `The grader may only read (${[...GRADER_TOOL_NAMES].join(', ')}); ${use.name} is not available.` };
  }
  // Its own ids: the executor runs each id once, and a retried grading asks anew.
  const outcome = await sandbox.runTool({ toolUseId: `grade_${use.id}`, name: use.name, input: (use.input ?? {}) as Record<string, unknown>, defaultTimeoutMs: 60_000, signal });
  return { type: 'tool_result', tool_use_id: use.id, is_error: outcome.is_error, content: outcome.content };
}

/** The prefix of the call keys of one evaluation cycle's grader requests. */
export function gradingCycleKey(outcome: Pick<OpenOutcome, 'id' | 'iteration'>): string {
  return `grade:${outcome.id}:${outcome.iteration}`;
}

/** `{result, explanation}` from the grader's answer, or undefined when it is not one. */
export function parseGraderVerdict(text: string): { result: GradeResult['result']; explanation: string } | undefined {
  const json = text.match(/\{[\s\S]*\}/)?.[0];
  try {
    const parsed = JSON.parse(json ?? '') as { result?: unknown; explanation?: unknown };
    const result = typeof parsed.result === 'string' ? parsed.result.trim().toLowerCase() : '';
    if (!RESULTS.has(result) || typeof parsed.explanation !== 'string' || parsed.explanation.trim() === '') return undefined;
    return { result: result as GradeResult['result'], explanation: parsed.explanation.trim() };
  } catch {
    return undefined;
  }
}

/** What the cycle's requests were billed, over every attempt of this activity (a crashed one's too). */
export async function billedUsage(store: SessionStore, sessionId: string, cycle: string, model: string): Promise<{ usage: GradeResult['usage']; costNanos: number }> {
  // Every attempt of the grading activity counts: a retry after a crash asks the grader anew.
  return billedUsageOfCall(await store.listAttemptUsage(sessionId, { callKeyPrefix: `${cycle}:` }), { committedAttempt: Number.MAX_SAFE_INTEGER, model });
}

/** The rubric's text: inline, or the uploaded file's (its first `MAX_RUBRIC_CHARS` characters). */
async function rubricText(deps: GradeOutcomeDeps, outcome: OpenOutcome): Promise<string> {
  if (outcome.rubric.type === 'text') return outcome.rubric.content;
  if (!deps.files) throw ApplicationFailure.nonRetryable('this worker has no file store, so it cannot read a file rubric', 'RubricUnreadable');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of deps.files.readContent(outcome.rubric.file_id)) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_RUBRIC_CHARS * 4) break;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_RUBRIC_CHARS);
}

/** What the agent said when it finished: the text of its last answer (no thinking, no tool calls). */
async function finalReport(store: SessionStore, sessionId: string, reportKey: string): Promise<string> {
  const item = await store.getTranscriptItem(sessionId, reportKey);
  return item?.kind === 'assistant' ? item.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n') : '';
}
