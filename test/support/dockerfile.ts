/**
 * Just enough of a Dockerfile and its .dockerignore to check them without building:
 * the instructions (continuations joined, comments dropped) and whether a path is in the
 * build context.
 */

export type DockerfileInstruction = { keyword: string; args: string };

export function parseDockerfile(text: string): DockerfileInstruction[] {
  const instructions: DockerfileInstruction[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    pending += line.replace(/\\\s*$/, ' ');
    if (/\\\s*$/.test(line)) continue;
    const match = /^\s*([A-Za-z]+)\s+(.*\S)\s*$/.exec(pending);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]! });
    pending = '';
  }
  return instructions;
}

/** The JSON (exec) form's array, e.g. `ENTRYPOINT ["longhaul"]`. */
export function execForm(instruction: DockerfileInstruction | undefined): string[] {
  if (!instruction) throw new Error('no such instruction');
  const parsed: unknown = JSON.parse(instruction.args);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) throw new Error(`${instruction.keyword} is not in exec form: ${instruction.args}`);
  return parsed;
}

/**
 * Whether `path` (relative to the context root, `/`-separated) is sent to the daemon: the
 * last .dockerignore pattern matching it or one of its parent folders decides, `!`
 * re-including. Patterns use `*` within a segment and `**` across them.
 */
export function inBuildContext(dockerignore: string, path: string): boolean {
  const patterns = dockerignore
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const segments = path.split('/');
  const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let included = true;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const regex = globToRegex(pattern.slice(negated ? 1 : 0).replace(/^\/+|\/+$/g, ''));
    // An exclusion of a folder excludes what is in it; a re-inclusion names the path or a parent.
    if (candidates.some((candidate) => regex.test(candidate))) included = negated;
  }
  return included;
}

function globToRegex(glob: string): RegExp {
  const source = glob
    .split('**')
    .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
    .join('.*');
  return new RegExp(`^${source}$`);
}
