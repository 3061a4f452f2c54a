#!/usr/bin/env node
// The `longhaul` command. Node runs the TypeScript sources directly (type stripping,
// on by default from Node 22.18), so there is no build step.
import module from 'node:module';
import { fileURLToPath } from 'node:url';

if (!process.features.typescript) {
  process.stderr.write(
    `longhaul needs a Node.js that runs TypeScript (22.18 or newer); this is ${process.version}. ` +
      'Run ./longhaul from a checkout: its setup installs one.\n',
  );
  process.exit(1);
}
// What Node made of our TypeScript (types stripped, then compiled), kept in the checkout's
// ignored cache between runs: a start with a warm cache never loads the type stripper (about
// 17 MiB resident for as long as the process runs) and skips the compiling.
module.enableCompileCache?.(fileURLToPath(new URL('../.cache/node-compile-cache', import.meta.url)));
// `dev`, `worker` and `serve` run for days and are memory-bound: they re-execute themselves
// once with V8 and malloc settings that only apply at start-up (src/config/memory-settings.ts).
const { relaunchWithMemorySettings } = await import('../src/config/memory-settings.ts');
relaunchWithMemorySettings();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
