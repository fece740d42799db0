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
  /** Dedupe scopes (one row per chat: its floor, and the lock `markSeen` takes). */
  seenScopes: string;
  /** Dedupe marks within their window. */
  seenMarks: string;
  /** One row: when a replica last opened the store (dedupe windows count from it). */
  opened: string;
  /** SQL functions behind `markSeen`, `isSeen` and the sweep of dedupe marks. */
  markSeen: string;
  isSeen: string;
  pruneSeen: string;
  sweepSeen: string;
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
    seenScopes: `${s}.lb_seen_scopes`,
    seenMarks: `${s}.lb_seen_marks`,
    opened: `${s}.lb_opened`,
    markSeen: `${s}.lb_mark_seen`,
    isSeen: `${s}.lb_is_seen`,
    pruneSeen: `${s}.lb_prune_seen`,
    sweepSeen: `${s}.lb_sweep_seen`,
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
  {
    version: 2,
    name: 'dedupe marks',
    statements: (n) => seenStatements(n),
  },
];

/** Arguments of `lb_mark_seen` and `lb_is_seen`: the call's, then the window and scope TTL (ms). */
const SEEN_ARGS = 'p_scope text, p_id text, p_order bigint, p_now bigint, p_window bigint, p_scope_ttl bigint';

/**
 * Dedupe marks (the `Store.markSeen` contract; the embedded stores do the same in seen-marks.ts). The
 * window and the scope TTL are parameters, so the constants live in TypeScript only. Why functions:
 * a mark is "lock the chat's scope row, forget what left the window, check, insert" — one round trip,
 * atomic across replicas (the row lock serialises markSeen per chat), and the same call inside a batch.
 *
 * "Opened": `lb_opened` holds the latest time any replica opened the store. Windows count from it, so
 * pruning gives the same answer whichever replica prunes, and a restart of any replica renews every
 * window (never shorter than each replica's own opening would give).
 *
 * A scope whose floor is past the scope TTL with no marks left counts as gone even before the sweep
 * deletes it (isSeen and markSeen read it so), so no answer depends on when the sweep last ran.
 */
