/**
 * Every body parameter the official SDK sends is one the API's schema knows. A zod object
 * drops keys it does not know, so a field a newer SDK adds would otherwise be accepted and
 * silently ignored: this test names it when the SDK is upgraded.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import type { z } from 'zod';

const SDK_BETA = join(dirname(createRequire(import.meta.url).resolve('@anthropic-ai/sdk')), 'resources', 'beta');
const SCHEMAS = new URL('../../src/schemas/', import.meta.url);

/** `<name>Params` interfaces of the SDK's beta resources, with their body parameters (path, query and header ones left out). */
function sdkBodyParams(): Map<string, { file: string; params: string[] }> {
  const found = new Map<string, { file: string; params: string[] }>();
  for (const file of readdirSync(SDK_BETA, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'))) {
    const source = ts.createSourceFile(file, readFileSync(join(SDK_BETA, file), 'utf8'), ts.ScriptTarget.Latest, true);
    source.forEachChild((node) => {
      if (!ts.isInterfaceDeclaration(node) || !node.name.text.endsWith('Params')) return;
      const params = node.members.filter(ts.isPropertySignature).flatMap((member) => {
        const doc = ts.getJSDocCommentsAndTags(member).map((d) => d.getText(source)).join('\n');
        return /\b(Path|Query|Header) param\b/.test(doc) ? [] : [member.name.getText(source).replace(/^'|'$/g, '')];
      });
      // Same-named interfaces in two resources (`VersionListParams`) are told apart by their file.
      found.set(`${file}#${node.name.text}`, { file, params });
    });
  }
  return found;
}

async function apiSchemas(): Promise<Map<string, z.ZodType>> {
  const schemas = new Map<string, z.ZodType>();
  for (const file of readdirSync(SCHEMAS).filter((f) => f.startsWith('api-') && f.endsWith('.ts'))) {
    for (const [name, value] of Object.entries(await import(new URL(file, SCHEMAS).href))) {
      if (value && typeof value === 'object' && '_zod' in value) schemas.set(name, value as z.ZodType);
    }
  }
  return schemas;
}

/** The keys of an object schema, through refinements and pipes. */
function keysOf(schema: z.ZodType): Set<string> | undefined {
  const def = (schema as unknown as { _zod: { def: { shape?: Record<string, unknown>; in?: z.ZodType; innerType?: z.ZodType } } })._zod.def;
  if (def.shape) return new Set(Object.keys(def.shape));
  const inner = def.in ?? def.innerType;
  return inner ? keysOf(inner) : undefined;
}

test('every body parameter of the SDK is in the schema of the same name', async () => {
  const schemas = await apiSchemas();
  const unknown: string[] = [];
  let compared = 0;
  for (const [key, { params }] of sdkBodyParams()) {
    const name = key.slice(key.indexOf('#') + 1);
    const schema = schemas.get(name);
    const keys = schema && keysOf(schema);
    if (!keys) continue;
    compared++;
    for (const param of params) if (!keys.has(param)) unknown.push(`${key}: ${param}`);
  }
  // The resources clients create and change the most must be among those compared.
  for (const name of ['SessionCreateParams', 'SessionUpdateParams', 'AgentCreateParams', 'AgentUpdateParams', 'EnvironmentCreateParams', 'DeploymentCreateParams']) {
    assert.ok(schemas.has(name), `src/schemas has no ${name}`);
  }
  assert.ok(compared >= 15, `only ${compared} SDK parameter objects were compared`);
  assert.deepEqual(unknown, [], 'body parameters the SDK sends and the API would silently drop');
});
