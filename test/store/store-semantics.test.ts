// The Store contract, run against every implementation so they cannot drift apart.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryStore, MAX_NOTIFY_PAYLOAD_BYTES, openLowdbStore, SEEN_SCOPE_TTL_MS, SEEN_WINDOW_MS, StoreClosedError, type Store, type StoreNotice } from '../../src/store/index.js';
import { waitFor } from '../helpers/wait.js';
import { dropSchema, openTestPgStore, uniqueSchema } from '../helpers/pg.js';

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

function postgresHarness(): Harness {
  const schema = uniqueSchema('sem');
  return {
    open: (now) => openTestPgStore({ schema, now }),
    // A restart: a new store (new pool) on the same schema; the database keeps everything.
    reopen: async (store, now) => {
      await store.close();
      return openTestPgStore({ schema, now });
    },
    cleanup: () => dropSchema(schema),
  };
}

describe.each([
  ['memory', memoryHarness],
  ['lowdb', lowdbHarness],
  ['postgres', postgresHarness],
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

  describe('batch', () => {
    it('applies every step, in order', async () => {
      await store.set('old', 1);
      await store.enqueue('q', 'first');
      expect(
        await store.batch([
          { op: 'set', key: 'a', value: { n: 1 } },
          { op: 'set', key: 'a', value: { n: 2 }, ttlMs: 1000 },
          { op: 'delete', key: 'old' },
          { op: 'enqueue', queue: 'q', item: 'second' },
          { op: 'dequeue', queue: 'q' },
          { op: 'enqueue', queue: 'q', item: 'third' },
          { op: 'dequeue', queue: 'empty' },
        ]),
      ).toBe(true);
      expect(await store.get('a')).toEqual({ n: 2 });
      expect(await store.get('old')).toBeUndefined();
      expect(await store.items('q')).toEqual(['second', 'third']);
      clock += 1000;
      expect(await store.get('a')).toBeUndefined(); // the TTL of the last write holds
      expect(await store.batch([])).toBe(true);
    });

    it('a failed setIfAbsent guard applies nothing, wherever it stands', async () => {
      await store.set('seen', 1);
      await store.enqueue('q', 'kept');
      const steps = [
        { op: 'set', key: 'conv', value: 'changed' },
        { op: 'enqueue', queue: 'q', item: 'duplicate' },
        { op: 'dequeue', queue: 'q' },
      ] as const;
      expect(await store.batch([...steps, { op: 'setIfAbsent', key: 'seen', value: 2 }])).toBe(false);
      expect(await store.batch([{ op: 'setIfAbsent', key: 'seen', value: 2 }, ...steps])).toBe(false);
      expect(await store.get('conv')).toBeUndefined();
      expect(await store.get('seen')).toBe(1);
      expect(await store.items('q')).toEqual(['kept']);
    });

    it('commits the dedupe mark and the queued message together, once', async () => {
      const accept = (n: number) =>
        store.batch([
          { op: 'setIfAbsent', key: 'seen/m1', value: 1, ttlMs: 5000 },
          { op: 'enqueue', queue: 'inbox/c', item: { n } },
        ]);
      expect(await accept(1)).toBe(true);
      expect(await accept(2)).toBe(false);
      expect(await store.items('inbox/c')).toEqual([{ n: 1 }]);
      clock += 5000; // the mark expired: the same key is accepted again
      expect(await accept(3)).toBe(true);
      expect(await store.items('inbox/c')).toEqual([{ n: 1 }, { n: 3 }]);
    });

    it('guards see the earlier steps of the same batch', async () => {
      expect(await store.batch([{ op: 'set', key: 'k', value: 1 }, { op: 'setIfAbsent', key: 'k', value: 2 }])).toBe(false);
      expect(await store.get('k')).toBeUndefined();
      await store.set('k', 1);
      expect(await store.batch([{ op: 'delete', key: 'k' }, { op: 'setIfAbsent', key: 'k', value: 2 }])).toBe(true);
      expect(await store.get('k')).toBe(2);
    });

    it('insert creates an absent (or expired) key and keeps a live one, without failing the batch', async () => {
      await store.set('kept', 'old');
      await store.set('expired', 'old', { ttlMs: 10 });
      clock += 10;
      const ops = [
        { op: 'insert', key: 'kept', value: 'new' },
        { op: 'insert', key: 'expired', value: 'new' },
        { op: 'insert', key: 'absent', value: 'new', ttlMs: 100 },
        { op: 'enqueue', queue: 'q', item: 1 },
      ] as const;
      expect(await store.batch(ops)).toBe(true);
      expect([await store.get('kept'), await store.get('expired'), await store.get('absent')]).toEqual(['old', 'new', 'new']);
      expect(await store.items('q')).toEqual([1]);
      // A guard after it sees what it inserted.
      expect(await store.batch([{ op: 'insert', key: 'fresh', value: 1 }, { op: 'setIfAbsent', key: 'fresh', value: 2 }])).toBe(false);
      expect(await store.get('fresh')).toBeUndefined();
      clock += 100;
      expect(await store.get('absent')).toBeUndefined();
    });

    it('requireLock commits only while the owner holds the lock', async () => {
      const write = (owner: string, n: number) => store.batch([{ op: 'requireLock', name: 'lease', owner }, { op: 'set', key: 'turn', value: n }]);
      expect(await write('a', 1)).toBe(false); // nobody holds it
      expect(await store.acquireLock('lease', 'a', 1000)).toBe(true);
      expect(await write('b', 2)).toBe(false);
      expect(await write('a', 3)).toBe(true);
      clock += 1000;
      expect(await write('a', 4)).toBe(false); // expired
      expect(await store.get('turn')).toBe(3);
    });

    it('rejects bad input before applying anything, naming the step', async () => {
      await expect(store.batch([{ op: 'set', key: 'a', value: 1 }, { op: 'set', key: 'b', value: undefined }])).rejects.toThrow(/batch\[1\]\.value/);
      await expect(store.batch([{ op: 'set', key: 'a', value: 1 }, { op: 'set', key: 'b', value: 1, ttlMs: -5 }])).rejects.toThrow(RangeError);
      await expect(store.batch([{ op: 'set', key: 'a', value: 1 }, { op: 'nope' } as never])).rejects.toThrow(/unknown op/);
      expect(await store.get('a')).toBeUndefined();
    });

    it('copies values in', async () => {
      const value = { list: [1] };
      await store.batch([{ op: 'set', key: 'k', value }, { op: 'enqueue', queue: 'q', item: value }]);
      value.list.push(2);
      expect(await store.get('k')).toEqual({ list: [1] });
      expect(await store.items('q')).toEqual([{ list: [1] }]);
    });
  });

  describe('notices', () => {
    const collect = async (channel: string) => {
      const heard: StoreNotice[] = [];
      const stop = await store.subscribe!(channel, (notice) => heard.push(notice));
      return { heard, stop, payloads: () => heard.filter((n) => n.kind === 'message').map((n) => n.payload) };
    };

    it('delivers a notify to every subscriber of its channel, and only of it', async () => {
      const one = await collect('wake');
      const two = await collect('wake');
      const other = await collect('other');
      await store.notify!('wake', 'inbox/c1');
      await store.notify!('other');
      await waitFor(() => one.payloads().length === 1 && two.payloads().length === 1 && other.payloads().length === 1, 'the notices');
      expect(one.payloads()).toEqual(['inbox/c1']);
      expect(two.payloads()).toEqual(['inbox/c1']);
      expect(other.payloads()).toEqual(['']);
    });

    it('stops delivering after unsubscribe', async () => {
      const gone = await collect('ch');
      const kept = await collect('ch');
      await gone.stop();
      await store.notify!('ch', 'after');
      await waitFor(() => kept.payloads().length === 1, 'the notice');
      expect(gone.heard).toEqual([]);
    });

    it('a batch notifies only when it commits', async () => {
      const sub = await collect('ch');
      await store.set('seen', 1);
      expect(await store.batch([{ op: 'notify', channel: 'ch', payload: 'rolled back' }, { op: 'setIfAbsent', key: 'seen', value: 1 }])).toBe(false);
      expect(await store.batch([{ op: 'enqueue', queue: 'q', item: 1 }, { op: 'notify', channel: 'ch', payload: 'committed' }])).toBe(true);
      // Notices arrive in commit order, so once the second is here the first would have been too.
      await waitFor(() => sub.payloads().includes('committed'), 'the committed notice');
      expect(sub.payloads()).toEqual(['committed']);
    });

    it('refuses channels and payloads the database could not carry', async () => {
      await expect(store.notify!('', 'x')).rejects.toThrow(RangeError);
      await expect(store.notify!('c'.repeat(64), 'x')).rejects.toThrow(RangeError);
      await expect(store.notify!('ch', 'x'.repeat(MAX_NOTIFY_PAYLOAD_BYTES + 1))).rejects.toThrow(RangeError);
      await expect(store.subscribe!('', () => {})).rejects.toThrow(RangeError);
    });
  });

  describe('health', () => {
    it('reports ok while the store works, and not after close', async () => {
      expect(await store.health!()).toMatchObject({ ok: true });
      await store.close();
      expect(await store.health!()).toMatchObject({ ok: false, problem: expect.stringMatching(/closed/) });
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
      await expect(store.batch([{ op: 'enqueue', queue: 'q', item: 1 }, { op: 'markSeen', scope: 's', id: 'a', order: 2.5 }])).rejects.toThrow(/batch\[1\]\.order/);
      expect(await store.isSeen('s', 'a')).toBe(false);
      expect(await store.items('q')).toEqual([]);
    });

    describe('as a batch step (the durable accept)', () => {
      const accept = (id: string, n: number, order?: number) =>
        store.batch([
          { op: 'markSeen', scope: 'telegram/5', id, order },
          { op: 'insert', key: 'conv/telegram/5', value: { loop: 'L' } },
          { op: 'enqueue', queue: 'inbox/telegram/5', item: { n } },
        ]);

      it('commits the mark with the queued message; a redelivery fails the whole batch', async () => {
        expect(await accept('10', 1, 10)).toBe(true);
        expect(await store.isSeen('telegram/5', '10', { order: 10 })).toBe(true);
        expect(await accept('10', 2, 10)).toBe(false);
        expect(await store.items('inbox/telegram/5')).toEqual([{ n: 1 }]);
        // The step answers as markSeen does: below the floor once the mark is forgotten.
        clock += SEEN_WINDOW_MS;
        expect(await accept('10', 3, 10)).toBe(false);
        expect(await accept('9', 4, 9)).toBe(false);
        expect(await accept('11', 5, 11)).toBe(true);
        expect(await store.items('inbox/telegram/5')).toEqual([{ n: 1 }, { n: 5 }]);
      });

      it('a later guard that fails takes the mark back with everything else', async () => {
        await store.set('taken', 1);
        expect(await store.batch([{ op: 'markSeen', scope: 's', id: 'm' }, { op: 'enqueue', queue: 'q', item: 1 }, { op: 'setIfAbsent', key: 'taken', value: 2 }])).toBe(false);
        expect(await store.isSeen('s', 'm')).toBe(false);
        expect(await store.items('q')).toEqual([]);
        expect(await store.markSeen('s', 'm')).toBe(true);
      });

      it('sees earlier steps of its batch: the same id twice fails', async () => {
        expect(await store.batch([{ op: 'markSeen', scope: 's', id: 'm' }, { op: 'markSeen', scope: 's', id: 'm' }])).toBe(false);
        expect(await store.isSeen('s', 'm')).toBe(false);
        expect(await store.batch([{ op: 'markSeen', scope: 's', id: 'm' }, { op: 'markSeen', scope: 's', id: 'n' }])).toBe(true);
        expect([await store.isSeen('s', 'm'), await store.isSeen('s', 'n')]).toEqual([true, true]);
      });

      it('concurrent deliveries of one message: exactly one is queued', async () => {
        const outcomes = await Promise.all(Array.from({ length: 6 }, (_, n) => accept('42', n, 42)));
        expect(outcomes.filter(Boolean)).toHaveLength(1);
        expect(await store.items('inbox/telegram/5')).toHaveLength(1);
      });
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
