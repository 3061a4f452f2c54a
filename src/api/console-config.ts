/**
 * What `/console/config.json` answers: the settings the web console's page needs besides
 * the public API. Wire JSON, snake_case like the API; the page (`console/`) imports this
 * type, so this file imports nothing.
 */
export type ConsoleConfig = {
  /** Base URL of the Temporal Web UI, without a trailing slash; null when the server was given none. */
  temporal_ui_url: string | null;
  /** Namespace the session workflows run in. */
  temporal_namespace: string;
};
