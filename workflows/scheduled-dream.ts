import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { DreamActivities } from '../activities/dream-activities.ts';
import type { ScheduledDreamInput } from './contract.ts';

const { startScheduledDream } = proxyActivities<DreamActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/**
 * One fire of a memory store's dream schedule: starts a dream over the sessions that used
 * the store since the last dream that read it (none: no dream). The dream runs in a
 * workflow of its own; this one ends once it has started.
 */
export async function scheduledDreamWorkflow(input: ScheduledDreamInput): Promise<string | null> {
  return startScheduledDream({ ...input, fireId: workflowInfo().workflowId });
}
