import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Longhaul } from '../client/longhaul.ts';
import type { AgentStore } from '../store/agent-store.ts';
import type { EnvironmentStore } from '../store/environment-store.ts';
import type { SessionStore } from '../store/session-store.ts';
import type { Principal } from './api-key-auth.ts';

/** Per-request values handlers may read. */
export type ApiEnv = {
  Variables: {
    requestId: string;
    /** Which key the caller presented, as versions' `api_actor` name it (never the key). Unset for worker credentials. */
    apiKeyId: string;
    principal: Principal;
  };
};

export type ApiApp = OpenAPIHono<ApiEnv>;

/** What the routes work with. */
export type ApiDeps = {
  longhaul: Longhaul;
  store: SessionStore;
  agents: AgentStore;
  environments: EnvironmentStore;
};