function seenStatements(n: PgNames): string[] {
  // The clock (the test clock, else the database's) and the latest opening, as every function reads them.
  const clock = `v_now bigint := coalesce(p_now, ${n.nowMs}());
       v_opened bigint := coalesce((select opened_at from ${n.opened}), 0);`;
  return [
    `create table ${n.seenScopes} (
       scope text collate "C" primary key,
       floor_order bigint,
       floor_at bigint
     )`,
    `create table ${n.seenMarks} (
       scope text collate "C" not null,
       id text collate "C" not null,
       made_at bigint not null,
       ord bigint,
       primary key (scope, id)
     )`,
    `create index lb_seen_marks_made_at on ${n.seenMarks} (made_at)`,
    `create table ${n.opened} (
       singleton boolean primary key default true check (singleton),
       opened_at bigint not null
     )`,
    // Forgets the scope's marks past their window, raising its floor; the caller holds the scope row.
    `create function ${n.pruneSeen}(p_scope text, p_now bigint, p_opened bigint, p_window bigint) returns integer
       language plpgsql volatile as $$
     declare
       v_floor bigint;
       v_at bigint;
       v_count integer;
     begin
       with gone as (
         delete from ${n.seenMarks} where scope = p_scope and greatest(made_at, p_opened) + p_window <= p_now
         returning made_at, ord
       )
       select max(ord), max(made_at), count(*) into v_floor, v_at, v_count from gone;
       if v_count > 0 then
         update ${n.seenScopes}
            set floor_order = greatest(floor_order, v_floor), floor_at = greatest(floor_at, v_at)
          where scope = p_scope;
       end if;
       return v_count;
     end $$`,
    `create function ${n.markSeen}(${SEEN_ARGS})
       returns boolean language plpgsql volatile as $$
     declare
       ${clock}
       v_floor bigint;
       v_floor_at bigint;
     begin
       -- The scope row is the lock: one markSeen per chat at a time, across replicas. A concurrent
       -- creator makes the insert wait for its commit; a sweep may delete a stale row meanwhile: retry.
       loop
         perform 1 from ${n.seenScopes} where scope = p_scope for update;
         exit when found;
         insert into ${n.seenScopes} (scope) values (p_scope) on conflict (scope) do nothing;
       end loop;
       perform ${n.pruneSeen}(p_scope, v_now, v_opened, p_window);
       select floor_order, floor_at into v_floor, v_floor_at from ${n.seenScopes} where scope = p_scope;
       if v_floor is not null and greatest(v_floor_at, v_opened) + p_scope_ttl <= v_now
          and not exists (select 1 from ${n.seenMarks} where scope = p_scope) then
         -- Stale: what the sweep would have deleted.
         update ${n.seenScopes} set floor_order = null, floor_at = null where scope = p_scope;
         v_floor := null;
       end if;
       if p_order <= v_floor then return false; end if;
       if exists (select 1 from ${n.seenMarks} where scope = p_scope and id = p_id) then return false; end if;
       insert into ${n.seenMarks} (scope, id, made_at, ord) values (p_scope, p_id, v_now, p_order);
       return true;
     end $$`,
    // What markSeen would answer (negated), computed without writing: marks past their window count
    // as forgotten (their order in the floor), a stale floor as gone.
    `create function ${n.isSeen}(${SEEN_ARGS})
       returns boolean language plpgsql volatile as $$
     declare
       ${clock}
       v_live integer;
       v_id_live boolean;
       v_floor bigint;
       v_floor_at bigint;
     begin
       select count(*) filter (where greatest(made_at, v_opened) + p_window > v_now),
              coalesce(bool_or(id = p_id and greatest(made_at, v_opened) + p_window > v_now), false),
              max(ord) filter (where greatest(made_at, v_opened) + p_window <= v_now),
              max(made_at) filter (where greatest(made_at, v_opened) + p_window <= v_now)
         into v_live, v_id_live, v_floor, v_floor_at
         from ${n.seenMarks} where scope = p_scope;
       if v_id_live then return true; end if;
       v_floor := greatest(v_floor, (select floor_order from ${n.seenScopes} where scope = p_scope));
       v_floor_at := greatest(v_floor_at, (select floor_at from ${n.seenScopes} where scope = p_scope));
       if v_live = 0 and greatest(v_floor_at, v_opened) + p_scope_ttl <= v_now then return false; end if;
       return coalesce(p_order <= v_floor, false);
     end $$`,
    // Prunes every scope with marks past their window and deletes stale scopes; a scope a markSeen
    // holds is skipped (that call prunes it). Returns how many marks and scopes went.
    `create function ${n.sweepSeen}(p_now bigint, p_window bigint, p_scope_ttl bigint) returns bigint
       language plpgsql volatile as $$
     declare
       ${clock}
       v_scope text;
       v_removed bigint := 0;
     begin
       for v_scope in
         select distinct scope from ${n.seenMarks} where greatest(made_at, v_opened) + p_window <= v_now
       loop
         perform 1 from ${n.seenScopes} where scope = v_scope for update skip locked;
         if found then v_removed := v_removed + ${n.pruneSeen}(v_scope, v_now, v_opened, p_window); end if;
       end loop;
       for v_scope in
         select scope from ${n.seenScopes} where greatest(floor_at, v_opened) + p_scope_ttl <= v_now
       loop
         perform 1 from ${n.seenScopes} where scope = v_scope for update skip locked;
         -- Re-checked under the lock with a fresh snapshot: a markSeen that committed meanwhile keeps it.
         if found and not exists (select 1 from ${n.seenMarks} where scope = v_scope) then
           delete from ${n.seenScopes} where scope = v_scope;
           v_removed := v_removed + 1;
         end if;
       end loop;
       return v_removed;
     end $$`,
  ];
}

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
