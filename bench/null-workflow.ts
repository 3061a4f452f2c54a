/**
 * Workflows for the Temporal floor: the session loop's shape (two activities
 * per step) with activities that do nothing, so what remains is Temporal's
 * own per-step cost on this machine. Bundled by `temporal-floor.ts`.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

export type NullActivities = {
  noop(): Promise<void>;
  noopWithHeartbeat(): Promise<void>;
};

const remote = proxyActivities<NullActivities>({ startToCloseTimeout: '1 minute', heartbeatTimeout: '30 seconds' });
const local = proxyLocalActivities<NullActivities>({ startToCloseTimeout: '1 minute' });

export type NullLoopVariant = 'activities' | 'activities_with_heartbeat' | 'local_activities';

/** `steps` steps of two activities each, the first standing for the model call, the second for the tool call. */
export async function nullLoopWorkflow({ steps, variant }: { steps: number; variant: NullLoopVariant }): Promise<void> {
  for (let i = 0; i < steps; i++) {
    if (variant === 'local_activities') {
      await local.noop();
      await local.noop();
    } else {
      await (variant === 'activities_with_heartbeat' ? remote.noopWithHeartbeat() : remote.noop());
      await remote.noop();
    }
  }
}
