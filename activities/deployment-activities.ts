import type { DeploymentRunProgress } from '../workflows/contract.ts';
import type { DeploymentRun } from '../src/schemas/api-deployment.ts';
import type { DeploymentService } from '../src/deployments/deployment-service.ts';

/** The activities of `deploymentRunWorkflow`: thin calls into the deployment service, which the worker holds. */
export function createDeploymentActivities(deployments: DeploymentService) {
  return {
    startDeploymentRun(input: { deploymentId: string; runId?: string | undefined; workflowId: string }): Promise<DeploymentRun> {
      return deployments.startRun(input);
    },
    deploymentRunProgress({ sessionId }: { sessionId: string }): Promise<DeploymentRunProgress> {
      return deployments.runProgress(sessionId);
    },
    deploymentRunSettled(input: { runId: string; progress: Exclude<DeploymentRunProgress, 'working'> }): Promise<void> {
      return deployments.runSettled(input);
    },
  };
}

export type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;
