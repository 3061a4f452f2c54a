/**
 * The little SQL surface the store needs. PGlite (embedded) and PostgreSQL
 * (postgres.js) both implement it, so the same SQL and migrations serve both.
 */
export type Row = Record<string, unknown>;

export interface SqlExecutor {
  /** Runs one parameterised statement ($1, $2, …) and returns its rows. */
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

export interface SqlDriver extends SqlExecutor {
  /** Runs `fn` in one transaction; commits if it resolves, rolls back if it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs several statements separated by `;` (migrations). */
  exec(sql: string): Promise<void>;
  /** Sends a NOTIFY on `channel` (after commit, by the caller's ordering). */
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Subscribes to NOTIFY on `channel`; resolves to an unsubscribe function. `onListening` is
   * called each time the subscription starts, the first time and after every reconnect: what
   * was notified while the connection was down is lost, and the caller reads what it missed.
   */
  listen(channel: string, onPayload: (payload: string) => void, onListening?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
