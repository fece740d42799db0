// Intake on PostgreSQL, where every statement commits on its own: the dedupe mark and the queued message
// must commit together (one batch), and two bridges sharing the database must queue a redelivered
// message once.

import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError, type Store, type StoreOp } from '../../src/store/index.js';
import type { PgStore } from '../../src/store/pg/pg-store.js';
import { dropSchema, openTestPgStore, uniqueSchema } from '../helpers/pg.js';
import { dm, finalReply, harnessSuite, loopOf, message, person, waitFor } from './fixtures.js';

const u1 = person('u1');
const stores: PgStore[] = [];
const schemas: string[] = [];

// Registered before the suite's own hooks, so it runs after them: bridges stop before their stores close.
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const s of schemas.splice(0)) await dropSchema(s);
});
const suite = harnessSuite();

async function pgStores(n: number): Promise<PgStore[]> {
  const schema = uniqueSchema('intake');
  schemas.push(schema);
  const out = [];
  for (let i = 0; i < n; i++) out.push(await openTestPgStore({ schema }));
  stores.push(...out);
  return out;
}

/**
 * The store as it behaves when the database goes away at the moment the message is written: the write
 * that queues it fails (a lone `enqueue`, or the batch holding one), everything else works.
 */
function failingQueueWrite(store: Store): Store & { failures: number } {
  let armed = true;
  const state = { failures: 0 };
  const fail = () => {
    armed = false;
    state.failures++;
    return Promise.reject(new StoreUnavailableError('PostgreSQL at test is unreachable (injected)'));
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'failures') return state.failures;
      if (prop === 'enqueue' && armed) return () => fail();
      if (prop === 'batch' && armed) return (ops: StoreOp[]) => (ops.some((op) => op.op === 'enqueue') ? fail() : target.batch(ops));
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Store & { failures: number };
}

describe('intake on PostgreSQL', () => {
  it('a message whose queueing failed leaves no dedupe mark: the platform redelivery is answered', async () => {
    const [pg] = await pgStores(1);
    const store = failingQueueWrite(pg!);
    const h = await suite.harness({ store });
    const m = message(dm('u1'), u1, 'written when the database blinked');
    await expect(h.adapter.inject(m)).rejects.toThrow(StoreUnavailableError); // not acknowledged to the platform
    expect(store.failures).toBe(1);
    await h.adapter.inject({ ...m }); // so the platform delivers it again
    await finalReply(h, 'u1', /Echo:\*\* written when the database blinked/);
    const loopId = (await loopOf(pg!, dm('u1')))!;
    expect(suite.sim.received(loopId)).toEqual(['written when the database blinked']);
  });

  // One message per chat: which bridge runs a conversation's turns is the replica phase's lease; here
  // only intake is shared.
  it('the same message delivered to two bridges sharing the database at once is queued and answered once', async () => {
    const [a, b] = await pgStores(2);
    const ha = await suite.harness({ store: a });
    const hb = await suite.harness({ store: b });
    const msgs = Array.from({ length: 10 }, (_, i) => message(dm(`c${i}`), u1, `race ${i}`));
    await Promise.all(msgs.flatMap((m) => [ha.adapter.inject({ ...m }), hb.adapter.inject({ ...m }), ha.adapter.inject({ ...m })]));
    const count = (name: string) => ha.bridge.metrics.get(name, { platform: 'test' }) + hb.bridge.metrics.get(name, { platform: 'test' });
    expect(count('inbound_accepted_total')).toBe(10);
    expect(count('inbound_duplicates_total')).toBe(20);
    for (const [i, m] of msgs.entries()) {
      const replies = () => [ha, hb].flatMap((h) => h.adapter.chat(`c${i}`)).filter((r) => r.finalized && r.text.includes(`race ${i}`));
      await waitFor(() => replies().length > 0, `the reply in c${i}`);
      expect(suite.sim.received((await loopOf(a!, m.conversation))!)).toEqual([m.text]);
    }
    expect(ha.adapter.chat('c0').length + hb.adapter.chat('c0').length).toBe(1);
  });
});
