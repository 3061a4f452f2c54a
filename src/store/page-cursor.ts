/**
 * Opaque list cursors: a position in a `(created_at, id)` ordering, plus the
 * direction to read from it. Clients only hand them back.
 */
export type Position = { createdAt: string; id: string };
export type Cursor = Position & { direction: 'next' | 'prev' };

export function encodeCursor(cursor: Cursor): string {
  return `page_${Buffer.from(JSON.stringify([cursor.direction, cursor.createdAt, cursor.id])).toString('base64url')}`;
}

/** Undefined when `page` is not a cursor this server made. */
export function decodeCursor(page: string): Cursor | undefined {
  if (!page.startsWith('page_')) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(page.slice(5), 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 3) return undefined;
    const [direction, createdAt, id] = value as unknown[];
    if ((direction !== 'next' && direction !== 'prev') || typeof createdAt !== 'string' || typeof id !== 'string') return undefined;
    // What a SQL statement will take: a real timestamp, and ids without NUL.
    if (Number.isNaN(Date.parse(createdAt)) || createdAt.includes('\u0000') || id.includes('\u0000')) return undefined;
    return { direction, createdAt, id };
  } catch {
    return undefined;
  }
}

export type Page<T> = { data: T[]; next_page: string | null; prev_page: string | null };
