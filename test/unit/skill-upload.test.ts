import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BetaSkill, SkillListParams as SdkSkillListParams } from '@anthropic-ai/sdk/resources/beta/skills/skills';
import type { BetaSkillVersion } from '@anthropic-ai/sdk/resources/beta/skills/versions';
import type { BetaManagedAgentsSkillParams } from '@anthropic-ai/sdk/resources/beta/agents/agents';
import type { z } from 'zod';
import { InvalidRequestError } from '../../src/errors.ts';
import { AgentSkillParams, Skill, SkillListQuery, SkillVersion } from '../../src/schemas/api-skill.ts';
import { parseSkillFrontMatter } from '../../src/skills/skill-front-matter.ts';
import { SkillUploadCheck, skillPathProblem } from '../../src/skills/skill-upload.ts';

// Both directions against the SDK: what we answer is what it declares, what it sends we take.
const sdkShapes = {
  skill: (s: Skill): BetaSkill => s,
  version: (v: SkillVersion): BetaSkillVersion => v,
  agentSkill: (p: BetaManagedAgentsSkillParams): z.input<typeof AgentSkillParams> => p,
  listSource: (s: 'custom' | 'anthropic'): z.input<typeof SkillListQuery>['source'] => s satisfies SdkSkillListParams['source'],
};
void sdkShapes;

const LIMITS = { fileBytes: 10, totalBytes: 15, files: 3, pathBytes: 40 };

