export { sessionCleanupWorkflow, sessionWorkflow, userEventsSignal, terminateSignal, statusQuery } from './session.ts';
