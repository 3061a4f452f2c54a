/**
 * The work the chaos suite runs: sessions of four kinds, a scripted model that plays
 * every role from the request alone (so any worker, after any crash, gets the same
 * answer), and what each session must end with.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { SessionEvent } from '../../src/schemas/events.ts';
import { text, toolUse, type ScriptFunction, type ScriptedRequest, type ScriptedTurn } from '../../src/testing/index.ts';

export type ChaosKind = 'steps' | 'approval' | 'specialist' | 'graded';

/** Out of every five sessions: two plain, one whose every bash call waits for approval, one that delegates, one graded. */
export const KIND_CYCLE: readonly ChaosKind[] = ['steps', 'approval', 'specialist', 'graded', 'steps'];

export const EFFECTS_FILE = '/workspace/effects.txt';

/** What the first message says; the script reads its tag and step count back from the conversation. */
export const taskText = (tag: string, kind: ChaosKind | 'delegated', steps: number) => `chaos task ${tag}: ${kind}, ${steps} steps`;
const TASK = /chaos task (c\d+): (\w+), (\d+) steps/;

/** The side effect a step leaves: one line naming the session, the role and the step. */
export const markerOf = (tag: string, role: string, step: number) => `${tag}-${role}-${step}`;
const MARKER_IN_COMMAND = /echo (c\d+-\w+-\d+) >>/;
export const markerInCommand = (command: string): string | undefined => MARKER_IN_COMMAND.exec(command)?.[1];

const roleOf = (request: ScriptedRequest): 'grader' | 'coordinator' | 'specialist' | 'worker' => {
  const system = JSON.stringify(request.system ?? '');
  if (system.includes('You are the grader')) return 'grader';
  return /ROLE:(coordinator|specialist)/.exec(system)?.[1] as 'coordinator' | 'specialist' | undefined ?? 'worker';
};

/**
 * Every role: a worker (or specialist) runs `steps` bash calls that each append its
 * marker and sleep, then says it finished; a coordinator delegates the same to its
 * specialist and finishes on the report; the grader is satisfied.
 */
export function chaosScript(stepSleepSeconds: number): ScriptFunction {
  return (request): ScriptedTurn => {
    const role = roleOf(request);
    if (role === 'grader') return { content: [text(JSON.stringify({ result: 'satisfied', explanation: 'every step ran' }))] };
    const conversation = JSON.stringify(request.messages);
    const task = TASK.exec(conversation);
    if (!task) return { content: [text(`no chaos task in the conversation (${role})`)] };
    const [, tag, , stepsText] = task as unknown as [string, string, string, string];
    const steps = Number(stepsText);
    if (role === 'coordinator') {
      if (conversation.includes('Message from thread')) return { content: [text(`finished ${tag}`)] };
      if (conversation.includes('delegate_to_agent')) return { content: [text(`waiting ${tag}`)] };
      return { content: [toolUse('delegate_to_agent', { agent: 'chaos-specialist', message: taskText(tag, 'delegated', steps) })] };
    }
    const done = conversation.match(/"type":"tool_result"/g)?.length ?? 0;
    if (done < steps) return { content: [toolUse('bash', { command: `echo ${markerOf(tag, role, done)} >> ${EFFECTS_FILE}; sleep ${stepSleepSeconds}` })] };
    return { content: [text(role === 'specialist' ? `reported ${tag}` : `finished ${tag}`)] };
  };
}

export type ChaosAgents = Record<'worker' | 'careful' | 'coordinator', string> & { environment: string };

/** The agents and the environment every session uses. */
export async function createChaosAgents(client: Anthropic): Promise<ChaosAgents> {
  const toolset = [{ type: 'agent_toolset_20260401' as const }];
  const model = 'claude-sonnet-5-5';
  const worker = await client.beta.agents.create({ name: 'chaos-worker', model, system: 'ROLE:worker', tools: toolset });
  const careful = await client.beta.agents.create({
    name: 'chaos-careful',
    model,
    system: 'ROLE:worker',
    tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'bash', permission_policy: { type: 'always_ask' } }] }],
  });
  const specialist = await client.beta.agents.create({ name: 'chaos-specialist', description: 'runs the steps', model, system: 'ROLE:specialist', tools: toolset });
  const coordinator = await client.beta.agents.create({
    name: 'chaos-coordinator',
    model,
    system: 'ROLE:coordinator',
    tools: toolset,
    multiagent: { type: 'coordinator', agents: [specialist.id] },
  } as Anthropic.Beta.Agents.AgentCreateParams);
  const environment = await client.beta.environments.create({ name: 'chaos-env' });
  return { worker: worker.id, careful: careful.id, coordinator: coordinator.id, environment: environment.id };
}

export const agentFor = (agents: ChaosAgents, kind: ChaosKind) => (kind === 'approval' ? agents.careful : kind === 'specialist' ? agents.coordinator : agents.worker);

/** The first event a session gets: its task, as a message or (graded) as the outcome to meet. */
export function kickOff(kind: ChaosKind, tag: string, steps: number): Anthropic.Beta.Sessions.EventSendParams['events'][number] {
  if (kind === 'graded') return { type: 'user.define_outcome', description: taskText(tag, kind, steps), rubric: { type: 'text', content: 'every step ran once' } };
  return { type: 'user.message', content: [{ type: 'text', text: taskText(tag, kind, steps) }] };
}

/** The event after which a session of this kind has nothing left to do. */
export function isFinished(kind: ChaosKind, tag: string): (event: SessionEvent, received: readonly SessionEvent[]) => boolean {
  return (event, received) => {
    if (event.type !== 'session.status_idle' || event.stop_reason?.type !== 'end_turn') return false;
    if (kind === 'graded') return received.some((e) => e.type === 'span.outcome_evaluation_end');
    return received.some((e) => e.type === 'agent.message' && e.content.some((b) => b.type === 'text' && b.text === `finished ${tag}`));
  };
}
