/**
 * The fast layer of the `auto` permission policy: decides the calls that are
 * clearly safe or clearly destructive without asking a model. `undefined`
 * means "not clear", and the call goes to the model's judgement.
 */

export type AutoVerdict = { type: 'allow' } | { type: 'ask'; reason_code: string } | { type: 'deny'; reason_code: string };

// Commands that only read. A pipeline of these (without output redirection) is allowed.
const READ_ONLY_COMMANDS = new Set([
  'ls', 'cat', 'head', 'tail', 'wc', 'echo', 'printf', 'pwd', 'grep', 'egrep', 'rg', 'stat', 'file', 'which', 'date', 'whoami', 'id',
  'sort', 'uniq', 'cut', 'tr', 'diff', 'tree', 'du', 'df', 'true', 'basename', 'dirname', 'realpath', 'md5sum', 'sha256sum', 'less', 'nl', 'test',
]);

// Patterns no agent should run unasked: wiping disks or the filesystem root, fork bombs, piping the network into a shell.
const DESTRUCTIVE_PATTERNS: readonly [RegExp, string][] = [
  [/\brm\s+(-[a-zA-Z]*\s+)*-[a-zA-Z]*[rR][a-zA-Z]*\s+(-[a-zA-Z]+\s+)*(\/|~|\/\*|\$HOME)(\s|$)/, 'recursive_delete_of_root_or_home'],
  [/\bmkfs(\.\w+)?\b/, 'filesystem_format'],
  [/\bdd\b[^|;&]*\bof=\/dev\//, 'raw_device_write'],
  [/:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:/, 'fork_bomb'],
  [/\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b/, 'remote_code_execution'],
  [/\b(shutdown|reboot|halt|poweroff)\b/, 'system_shutdown'],
  [/\bchmod\s+(-[a-zA-Z]+\s+)*-R\s+[0-7]*7[0-7]*\s+\/(\s|$)/, 'recursive_permission_change_of_root'],
  [/>\s*\/dev\/sd[a-z]/, 'raw_device_write'],
];

const SAFE_TOOLS = new Set(['read', 'glob', 'grep', 'web_search', 'web_fetch']);

export function autoPermissionRule(toolName: string, input: Record<string, unknown>): AutoVerdict | undefined {
  if (SAFE_TOOLS.has(toolName)) return { type: 'allow' };
  if (toolName === 'write' || toolName === 'edit') return isWorkspacePath(input['file_path']) ? { type: 'allow' } : undefined;
  if (toolName === 'bash') return bashVerdict(input);
  return undefined;
}

function bashVerdict(input: Record<string, unknown>): AutoVerdict | undefined {
  if (input['restart'] === true && input['command'] === undefined) return { type: 'allow' };
  const command = input['command'];
  if (typeof command !== 'string') return undefined;
  for (const [pattern, reason] of DESTRUCTIVE_PATTERNS) if (pattern.test(command)) return { type: 'deny', reason_code: reason };
  // Anything that writes, substitutes or backgrounds is left to the judgement.
  if (/[>`]|\$\(|&(?!&)/.test(command)) return undefined;
  const segments = command.split(/&&|\|\||;|\|/).map((s) => s.trim()).filter((s) => s.length > 0);
  if (segments.length === 0) return undefined;
  const allReadOnly = segments.every((segment) => {
    const [program = '', ...args] = segment.split(/\s+/);
    if (program === 'find') return !args.some((a) => ['-delete', '-exec', '-execdir', '-ok', '-fprint'].includes(a));
    return READ_ONLY_COMMANDS.has(program);
  });
  return allReadOnly ? { type: 'allow' } : undefined;
}

function isWorkspacePath(path: unknown): boolean {
  if (typeof path !== 'string' || path.length === 0) return false;
  if (path.split('/').includes('..')) return false;
  return !path.startsWith('/') || path === '/workspace' || path.startsWith('/workspace/');
}
