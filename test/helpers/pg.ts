// PostgreSQL for tests: the server the global setup started (test/peers/postgres-setup.ts), and stores
// on it that each get a schema of their own, so tests and workers never see each other's rows.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openPgStore, type PgStore, type PgStoreOptions } from '../../src/store/pg/pg-store.js';

/** The test server's superuser URL; throws (failing the test) when the server could not start. */
export function pgUrl(): string {
  const provided = inject('postgres');
  if (!provided) throw new Error('no PostgreSQL for tests: test/peers/postgres-setup.ts is not in vitest.config.ts globalSetup');
  if ('error' in provided) throw new Error(`PostgreSQL for tests could not be started: ${provided.error}`);
  return provided.url;
}

/** A fresh schema name (lowercase, a valid identifier). */
export function uniqueSchema(tag = 't'): string {
  return `lb_${tag}_${randomBytes(6).toString('hex')}`;
}

/** Runs one statement as superuser on a short-lived connection. */
export async function pgAdmin<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: pgUrl() });
  await client.connect();
  try {
    return await client.query<R>(sql, params);
  } finally {
    await client.end();
  }
}

/** Drops a schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  await pgAdmin(`drop schema if exists ${pg.escapeIdentifier(schema)} cascade`);
}

/** A store in `schema` (default: a fresh one), warnings collected rather than printed. */
export async function openTestPgStore(options: Partial<PgStoreOptions> = {}): Promise<PgStore & { warnings: string[] }> {
  const warnings: string[] = [];
  const store = await openPgStore({ url: pgUrl(), schema: uniqueSchema(), sweepIntervalMs: 0, onWarning: (m) => warnings.push(m), ...options });
  return Object.assign(store, { warnings });
}
