export { sessionWorkflow } from './session.ts';
export { sessionCleanupWorkflow } from './session-cleanup.ts';
