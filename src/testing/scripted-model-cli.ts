/**
 * Runs a scripted model server from a JSON file of turns, to drive an agent by hand:
 *
 *   node src/testing/scripted-model-cli.ts --port 4010 --script turns.json
 *   ANTHROPIC_BASE_URL=http://127.0.0.1:4010 <your agent>
 *
 * The file holds an array of turns, e.g.
 * `[{"content":[{"type":"text","text":"Hi"}]}, {"fault":"overloaded"}]`.
 * On SIGINT/SIGTERM it stops, and exits 1 if any call found no scripted turn.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ScriptedModelServer } from './scripted-model-server.ts';
import type { ScriptedTurn } from './script.ts';

const USAGE = 'usage: scripted-model-cli --script <turns.json> [--port 4010] [--host 127.0.0.1] [--latency-ms 0]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      script: { type: 'string' },
      port: { type: 'string', default: '4010' },
      host: { type: 'string', default: '127.0.0.1' },
      'latency-ms': { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const port = Number(values.port);
  const latencyMs = Number(values['latency-ms']);
  if (values.script === undefined || !Number.isInteger(port) || !(latencyMs >= 0)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const turns: unknown = JSON.parse(await readFile(values.script, 'utf8'));
  if (!Array.isArray(turns)) throw new Error(`${values.script}: expected a JSON array of turns`);
  // Turns are checked by start(), which names the first invalid one.
  const model = await ScriptedModelServer.start({ script: turns as ScriptedTurn[], port, host: values.host, latencyMs });
  process.stdout.write(`scripted model listening on ${model.url} with ${turns.length} turn(s)\n`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await model.close();
  process.stdout.write(`answered ${model.callCount} call(s); ${model.remainingTurns ?? 0} turn(s) left\n`);
  try {
    model.assertNoUnscriptedCalls();
    return 0;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`scripted-model-cli: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
