// The SQL behind each store operation, one method per operation, usable on the pool (a statement is
// its own transaction) or on a client inside a transaction (a batch). A new store method is one method
// here, one line in `PgStore`, and (if it may appear in a batch) one case in `apply`.
//
// Time: every expiry is compared with `now`, a parameter that is the test clock when one is given and
// otherwise null, which means the database clock (so replicas on hosts whose clocks differ agree on
// when a lease expires).

import type pg from 'pg';
import { SEEN_SCOPE_TTL_MS, SEEN_WINDOW_MS } from '../seen-marks.js';
import type { PreparedOp } from '../values.js';
import type { PgNames } from './pg-schema.js';

/** The pool, or a client inside a transaction. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

/** The clock parameter: epoch ms, or null for the database clock. */
export type Now = number | null;

/** `key LIKE prefix%` with the prefix's own wildcards escaped. */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Statements over one schema's tables. */
export class PgStatements {
  readonly #n: PgNames;

  constructor(names: PgNames) {
    this.#n = names;
  }

  /** SQL for the current time given the clock parameter `$i`. */
  #now(i: number): string {
    return `coalesce($${i}::bigint, ${this.#n.nowMs}())`;
  }

  /** SQL for "expires `ttl` ($ttl, ms or null) after now ($now)": null stays null (forever). */
  #expiry(ttl: number, now: number): string {
    // ceil: a fractional TTL expires at the next whole ms, as `exp <= now` does with a ms clock.
    return `${this.#now(now)} + ceil($${ttl}::float8)::bigint`;
  }

  #live(now: number): string {
    return `(expires_at is null or expires_at > ${this.#now(now)})`;
  }

  async get(db: Queryable, key: string, now: Now): Promise<{ value: unknown } | undefined> {
    const r = await db.query<{ value: unknown }>(`select value from ${this.#n.entries} where key = $1 and ${this.#live(2)}`, [key, now]);
    return r.rows[0];
  }

  async set(db: Queryable, key: string, json: string, ttlMs: number | undefined, now: Now): Promise<void> {
    await db.query(
      `insert into ${this.#n.entries} (key, value, expires_at) values ($1, $2::json, ${this.#expiry(3, 4)})
       on conflict (key) do update set value = excluded.value, expires_at = excluded.expires_at`,
      [key, json, ttlMs ?? null, now],
    );
  }

  /** True if set; an existing live key wins (the conflict re-check sees concurrent commits). */
  async setIfAbsent(db: Queryable, key: string, json: string, ttlMs: number | undefined, now: Now): Promise<boolean> {
    const r = await db.query(
      `insert into ${this.#n.entries} as e (key, value, expires_at) values ($1, $2::json, ${this.#expiry(3, 4)})
       on conflict (key) do update set value = excluded.value, expires_at = excluded.expires_at
         where e.expires_at is not null and e.expires_at <= ${this.#now(4)}
       returning 1`,
      [key, json, ttlMs ?? null, now],
    );
    return r.rowCount === 1;
  }

  async delete(db: Queryable, key: string): Promise<void> {
    await db.query(`delete from ${this.#n.entries} where key = $1`, [key]);
  }

  async list(db: Queryable, prefix: string, now: Now): Promise<Array<{ key: string; value: unknown }>> {
    const r = await db.query<{ key: string; value: unknown }>(
      `select key, value from ${this.#n.entries} where key like $1 escape '\\' and ${this.#live(2)} order by key`,
      [likePrefix(prefix), now],
    );
    return r.rows;
  }

  async enqueue(db: Queryable, queue: string, json: string): Promise<void> {
    await db.query(`insert into ${this.#n.queueItems} (queue, item) values ($1, $2::json)`, [queue, json]);
  }

  async peek(db: Queryable, queue: string): Promise<{ item: unknown } | undefined> {
    const r = await db.query<{ item: unknown }>(`select item from ${this.#n.queueItems} where queue = $1 order by id limit 1`, [queue]);
    return r.rows[0];
  }

  /**
   * Removes the first item nobody else is removing. SKIP LOCKED: two replicas dequeuing at once get
   * different items instead of the second waiting and then finding its row gone (and returning nothing).
   */
  async dequeue(db: Queryable, queue: string): Promise<{ item: unknown } | undefined> {
    const q = this.#n.queueItems;
    const r = await db.query<{ item: unknown }>(
      `delete from ${q} where id = (select id from ${q} where queue = $1 order by id limit 1 for update skip locked) returning item`,
      [queue],
    );
    return r.rows[0];
  }

  async items(db: Queryable, queue: string): Promise<unknown[]> {
    const r = await db.query<{ item: unknown }>(`select item from ${this.#n.queueItems} where queue = $1 order by id`, [queue]);
    return r.rows.map((row) => row.item);
  }

  async queues(db: Queryable, prefix: string): Promise<string[]> {
    const r = await db.query<{ queue: string }>(
      `select distinct queue from ${this.#n.queueItems} where queue like $1 escape '\\' order by queue`,
      [likePrefix(prefix)],
    );
    return r.rows.map((row) => row.queue);
  }

  /** Takes, or renews for the same owner; an expired lock of another owner is taken over. */
  async acquireLock(db: Queryable, name: string, owner: string, ttlMs: number, now: Now): Promise<boolean> {
    const r = await db.query(
      `insert into ${this.#n.locks} as l (name, owner, expires_at) values ($1, $2, ${this.#expiry(3, 4)})
       on conflict (name) do update set owner = excluded.owner, expires_at = excluded.expires_at
         where l.owner = excluded.owner or l.expires_at <= ${this.#now(4)}
       returning 1`,
      [name, owner, ttlMs, now],
    );
    return r.rowCount === 1;
  }

  /** Extends those of `names` that `owner` still holds (unexpired) in one statement; returns their names. */
  async renewLocks(db: Queryable, names: readonly string[], owner: string, ttlMs: number, now: Now): Promise<string[]> {
    const r = await db.query<{ name: string }>(
      `update ${this.#n.locks} set expires_at = ${this.#expiry(3, 4)}
       where name = any($1::text[]) and owner = $2 and expires_at > ${this.#now(4)}
       returning name`,
      [names, owner, ttlMs, now],
    );
    return r.rows.map((row) => row.name);
  }

  async releaseLock(db: Queryable, name: string, owner: string): Promise<void> {
    await db.query(`delete from ${this.#n.locks} where name = $1 and owner = $2`, [name, owner]);
  }

  /** True while `owner` holds the lock; FOR SHARE keeps it from being taken over until the transaction ends. */
  async holdsLock(db: Queryable, name: string, owner: string, now: Now): Promise<boolean> {
    const r = await db.query(
      `select 1 from ${this.#n.locks} where name = $1 and owner = $2 and expires_at > ${this.#now(3)} for share`,
      [name, owner, now],
    );
    return r.rowCount === 1;
  }

  /** `Store.markSeen`: one call of the SQL function (see pg-schema.ts); inside a batch its lock lasts to commit. */
  markSeen(db: Queryable, scope: string, id: string, order: number | undefined, now: Now): Promise<boolean> {
    return this.#seen(this.#n.markSeen, db, scope, id, order, now);
  }

  /** `Store.isSeen`: what markSeen would answer (negated), written nowhere. */
  isSeen(db: Queryable, scope: string, id: string, order: number | undefined, now: Now): Promise<boolean> {
    return this.#seen(this.#n.isSeen, db, scope, id, order, now);
  }

  async #seen(fn: string, db: Queryable, scope: string, id: string, order: number | undefined, now: Now): Promise<boolean> {
    const r = await db.query<{ yes: boolean }>(`select ${fn}($1, $2, $3, $4, $5, $6) as yes`, [scope, id, order ?? null, now, SEEN_WINDOW_MS, SEEN_SCOPE_TTL_MS]);
    return r.rows[0]?.yes === true;
  }

  /** Records that this process opened the store now: dedupe windows count from the latest opening. */
  async markOpened(db: Queryable, now: Now): Promise<void> {
    await db.query(
      `insert into ${this.#n.opened} as o (singleton, opened_at) values (true, ${this.#now(1)})
       on conflict (singleton) do update set opened_at = greatest(o.opened_at, excluded.opened_at)`,
      [now],
    );
  }

  /** NOTIFY is transactional: inside a batch it is sent at commit, and not at all on rollback. */
  async notify(db: Queryable, channel: string, payload: string): Promise<void> {
    await db.query('select pg_notify($1, $2)', [channel, payload]);
  }

  /** Deletes expired entries and locks, forgets dedupe marks past their window; returns how many. */
  async sweep(db: Queryable, now: Now): Promise<number> {
    const r = await db.query<{ n: string }>(
      `with a as (delete from ${this.#n.entries} where expires_at <= ${this.#now(1)} returning 1),
            b as (delete from ${this.#n.locks} where expires_at <= ${this.#now(1)} returning 1)
       select (select count(*) from a) + (select count(*) from b) as n`,
      [now],
    );
    // Its own statement: the function locks scope rows one by one, apart from the deletes above.
    const seen = await db.query<{ n: string }>(`select ${this.#n.sweepSeen}($1, $2, $3) as n`, [now, SEEN_WINDOW_MS, SEEN_SCOPE_TTL_MS]);
    return Number(r.rows[0]?.n ?? 0) + Number(seen.rows[0]?.n ?? 0);
  }

  /** One step of a batch; false when a guard fails (the caller rolls back). */
  async apply(db: Queryable, op: PreparedOp, now: Now): Promise<boolean> {
    switch (op.op) {
      case 'set':
        await this.set(db, op.key, op.json, op.ttlMs, now);
        return true;
      case 'setIfAbsent':
        return this.setIfAbsent(db, op.key, op.json, op.ttlMs, now);
      case 'insert':
        await this.setIfAbsent(db, op.key, op.json, op.ttlMs, now);
        return true;
      case 'delete':
        await this.delete(db, op.key);
        return true;
      case 'enqueue':
        await this.enqueue(db, op.queue, op.json);
        return true;
      case 'dequeue':
        await this.dequeue(db, op.queue);
        return true;
      case 'requireLock':
        return this.holdsLock(db, op.name, op.owner, now);
      case 'markSeen':
        return this.markSeen(db, op.scope, op.id, op.order, now);
      case 'notify':
        await this.notify(db, op.channel, op.payload);
        return true;
    }
  }
}
