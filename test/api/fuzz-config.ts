import type { PathIds, StatefulSeeds } from './fuzz-resources.ts';

/**
 * The `schemathesis.toml` of the fuzz runs (`test/api/fuzz.test.ts`). Which checks run is set
 * here rather than on the command line, because the command line would override the
 * per-operation settings below.
 */

const toml = (value: unknown) => JSON.stringify(value);
const inlineTable = (entries: Record<string, unknown>): string => `{ ${Object.entries(entries).map(([key, value]) => `${toml(key)} = ${typeof value === 'object' && value !== null && !Array.isArray(value) ? inlineTable(value as Record<string, unknown>) : toml(value)}`).join(', ')} }`;

/**
 * Operations whose body names other resources (a file to mount, vaults, a rubric file, a
 * deployment's agent and environment): their 404 for one of those (`file_id: file … not
 * found`) is right, but `ensure_resource_availability` reads any 404 right after the parent
 * was created as the parent missing. The check stays on for every other operation.
 */
const BODY_REFERENCES = [
  'POST /v1/sessions/{session_id}',
  'POST /v1/sessions/{session_id}/events',
  'POST /v1/sessions/{session_id}/resources',
  'POST /v1/deployments/{deployment_id}',
];

/**
 * What both runs share: every check but `positive_data_acceptance` (see the test's header),
 * and a short timeout on event streams (a live one stays open until the client leaves).
 */
function commonConfig(streamIds: PathIds = {}): string {
  const parameters = Object.fromEntries(Object.entries(streamIds).map(([name, id]) => [`path.${name}`, id]));
  return [
    'request-timeout = 30\n',
    '[checks]\npositive_data_acceptance = { enabled = false }\n',
    `[[operations]]\ninclude-path-regex = "/stream$"\nrequest-timeout = 5\n${Object.keys(parameters).length > 0 ? `parameters = ${inlineTable(parameters)}\n` : ''}`,
    ...BODY_REFERENCES.map((operation) => `[[operations]]\ninclude-name = ${toml(operation)}\nchecks = { ensure_resource_availability = { enabled = false } }\n`),
  ].join('\n');
}

/** Examples, coverage and fuzzing: real ids for every path parameter; the event streams get an archived session's (its stream closes at once). */
export function pathIdsConfig(ids: PathIds, streams: PathIds): string {
  return `${commonConfig(streams)}\n[generation]\nallow-x00 = true\n\n[parameters]\n${Object.entries(ids)
    .map(([name, id]) => `${toml(`path.${name}`)} = ${toml(id)}`)
    .join('\n')}\n`;
}

const SEED_LISTS = ['GET /v1/agents', 'GET /v1/environments', 'GET /v1/memory_stores', 'GET /v1/sessions', 'GET /v1/files', 'GET /v1/vaults'];

/**
 * The stateful run: positive data only, in ASCII without NUL (sequences are the point; the
 * other run sends invalid data, NULs and the rest of Unicode), explicit links only
 * (Schemathesis's inferred ones add wrong guesses, such as a new store's dream schedule,
 * which does not exist until one is set), and body fields bound to the seeds most of the time.
 */
export function statefulConfig(seeds: StatefulSeeds, { maxSteps }: { maxSteps: number }): string {
  const dictionaries = {
    ...seeds,
    cron: ['0 * * * *', '*/15 9-17 * * 1-5', '30 2 1 * *'],
    timezones: ['UTC', 'Europe/Berlin', 'America/New_York'],
    // Webhook endpoints: nothing listens there, so a delivery fails at once.
    urls: ['http://127.0.0.1:9/longhaul-fuzz'],
  };
  const bindings = {
    'body.agent': 'agents',
    'body.environment_id': 'environments',
    'body.resources[*].memory_store_id': 'memory_stores',
    'body.inputs[*].memory_store_id': 'memory_stores',
    'body.inputs[*].session_ids[*]': 'sessions',
    'body.file_id': 'files',
    'body.resources[*].file_id': 'files',
    'body.vault_ids[*]': 'vaults',
    'body.schedule.expression': 'cron',
    'body.schedule.timezone': 'timezones',
    'body.url': 'urls',
  };
  return [
    commonConfig(),
    // Not the lists of the seeds' kinds: their first item links on to archive and delete, and
    // would soon reach the seeds. The other run tests these lists; here the seeds live on.
    ...SEED_LISTS.map((operation) => `[[operations]]\ninclude-name = ${toml(operation)}\nenabled = false\n`),
    ...Object.entries(dictionaries).map(([name, values]) => `[dictionaries.${name}]\nvalues = ${toml(values)}\n`),
    `[parameters]\n${Object.entries(bindings)
      .map(([field, dictionary]) => `${toml(field)} = { dictionary = ${toml(dictionary)}, probability = 0.8 }`)
      .join('\n')}\n`,
    `[phases.stateful]\nmax-steps = ${maxSteps}\n\n[phases.stateful.generation]\nmode = "positive"\nallow-x00 = false\ncodec = "ascii"\n\n[phases.stateful.inference]\nalgorithms = []\n`,
  ].join('\n');
}
