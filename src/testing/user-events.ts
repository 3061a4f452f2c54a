import type { UserEventParams } from '../schemas/events.ts';

/** A `user.message` with one text block, as tests and demos send it. */
export function userMessage(text: string): Extract<UserEventParams, { type: 'user.message' }> {
  return { type: 'user.message', content: [{ type: 'text', text }] };
}
