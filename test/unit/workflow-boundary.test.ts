import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

// Workflow code must be deterministic: it may import @temporalio/workflow, other
// workflow modules, and types (erased at build time). Anything else would pull
// I/O, clocks or Node built-ins into the sandboxed workflow isolate.
test('workflows/ imports only @temporalio/workflow, its own modules, and types', () => {
  const dir = new URL('../../workflows/', import.meta.url);
  const offenders: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(new URL(file, dir), 'utf8');
    for (const match of source.matchAll(/^(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)) {
      const [, , typeOnly, from = ''] = match;
      const allowed = typeOnly !== undefined || from === '@temporalio/workflow' || (from.startsWith('./') && !from.includes('/..'));
      if (!allowed) offenders.push(`${file}: ${match[0]}`);
    }
    assert.doesNotMatch(source, /\b(Date\.now|new Date\(|Math\.random|setTimeout|process\.)/, `${file} uses a clock, randomness or process state`);
  }
  assert.deepEqual(offenders, []);
});
