import type { Session } from '../schemas/api-session.ts';
import { NotFoundError } from '../errors.ts';
import type { FileStore } from '../store/file-store.ts';
import { BadRequestError, PrerequisiteError } from './api-errors.ts';
import { isApiSession, type ApiSessionRecord, type SessionRecord } from '../store/session-records.ts';
import type { SessionState } from '../client/session-state.ts';

/** The `Session` object of the API. */
export function sessionObject(record: ApiSessionRecord, state: SessionState, { now = Date.now(), resources = [] }: { now?: number; resources?: Session['resources'] } = {}): Session {
  const end = record.archived_at ?? new Date(now).toISOString();
  return {
    type: 'session',
    id: record.id,
    agent: record.agent,
    environment_id: record.environment_id,
    status: record.archived_at !== null ? 'terminated' : state.status,
    title: record.title,
    metadata: record.metadata,
    resources,
    vault_ids: record.vault_ids ?? [],
    budget: record.budget ?? null,
    outcome_evaluations: state.outcome_evaluations,
    stats: { duration_seconds: Math.max(0, (Date.parse(end) - Date.parse(record.created_at)) / 1000), active_seconds: state.usage.active_seconds },
    usage: state.usage,
    deployment_id: record.deployment_id ?? null,
    created_at: record.created_at,
    updated_at: record.updated_at,
    archived_at: record.archived_at,
  };
}

/** The session as an API client sees it: only sessions made through the API exist here. */
export function apiSessionOf<T extends SessionRecord>(session: T): T & ApiSessionRecord {
  if (!isApiSession(session)) throw new NotFoundError(`session ${session.id} not found`);
  return session;
}

/**
 * A file rubric must name an uploaded file this server keeps (the grader reads it when it
 * grades); answered like any unknown id, naming the field.
 */
export async function checkRubricFiles(files: Pick<FileStore, 'retrieve'> | undefined, events: readonly { type: string; rubric?: unknown }[], field: string): Promise<void> {
  for (const [index, event] of events.entries()) {
    const rubric = event.rubric as { type?: string; file_id?: string } | undefined;
    if (event.type !== 'user.define_outcome' || rubric?.type !== 'file' || rubric.file_id === undefined) continue;
    const where = `${field}.${index}.rubric.file_id`;
    if (!files) throw new BadRequestError(`${where}: this server keeps no files`);
    try {
      await files.retrieve(rubric.file_id);
    } catch (error) {
      if (error instanceof NotFoundError) throw new PrerequisiteError('not_found_error', `${where}: file ${rubric.file_id} not found`, 'file_not_found_error');
      throw error;
    }
  }
}
