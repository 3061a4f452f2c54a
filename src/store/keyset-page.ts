import { encodeCursor, type Cursor, type Page } from './page-cursor.ts';
import type { Row, SqlExecutor } from './sql-driver.ts';

export type KeysetPageOptions<R extends Row, T> = {
  db: SqlExecutor;
  /** `SELECT … FROM …` without WHERE/ORDER; rows must carry `created_at` and `id`. */
  select: string;
  /** Conditions ANDed together, with `$n` placeholders into `params`. */
  where: string[];
  params: unknown[];
  /** `desc` = newest first. */
  order: 'asc' | 'desc';
  limit: number;
  cursor: Cursor | undefined;
  /** Qualifies the key columns, e.g. `a.` when the select joins. */
  keyPrefix?: string;
  toItem: (row: R) => T;
};

/**
 * One page of a `(created_at, id)` keyset: stable under inserts, no offsets.
 * `next_page` continues in list order, `prev_page` goes back; each is null when
 * nothing lies that way.
 */
export async function keysetPage<R extends Row & { created_at: string; id: string }, T>({
  db,
  select,
  where,
  params,
  order,
  limit,
  cursor,
  keyPrefix = '',
  toItem,
}: KeysetPageOptions<R, T>): Promise<Page<T>> {
  const key = `(${keyPrefix}created_at, ${keyPrefix}id)`;
  const forward = cursor?.direction !== 'prev';
  // Reading forward walks in list order; reading back walks the other way and reverses.
  const walkAsc = (order === 'asc') === forward;
  const conditions = [...where];
  const all = [...params];
  if (cursor) {
    all.push(cursor.createdAt, cursor.id);
    conditions.push(`${key} ${walkAsc ? '>' : '<'} ($${all.length - 1}, $${all.length})`);
  }
  all.push(limit + 1);
  const sql = `${select} ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY ${keyPrefix}created_at ${walkAsc ? 'ASC' : 'DESC'}, ${keyPrefix}id ${walkAsc ? 'ASC' : 'DESC'} LIMIT $${all.length}`;
  const rows = await db.query<R>(sql, all);
  const more = rows.length > limit;
  const pageRows = rows.slice(0, limit);
  if (!forward) pageRows.reverse();

  const first = pageRows[0];
  const last = pageRows.at(-1);
  const hasBefore = forward ? (cursor !== undefined && first !== undefined ? await exists(first, 'before') : false) : more;
  const hasAfter = forward ? more : last !== undefined && (await exists(last, 'after'));
  return {
    data: pageRows.map(toItem),
    next_page: hasAfter && last ? encodeCursor({ direction: 'next', createdAt: last.created_at, id: last.id }) : null,
    prev_page: hasBefore && first ? encodeCursor({ direction: 'prev', createdAt: first.created_at, id: first.id }) : null,
  };

  /** Whether any row lies before/after `row` in list order. */
  async function exists(row: R, side: 'before' | 'after'): Promise<boolean> {
    const greater = (order === 'asc') === (side === 'after');
    const p = [...params, row.created_at, row.id];
    const conds = [...where, `${key} ${greater ? '>' : '<'} ($${p.length - 1}, $${p.length})`];
    const found = await db.query(`${select} WHERE ${conds.join(' AND ')} LIMIT 1`, p);
    return found.length > 0;
  }
}
