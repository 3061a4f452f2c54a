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
  {
    id: 2,
    name: 'agents with immutable versions',
    sql: `
      -- One row per agent: its latest version number and lifecycle times.
      CREATE TABLE agents (
        id              text PRIMARY KEY,
        latest_version  integer NOT NULL,
        created_at      text NOT NULL,
        updated_at      text NOT NULL,
        archived_at     text
      );
      CREATE INDEX agents_created ON agents (created_at, id);
      -- Every version ever made, never updated, so sessions can pin one.
      CREATE TABLE agent_versions (
        agent_id        text NOT NULL,
        version         integer NOT NULL,
        spec            jsonb NOT NULL,
        created_at      text NOT NULL,
        PRIMARY KEY (agent_id, version)
      );
    `,
  },
  {
    id: 3,
    name: 'environments',
    sql: `
      CREATE TABLE environments (
        id              text PRIMARY KEY,
        record          jsonb NOT NULL,
        created_at      text NOT NULL,
        updated_at      text NOT NULL,
        archived_at     text
      );
      CREATE INDEX environments_created ON environments (created_at, id);
    `,
  },
  {
    id: 4,
    name: 'session index of the HTTP API',
    sql: `
      -- What a client asked for when it created a session (agent version, environment,
      -- title, metadata), for retrieve and list. The event log stays in session_events.
      CREATE TABLE api_sessions (
        id              text PRIMARY KEY,
        record          jsonb NOT NULL,
        agent_id        text NOT NULL,
        environment_id  text NOT NULL,
        created_at      text NOT NULL,
        updated_at      text NOT NULL,
        archived_at     text,
        deleted_at      text
      );
      CREATE INDEX api_sessions_created ON api_sessions (created_at, id);
    `,
  },
  {
    id: 5,
    name: 'files and session file resources',
    sql: `
      -- Metadata of uploaded files; the bytes live in the API's files folder, named by id.
      CREATE TABLE files (
        id              text PRIMARY KEY,
        record          jsonb NOT NULL,
        scope_id        text,
        created_at      text NOT NULL
      );
      CREATE INDEX files_created ON files (created_at, id);
      -- Files mounted into a session's sandbox.
      CREATE TABLE session_resources (
        id              text PRIMARY KEY,
        session_id      text NOT NULL,
        record          jsonb NOT NULL,
        created_at      text NOT NULL
      );
      CREATE INDEX session_resources_session ON session_resources (session_id, created_at, id);
    `,
  },
  {
    id: 6,
    name: 'vaults and credentials, secrets sealed',
    sql: `
      CREATE TABLE vaults (
        id              text PRIMARY KEY,
        record          jsonb NOT NULL,
        created_at      text NOT NULL,
        updated_at      text NOT NULL,
        archived_at     text
      );
      CREATE INDEX vaults_created ON vaults (created_at, id);
      -- record is what the API returns and holds no secret. sealed_secrets holds the
      -- write-only fields, AES-256-GCM sealed and bound to the row's id; archiving
      -- purges it. target is the normalised MCP server URL or variable name.
      CREATE TABLE vault_credentials (
        id                  text PRIMARY KEY,
        vault_id            text NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
        record              jsonb NOT NULL,
        sealed_secrets      text,
        target              text NOT NULL,
        created_at          text NOT NULL,
        updated_at          text NOT NULL,
        archived_at         text,
        -- Until when one process holds the right to refresh the OAuth tokens.
        refresh_lease_until text
      );
      CREATE INDEX vault_credentials_vault ON vault_credentials (vault_id, created_at, id);
      -- A vault holds one active credential per MCP server and per variable name.
      CREATE UNIQUE INDEX vault_credentials_active_target ON vault_credentials (vault_id, target) WHERE archived_at IS NULL;
    `,
  },
  {
    id: 7,
    name: 'file content, chunked',
    sql: `
      -- The bytes of uploaded files, in order, so API and workers on different hosts
      -- share them through the store. Written before the files row, removed after it.
      CREATE TABLE file_chunks (
        file_id       text NOT NULL,
        n             integer NOT NULL,
        data          bytea NOT NULL,
        PRIMARY KEY (file_id, n)
      );
    `,
  },
  {
    id: 8,
    name: 'store identity',
    sql: `
      -- One random id per store, made once: sessions carry it, and a worker opened on
      -- another store refuses their work instead of writing it into the wrong database.
      CREATE TABLE store_identity (
        one           boolean PRIMARY KEY DEFAULT true CHECK (one),
        id            text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO store_identity (id) VALUES ('store_' || replace(gen_random_uuid()::text, '-', ''));
    `,
  },
  {
    id: 9,
    name: 'session content kept by reference',
    sql: `
      -- User content too large to ride in a Temporal payload: the client stores it here
      -- and the session's workflow gets a reference (see content-refs.ts).
      CREATE TABLE session_content (
        session_id    text NOT NULL,
        id            text NOT NULL,
        content       jsonb NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, id)
      );
    `,
  },
  {
    id: 10,
    name: 'usage of each model-call attempt',
    sql: `
      -- What the model endpoint reported for each attempt of a model call, written as the
      -- stream reports it, so an attempt that dies (worker killed, stream broken) is still
      -- billed. model_usage is the request's; judge_usage the permission judgements' it made.
      -- final: the attempt is over and counted; later writes (a stale worker) are ignored.
      CREATE TABLE model_attempt_usage (
        session_id    text NOT NULL,
        call_key      text NOT NULL,
        attempt       integer NOT NULL,
        model_usage   jsonb NOT NULL,
        judge_usage   jsonb NOT NULL,
        final         boolean NOT NULL DEFAULT false,
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, call_key, attempt)
      );
    `,
  },
  {
    id: 11,
    name: 'one record per session',
    sql: `
      -- A session had two rows: sessions (what its workflow runs) and api_sessions (what an
      -- API client named and may change). They become one: the sessions row, its record
      -- holding both, with the columns list and filters need. api_sessions is left in place
      -- for servers of the previous release still running during an upgrade; a later
      -- migration drops it.
      ALTER TABLE sessions ADD COLUMN agent_id text;
      ALTER TABLE sessions ADD COLUMN environment_id text;
      ALTER TABLE sessions ADD COLUMN archived_at text;
      ALTER TABLE sessions ADD COLUMN deleted_at text;
      UPDATE sessions SET record = jsonb_build_object(
        'id', id, 'created_at', created_at, 'updated_at', updated_at, 'archived_at', null, 'title', null, 'metadata', '{}'::jsonb,
        'definition', jsonb_build_object('agent', record->'agent', 'environment', record->'environment'));
      UPDATE sessions s SET
        record = a.record || jsonb_build_object('definition', s.record->'definition'),
        agent_id = a.agent_id, environment_id = a.environment_id, archived_at = a.archived_at,
        deleted_at = a.deleted_at, created_at = a.created_at, updated_at = a.updated_at
        FROM api_sessions a WHERE a.id = s.id;
      CREATE INDEX sessions_created ON sessions (created_at, id);
    `,
  },
  {
    id: 12,
    name: 'session threads',
    sql: `
      -- The threads a multi-agent session started. Each thread's events, transcript and
      -- usage records are a log of their own: the session tables' rows whose session_id
      -- is the thread's id.
      CREATE TABLE session_threads (
        id                text PRIMARY KEY,
        session_id        text NOT NULL,
        parent_thread_id  text NOT NULL,
        agent_id          text NOT NULL,
        agent_version     integer NOT NULL,
        agent_name        text NOT NULL,
        created_at        text NOT NULL,
        archived_at       text
      );
      CREATE INDEX session_threads_session ON session_threads (session_id, created_at);
      -- What each log of a multi-agent session (the primary's, each thread's) spent on its
      -- own model calls: their sum is the session's, which its budget holds.
      CREATE TABLE session_spend (
        log_id       text PRIMARY KEY,
        session_id   text NOT NULL,
        usage        jsonb NOT NULL,
        cost_nanos   bigint NOT NULL
      );
      CREATE INDEX session_spend_session ON session_spend (session_id);
    `,
  },
  {
    id: 13,
    name: 'deployments and their runs',
    sql: `
      -- A deployment: an agent version, an environment and initial events started on a
      -- schedule (one Temporal Schedule per scheduled deployment) or on demand. The record
      -- holds the API object without what comes from the Schedule (upcoming and last runs).
      CREATE TABLE deployments (
        id           text PRIMARY KEY,
        agent_id     text NOT NULL,
        status       text NOT NULL,
        record       jsonb NOT NULL,
        created_at   text NOT NULL,
        archived_at  text
      );
      CREATE INDEX deployments_created ON deployments (created_at, id);
      -- One row per run. id is derived from what started it (the Schedule's workflow or
      -- a run request), so a retried start finds its row instead of making another.
      CREATE TABLE deployment_runs (
        id             text PRIMARY KEY,
        deployment_id  text NOT NULL,
        trigger_type   text NOT NULL,
        has_error      boolean NOT NULL,
        record         jsonb NOT NULL,
        created_at     text NOT NULL
      );
      CREATE INDEX deployment_runs_created ON deployment_runs (created_at, id);
      CREATE INDEX deployment_runs_deployment ON deployment_runs (deployment_id, created_at);
    `,
  },
  {
    id: 14,
    name: 'webhook endpoints and deliveries',
    sql: `
      -- Where events are delivered. The signing secret is sealed with the server's secret
      -- key, like vault credentials; record holds the API object.
      CREATE TABLE webhook_endpoints (
        id             text PRIMARY KEY,
        record         jsonb NOT NULL,
        sealed_secret  text NOT NULL,
        created_at     text NOT NULL,
        archived_at    text
      );
      CREATE INDEX webhook_endpoints_created ON webhook_endpoints (created_at, id);
      -- One row per (event, endpoint): its attempts and outcome. The id is the
      -- webhook-id header, the same on every attempt, so a receiver can deduplicate.
      CREATE TABLE webhook_deliveries (
        id            text PRIMARY KEY,
        endpoint_id   text NOT NULL,
        event_type    text NOT NULL,
        status        text NOT NULL,
        attempts      integer NOT NULL,
        record        jsonb NOT NULL,
        created_at    text NOT NULL
      );
      CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
    `,
  },
  {
    id: 15,
    name: 'memory stores, memories and their versions',
    sql: `
      CREATE TABLE memory_stores (
        id           text PRIMARY KEY,
        record       jsonb NOT NULL,
        created_at   text NOT NULL,
        archived_at  text
      );
      CREATE INDEX memory_stores_created ON memory_stores (created_at, id);
      -- The live memories of a store, one per path; content apart from the record so
      -- listings read no content. Paths compare bytewise (COLLATE "C"), so a prefix's
      -- memories sort together whatever the server's locale.
      CREATE TABLE memories (
        id               text PRIMARY KEY,
        memory_store_id  text NOT NULL,
        path             text COLLATE "C" NOT NULL,
        record           jsonb NOT NULL,
        content          text NOT NULL,
        UNIQUE (memory_store_id, path)
      );
      -- Every change of a memory, with who made it; content is nulled by a redaction.
      CREATE TABLE memory_versions (
        id               text PRIMARY KEY,
        memory_store_id  text NOT NULL,
        memory_id        text NOT NULL,
        operation        text NOT NULL,
        session_id       text,
        api_key_id       text,
        record           jsonb NOT NULL,
        content          text,
        created_at       text NOT NULL
      );
      CREATE INDEX memory_versions_store ON memory_versions (memory_store_id, created_at, id);
    `,
  },
  {
    id: 16,
    name: 'memory stores attached to sessions, and what each sandbox was last synced to',
    sql: `
      -- A session's memory store resources as attached (fixed for the session's life).
      CREATE TABLE session_memory_stores (
        session_id       text NOT NULL,
        position         integer NOT NULL,
        memory_store_id  text NOT NULL,
        record           jsonb NOT NULL,
        PRIMARY KEY (session_id, position)
      );
      CREATE INDEX session_memory_stores_store ON session_memory_stores (memory_store_id, session_id);
      -- Per session and store, each path's content as last synced between the store and
      -- the sandbox: what tells a change the agent made from one made elsewhere.
      CREATE TABLE session_memory_files (
        session_id       text NOT NULL,
        memory_store_id  text NOT NULL,
        path             text COLLATE "C" NOT NULL,
        content_sha256   text NOT NULL,
        PRIMARY KEY (session_id, memory_store_id, path)
      );
    `,
  },
  {
    id: 17,
    name: 'dreams',
    sql: `
      CREATE TABLE dreams (
        id           text PRIMARY KEY,
        status       text NOT NULL,
        record       jsonb NOT NULL,
        created_at   text NOT NULL,
        archived_at  text
      );
      CREATE INDEX dreams_created ON dreams (created_at, id);
    `,
  },
  {
    id: 18,
    name: 'one statement appends events',
    sql: `
      -- What SessionStore.append did in five statements and a transaction: lock the
      -- session's sequence row, add transcript items, skip events whose key is stored (and
      -- return those), give the rest the next sequence numbers, and notify at commit with
      -- "<session> <last seq>". One call per append, as each statement costs a trip.
      CREATE FUNCTION longhaul_append_events(
        p_session text, p_processed_at text,
        p_keys text[], p_ids text[], p_types text[], p_events text[],
        p_transcript_keys text[], p_transcript_items text[], p_channel text
      ) RETURNS TABLE (out_key text, out_seq integer, out_event jsonb)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_last integer;
        v_next integer;
        v_pos integer;
        i integer;
      BEGIN
        INSERT INTO session_event_seq AS s (session_id, last_seq) VALUES (p_session, 0)
          ON CONFLICT (session_id) DO UPDATE SET last_seq = s.last_seq
          RETURNING s.last_seq INTO v_last;
        IF cardinality(p_transcript_keys) > 0 THEN
          SELECT COALESCE(MAX(t.pos), 0) INTO v_pos FROM session_transcript t WHERE t.session_id = p_session;
          FOR i IN 1 .. cardinality(p_transcript_keys) LOOP
            INSERT INTO session_transcript (session_id, pos, key, item) VALUES (p_session, v_pos + 1, p_transcript_keys[i], p_transcript_items[i]::jsonb)
              ON CONFLICT (session_id, key) DO NOTHING;
            IF FOUND THEN v_pos := v_pos + 1; END IF;
          END LOOP;
        END IF;
        RETURN QUERY SELECT e.key, e.seq, e.event FROM session_events e WHERE e.session_id = p_session AND e.key = ANY(p_keys);
        v_next := v_last;
        FOR i IN 1 .. cardinality(p_keys) LOOP
          INSERT INTO session_events (session_id, seq, id, key, type, processed_at, event)
            VALUES (p_session, v_next + 1, p_ids[i], p_keys[i], p_types[i], p_processed_at, p_events[i]::jsonb)
            ON CONFLICT (session_id, key) DO NOTHING;
          IF FOUND THEN
            v_next := v_next + 1;
            out_key := p_keys[i];
            out_seq := v_next;
            out_event := NULL;
            RETURN NEXT;
          END IF;
        END LOOP;
        IF v_next > v_last THEN
          UPDATE session_event_seq SET last_seq = v_next WHERE session_id = p_session;
          PERFORM pg_notify(p_channel, p_session || ' ' || v_next::text);
        END IF;
      END
      $$;
    `,
  },
  {
    id: 19,
    name: 'skills, their versions, and the skills sessions pin',
    sql: `
      -- record is the Skill object the API returns (latest_version_id kept current).
      CREATE TABLE skills (
        id              text PRIMARY KEY,
        source          text NOT NULL,
        record          jsonb NOT NULL,
        created_at      text NOT NULL
      );
      CREATE INDEX skills_created ON skills (created_at, id);
      -- Immutable versions: record is the SkillVersion object, files lists each file's
      -- path (below the skill's folder), size and the id its bytes have in file_chunks.
      CREATE TABLE skill_versions (
        id              text PRIMARY KEY,
        skill_id        text NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
        record          jsonb NOT NULL,
        files           jsonb NOT NULL,
        created_at      text NOT NULL
      );
      CREATE INDEX skill_versions_skill ON skill_versions (skill_id, created_at, id);
      -- The skill versions a session pinned at creation (its agents' together), and the
      -- folder each has under /mnt/skills: fixed for the session's life.
      CREATE TABLE session_skills (
        session_id      text NOT NULL,
        position        integer NOT NULL,
        record          jsonb NOT NULL,
        PRIMARY KEY (session_id, position)
      );
    `,
  },
  {
    id: 20,
    name: 'self-hosted environment work queues',
    sql: `
      CREATE TABLE environment_keys (
        environment_id text PRIMARY KEY,
        key_digest     text NOT NULL UNIQUE,
        created_at     text NOT NULL
      );
      CREATE TABLE environment_work (
        id                  text PRIMARY KEY,
        environment_id      text NOT NULL,
        session_id          text NOT NULL,
        state               text NOT NULL,
        metadata            jsonb NOT NULL,
        created_at          text NOT NULL,
        polled_at           text,
        acknowledged_at     text,
        started_at          text,
        latest_heartbeat_at text,
        last_heartbeat      text,
        lease_expires_at    text,
        ttl_seconds         integer NOT NULL,
        stop_requested_at   text,
        stopped_at          text
      );
      CREATE INDEX environment_work_queue ON environment_work (environment_id, state, created_at, id);
      CREATE INDEX environment_work_listed ON environment_work (environment_id, created_at, id);
      -- A session has at most one live item: the one its tool calls wait on.
      CREATE UNIQUE INDEX environment_work_live_session ON environment_work (session_id) WHERE state IN ('queued', 'starting', 'active');
      CREATE TABLE environment_work_tokens (
        token_digest text PRIMARY KEY,
        work_id      text NOT NULL,
        created_at   text NOT NULL
      );
      CREATE INDEX environment_work_tokens_work ON environment_work_tokens (work_id);
      CREATE TABLE environment_workers (
        environment_id text NOT NULL,
        worker_id      text NOT NULL,
        polled_at      text NOT NULL,
        PRIMARY KEY (environment_id, worker_id)
      );
    `,
  },
  {
    id: 21,
    name: 'budgets in cents',
    sql: `
      -- The API's monetary amounts are integer strings of minor units ("2500" is $25.00);
      -- budgets were stored as decimal dollars ("25.00"). Rounded to the nearest cent.
      UPDATE sessions
         SET record = jsonb_set(record, '{budget,max_list_cost,amount}', to_jsonb(round((record #>> '{budget,max_list_cost,amount}')::numeric * 100)::bigint::text))
       WHERE jsonb_typeof(record -> 'budget') = 'object';
      UPDATE deployments
         SET record = jsonb_set(record, '{budget,max_list_cost,amount}', to_jsonb(round((record #>> '{budget,max_list_cost,amount}')::numeric * 100)::bigint::text))
       WHERE jsonb_typeof(record -> 'budget') = 'object';
    `,
  },
  {
    id: 22,
    name: 'sessions name their deployment',
    sql: `
      -- A deployment run's session had its deployment only in its metadata (with the run beside it).
      UPDATE sessions
         SET record = jsonb_set(record, '{deployment_id}', record -> 'metadata' -> 'deployment_id')
       WHERE record -> 'metadata' ? 'deployment_id' AND record -> 'metadata' ? 'deployment_run_id' AND NOT record ? 'deployment_id';
    `,
  },
  {
    id: 23,
    name: 'an answer and its final usage in one statement',
    sql: `
      -- Migration 18's append, and given p_usage ('{"call_key", "attempt", "model", "judge"}')
      -- the attempt's final usage record in the same statement: a model answer was two trips
      -- (the usage, then the answer), and a step is about eight. A caller of the old
      -- signature (a worker of an older version) still matches: p_usage defaults to none.
      DROP FUNCTION longhaul_append_events(text, text, text[], text[], text[], text[], text[], text[], text);
      CREATE FUNCTION longhaul_append_events(
        p_session text, p_processed_at text,
        p_keys text[], p_ids text[], p_types text[], p_events text[],
        p_transcript_keys text[], p_transcript_items text[], p_channel text,
        p_usage text DEFAULT NULL
      ) RETURNS TABLE (out_key text, out_seq integer, out_event jsonb)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_last integer;
        v_next integer;
        v_pos integer;
        v_usage jsonb;
        i integer;
      BEGIN
        INSERT INTO session_event_seq AS s (session_id, last_seq) VALUES (p_session, 0)
          ON CONFLICT (session_id) DO UPDATE SET last_seq = s.last_seq
          RETURNING s.last_seq INTO v_last;
        IF p_usage IS NOT NULL THEN
          -- As putAttemptUsage(final): a record a retry already made final stays as it is.
          v_usage := p_usage::jsonb;
          INSERT INTO model_attempt_usage AS u (session_id, call_key, attempt, model_usage, judge_usage, final)
            VALUES (p_session, v_usage->>'call_key', (v_usage->>'attempt')::integer, v_usage->'model', v_usage->'judge', true)
            ON CONFLICT (session_id, call_key, attempt) DO UPDATE
              SET model_usage = EXCLUDED.model_usage, judge_usage = EXCLUDED.judge_usage, final = true, updated_at = now()
              WHERE NOT u.final;
        END IF;
        IF cardinality(p_transcript_keys) > 0 THEN
          SELECT COALESCE(MAX(t.pos), 0) INTO v_pos FROM session_transcript t WHERE t.session_id = p_session;
          FOR i IN 1 .. cardinality(p_transcript_keys) LOOP
            INSERT INTO session_transcript (session_id, pos, key, item) VALUES (p_session, v_pos + 1, p_transcript_keys[i], p_transcript_items[i]::jsonb)
              ON CONFLICT (session_id, key) DO NOTHING;
            IF FOUND THEN v_pos := v_pos + 1; END IF;
          END LOOP;
        END IF;
        RETURN QUERY SELECT e.key, e.seq, e.event FROM session_events e WHERE e.session_id = p_session AND e.key = ANY(p_keys);
        v_next := v_last;
        FOR i IN 1 .. cardinality(p_keys) LOOP
          INSERT INTO session_events (session_id, seq, id, key, type, processed_at, event)
            VALUES (p_session, v_next + 1, p_ids[i], p_keys[i], p_types[i], p_processed_at, p_events[i]::jsonb)
            ON CONFLICT (session_id, key) DO NOTHING;
          IF FOUND THEN
            v_next := v_next + 1;
            out_key := p_keys[i];
            out_seq := v_next;
            out_event := NULL;
            RETURN NEXT;
          END IF;
        END LOOP;
        IF v_next > v_last THEN
          UPDATE session_event_seq SET last_seq = v_next WHERE session_id = p_session;
          PERFORM pg_notify(p_channel, p_session || ' ' || v_next::text);
        END IF;
      END
      $$;
    `,
  },
];
