// What only the PostgreSQL store has to prove: several processes ("replicas", here separate pools)
// sharing one database race safely; migrations are safe to run at once; a store cut off from the
// database says so and recovers. The common semantics are in store-semantics.test.ts.

import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { SEEN_SCOPE_TTL_MS, SEEN_WINDOW_MS, StoreError, StoreUnavailableError, type StoreNotice } from '../../src/store/index.js';
import { LATEST_SCHEMA_VERSION } from '../../src/store/pg/pg-schema.js';
import { openPgStore, type PgStore } from '../../src/store/pg/pg-store.js';
import { freePort } from '../helpers/net.js';
import { dropSchema, openTestPgStore, pgAdmin, pgUrl, uniqueSchema } from '../helpers/pg.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = resolve(import.meta.dirname, '../..');
const opened: PgStore[] = [];
const schemas: string[] = [];
const proxies: TcpProxy[] = [];

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  for (const proxy of proxies.splice(0)) await proxy.close();
  for (const schema of schemas.splice(0)) await dropSchema(schema);
});

/** Two stores on one fresh schema, each with its own pool: two replicas. */
async function replicas(n = 2, options: Parameters<typeof openTestPgStore>[0] = {}) {
  const schema = uniqueSchema('rep');
  schemas.push(schema);
  const stores = [];
  for (let i = 0; i < n; i++) stores.push(await openTestPgStore({ schema, ...options }));
  opened.push(...stores);
  return stores;
}

/** The test server's URL with its port swapped (to go through a proxy). */
function urlVia(port: number): string {
  const u = new URL(pgUrl());
  u.port = String(port);
  return u.toString();
}

