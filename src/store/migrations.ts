/**
 * Schema migrations, applied in order and recorded in `longhaul_migrations`.
 * Never edit a released migration: add a new one.
 */
export const migrations: readonly { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'sessions, events, transcript',
    sql: `
      CREATE TABLE sessions (
        id            text PRIMARY KEY,
        record        jsonb NOT NULL,
        created_at    text NOT NULL,
        updated_at    text NOT NULL
      );
      -- One row per session: the last sequence number handed out. Appenders lock it,
      -- so sequence numbers are gapless and commit in order.
      CREATE TABLE session_event_seq (
        session_id    text PRIMARY KEY,
        last_seq      integer NOT NULL
      );
      CREATE TABLE session_events (
        session_id    text NOT NULL,
        seq           integer NOT NULL,
        id            text NOT NULL,
        key           text NOT NULL,
        type          text NOT NULL,
        processed_at  text NOT NULL,
        event         jsonb NOT NULL,
        PRIMARY KEY (session_id, seq),
        UNIQUE (session_id, key)
      );
      CREATE UNIQUE INDEX session_events_id ON session_events (session_id, id);
      -- What the model sees: user turns, assistant turns and tool results, in order.
      CREATE TABLE session_transcript (
        session_id    text NOT NULL,
        pos           integer NOT NULL,
        key           text NOT NULL,
        item          jsonb NOT NULL,
        PRIMARY KEY (session_id, pos),
        UNIQUE (session_id, key)
      );
    `,
  },
];
