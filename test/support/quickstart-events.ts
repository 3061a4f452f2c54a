/** The event types of one quickstart turn with the demo agent: write primes.py, run it, report. */
export const QUICKSTART_TURN_EVENT_TYPES = [
  'user.message',
  'session.status_running',
  'span.model_request_start',
  'agent.message',
  'agent.tool_use',
  'span.model_request_end',
  'agent.tool_result',
  'span.model_request_start',
  'agent.tool_use',
  'span.model_request_end',
  'agent.tool_result',
  'span.model_request_start',
  'agent.message',
  'span.model_request_end',
  'session.status_idle',
] as const;
