import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runInNewContext } from 'node:vm';
import { asciiOnly } from '../../src/worker/bundle-workflows.ts';

test('asciiOnly escapes every character past ASCII, and the code means what it meant', () => {
  // Strings, a template, regular expressions (with and without the u flag, a character past the BMP
  // as its two halves), an identifier and a comment.
  const code = `
    // Baagøe — a comment
    const café = 'é—😀';
    const tpl = \`→\${café}\`;
    const plain = /[—é]/.test('—');
    const unicode = /^😀$/u.test('😀');
    JSON.stringify([café, tpl, plain, unicode, café.length]);
  `;
  const escaped = asciiOnly(code);
  assert.match(escaped, /^[\x00-\x7f]*$/);
  assert.equal(runInNewContext(escaped), runInNewContext(code));
  assert.deepEqual(JSON.parse(runInNewContext(code) as string), ['é—😀', '→é—😀', true, true, 4]);
});
