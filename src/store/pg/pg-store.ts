// The PostgreSQL store: the `Store` seam over its tables (see pg-schema.ts), for several replicas
// sharing state. Every call is its own committed statement; `batch` is one transaction. Locks and TTLs
// run on the database clock. Notifications are LISTEN/NOTIFY.

import pg from 'pg';
import { StoreClosedError, StoreError } from '../errors.js';
import type { SeenOptions, SetOptions, Store, StoreHealth, StoreNotice, StoreOp, Unsubscribe } from '../store.js';
import { checkChannel, checkName, checkOrder, checkPayload, checkTtl, prepareBatch, toJson } from '../values.js';
import { describeTarget, toStoreError } from './pg-errors.js';
import { PgListener } from './pg-listener.js';
import { defaultSchema, LATEST_SCHEMA_VERSION, migrate, pgNames } from './pg-schema.js';
import { PgStatements, type Now, type Queryable } from './pg-statements.js';

/** Options of `openPgStore`. */
export interface PgStoreOptions {
  /** `postgres://user:password@host:port/database` (node-postgres connection string; `?sslmode=…` etc. allowed). */
  url: string;
  /**
   * PostgreSQL schema holding the tables; created if missing. Default: the connection's current schema
   * (the first of its search_path, e.g. from `?options=-c search_path=loopbridge` in the URL), normally `public`.
   */
  schema?: string;
  /** Most connections this store opens (plus one for notifications). Default 10. */
  poolSize?: number;
  /** Longest wait for a connection, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Longest a statement may take before the connection is given up as hung, ms. Default 15000. */
  queryTimeoutMs?: number;
  /** Longest `health()` waits for the database, ms. Default 2000. */
  healthTimeoutMs?: number;
  /** Expired entries and locks are deleted at most this often, ms; 0 disables. Default 60000. */
  sweepIntervalMs?: number;
  /**
   * Clock for TTLs and locks, epoch ms (tests). Default: the database clock, which every replica
   * shares; never give a process-local clock to stores in several processes.
   */
  now?: () => number;
  /** Told about problems that do not stop the store (lost connections, failed sweeps). Default `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

/** The PostgreSQL `Store`, with the optional parts of the seam always present. */
export interface PgStore extends Store {
  notify(channel: string, payload?: string): Promise<void>;
  subscribe(channel: string, listener: (notice: StoreNotice) => void): Promise<Unsubscribe>;
  health(): Promise<StoreHealth>;
  renewLocks(names: readonly string[], owner: string, ttlMs: number): Promise<string[]>;
  /** Deletes expired entries and locks, forgets dedupe marks past their window; returns how many. Runs on the sweep timer too. */
  sweep(): Promise<number>;
  /** The schema version after the migration at open. */
  readonly schemaVersion: number;
  /** The PostgreSQL schema holding the tables. */
  readonly schema: string;
}

function defaultWarning(message: string): void {
  process.emitWarning(message, 'LoopbridgeStoreWarning');
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class PostgresStore implements PgStore {
  readonly schemaVersion = LATEST_SCHEMA_VERSION;
  readonly schema: string;
  readonly #pool: pg.Pool;
  readonly #sql: PgStatements;
  readonly #listener: PgListener;
  readonly #target: string;
  readonly #now: (() => number) | undefined;
  readonly #healthTimeoutMs: number;
  readonly #warn: (message: string) => void;
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping = false;
  #closing: Promise<void> | undefined;

  constructor(pool: pg.Pool, listener: PgListener, options: PgStoreOptions & { schema: string }, warn: (message: string) => void) {
    this.#pool = pool;
    this.#listener = listener;
    this.schema = options.schema;
    this.#sql = new PgStatements(pgNames(options.schema));
    this.#target = describeTarget(options.url);
    this.#now = options.now;
    this.#healthTimeoutMs = options.healthTimeoutMs ?? 2000;
    this.#warn = warn;
    const interval = options.sweepIntervalMs ?? 60_000;
    if (interval > 0) {
      this.#sweepTimer = setInterval(() => void this.#backgroundSweep(), interval);
      // A store must never be the reason a process stays alive.
      this.#sweepTimer.unref();
    }
  }

  #clock(): Now {
    return this.#now ? this.#now() : null;
  }

  /**
   * Runs one call: refused after close, errors mapped, and tracked so that `flush` and `close` wait
   * for it. Validation happens before this, so bad input never reaches the database.
   */
  #call<T>(what: string, fn: (db: Queryable, now: Now) => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new StoreClosedError());
    const run = fn(this.#pool, this.#clock()).catch((error: unknown) => {
      throw toStoreError(error, what, this.#target);
    });
    this.#inflight.add(run);
    const untrack = () => this.#inflight.delete(run);
    run.then(untrack, untrack);
    return run;
  }

