// The PostgreSQL schema and its migrations. Versioned (one row per applied migration), idempotent
// (applied versions are skipped), and safe when several replicas start at once: the whole migration
// runs in one transaction under an advisory lock, so the second replica waits, then finds nothing to do.
// DDL is transactional in PostgreSQL, so a migration that fails leaves the schema as it was.

import pg from 'pg';
import { StoreError } from '../errors.js';

/** Quoted, schema-qualified names of the store's tables and functions. */
export interface PgNames {
  /** The quoted schema, e.g. `"public"`. */
  schema: string;
  entries: string;
  queueItems: string;
  locks: string;
  migrations: string;
  /** The database clock in epoch ms (a SQL function). */
  nowMs: string;
}

/** Names inside `schema` (unquoted, e.g. `public`). */
export function pgNames(schema: string): PgNames {
  const s = pg.escapeIdentifier(schema);
  return {
    schema: s,
    entries: `${s}.lb_entries`,
    queueItems: `${s}.lb_queue_items`,
    locks: `${s}.lb_locks`,
    migrations: `${s}.lb_schema_migrations`,
    nowMs: `${s}.lb_now_ms`,
  };
}

/** One schema change. Versions only grow; a released migration is never edited, only followed. */
interface Migration {
  version: number;
  name: string;
  statements: (n: PgNames) => string[];
}

// Keys and queue names use the "C" collation: byte order, so `list`/`queues` order does not depend on
// the server's locale, and a prefix LIKE can use the primary key index. Times are epoch ms (bigint), so
// a test clock and the database clock are interchangeable. Values are `json` (kept verbatim, unlike
// jsonb, which rejects \u0000 in strings).
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'entries, queues, locks',
    statements: (n) => [
      `create function ${n.nowMs}() returns bigint language sql volatile
         as $$ select (extract(epoch from clock_timestamp()) * 1000)::bigint $$`,
      `create table ${n.entries} (
         key text collate "C" primary key,
         value json not null,
         expires_at bigint
       )`,
      `create index lb_entries_expiry on ${n.entries} (expires_at) where expires_at is not null`,
      `create table ${n.queueItems} (
         id bigint generated always as identity primary key,
         queue text collate "C" not null,
         item json not null
       )`,
      `create index lb_queue_items_fifo on ${n.queueItems} (queue, id)`,
      `create table ${n.locks} (
         name text collate "C" primary key,
         owner text not null,
         expires_at bigint not null
       )`,
    ],
  },
];

/** The newest schema version this build knows. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

// The advisory lock's first key: "loopbridge migrate" in ASCII-ish, fixed forever; the second is the schema.
const LOCK_CLASS = 0x6c62_6d67;

/**
 * The schema the connection works in when none is configured: the first of its search_path (set by
 * the role, the database, or `?options=-c search_path=…` in the URL), normally `public`; created by
 * `migrate` if it does not exist yet.
 */
export async function defaultSchema(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ current: string | null; first: string }>(
    `select current_schema() as current, trim(both ' "' from split_part(current_setting('search_path'), ',', 1)) as first`,
  );
  const row = rows[0]!;
  // The stock `"$user", public` means the user's schema if there is one, else public: what PostgreSQL picks.
  if (!row.first || row.first === '$user') return row.current ?? 'public';
  return row.first;
}

/** What `migrate` did. */
export interface MigrationResult {
  /** Version before, 0 for a fresh schema. */
  from: number;
  /** Version after (always `LATEST_SCHEMA_VERSION`). */
  to: number;
}

/** Brings `schema` to the latest version. Throws `StoreError` code `schema` if the database is newer. */
export async function migrate(client: pg.ClientBase, schema: string): Promise<MigrationResult> {
  const n = pgNames(schema);
  await client.query('begin');
  try {
    await client.query('select pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, schema]);
    const exists = await client.query('select 1 from pg_namespace where nspname = $1', [schema]);
    // Only when missing: CREATE SCHEMA checks the CREATE privilege even with IF NOT EXISTS.
    if (exists.rowCount === 0) await client.query(`create schema ${n.schema}`);
    await client.query(`create table if not exists ${n.migrations} (
      version integer primary key,
      name text not null,
      applied_at timestamptz not null default now()
    )`);
    const { rows } = await client.query<{ v: number | null }>(`select max(version) as v from ${n.migrations}`);
    const from = rows[0]?.v ?? 0;
    if (from > LATEST_SCHEMA_VERSION) {
      throw new StoreError(
        'schema',
        `the database schema ${schema} is at version ${from}, newer than this loopbridge knows (${LATEST_SCHEMA_VERSION}) — run a loopbridge at least as new as the one that migrated it`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      for (const statement of m.statements(n)) await client.query(statement);
      await client.query(`insert into ${n.migrations} (version, name) values ($1, $2)`, [m.version, m.name]);
    }
    await client.query('commit');
    return { from, to: LATEST_SCHEMA_VERSION };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
}