describe('PostgreSQL store: replicas racing', () => {
  it('setIfAbsent: of many concurrent claims of a key across two replicas exactly one wins', async () => {
    const [a, b] = await replicas();
    const keys = Array.from({ length: 40 }, (_, i) => `seen/chat/${i}`);
    const claims = keys.flatMap((key) => [a, b, a, b].map((store, who) => store.setIfAbsent(key, { who }, { ttlMs: 60_000 }).then((won) => ({ key, won }))));
    const results = await Promise.all(claims);
    for (const key of keys) expect(results.filter((r) => r.key === key && r.won), key).toHaveLength(1);
  });

  it('batch: a redelivered message raced by two replicas is queued once', async () => {
    const [a, b] = await replicas();
    const accept = (store: PgStore, id: number, by: string) =>
      store.batch([
        { op: 'setIfAbsent', key: `seen/${id}`, value: 1, ttlMs: 60_000 },
        { op: 'enqueue', queue: `inbox/${id % 5}`, item: { id, by } },
      ]);
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, id) => [accept(a, id, 'a'), accept(b, id, 'b'), accept(a, id, 'a2')]).flat());
    expect(outcomes.filter(Boolean)).toHaveLength(30);
    const queued = (await Promise.all([0, 1, 2, 3, 4].map((q) => a.items<{ id: number }>(`inbox/${q}`)))).flat();
    expect(queued.map((item) => item.id).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('markSeen: of two replicas racing for one message id exactly one claims it, with and without an order', async () => {
    const [a, b] = await replicas();
    const ids = Array.from({ length: 40 }, (_, i) => i);
    // Several chats at once, so the per-scope row locks are contended from both pools.
    const claims = ids.flatMap((i) =>
      [a, b, b, a].map((store) => store.markSeen(`telegram/${i % 4}`, String(i), i % 2 ? { order: i } : undefined).then((won) => ({ i, won }))),
    );
    const results = await Promise.all(claims);
    for (const i of ids) expect(results.filter((r) => r.i === i && r.won), `id ${i}`).toHaveLength(1);
    for (const i of ids) expect(await b.isSeen(`telegram/${i % 4}`, String(i))).toBe(true);
  });

  it('markSeen in the accept batch: a message delivered to two replicas at once is queued once', async () => {
    const [a, b] = await replicas();
    const accept = (store: PgStore, id: number, by: string) =>
      store.batch([
        { op: 'markSeen', scope: `slack/C${id % 3}`, id: String(id), order: 1_712_345_678_000_000 + id },
        { op: 'insert', key: `conv/C${id % 3}`, value: { by } },
        { op: 'enqueue', queue: `inbox/C${id % 3}`, item: { id, by } },
      ]);
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, id) => [accept(a, id, 'a'), accept(b, id, 'b'), accept(b, id, 'b2')]).flat());
    expect(outcomes.filter(Boolean)).toHaveLength(30);
    const queued = (await Promise.all([0, 1, 2].map((q) => a.items<{ id: number }>(`inbox/C${q}`)))).flat();
    expect(queued.map((item) => item.id).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('dedupe windows count from the latest opening by any replica, so every replica prunes alike', async () => {
    let clock = 1_700_000_000_000;
    const [a] = await replicas(1, { now: () => clock });
    expect(await a.markSeen('matrix/!r:hs', '$before')).toBe(true);
    clock += 10 * SEEN_WINDOW_MS; // a second replica starts long after the mark was made
    const b = await openTestPgStore({ schema: schemas[0], now: () => clock });
    opened.push(b);
    // Replica a opened long ago, yet it must not forget what b's opening renewed.
    expect(await a.markSeen('matrix/!r:hs', '$before')).toBe(false);
    expect(await a.isSeen('matrix/!r:hs', '$before')).toBe(true);
    clock += SEEN_WINDOW_MS;
    expect(await a.isSeen('matrix/!r:hs', '$before')).toBe(false);
    expect(await b.markSeen('matrix/!r:hs', '$before')).toBe(true);
  });

  it('locks: one owner at a time across replicas; renew by the owner, takeover only after release or expiry', async () => {
    const [a, b] = await replicas();
    const contenders = Array.from({ length: 10 }, (_, i) => ({ store: i % 2 ? b : a, owner: `replica-${i}` }));
    const won = await Promise.all(contenders.map((c) => c.store.acquireLock('lease/telegram', c.owner, 60_000)));
    expect(won.filter(Boolean)).toHaveLength(1);
    const holder = contenders[won.indexOf(true)]!;
    const other = contenders.find((c) => c !== holder && c.store !== holder.store)!;
    // The holder renews from either replica (the owner token is what counts, not the connection).
    expect(await other.store.acquireLock('lease/telegram', holder.owner, 60_000)).toBe(true);
    expect(await other.store.acquireLock('lease/telegram', other.owner, 60_000)).toBe(false);
    await holder.store.releaseLock('lease/telegram', other.owner); // not the owner: no effect
    expect(await other.store.acquireLock('lease/telegram', other.owner, 60_000)).toBe(false);
    await holder.store.releaseLock('lease/telegram', holder.owner);
    expect(await other.store.acquireLock('lease/telegram', other.owner, 100)).toBe(true);
    // Expiry by the database clock: the short lease lapses and the first owner takes it back.
    await waitFor(() => holder.store.acquireLock('lease/telegram', holder.owner, 60_000), 'the 100 ms lease to expire');
    expect(await other.store.acquireLock('lease/telegram', other.owner, 60_000)).toBe(false);
  });

  it('locks: renewals racing a takeover never leave two owners', async () => {
    const [a, b] = await replicas();
    for (let round = 0; round < 20; round++) {
      const name = `lease/${round}`;
      expect(await a.acquireLock(name, 'a', 60_000)).toBe(true);
      const [renewed, stolen] = await Promise.all([a.acquireLock(name, 'a', 60_000), b.acquireLock(name, 'b', 60_000)]);
      expect([renewed, stolen]).toEqual([true, false]);
      // Released and raced: exactly one of the two gets it.
      await a.releaseLock(name, 'a');
      const both = await Promise.all([a.acquireLock(name, 'a', 60_000), b.acquireLock(name, 'b', 60_000)]);
      expect(both.filter(Boolean)).toHaveLength(1);
    }
  });

  it('a batch fenced by requireLock cannot commit after another replica took the expired lease', async () => {
    const [a, b] = await replicas();
    expect(await a.acquireLock('lease/conv', 'a', 50)).toBe(true);
    await waitFor(() => b.acquireLock('lease/conv', 'b', 60_000), 'b to take over the expired lease');
    expect(await a.batch([{ op: 'requireLock', name: 'lease/conv', owner: 'a' }, { op: 'set', key: 'turn/conv', value: 'stale' }])).toBe(false);
    expect(await b.batch([{ op: 'requireLock', name: 'lease/conv', owner: 'b' }, { op: 'set', key: 'turn/conv', value: 'fresh' }])).toBe(true);
    expect(await a.get('turn/conv')).toBe('fresh');
  });

  it('dequeue: consumers on two replicas take every item exactly once', async () => {
    const [a, b] = await replicas();
    const total = 200;
    for (let i = 0; i < total; i++) await (i % 2 ? a : b).enqueue('q', i);
    const taken: number[] = [];
    const consumer = async (store: PgStore) => {
      for (let item = await store.dequeue<number>('q'); item !== undefined; item = await store.dequeue<number>('q')) taken.push(item);
    };
    await Promise.all([a, b, a, b, a, b].map(consumer));
    expect(taken).toHaveLength(total);
    expect([...taken].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(await a.queues('')).toEqual([]);
  });

  it('one replica reads in FIFO order what another enqueued', async () => {
    const [a, b] = await replicas();
    for (const n of [3, 1, 2]) await a.enqueue('q', n);
    expect(await b.peek('q')).toBe(3);
    expect([await b.dequeue('q'), await b.dequeue('q'), await b.dequeue('q'), await b.dequeue('q')]).toEqual([3, 1, 2, undefined]);
  });

  it('notify on one replica is heard by the other, and by the notifying one too', async () => {
    const [a, b] = await replicas();
    const heardA: StoreNotice[] = [];
    const heardB: StoreNotice[] = [];
    await a.subscribe('wake', (n) => heardA.push(n));
    await b.subscribe('wake', (n) => heardB.push(n));
    await a.batch([{ op: 'enqueue', queue: 'inbox/c1', item: 'hi' }, { op: 'notify', channel: 'wake', payload: 'inbox/c1' }]);
    await waitFor(() => heardA.length === 1 && heardB.length === 1, 'both replicas to hear it');
    expect(heardB).toEqual([{ kind: 'message', payload: 'inbox/c1' }]);
  });
});

describe('PostgreSQL store: durability and values', () => {
  it('flush waits for writes still in flight: afterwards another replica reads them', async () => {
    const [a, b] = await replicas();
    const pending = Array.from({ length: 50 }, (_, i) => a.set(`k/${i}`, i));
    await a.flush();
    expect((await b.list('k/')).length).toBe(50);
    await Promise.all(pending);
  });

  it('keeps strings verbatim, including NUL and non-BMP characters; refuses NUL in names', async () => {
    const [a] = await replicas(1);
    const value = { s: 'a\u0000b', emoji: '🦊', nested: [{ 'k\u0000': 1 }], big: 1e300, neg: -0.5 };
    await a.set('v', value);
    expect(await a.get('v')).toEqual(value);
    await expect(a.set('bad\u0000key', 1)).rejects.toThrow(/NUL/);
    await expect(a.batch([{ op: 'enqueue', queue: 'q\u0000', item: 1 }])).rejects.toThrow(/batch\[0\]\.queue.*NUL/);
  });

  it('lists a prefix holding LIKE wildcards literally', async () => {
    const [a] = await replicas(1);
    for (const key of ['a%b/1', 'axb/1', 'a_b/1', 'a\\b/1']) await a.set(key, key);
    expect((await a.list('a%')).map(([k]) => k)).toEqual(['a%b/1']);
    expect((await a.list('a_')).map(([k]) => k)).toEqual(['a_b/1']);
    expect((await a.list('a\\')).map(([k]) => k)).toEqual(['a\\b/1']);
  });

  it('sweeps expired entries and locks out of the tables', async () => {
    let clock = 1_000;
    const [a] = await replicas(1, { now: () => clock });
    await a.set('gone', 1, { ttlMs: 10 });
    await a.set('kept', 1);
    await a.acquireLock('l', 'o', 10);
    clock += 10;
    expect(await a.sweep()).toBe(2);
    const rows = await pgAdmin(`select key from ${pg.escapeIdentifier(schemas[0]!)}.lb_entries`);
    expect(rows.rows).toEqual([{ key: 'kept' }]);
  });
});

describe('PostgreSQL store: dedupe marks in the tables', () => {
  it('the sweep forgets marks past their window (raising the floor) and drops stale scopes', async () => {
    let clock = 1_700_000_000_000;
    const [a] = await replicas(1, { now: () => clock });
    const table = (name: string) => `${pg.escapeIdentifier(schemas[0]!)}.${name}`;
    for (let id = 1; id <= 5; id++) await a.markSeen('telegram/1', String(id), { order: id });
    await a.markSeen('matrix/!r:hs', '$e');
    clock += SEEN_WINDOW_MS;
    await a.markSeen('telegram/2', '1', { order: 1 }); // within its window: kept
    expect(await a.sweep()).toBe(6);
    const marks = await pgAdmin(`select scope, id from ${table('lb_seen_marks')} order by scope`);
    expect(marks.rows).toEqual([{ scope: 'telegram/2', id: '1' }]);
    const floors = await pgAdmin(`select scope, floor_order::int as f from ${table('lb_seen_scopes')} order by scope`);
    expect(floors.rows).toEqual([
      { scope: 'matrix/!r:hs', f: null },
      { scope: 'telegram/1', f: 5 },
      { scope: 'telegram/2', f: null },
    ]);
    expect(await a.isSeen('telegram/1', '3', { order: 3 })).toBe(true);
    clock += SEEN_SCOPE_TTL_MS;
    await a.sweep();
    const left = await pgAdmin(`select scope from ${table('lb_seen_scopes')} order by scope`);
    expect(left.rows).toEqual([]);
    expect(await a.isSeen('telegram/1', '3', { order: 3 })).toBe(false);
  });
});

describe('PostgreSQL store: schema migrations', () => {
  function migrator(schema: string) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/store/fixtures/pg-migrate.ts'), pgUrl(), schema], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<{ code: number | null; out: string; err: string }>((r) => child.on('exit', (code) => r({ code, out, err })));
    return { child, ready: () => out.includes('ready'), exited };
  }

  it('two processes migrating a fresh schema at the same moment both start, and it is migrated once', async () => {
    const schema = uniqueSchema('mig');
    schemas.push(schema);
    const procs = [migrator(schema), migrator(schema), migrator(schema)];
    await waitFor(() => procs.every((p) => p.ready()), 'the migrators to connect', 30_000);
    for (const p of procs) p.child.stdin.write('go\n');
    const results = await Promise.all(procs.map((p) => p.exited));
    for (const r of results) expect(r, r.err).toMatchObject({ code: 0, out: expect.stringContaining(`migrated ${LATEST_SCHEMA_VERSION}`) });
    const versions = await pgAdmin(`select version from ${pg.escapeIdentifier(schema)}.lb_schema_migrations order by version`);
    expect(versions.rows).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })));
  });

  it('opening an up-to-date schema changes nothing and keeps the data', async () => {
    const [a] = await replicas(1);
    await a.set('k', 'v');
    const again = await openTestPgStore({ schema: schemas[0] });
    opened.push(again);
    expect(await again.get('k')).toBe('v');
    const versions = await pgAdmin(`select count(*)::int as n from ${pg.escapeIdentifier(schemas[0]!)}.lb_schema_migrations`);
    expect(versions.rows).toEqual([{ n: LATEST_SCHEMA_VERSION }]);
  });

  it('a version-1 schema (before dedupe marks) is migrated on open, keeping its data', async () => {
    const [a] = await replicas(1);
    await a.set('k', 'v');
    await a.enqueue('q', 1);
    await a.close();
    // Back to version 1: what a database migrated by the previous release holds.
    const s = pg.escapeIdentifier(schemas[0]!);
    for (const f of ['lb_mark_seen', 'lb_is_seen', 'lb_sweep_seen', 'lb_prune_seen']) await pgAdmin(`drop function ${s}.${f}`);
    await pgAdmin(`drop table ${s}.lb_seen_marks, ${s}.lb_seen_scopes, ${s}.lb_opened`);
    await pgAdmin(`delete from ${s}.lb_schema_migrations where version > 1`);
    const again = await openTestPgStore({ schema: schemas[0] });
    opened.push(again);
    expect(again.schemaVersion).toBe(2);
    expect([await again.get('k'), await again.items('q')]).toEqual(['v', [1]]);
    expect(await again.markSeen('telegram/1', '1', { order: 1 })).toBe(true);
    expect(await again.markSeen('telegram/1', '1', { order: 1 })).toBe(false);
  });

  it('without a schema option uses the first schema of the search_path the URL sets, creating it', async () => {
    const schema = uniqueSchema('path');
    schemas.push(schema);
    const url = new URL(pgUrl());
    url.searchParams.set('options', `-c search_path=${schema},public`);
    const store = await openTestPgStore({ url: url.toString(), schema: undefined });
    opened.push(store);
    expect(store.schema).toBe(schema);
    await store.set('k', 1);
    const rows = await pgAdmin(`select key from ${pg.escapeIdentifier(schema)}.lb_entries`);
    expect(rows.rows).toEqual([{ key: 'k' }]);
  });

  it('refuses a schema newer than this build, saying what to do', async () => {
    const [a] = await replicas(1);
    await a.close();
    await pgAdmin(`insert into ${pg.escapeIdentifier(schemas[0]!)}.lb_schema_migrations (version, name) values (999, 'from the future')`);
    const opening = openTestPgStore({ schema: schemas[0] });
    await expect(opening).rejects.toThrow(StoreError);
    await expect(opening).rejects.toMatchObject({ code: 'schema', message: expect.stringMatching(/version 999.*newer.*loopbridge at least as new/) });
  });
});

