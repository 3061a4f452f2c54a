import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

// Workflow code must be deterministic. Workflows may import @temporalio/workflow, their
// own modules, the pure layer in src/core, and types (erased at build time); src/core
// may import only itself and types. Anything else would pull I/O, clocks or Node
// built-ins into the sandboxed workflow isolate.
const CLOCKS = /\b(Date\.now|new Date\(|Math\.random|setTimeout|setInterval|process\.)/;

function importsOf(source: string): { typeOnly: boolean; from: string; text: string }[] {
  return [...source.matchAll(/^(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)].map((match) => ({
    typeOnly: match[2] !== undefined,
    from: match[3] ?? '',
    text: match[0],
  }));
}

function check(folder: string, allowed: (from: string) => boolean): string[] {
  const dir = new URL(folder, import.meta.url);
  const offenders: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(new URL(file, dir), 'utf8');
    for (const { typeOnly, from, text } of importsOf(source)) if (!typeOnly && !allowed(from)) offenders.push(`${folder}${file}: ${text}`);
    assert.doesNotMatch(source, CLOCKS, `${folder}${file} uses a clock, randomness or process state`);
  }
  return offenders;
}

const sibling = (from: string) => from.startsWith('./') && !from.includes('/..');

test('workflows/ imports only @temporalio/workflow, its own modules, src/core and types', () => {
  const pureLayer = (from: string) => /^\.\.\/src\/core\/[\w-]+\.ts$/.test(from);
  // The workflows of the worker LonghaulPlugin is given: workflow code too, bundled under this alias.
  const hostWorkflows = (from: string) => from === '__longhaul_host_workflows';
  assert.deepEqual(check('../../workflows/', (from) => from === '@temporalio/workflow' || sibling(from) || pureLayer(from) || hostWorkflows(from)), []);
});

test('src/core is pure: it imports only itself and types, and reads no clock', () => {
  assert.deepEqual(check('../../src/core/', sibling), []);
});

/** Every file `entry` reaches through value imports of relative paths. */
function reachable(entry: URL): Set<string> {
  const seen = new Set<string>();
  const visit = (file: URL) => {
    if (seen.has(file.pathname)) return;
    seen.add(file.pathname);
    for (const { typeOnly, from } of importsOf(readFileSync(file, 'utf8'))) {
      if (!typeOnly && from.startsWith('.') && from.endsWith('.ts')) visit(new URL(from, file));
    }
  };
  visit(entry);
  return seen;
}

test('the API and the client reach the workflows only through their contract, and never the worker, activities or sandboxes', () => {
  const root = new URL('../../', import.meta.url).pathname;
  const forbidden = /^(activities|sandbox|src\/worker)\/|^workflows\/(?!contract\.ts$)/;
  for (const entry of ['src/api/create-api-app.ts', 'src/client/longhaul.ts']) {
    const files = [...reachable(new URL(entry, new URL('../../', import.meta.url)))].map((path) => path.slice(root.length));
    assert.ok(files.length > 5, `${entry} reaches only: ${files.join(', ')}`);
    const offenders = files.filter((path) => forbidden.test(path));
    assert.deepEqual(offenders, [], `${entry} reaches ${offenders.join(', ')}`);
  }
});
