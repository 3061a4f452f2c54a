export { sessionWorkflow } from './session.ts';
export { sessionCleanupWorkflow } from './session-cleanup.ts';
export { outcomeGraderWorkflow } from './outcome-grader.ts';
