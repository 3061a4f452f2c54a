/**
 * The messages between `openPgliteThreadDriver` (main thread) and the thread that
 * runs PGlite (`pglite-thread-worker.ts`). Every request carries an id its reply
 * names; notifications name the listener they are for.
 */

/** A request to the PGlite thread. `txId` names a transaction `begin` opened. */
export type ThreadRequest =
  | { op: 'query'; id: number; sql: string; params: readonly unknown[]; txId?: number | undefined }
  | { op: 'exec'; id: number; sql: string }
  /** Opens a transaction (waiting, as PGlite does, for one already open); replies once BEGIN ran. */
  | { op: 'begin'; id: number; txId: number }
  /** Commits or rolls back; replies once COMMIT or ROLLBACK ran (an aborted transaction's COMMIT fails). */
  | { op: 'end'; id: number; txId: number; commit: boolean }
  | { op: 'listen'; id: number; listenerId: number; channel: string }
  | { op: 'unlisten'; id: number; listenerId: number }
  /** Closes the database; the thread exits after replying. */
  | { op: 'close'; id: number };

/** What the thread sends back. Id 0 answers the opening of the database. */
export type ThreadReply =
  | { kind: 'ok'; id: number; value?: unknown }
  | { kind: 'error'; id: number; error: SerializedError }
  | { kind: 'notification'; listenerId: number; payload: string };

/** The id the thread's "database is open" (or "could not open") reply carries. */
export const OPENED_REPLY_ID = 0;

/**
 * An error as it crosses the thread boundary. Structured clone keeps only an Error's
 * message and stack, while callers read PostgreSQL's fields (`code` such as `23505`,
 * `constraint`, `detail`, …), so those travel as plain data.
 */
export type SerializedError = { message: string; name: string; fields: Record<string, unknown> };

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { message: String(error), name: 'Error', fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) if (isCloneable(value)) fields[key] = value;
  return { message: error.message, name: error.name, fields };
}

/**
 * The Error the in-process driver would have thrown: same message and own fields
 * (`code`, `detail`, `constraint`, … of a PostgreSQL error). Its stack is where it is
 * made: the thread's (inside PGlite) would not name the caller.
 */
export function deserializeError({ message, name, fields }: SerializedError): Error {
  const error = new Error(message);
  Object.assign(error, fields);
  if (name !== error.name) error.name = name;
  return error;
}

function isCloneable(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return typeof value !== 'function' && typeof value !== 'symbol';
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}
