/** The built-in tools that run inside the sandbox container (the rest run on the worker). */
export const SANDBOX_TOOLS: ReadonlySet<string> = new Set(['bash', 'read', 'write', 'edit', 'glob', 'grep']);