  #open(): void {
    if (this.#closing) throw new StoreClosedError();
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    checkName(key, 'key');
    const row = await this.#call('get', (db, now) => this.#sql.get(db, key, now));
    return row?.value as T | undefined;
  }

  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    this.#open();
    checkName(key, 'key');
    checkTtl(options.ttlMs, 'ttlMs');
    const json = toJson(value, 'value');
    await this.#call('set', (db, now) => this.#sql.set(db, key, json, options.ttlMs, now));
  }

  async setIfAbsent(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    this.#open();
    checkName(key, 'key');
    checkTtl(options.ttlMs, 'ttlMs');
    const json = toJson(value, 'value');
    return this.#call('setIfAbsent', (db, now) => this.#sql.setIfAbsent(db, key, json, options.ttlMs, now));
  }

  async delete(key: string): Promise<void> {
    checkName(key, 'key');
    await this.#call('delete', (db) => this.#sql.delete(db, key));
  }

  async list<T = unknown>(prefix: string): Promise<Array<[string, T]>> {
    checkName(prefix, 'prefix');
    const rows = await this.#call('list', (db, now) => this.#sql.list(db, prefix, now));
    return rows.map((row): [string, T] => [row.key, row.value as T]);
  }

  async enqueue(queue: string, item: unknown): Promise<void> {
    this.#open();
    checkName(queue, 'queue');
    const json = toJson(item, 'queue item');
    await this.#call('enqueue', (db) => this.#sql.enqueue(db, queue, json));
  }

  async peek<T = unknown>(queue: string): Promise<T | undefined> {
    checkName(queue, 'queue');
    const row = await this.#call('peek', (db) => this.#sql.peek(db, queue));
    return row?.item as T | undefined;
  }

  async dequeue<T = unknown>(queue: string): Promise<T | undefined> {
    checkName(queue, 'queue');
    const row = await this.#call('dequeue', (db) => this.#sql.dequeue(db, queue));
    return row?.item as T | undefined;
  }

  async items<T = unknown>(queue: string): Promise<T[]> {
    checkName(queue, 'queue');
    return (await this.#call('items', (db) => this.#sql.items(db, queue))) as T[];
  }

  async queues(prefix: string): Promise<string[]> {
    checkName(prefix, 'prefix');
    return this.#call('queues', (db) => this.#sql.queues(db, prefix));
  }

  markSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean> {
    return this.#seen('markSeen', scope, id, options);
  }

  isSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean> {
    return this.#seen('isSeen', scope, id, options);
  }

  async #seen(what: 'markSeen' | 'isSeen', scope: string, id: string, options: SeenOptions | undefined): Promise<boolean> {
    this.#open();
    checkName(scope, 'scope');
    checkName(id, 'id');
    const order = checkOrder(options);
    return this.#call(what, (db, now) => this.#sql[what](db, scope, id, order, now));
  }

  async acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#open();
    checkName(name, 'lock name');
    checkName(owner, 'lock owner');
    checkTtl(ttlMs, 'lock ttlMs');
    return this.#call('acquireLock', (db, now) => this.#sql.acquireLock(db, name, owner, ttlMs, now));
  }

  async renewLocks(names: readonly string[], owner: string, ttlMs: number): Promise<string[]> {
    this.#open();
    for (const name of names) checkName(name, 'lock name');
    checkName(owner, 'lock owner');
    checkTtl(ttlMs, 'lock ttlMs');
    if (names.length === 0) return [];
    return this.#call('renewLocks', (db, now) => this.#sql.renewLocks(db, names, owner, ttlMs, now));
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    checkName(name, 'lock name');
    checkName(owner, 'lock owner');
    await this.#call('releaseLock', (db) => this.#sql.releaseLock(db, name, owner));
  }

  async batch(ops: readonly StoreOp[]): Promise<boolean> {
    this.#open();
    const prepared = prepareBatch(ops);
    prepared.forEach((op, i) => {
      for (const field of ['key', 'queue', 'name', 'owner', 'payload', 'scope', 'id'] as const) {
        if (field in op) checkName((op as Record<string, string>)[field]!, `batch[${i}].${field}`);
      }
    });
    if (prepared.length === 0) return true;
    return this.#call('batch', async (_pool, now) => {
      const client = await this.#pool.connect();
      let failure: Error | undefined;
      // A connection reset between two statements is emitted on the checked-out client, where no pool
      // listener hears it (it would be an uncaught exception): keep it; the next statement fails anyway.
      const onError = (error: Error) => void (failure ??= error);
      client.on('error', onError);
      try {
        await client.query('begin');
        for (const op of prepared) {
          if (!(await this.#sql.apply(client, op, now))) {
            await client.query('rollback');
            return false;
          }
        }
        await client.query('commit');
        return true;
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        // A connection that failed mid-transaction is not trusted again: release(error) destroys it.
        client.off('error', onError);
        client.release(failure);
      }
    });
  }

  async notify(channel: string, payload = ''): Promise<void> {
    this.#open();
    checkChannel(channel);
    checkPayload(payload);
    await this.#call('notify', (db) => this.#sql.notify(db, channel, payload));
  }

  async subscribe(channel: string, listener: (notice: StoreNotice) => void): Promise<Unsubscribe> {
    this.#open();
    checkChannel(channel);
    return this.#call('subscribe', () => this.#listener.subscribe(channel, listener));
  }

  async health(): Promise<StoreHealth> {
    const fail = (problem: string): StoreHealth => ({ ok: false, kind: 'postgres', problem });
    if (this.#closing) return fail('store is closed');
    try {
      // query_timeout is honoured by node-postgres per query but missing from its QueryConfig type.
      const probe: pg.QueryConfig = Object.assign({ text: 'select 1' }, { query_timeout: this.#healthTimeoutMs });
      await withTimeout(this.#pool.query(probe), this.#healthTimeoutMs, 'health check');
    } catch (error) {
      const reason = error instanceof Error && error.message ? error.message : String(error);
      return fail(`PostgreSQL at ${this.#target} is unreachable: ${reason}`);
    }
    const problem = this.#listener.problem();
    return problem ? fail(problem) : { ok: true, kind: 'postgres' };
  }

  async sweep(): Promise<number> {
    return this.#call('sweep', (db, now) => this.#sql.sweep(db, now));
  }

  async #backgroundSweep(): Promise<void> {
    if (this.#sweeping || this.#closing) return;
    this.#sweeping = true;
    try {
      await this.sweep();
    } catch (error) {
      this.#warn(`store sweep failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.#sweeping = false;
    }
  }

  /** Every call started before this one has finished; its writes are committed. */
  async flush(): Promise<void> {
    this.#open();
    await Promise.allSettled([...this.#inflight]);
  }

  /** Waits for calls in flight, then closes every connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#sweepTimer) clearInterval(this.#sweepTimer);
      await Promise.allSettled([...this.#inflight]);
      await this.#listener.close();
      await this.#pool.end();
    })();
    return this.#closing;
  }
}

/**
 * Connects to PostgreSQL, creates or migrates the schema (safe when replicas start together) and
 * returns the store. Throws `StoreUnavailableError` if the database cannot be reached, `StoreError`
 * code `schema` if its schema is newer than this build.
 */
export async function openPgStore(options: PgStoreOptions): Promise<PgStore> {
  const warn = options.onWarning ?? defaultWarning;
  if (options.schema !== undefined) checkName(options.schema, 'schema');
  let schema = options.schema;
  const target = describeTarget(options.url);
  const queryTimeoutMs = options.queryTimeoutMs ?? 15_000;
  const client: pg.ClientConfig = {
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    query_timeout: queryTimeoutMs,
    // The server gives up too, so a statement abandoned by a timed-out client does not linger.
    statement_timeout: queryTimeoutMs,
    keepAlive: true,
    application_name: 'loopbridge',
  };
  const pool = new pg.Pool({ ...client, max: options.poolSize ?? 10 });
  // An idle connection that dies emits here; without a listener it would crash the process.
  pool.on('error', (error) => warn(`store connection to ${target} lost: ${error.message}`));
  try {
    const conn = await pool.connect();
    let failure: Error | undefined;
    try {
      schema ??= await defaultSchema(conn);
      await migrate(conn, schema);
      // Dedupe windows count from the latest opening by any replica (see `Store.markSeen`).
      await new PgStatements(pgNames(schema)).markOpened(conn, options.now ? options.now() : null);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      conn.release(failure);
    }
  } catch (error) {
    await pool.end().catch(() => {});
    if (error instanceof StoreError) throw error;
    throw toStoreError(error, 'open (connect and migrate)', target);
  }
  const listener = new PgListener({ client, onWarning: warn });
  return new PostgresStore(pool, listener, { ...options, schema: schema! }, warn);
}
