// The Store contract, run against both implementations so they cannot drift apart.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryStore, openLowdbStore, SEEN_SCOPE_TTL_MS, SEEN_WINDOW_MS, StoreClosedError, type Store } from '../../src/store/index.js';

interface Harness {
  open(now: () => number): Promise<Store>;
  /** Closes `store` and opens the same state again (a restart); absent where state does not outlive a process. */
  reopen?(store: Store, now: () => number): Promise<Store>;
  cleanup(): Promise<void>;
}

function memoryHarness(): Harness {
  return { open: async (now) => createMemoryStore({ now }), cleanup: async () => {} };
}

function lowdbHarness(): Harness {
  let dir: string | undefined;
  return {
    open: async (now) => {
      dir = await mkdtemp(join(tmpdir(), 'lb-store-'));
      return openLowdbStore({ path: join(dir, 'state.json'), now, onWarning: () => {} });
    },
    reopen: async (store, now) => {
      await store.close();
      return openLowdbStore({ path: join(dir!, 'state.json'), now, onWarning: () => {} });
    },
    cleanup: async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

describe.each([
  ['memory', memoryHarness],
  ['lowdb', lowdbHarness],
])('Store semantics (%s)', (_name, makeHarness) => {
  let harness: Harness;
  let store: Store;
  let clock: number;

  beforeEach(async () => {
    clock = 1_700_000_000_000;
    harness = makeHarness();
    store = await harness.open(() => clock);
  });

  afterEach(async () => {
    await store.close();
    await harness.cleanup();
  });

  describe('key/value', () => {
    it('reads what was set, and undefined for absent keys', async () => {
      expect(await store.get('missing')).toBeUndefined();
      await store.set('a', { n: 1, list: [1, 'x', null], nested: { ok: true } });
      expect(await store.get('a')).toEqual({ n: 1, list: [1, 'x', null], nested: { ok: true } });
      await store.set('a', 2);
      expect(await store.get('a')).toBe(2);
    });

    it('stores falsy JSON values as present', async () => {
      await store.set('zero', 0);
      await store.set('empty', '');
      await store.set('null', null);
      await store.set('false', false);
      expect(await store.get('zero')).toBe(0);
      expect(await store.get('empty')).toBe('');
      expect(await store.get('null')).toBeNull();
      expect(await store.get('false')).toBe(false);
      expect(await store.setIfAbsent('null', 1)).toBe(false);
    });

    it('treats prototype names as ordinary keys', async () => {
      expect(await store.get('constructor')).toBeUndefined();
      expect(await store.get('toString')).toBeUndefined();
      expect(await store.setIfAbsent('__proto__', { x: 1 })).toBe(true);
      expect(await store.get('__proto__')).toEqual({ x: 1 });
      expect(await store.list('__')).toEqual([['__proto__', { x: 1 }]]);
    });

    it('rejects values that are not JSON', async () => {
      await expect(store.set('u', undefined)).rejects.toThrow(TypeError);
      await expect(store.set('f', () => 1)).rejects.toThrow(TypeError);
      await expect(store.enqueue('q', undefined)).rejects.toThrow(TypeError);
      expect(await store.get('u')).toBeUndefined();
      expect(await store.items('q')).toEqual([]);
    });

    it('holds values as JSON (a Date reads back as its ISO string)', async () => {
      const when = new Date(0);
      await store.set('d', { when });
      expect(await store.get('d')).toEqual({ when: when.toISOString() });
    });

    it('deletes, and deleting an absent key is a no-op', async () => {
      await store.set('a', 1);
      await store.delete('a');
      await store.delete('never');
      expect(await store.get('a')).toBeUndefined();
    });

    it('setIfAbsent sets only when absent', async () => {
      expect(await store.setIfAbsent('k', 'first')).toBe(true);
      expect(await store.setIfAbsent('k', 'second')).toBe(false);
      expect(await store.get('k')).toBe('first');
    });

    it('lists live entries by prefix in key order', async () => {
      for (const key of ['b:2', 'a:1', 'b:10', 'b:1', 'c']) await store.set(key, key.toUpperCase());
      await store.set('b:gone', 1, { ttlMs: 10 });
      clock += 10;
      expect(await store.list('b:')).toEqual([
        ['b:1', 'B:1'],
        ['b:10', 'B:10'],
        ['b:2', 'B:2'],
      ]);
      expect((await store.list('')).map(([k]) => k)).toEqual(['a:1', 'b:1', 'b:10', 'b:2', 'c']);
      expect(await store.list('zzz')).toEqual([]);
    });
  });

  describe('TTL', () => {
    it('expires a key exactly at its TTL', async () => {
      await store.set('t', 'v', { ttlMs: 1000 });
      clock += 999;
      expect(await store.get('t')).toBe('v');
      clock += 1;
      expect(await store.get('t')).toBeUndefined();
    });

    it('lets setIfAbsent succeed over an expired key', async () => {
      expect(await store.setIfAbsent('mark', 1, { ttlMs: 500 })).toBe(true);
      clock += 499;
      expect(await store.setIfAbsent('mark', 2, { ttlMs: 500 })).toBe(false);
      clock += 1;
      expect(await store.setIfAbsent('mark', 3, { ttlMs: 500 })).toBe(true);
      expect(await store.get('mark')).toBe(3);
    });

    it('a plain set replaces a TTL with forever', async () => {
      await store.set('k', 1, { ttlMs: 100 });
      await store.set('k', 2);
      clock += 1_000_000;
      expect(await store.get('k')).toBe(2);
    });

    it('rejects a negative or non-finite TTL', async () => {
      await expect(store.set('k', 1, { ttlMs: -1 })).rejects.toThrow(RangeError);
      await expect(store.set('k', 1, { ttlMs: Number.NaN })).rejects.toThrow(RangeError);
      await expect(store.acquireLock('l', 'o', Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
      expect(await store.get('k')).toBeUndefined();
    });
  });

  describe('deep copies', () => {
    it('isolates values from the caller on the way in and out', async () => {
      const value = { list: [1, 2], inner: { n: 1 } };
      await store.set('k', value);
      value.list.push(3);
      value.inner.n = 99;
      const read = await store.get<typeof value>('k');
      expect(read).toEqual({ list: [1, 2], inner: { n: 1 } });
      read!.list.push(4);
      read!.inner.n = 42;
      expect(await store.get('k')).toEqual({ list: [1, 2], inner: { n: 1 } });
      const [[, listed]] = (await store.list<typeof value>('k')) as Array<[string, typeof value]>;
      listed.inner.n = 7;
      expect(await store.get('k')).toEqual({ list: [1, 2], inner: { n: 1 } });
    });

    it('isolates queue items', async () => {
      const item = { id: 1, tags: ['a'] };
      await store.enqueue('q', item);
      item.tags.push('mutated');
      const peeked = await store.peek<typeof item>('q');
      peeked!.tags.push('x');
      const all = await store.items<typeof item>('q');
      all[0]!.tags.push('y');
      all.push({ id: 2, tags: [] });
      expect(await store.items('q')).toEqual([{ id: 1, tags: ['a'] }]);
      expect(await store.dequeue('q')).toEqual({ id: 1, tags: ['a'] });
    });
  });

  describe('queues', () => {
    it('is FIFO; peek does not remove', async () => {
      await store.enqueue('q', 1);
      await store.enqueue('q', 2);
      await store.enqueue('q', 3);
      expect(await store.peek('q')).toBe(1);
      expect(await store.peek('q')).toBe(1);
      expect(await store.dequeue('q')).toBe(1);
      expect(await store.dequeue('q')).toBe(2);
      expect(await store.items('q')).toEqual([3]);
      expect(await store.dequeue('q')).toBe(3);
      expect(await store.dequeue('q')).toBeUndefined();
      expect(await store.peek('q')).toBeUndefined();
      expect(await store.items('q')).toEqual([]);
    });

    it('keeps queues apart and lists only non-empty ones by prefix', async () => {
      await store.enqueue('in:b', 'b1');
      await store.enqueue('in:a', 'a1');
      await store.enqueue('out:x', 'x1');
      await store.enqueue('in:a', 'a2');
      expect(await store.queues('in:')).toEqual(['in:a', 'in:b']);
      expect(await store.dequeue('in:b')).toBe('b1');
      expect(await store.queues('in:')).toEqual(['in:a']);
      expect(await store.queues('')).toEqual(['in:a', 'out:x']);
      expect(await store.items('in:a')).toEqual(['a1', 'a2']);
    });

    it('keeps queues and keys in separate namespaces', async () => {
      await store.set('same', 'value');
      await store.enqueue('same', 'item');
      expect(await store.get('same')).toBe('value');
      expect(await store.items('same')).toEqual(['item']);
      await store.delete('same');
      expect(await store.items('same')).toEqual(['item']);
    });
  });

  describe('locks', () => {
    it('is exclusive to one owner until released', async () => {
      expect(await store.acquireLock('loop:1', 'a', 10_000)).toBe(true);
      expect(await store.acquireLock('loop:1', 'b', 10_000)).toBe(false);
      await store.releaseLock('loop:1', 'b'); // not the owner: no effect
      expect(await store.acquireLock('loop:1', 'b', 10_000)).toBe(false);
      await store.releaseLock('loop:1', 'a');
      expect(await store.acquireLock('loop:1', 'b', 10_000)).toBe(true);
      expect(await store.acquireLock('loop:2', 'a', 10_000)).toBe(true);
    });

    it('expires, and the same owner renews', async () => {
      expect(await store.acquireLock('l', 'a', 1000)).toBe(true);
      clock += 900;
      expect(await store.acquireLock('l', 'a', 1000)).toBe(true); // renewed until +1900
      clock += 500;
      expect(await store.acquireLock('l', 'b', 1000)).toBe(false);
      clock += 500;
      expect(await store.acquireLock('l', 'b', 1000)).toBe(true);
      expect(await store.acquireLock('l', 'a', 1000)).toBe(false);
    });

    it('does not show locks among keys', async () => {
      await store.acquireLock('k', 'a', 1000);
      expect(await store.list('')).toEqual([]);
      expect(await store.get('k')).toBeUndefined();
    });
  });

  describe('dedupe marks (markSeen / isSeen)', () => {
    const MIN = 60_000;

    it('marks once per scope: the first call wins, a redelivery is refused, other scopes are apart', async () => {
      expect(await store.isSeen('telegram/1', '10')).toBe(false);
      expect(await store.markSeen('telegram/1', '10')).toBe(true);
      expect(await store.markSeen('telegram/1', '10')).toBe(false);
      expect(await store.isSeen('telegram/1', '10')).toBe(true);
      expect(await store.markSeen('telegram/2', '10')).toBe(true);
      expect(await store.markSeen('slack/1', '10')).toBe(true);
    });

    it('concurrent deliveries of one message: exactly one claims it', async () => {
      const wins = await Promise.all(Array.from({ length: 8 }, () => store.markSeen('s', 'same', { order: 5 })));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });

    it('Telegram-shaped (order = message_id): old marks are forgotten but redeliveries still refused by the floor', async () => {
      for (let id = 1; id <= 50; id++) {
        expect(await store.markSeen('telegram/-100', String(id), { order: id })).toBe(true);
        clock += MIN;
      }
      clock += SEEN_WINDOW_MS;
      // A 24 h offset replay: every one of them is still a duplicate, though their marks are gone.
      for (let id = 1; id <= 50; id++) expect(await store.markSeen('telegram/-100', String(id), { order: id })).toBe(false);
      expect(await store.markSeen('telegram/-100', '51', { order: 51 })).toBe(true);
      expect(await store.isSeen('telegram/-100', '52', { order: 52 })).toBe(false);
    });

    it('Slack-shaped (order = ts in µs): a retry whose original was never seen is processed, out of order; an app_mention and its message share one ts', async () => {
      const ts = (s: string) => Number(s.replace('.', ''));
      expect(await store.markSeen('slack/C1', '1712345678.000300', { order: ts('1712345678.000300') })).toBe(true);
      clock += 3 * MIN;
      // An earlier message's retry arrives after a later one was taken (its first delivery was lost).
      expect(await store.markSeen('slack/C1', '1712345678.000100', { order: ts('1712345678.000100') })).toBe(true);
      expect(await store.markSeen('slack/C1', '1712345678.000100', { order: ts('1712345678.000100') })).toBe(false);
      expect(await store.markSeen('slack/C1', '1712345678.000300', { order: ts('1712345678.000300') })).toBe(false); // the message after its app_mention
      clock += 5 * MIN; // Slack's last retry
      expect(await store.markSeen('slack/C1', '1712345678.000300', { order: ts('1712345678.000300') })).toBe(false);
    });

    it('Matrix-shaped (opaque ids, no order): refused within the window, forgotten after it', async () => {
      expect(await store.markSeen('matrix/!room:hs', '$ev1')).toBe(true);
      clock += 2 * MIN; // a cached /sync replayed
      expect(await store.markSeen('matrix/!room:hs', '$ev1')).toBe(false);
      clock += SEEN_WINDOW_MS;
      await store.markSeen('matrix/!room:hs', '$ev2'); // prunes this scope
      expect(await store.isSeen('matrix/!room:hs', '$ev1')).toBe(false);
      expect(await store.isSeen('matrix/!room:hs', '$ev2')).toBe(true);
    });

    it('a floor is kept for the scope TTL after its last mark, then the scope is dropped', async () => {
      await store.markSeen('telegram/9', '7', { order: 7 });
      clock += SEEN_WINDOW_MS;
      await store.markSeen('telegram/other', 'x'); // a mutation lets the sweep run on the store's clock
      expect(await store.isSeen('telegram/9', '7', { order: 7 })).toBe(true);
      clock += SEEN_SCOPE_TTL_MS;
      await store.markSeen('telegram/other', 'y');
      expect(await store.isSeen('telegram/9', '7', { order: 7 })).toBe(false);
    });

    it('a restart renews the window: a redelivery right after a long downtime is still refused', async (ctx) => {
      if (!harness.reopen) return ctx.skip(); // the memory store does not outlive a process
      expect(await store.markSeen('matrix/!r:hs', '$before-crash')).toBe(true);
      await store.flush();
      clock += 10 * SEEN_WINDOW_MS; // down for five hours
      store = await harness.reopen(store, () => clock);
      await store.markSeen('matrix/!r:hs', '$after');
      expect(await store.markSeen('matrix/!r:hs', '$before-crash')).toBe(false);
      clock += SEEN_WINDOW_MS;
      await store.markSeen('matrix/!r:hs', '$later');
      expect(await store.isSeen('matrix/!r:hs', '$before-crash')).toBe(false);
    });

    it('rejects an order that is not a safe integer', async () => {
      await expect(store.markSeen('s', 'a', { order: 1.5 })).rejects.toThrow(RangeError);
      await expect(store.markSeen('s', 'a', { order: Number.MAX_SAFE_INTEGER + 2 })).rejects.toThrow(RangeError);
      expect(await store.isSeen('s', 'a')).toBe(false);
    });
  });

  describe('lifecycle', () => {
    it('flush resolves, and every call after close throws a clear error', async () => {
      await store.set('a', 1);
      await store.flush();
      await store.close();
      await store.close(); // idempotent
      await expect(store.get('a')).rejects.toThrow(StoreClosedError);
      await expect(store.set('a', 2)).rejects.toThrow(/closed/);
      await expect(store.enqueue('q', 1)).rejects.toThrow(StoreClosedError);
      await expect(store.acquireLock('l', 'o', 1)).rejects.toThrow(StoreClosedError);
      await expect(store.markSeen('s', 'a')).rejects.toThrow(StoreClosedError);
      await expect(store.flush()).rejects.toThrow(StoreClosedError);
    });
  });
});
