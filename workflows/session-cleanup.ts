import { cleanupActivities } from './activity-options.ts';

/**
 * Removes what a session left behind when it had already ended before it was deleted
 * or archived (its workflow can no longer take the signal): its container, disk and
 * host folder, and with `records` its rows. Started by the API under the id
 * `<session id>:cleanup`; any worker runs it, retried until done.
 */
export async function sessionCleanupWorkflow({ sessionId, records }: { sessionId: string; records: boolean }): Promise<void> {
  const { destroySandbox, purgeSessionRecords } = cleanupActivities();
  await destroySandbox({ sessionId, removeVolume: true });
  if (records) await purgeSessionRecords({ sessionId });
}
