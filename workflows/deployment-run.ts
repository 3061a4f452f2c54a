import { continueAsNew, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { DeploymentActivities } from '../activities/deployment-activities.ts';
import type { DeploymentRunInput } from './contract.ts';

/** Checks of the run's session until it settles: from 1 s, doubling, to at most 30 s apart. */
const FIRST_CHECK_MS = 1_000;
const LAST_CHECK_MS = 30_000;
/** Checks per workflow run before continuing as new, so a days-long session keeps a short history. */
const CHECKS_PER_RUN = 500;

const { startDeploymentRun, deploymentRunProgress, deploymentRunSettled } = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

/**
 * One run of a deployment: creates its session (through the API's own session code, in
 * an activity, so it needs no API server) and lasts until that session settles. The
 * Schedule's overlap policy counts it as running all that time.
 */
export async function deploymentRunWorkflow(input: DeploymentRunInput & { sessionId?: string; checks?: number }): Promise<void> {
  let sessionId = input.sessionId;
  let runId = input.runId;
  if (sessionId === undefined) {
    const run = await startDeploymentRun({ deploymentId: input.deploymentId, runId, workflowId: workflowInfo().workflowId });
    if (run.session_id === null) return;
    sessionId = run.session_id;
    runId = run.id;
  }
  let wait = Math.min(LAST_CHECK_MS, FIRST_CHECK_MS * 2 ** (input.checks ?? 0));
  for (let check = 0; check < CHECKS_PER_RUN; check++) {
    const progress = await deploymentRunProgress({ sessionId });
    if (progress !== 'working') {
      await deploymentRunSettled({ runId: runId!, progress });
      return;
    }
    await sleep(wait);
    wait = Math.min(LAST_CHECK_MS, wait * 2);
  }
  await continueAsNew<typeof deploymentRunWorkflow>({ ...input, runId, sessionId, checks: CHECKS_PER_RUN });
}
