import type { Terminal } from './output.ts';

/**
 * Resolves with the signal's name on the first SIGINT/SIGTERM, so the command can
 * shut down in order; a second signal exits at once, without cleaning up.
 */
export function waitForStopSignal(terminal: Terminal): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        terminal.error('stopping now, without cleaning up');
        process.exit(130);
      }
      stopping = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
