// What only the file-backed store does: coalesced writes, durability across reopen, atomic files,
// corrupt-file recovery, sweeping to disk.

import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLowdbStore, type LowdbStore, type LowdbStoreOptions } from '../../src/store/index.js';
import { serializeInPieces } from '../../src/store/atomic-file.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let path: string;
const opened: LowdbStore[] = [];

async function open(options: Partial<LowdbStoreOptions> = {}): Promise<LowdbStore> {
  const store = await openLowdbStore({ path, onWarning: () => {}, ...options });
  opened.push(store);
  return store;
}

async function readJson(): Promise<{ entries: Record<string, { v: unknown }>; queues: Record<string, unknown[]> }> {
  return JSON.parse(await readFile(path, 'utf8'));
}

const until = (condition: () => boolean | Promise<boolean>, what: string): Promise<unknown> => waitFor(condition, what);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lb-lowdb-'));
  path = join(dir, 'state.json');
});

afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('openLowdbStore', () => {
  it('starts empty on a missing file and creates missing folders', async () => {
    path = join(dir, 'a', 'b', 'state.json');
    const store = await open();
    expect(await store.list('')).toEqual([]);
    await store.set('k', 1);
    await store.flush();
    expect((await readJson()).entries.k).toEqual({ v: 1 });
  });

  it('10,000 mutations cost a handful of writes, and the file holds all of them', async () => {
    const store = await open();
    for (let i = 0; i < 5_000; i++) {
      await store.set(`key:${i}`, { i });
      await store.enqueue('q', i);
    }
    await store.flush();
    expect(store.stats().writes).toBeGreaterThanOrEqual(1);
    expect(store.stats().writes).toBeLessThanOrEqual(5);
    const onDisk = await readJson();
    expect(Object.keys(onDisk.entries)).toHaveLength(5_000);
    expect(onDisk.entries['key:4999']).toEqual({ v: { i: 4999 } });
    expect(onDisk.queues.q).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
  });

  it('flush with nothing dirty resolves without writing', async () => {
    const store = await open();
    await store.flush();
    expect(store.stats().writes).toBe(0);
    await store.set('k', 1);
    await store.flush();
    const writes = store.stats().writes;
    await store.flush();
    await store.get('k'); // reads never dirty the state
    await store.flush();
    expect(store.stats().writes).toBe(writes);
  });

  it('writes on its own within the flush delay, without a flush call', async () => {
    const store = await open({ flushDelayMs: 5 });
    await store.set('k', 'v');
    await until(() => store.stats().writes === 1, 'the delayed write');
    expect((await readJson()).entries.k).toEqual({ v: 'v' });
  });

  it('a flush during a running write waits for the write that covers it', async () => {
    const store = await open({ flushDelayMs: 1_000_000 });
    // Enough state that the first write takes a while.
    for (let i = 0; i < 2_000; i++) await store.set(`pad:${i}`, 'x'.repeat(200));
    const first = store.flush();
    await store.set('late', 'written');
    await store.flush();
    await first;
    expect((await readJson()).entries.late).toEqual({ v: 'written' });
  });

  it('keeps everything across close and reopen: keys, TTLs, queues (FIFO) and locks', async () => {
    let clock = 1_000_000;
    const now = () => clock;
    const first = await open({ now });
    await first.set('forever', { a: [1, 2] });
    await first.set('short', 's', { ttlMs: 1000 });
    await first.enqueue('in:1', 'first');
    await first.enqueue('in:1', 'second');
    await first.enqueue('in:1', 'third');
    await first.dequeue('in:1');
    await first.acquireLock('loop:1', 'owner-a', 5000);
    await first.close(); // close flushes: no explicit flush

    const second = await open({ now });
    expect(await second.get('forever')).toEqual({ a: [1, 2] });
    expect(await second.get('short')).toBe('s');
    expect(await second.items('in:1')).toEqual(['second', 'third']);
    expect(await second.dequeue('in:1')).toBe('second');
    expect(await second.acquireLock('loop:1', 'owner-b', 5000)).toBe(false);
    clock += 1000;
    expect(await second.get('short')).toBeUndefined();
    await second.enqueue('in:1', 'fourth');
    await second.close();

    const third = await open({ now });
    expect(await third.items('in:1')).toEqual(['third', 'fourth']);
    clock += 4000;
    expect(await third.acquireLock('loop:1', 'owner-b', 5000)).toBe(true);
  });

  it('sweeps expired entries and locks from the file periodically', async () => {
    let clock = 0;
    const store = await open({ now: () => clock, sweepIntervalMs: 5 });
    await store.set('gone', 1, { ttlMs: 100 });
    await store.acquireLock('lock', 'o', 100);
    await store.set('kept', 2);
    await store.flush();
    expect(Object.keys((await readJson()).entries).sort()).toEqual(['gone', 'kept']);
    const writes = store.stats().writes;
    clock = 100;
    await until(() => store.stats().writes > writes, 'a write after the sweep');
    await store.flush();
    const onDisk = JSON.parse(await readFile(path, 'utf8'));
    expect(Object.keys(onDisk.entries)).toEqual(['kept']);
    expect(onDisk.locks).toEqual({});
  });

  it('moves a corrupt file aside, reports it without its content, and starts empty', async () => {
    const secret = 'tok-SECRET-123';
    await writeFile(path, `{"version":1,"entries":{"k":{"v":"${secret}"`); // torn
    const warnings: string[] = [];
    const store = await open({ onWarning: (m) => warnings.push(m) });
    expect(await store.list('')).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(path);
    expect(warnings[0]).toMatch(/corrupt/);
    expect(warnings[0]).not.toContain(secret);
    const aside = (await readdir(dir)).filter((n) => n.startsWith('state.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(dir, aside[0]!), 'utf8')).toContain(secret); // kept, not lost
    await store.set('fresh', 1);
    await store.flush();
    expect((await readJson()).entries.fresh).toEqual({ v: 1 });
  });

  it('treats valid JSON of the wrong shape as corrupt too', async () => {
    await writeFile(path, JSON.stringify({ entries: [] }));
    const warnings: string[] = [];
    const store = await open({ onWarning: (m) => warnings.push(m) });
    expect(await store.list('')).toEqual([]);
    expect(warnings[0]).toMatch(/version/);
    expect((await readdir(dir)).some((n) => n.startsWith('state.json.corrupt-'))).toBe(true);
  });

  it('leaves no temp file behind, removes those of dead writers, and keeps the file private', async () => {
    const stale = `${path}.tmp-${process.pid}`; // our own pid cannot be mid-write before open
    await writeFile(stale, '{"half');
    const store = await open();
    expect(await readdir(dir)).not.toContain(`state.json.tmp-${process.pid}`);
    for (let i = 0; i < 20; i++) {
      await store.set(`k${i}`, i);
      await store.flush();
    }
    expect(await readdir(dir)).toEqual(['state.json']);
    if (process.platform !== 'win32') expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('reports a failed write, rejects the flush, and retries until the disk accepts it', async () => {
    const warnings: string[] = [];
    const store = await open({ flushDelayMs: 5, onWarning: (m) => warnings.push(m) });
    const blocker = `${path}.tmp-${process.pid}`;
    await mkdir(blocker); // opening the temp file for writing now fails
    await store.set('k', 'v');
    await expect(store.flush()).rejects.toThrow();
    expect(warnings.some((m) => m.includes('write failed'))).toBe(true);
    expect(await store.health!()).toEqual({ ok: false, kind: 'lowdb', problem: 'write failed (EISDIR); retrying' });
    await rmdir(blocker);
    await until(async () => {
      try {
        return JSON.parse(await readFile(path, 'utf8')).entries.k?.v === 'v';
      } catch {
        return false;
      }
    }, 'the retried write');
    await store.flush();
    expect(await store.health!()).toEqual({ ok: true, kind: 'lowdb' });
  });
});

describe('serializeInPieces', () => {
  it('joins to exactly JSON.stringify, in pieces of bounded size', () => {
    const entries: Record<string, unknown> = Object.create(null);
    for (let i = 0; i < 5_000; i++) entries[`k${i}`] = { v: { text: `value ${i} ${'é'.repeat(i % 50)}`, n: i, nested: [1, { a: null }] }, exp: i % 3 ? i : undefined };
    const shapes: unknown[] = [
      { version: 1, entries, queues: { q: [1, 2, { x: 'y' }] }, locks: {}, seen: { 'telegram/1': { m: [['1', 2, 3]], f: 7 } } },
      { a: undefined, b: () => 1, c: 'ok', d: { e: undefined, f: [undefined, 1] } },
      {},
      { only: { deep: { deeper: { deepest: 'x' } } } },
    ];
    for (const shape of shapes) expect(serializeInPieces(shape).join('')).toBe(JSON.stringify(shape));
    const pieces = serializeInPieces({ entries });
    expect(pieces.length).toBeGreaterThan(3);
    for (const p of pieces) expect(p.length).toBeLessThan(70 * 1024);
  });
});
