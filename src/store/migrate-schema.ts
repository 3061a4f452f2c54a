import { migrations } from './migrations.ts';
import type { SqlDriver } from './sql-driver.ts';

/**
 * Brings a database's schema up to date: applies every migration not yet
 * recorded in `longhaul_migrations`, each in its own transaction. Idempotent,
 * and the same bookkeeping `SessionStore.open` does, so either may run first.
 */
export async function migrateSchema(db: SqlDriver): Promise<void> {
  await db.exec(`CREATE TABLE IF NOT EXISTS longhaul_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)`);
  const applied = new Set((await db.query<{ id: number }>('SELECT id FROM longhaul_migrations')).map((r) => Number(r.id)));
  for (const migration of migrations) {
    if (applied.has(migration.id)) continue;
    await db.transaction(async (tx) => {
      for (const statement of statementsOf(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO longhaul_migrations (id, name, applied_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [migration.id, migration.name, new Date().toISOString()]);
    });
  }
}

/**
 * Splits a migration into statements. Comments go first, so a `;` in a comment
 * cannot cut a statement in two; a `;` inside a `$$`-quoted function body does not
 * either. Migrations hold no string literals with `;` or `--`.
 */
export function statementsOf(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  // Even pieces are outside `$$ … $$`, odd ones inside.
  sql
    .replace(/--[^\n]*/g, '')
    .split('$$')
    .forEach((piece, index) => {
      if (index % 2 === 1) {
        current += `$$${piece}$$`;
        return;
      }
      const parts = piece.split(';');
      current += parts[0];
      for (const part of parts.slice(1)) {
        statements.push(current);
        current = part;
      }
    });
  statements.push(current);
  return statements.map((statement) => statement.trim()).filter(Boolean);
}
