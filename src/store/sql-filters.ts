import type { TimeRange } from '../schemas/api-common.ts';

/** The WHERE conditions of a list query and their parameters, numbered as they are added. */
export class SqlFilters {
  readonly where: string[] = [];
  readonly params: unknown[] = [];

  /** `condition` with `?` where the value goes, e.g. `agent_id = ?`. */
  add(condition: string, value: unknown): this {
    this.params.push(value);
    this.where.push(condition.replace('?', `$${this.params.length}`));
    return this;
  }

  /** A condition with no value, e.g. `archived_at IS NULL`. */
  require(condition: string): this {
    this.where.push(condition);
    return this;
  }

  /** The `created_at[gt|gte|lt|lte]` filters of a list. */
  createdAt(range: TimeRange = {}): this {
    if (range.gt !== undefined) this.add('created_at > ?', range.gt);
    if (range.gte !== undefined) this.add('created_at >= ?', range.gte);
    if (range.lt !== undefined) this.add('created_at < ?', range.lt);
    if (range.lte !== undefined) this.add('created_at <= ?', range.lte);
    return this;
  }
}
