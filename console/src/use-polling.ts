import { useEffect, type DependencyList } from 'react';
import { isAuthError } from './api-client.ts';

export type PollingOptions = {
  /** Pause between the end of one load and the start of the next. */
  intervalMs: number;
  /** A rejected key: the page signs out rather than retrying. */
  onAuthError: () => void;
  /** Any other failure's message, and null once a load succeeds again. */
  onProblem: (message: string | null) => void;
};

/**
 * Runs `load` now, then again `intervalMs` after each run ends (never two at once), until
 * the component unmounts or `deps` change. `load` checks `stopped()` before it sets state,
 * so an answer for a page left behind is dropped.
 *
 * @example
 * usePolling(async (stopped) => { const page = await client.beta.sessions.list(); if (!stopped()) setSessions(page.data); }, [client], options);
 */
export function usePolling(load: (stopped: () => boolean) => Promise<void>, deps: DependencyList, { intervalMs, onAuthError, onProblem }: PollingOptions): void {
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        await load(() => stopped);
        if (!stopped) onProblem(null);
      } catch (error) {
        if (stopped) return;
        if (isAuthError(error)) return onAuthError();
        onProblem((error as Error).message);
      }
      if (!stopped) timer = setTimeout(run, intervalMs);
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // The caller's deps decide when polling restarts; the callbacks are read as they were then.
  }, deps);
}
