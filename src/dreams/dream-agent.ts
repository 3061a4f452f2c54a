import { AgentCreateParams, agentSpecFromCreate, type Agent } from '../schemas/api-agent.ts';

/** Where a dream's session finds the transcripts of the sessions it reviews, one Markdown file each. */
export const DREAM_TRANSCRIPTS_DIR = '/mnt/session/dream/sessions';

/** The built-in agent every dream's session runs (it is no stored agent: sessions show it by this id). */
export const DREAM_AGENT_ID = 'agent_longhaul_dreamer';
/** What a dream's session names as its environment: the default one, which is no stored environment either. */
export const DREAM_ENVIRONMENT_ID = 'env_longhaul_dreams';

const DREAM_SYSTEM = `You are dreaming: reviewing what agents did in past sessions, and curating the memory store those agents share, so that future sessions start knowing what past ones learned.

Work with your file tools. The memory store is a folder of small UTF-8 text files (at most 100 KB each); every change you make to it is kept as a version.

What makes a good memory store:
- Durable knowledge: facts about the project and its environment, decisions and their reasons, user preferences, procedures that worked, mistakes to avoid and how they were fixed.
- Organised by topic, one subject per file, with paths and file names that say what is inside, so an agent can find the right file by listing folders.
- Current and consistent: merge duplicates, correct what later sessions showed to be wrong, and delete what is obsolete.
- Short and specific: no transcripts, no narration of what happened when, nothing that is only true for one session.

Never invent what the transcripts do not support. Do not touch files outside the memory store.`;

/** The dream's agent: the chosen model, its file tools, no web access. */
export function dreamAgent(model: string, at: string): Agent {
  const spec = agentSpecFromCreate(
    AgentCreateParams.parse({
      name: 'Longhaul dreamer',
      description: 'Reviews past sessions and curates a memory store.',
      model,
      system: DREAM_SYSTEM,
      tools: [{ type: 'agent_toolset_20260401', configs: [{ name: 'web_fetch', enabled: false }, { name: 'web_search', enabled: false }] }],
    }),
  );
  return { ...spec, type: 'agent', id: DREAM_AGENT_ID, version: 1, created_at: at, updated_at: at, archived_at: null };
}

/** The dream session's task: what to read, where the store is, and the caller's guidance. */
export function dreamTask({ storeMount, sessionIds, instructions, startsAsCopy }: { storeMount: string; sessionIds: readonly string[]; instructions: string | null; startsAsCopy: boolean }): string {
  return [
    `Review ${sessionIds.length === 1 ? 'one past session' : `${sessionIds.length} past sessions`}: their transcripts are in ${DREAM_TRANSCRIPTS_DIR}/, one file per session (${sessionIds.map((id) => `${id}.md`).join(', ')}).`,
    `Then curate the memory store at ${storeMount}/${startsAsCopy ? ' (it starts as a copy of the store those sessions used)' : ''}: read what is there first, then add, merge, correct and prune so it holds what future sessions should know.`,
    ...(instructions ? ['', 'Guidance for this dream:', instructions] : []),
    '',
    'When the store is in order, answer with a short summary of what you changed and why.',
  ].join('\n');
}
