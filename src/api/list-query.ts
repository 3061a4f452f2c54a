import { z } from 'zod';
import { decodeCursor, type Cursor } from '../store/page-cursor.ts';
import { BadRequestError } from './api-errors.ts';

/** Clamps `limit` to `[1, max]` (the SDK's own helpers ask for 1000). */
export function clampLimit(limit: number | undefined, { fallback = 20, max = 100 }: { fallback?: number; max?: number } = {}): number {
  if (limit === undefined) return fallback;
  return Math.max(1, Math.min(max, limit));
}

/** The `page` cursor; `page=` (how the SDK sends null) means the first page. */
export function cursorOf(page: string | undefined): Cursor | undefined {
  if (page === undefined || page === '') return undefined;
  const cursor = decodeCursor(page);
  if (!cursor) throw new BadRequestError('page: not a page cursor this server returned');
  return cursor;
}

/** An array query parameter sent as `name[]=a&name[]=b` (the SDK) or `name=a&name=b`. */
export function queryArray<T extends string>(query: Record<string, unknown>, name: string): T[] | undefined {
  const values = [query[name], query[`${name}[]`]].flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
  return values.length > 0 ? (values as T[]) : undefined;
}

/** A query value that is one enum member or several. */
export function oneOrMany<T extends z.ZodType>(item: T) {
  return z.union([item, z.array(item)]).optional();
}