describe('PostgreSQL store: cut off from the database', () => {
  async function viaProxy(options: Parameters<typeof openTestPgStore>[0] = {}) {
    const proxy = await startTcpProxy(Number(new URL(pgUrl()).port));
    proxies.push(proxy);
    const schema = uniqueSchema('cut');
    schemas.push(schema);
    const store = await openTestPgStore({ url: urlVia(proxy.port), schema, connectTimeoutMs: 1000, queryTimeoutMs: 2000, healthTimeoutMs: 500, ...options });
    opened.push(store);
    return { proxy, store };
  }

  it('reports a refused connection in health() and as StoreUnavailableError, then recovers', async () => {
    const { proxy, store } = await viaProxy();
    await store.set('before', 1);
    expect(await store.health()).toEqual({ ok: true, kind: 'postgres' });
    await proxy.cut('refuse');
    const health = await store.health();
    expect(health).toMatchObject({ ok: false, kind: 'postgres', problem: expect.stringMatching(/unreachable/) });
    expect(health.problem).toContain(`127.0.0.1:${proxy.port}`);
    await expect(store.set('during', 1)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.get('before')).rejects.toMatchObject({ code: 'unavailable' });
    await proxy.restore();
    await waitFor(async () => (await store.health()).ok, 'health to recover');
    expect(await store.get('before')).toBe(1);
    await store.set('after', 2);
    expect(await store.get('after')).toBe(2);
  });

  it('a silent network (no answer at all) is reported within the health timeout, not hung on', async () => {
    const { proxy, store } = await viaProxy();
    await store.set('k', 1);
    await proxy.cut('blackhole');
    expect(await store.health()).toMatchObject({ ok: false, problem: expect.stringMatching(/timed out|timeout/i) });
    await expect(store.get('k')).rejects.toMatchObject({ code: 'unavailable' });
    await proxy.restore();
    await waitFor(async () => (await store.health()).ok, 'health to recover');
    expect(await store.get('k')).toBe(1);
  });

  it('subscribers are told to resync after the notification connection comes back', async () => {
    const { proxy, store } = await viaProxy();
    const heard: StoreNotice[] = [];
    await store.subscribe('wake', (n) => heard.push(n));
    await proxy.cut('refuse');
    await waitFor(async () => (await store.health()).problem !== undefined, 'the loss to be noticed');
    await proxy.restore();
    await waitFor(() => heard.some((n) => n.kind === 'resync'), 'a resync notice');
    await waitFor(async () => (await store.health()).ok, 'health to recover');
    await store.notify('wake', 'after');
    await waitFor(() => heard.some((n) => n.kind === 'message' && n.payload === 'after'), 'the notice after reconnecting');
    expect(store.warnings.some((w) => /notifications connection lost/.test(w))).toBe(true);
  });

  it('an idle connection killed by the server is replaced without crashing the process', async () => {
    const [a] = await replicas(1);
    await a.set('k', 1);
    await pgAdmin(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'loopbridge' and state = 'idle' and pid <> pg_backend_pid()`);
    await waitFor(async () => {
      try {
        return (await a.get('k')) === 1;
      } catch {
        return false; // a call that drew the dying connection fails once; the next gets a fresh one
      }
    }, 'the store to answer again');
  });

  it('opening against a server that is not there fails clearly, without the password', async () => {
    const port = await freePort();
    const opening = openPgStore({ url: `postgres://bridge:s3cret-pw@127.0.0.1:${port}/lb`, connectTimeoutMs: 1000 });
    await expect(opening).rejects.toBeInstanceOf(StoreUnavailableError);
    const error = (await opening.catch((e: unknown) => e)) as Error;
    expect(error.message).toContain(`127.0.0.1:${port}/lb`);
    expect(error.message).not.toContain('s3cret-pw');
  });
});
