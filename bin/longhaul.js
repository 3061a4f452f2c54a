#!/usr/bin/env node
// The `longhaul` command. Node runs the TypeScript sources directly (type stripping,
// on by default from Node 22.18), so there is no build step.
if (!process.features.typescript) {
  process.stderr.write(
    `longhaul needs a Node.js that runs TypeScript (22.18 or newer); this is ${process.version}. ` +
      'Run ./longhaul from a checkout: its setup installs one.\n',
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
