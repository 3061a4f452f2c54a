import type { AgentToolName, ToolDefinition } from '../schemas/agent.ts';

/** A tool as the Messages API takes it. */
export type ModelToolDefinition = {
  name: string;
  description: string;
  input_schema: { type: 'object'; properties: Record<string, unknown>; required?: string[] };
};

/**
 * The `agent_toolset_20260401` tools with the input schemas of the official
 * SDK (`BetaManagedAgentsAgentToolset20260401*Input`).
 */
export const AGENT_TOOLSET: Readonly<Record<AgentToolName, ModelToolDefinition>> = {
  bash: {
    name: 'bash',
    description:
      'Run a command in a persistent bash session inside the sandbox (working directory /workspace). ' +
      'The working directory and environment persist between calls. Set restart=true (without command) to start a fresh session.',
    input_schema: {
      type: 'object',
      properties: {
        command: { type: 'string', description: 'Shell command to execute. Omit only when restart is true.' },
        restart: { type: 'boolean', description: 'Restart the persistent bash session instead of running a command.' },
        timeout_ms: { type: 'integer', description: 'Per-call timeout in milliseconds.' },
      },
    },
  },
  read: {
    name: 'read',
    description: 'Read a text file, with line numbers. Relative paths resolve against /workspace.',
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string', description: 'Path of the file to read.' },
        view_range: {
          type: 'array',
          items: { type: 'integer' },
          description: 'Optional [start_line, end_line], 1-indexed inclusive; end_line <= 0 means end of file.',
        },
      },
      required: ['file_path'],
    },
  },
  write: {
    name: 'write',
    description: 'Write a file, replacing its contents; parent directories are created.',
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string', description: 'Path of the file to write.' },
        content: { type: 'string', description: 'Full file contents to write.' },
      },
      required: ['file_path', 'content'],
    },
  },
  edit: {
    name: 'edit',
    description: 'Replace old_string with new_string in a file. old_string must occur exactly once unless replace_all is true.',
    input_schema: {
      type: 'object',
      properties: {
        file_path: { type: 'string', description: 'Path of the file to edit.' },
        old_string: { type: 'string', description: 'Substring to find and replace.' },
        new_string: { type: 'string', description: 'Replacement text.' },
        replace_all: { type: 'boolean', description: 'Replace every occurrence instead of requiring a unique match.' },
      },
      required: ['file_path', 'old_string', 'new_string'],
    },
  },
  glob: {
    name: 'glob',
    description: 'List paths matching a doublestar glob pattern (e.g. **/*.py), newest first.',
    input_schema: {
      type: 'object',
      properties: {
        pattern: { type: 'string', description: 'Doublestar glob pattern.' },
        path: { type: 'string', description: 'Directory to search under; defaults to /workspace.' },
      },
      required: ['pattern'],
    },
  },
  grep: {
    name: 'grep',
    description: 'Search file contents for a regular expression; returns path:line:text matches.',
    input_schema: {
      type: 'object',
      properties: {
        pattern: { type: 'string', description: 'Regular expression to search for.' },
        path: { type: 'string', description: 'Directory to search under; defaults to /workspace.' },
      },
      required: ['pattern'],
    },
  },
  web_fetch: {
    name: 'web_fetch',
    description: 'Fetch a URL over HTTP(S) and return its content as text, subject to the environment network policy.',
    input_schema: {
      type: 'object',
      properties: { url: { type: 'string', description: 'The URL to fetch.' } },
      required: ['url'],
    },
  },
  web_search: {
    name: 'web_search',
    description: 'Search the web and return result titles, URLs and snippets.',
    input_schema: {
      type: 'object',
      properties: { query: { type: 'string', description: 'The search query.' } },
      required: ['query'],
    },
  },
};

/** The built-in tools that run inside the sandbox container (the rest run on the worker). */
export const SANDBOX_TOOLS: ReadonlySet<string> = new Set(['bash', 'read', 'write', 'edit', 'glob', 'grep']);

/** Whether a call the model made is one of the toolset's sandbox tools (a builtin; calls recorded before kinds existed are builtins). */
export function isSandboxToolCall({ kind, name }: { kind?: string | undefined; name: string }): boolean {
  return (kind ?? 'builtin') === 'builtin' && SANDBOX_TOOLS.has(name);
}

/** The tool names an agent's toolsets enable, in toolset order. */
export function enabledAgentTools(tools: readonly ToolDefinition[]): AgentToolName[] {
  const names: AgentToolName[] = [];
  for (const toolset of tools) {
    if (toolset.type !== 'agent_toolset_20260401') continue;
    const defaultEnabled = toolset.default_config?.enabled ?? true;
    for (const name of Object.keys(AGENT_TOOLSET) as AgentToolName[]) {
      const config = toolset.configs?.find((c) => c.name === name);
      if ((config?.enabled ?? defaultEnabled) && !names.includes(name)) names.push(name);
    }
  }
  return names;
}
