export { sessionCleanupWorkflow, sessionWorkflow } from './session.ts';
