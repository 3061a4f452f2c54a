export { sessionWorkflow, threadWorkflow } from './session.ts';
export { sessionCleanupWorkflow } from './session-cleanup.ts';
export { outcomeGraderWorkflow } from './outcome-grader.ts';
export { deploymentRunWorkflow } from './deployment-run.ts';
export { webhookDeliveryWorkflow } from './webhook-delivery.ts';
export { dreamWorkflow } from './dream.ts';
export { scheduledDreamWorkflow } from './scheduled-dream.ts';