/** The message of the InvalidRequestError `fn` throws. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidRequestError, `not an InvalidRequestError: ${String(error)}`);
    return error.message;
  }
  assert.fail('nothing was refused');
}

async function refusalOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof InvalidRequestError, `not an InvalidRequestError: ${String(error)}`);
  return error.message;
}

async function drain(iterable: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of iterable) n += chunk.byteLength;
  return n;
}

async function* bytes(...chunks: string[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield Buffer.from(chunk);
}

test('front matter: name and description are read; the body is not', () => {
  assert.deepEqual(parseSkillFrontMatter('---\nname: pdf-tools\ndescription: Fill in PDF forms.\nlicense: MIT\n---\n# PDF\nSecret steps'), { name: 'pdf-tools', description: 'Fill in PDF forms.' });
  // A BOM, CRLF line ends, a folded description, the closing line at the very end.
  assert.deepEqual(parseSkillFrontMatter('\uFEFF---\r\nname: a-1\r\ndescription: >\r\n  two\r\n  lines\r\n---'), { name: 'a-1', description: 'two lines' });
  assert.deepEqual(parseSkillFrontMatter('---\ndescription: "no name: the folder names it"\n---\n'), { name: undefined, description: 'no name: the folder names it' });
});

test('front matter: each problem is a 400 naming the file and the key', () => {
  assert.match(refusal(() => parseSkillFrontMatter('# no front matter\n', 'x/SKILL.md')), /^files: x\/SKILL\.md must start with YAML front matter/);
  assert.match(refusal(() => parseSkillFrontMatter('---\nname: a\ndescription: b\n')), /no closing "---" line/);
  assert.match(refusal(() => parseSkillFrontMatter('---\nname: a\n---\n')), /has no description/);
  assert.match(refusal(() => parseSkillFrontMatter('---\nname: a\ndescription: "  "\n---\n')), /description .* must be non-empty text/);
  assert.match(refusal(() => parseSkillFrontMatter('---\nname: a\ndescription: [1, 2]\n---\n')), /description .* must be non-empty text/);
  assert.match(refusal(() => parseSkillFrontMatter(`---\nname: a\ndescription: ${'d'.repeat(1025)}\n---\n`)), /longer than 1024 characters/);
  assert.match(refusal(() => parseSkillFrontMatter('---\nname: PDF Tools\ndescription: b\n---\n')), /name in the front matter of SKILL.md must be .* \(kebab-case\)/);
  assert.match(refusal(() => parseSkillFrontMatter('---\nname: a--b\ndescription: b\n---\n')), /kebab-case/);
  assert.match(refusal(() => parseSkillFrontMatter(`---\nname: ${'a'.repeat(65)}\ndescription: b\n---\n`)), /at most 64 characters/);
  assert.match(refusal(() => parseSkillFrontMatter('---\n- a list\n---\n')), /must be a YAML mapping/);
  assert.match(refusal(() => parseSkillFrontMatter('---\nname: [unclosed\ndescription: b\n---\n')), /not valid YAML/);
  // Aliases are how a small header becomes a huge value: none are taken.
  assert.match(refusal(() => parseSkillFrontMatter('---\nx: &a [1]\ny: *a\ndescription: b\n---\n')), /cannot be read/);
});

test('paths: relative, clean, in a folder', () => {
  assert.equal(skillPathProblem('my-skill/SKILL.md', 100), undefined);
  assert.equal(skillPathProblem('my-skill/scripts/run.py', 100), undefined);
  for (const [path, problem] of [
    ['', /no filename/],
    ['/etc/passwd', /is absolute/],
    ['my-skill/../../etc/passwd', /"\.\." part/],
    ['my-skill/./SKILL.md', /"\." or/],
    ['my-skill//SKILL.md', /empty/],
    ['my-skill\\SKILL.md', /backslash/],
    ['my-skill/a\u0000b', /control character/],
    ['SKILL.md', /not in a folder/],
    [`my-skill/${'x'.repeat(100)}`, /longer than 100 bytes/],
  ] as const) {
    assert.match(skillPathProblem(path, 100) ?? '', problem, path);
  }
});

test('an upload: one folder, SKILL.md at its top, each path once, limits per file, in all and in count', async () => {
  const upload = new SkillUploadCheck(LIMITS);
  assert.equal(upload.addFile('tools/SKILL.md'), 'SKILL.md');
  assert.equal(await drain(upload.meter('SKILL.md', bytes('12345'))), 5);
  assert.equal(upload.addFile('tools/bin/run.sh'), 'bin/run.sh');
  assert.equal(await drain(upload.meter('bin/run.sh', bytes('1234', '5678'))), 8);
  assert.match(refusal(() => upload.addFile('other/x')), /one top-level folder, but "other\/x" is not in "tools"/);
  assert.match(refusal(() => upload.addFile('tools/SKILL.md')), /sent twice/);
  assert.match(refusal(() => upload.addFile('tools/bin/run.sh/x')), /both a file and a folder/);
  assert.match(refusal(() => upload.addFile('tools/bin')), /both a file and a folder/);
  assert.equal(upload.addFile('tools/big'), 'big');
  // 13 bytes so far: this file's first 3 take the total past 15, long before the file passes 10.
  assert.match(await refusalOf(drain(upload.meter('big', bytes('123', '45')))), /together are larger than 15 bytes/);
  assert.match(refusal(() => upload.addFile('tools/four')), /more than 3 files/);
  assert.deepEqual(upload.finish('---\ndescription: Tools.\n---\n'), {
    folder: 'tools',
    name: 'tools',
    description: 'Tools.',
    files: [
      { path: 'SKILL.md', size_bytes: 5 },
      { path: 'bin/run.sh', size_bytes: 8 },
      { path: 'big', size_bytes: 3 },
    ],
  });

  const one = new SkillUploadCheck(LIMITS);
  one.addFile('t/a');
  assert.match(await refusalOf(drain(one.meter('a', bytes('12345678901')))), /t\/a is larger than 10 bytes/);
});

test('an upload: SKILL.md is required, and without a name its folder must be kebab-case', () => {
  assert.match(refusal(() => new SkillUploadCheck(LIMITS).finish(undefined)), /send the skill as `files\[\]` parts/);
  const noSkillFile = new SkillUploadCheck(LIMITS);
  noSkillFile.addFile('tools/README.md');
  assert.match(refusal(() => noSkillFile.finish(undefined)), /tools\/SKILL\.md is missing/);
  const badFolder = new SkillUploadCheck(LIMITS);
  badFolder.addFile('My Tools/SKILL.md');
  assert.match(refusal(() => badFolder.finish('---\ndescription: d\n---\n')), /no name in its front matter, and the folder's name "My Tools" is not kebab-case/);
  const named = new SkillUploadCheck(LIMITS);
  named.addFile('My Tools/SKILL.md');
  assert.equal(named.finish('---\nname: my-tools\ndescription: d\n---\n').name, 'my-tools');
});
