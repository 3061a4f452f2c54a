export { sessionWorkflow, userEventsSignal, terminateSignal, statusQuery } from './session.ts';
