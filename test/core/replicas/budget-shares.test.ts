// The bot's budget split between replicas (budget-shares.ts): an equal share each, raised only under the
// platform's lock to what the others' rows leave, so that at no moment do the shares in force add up to
// more than the platform allows, while replicas join, leave and die.

import { describe, expect, it } from 'vitest';
import type { RateBudget } from '../../../src/core/adapter-types.js';
import type { BudgetShare, BudgetUsage } from '../../../src/core/rate-scheduler.js';
import { BudgetShares, type ShareTarget } from '../../../src/core/replicas/budget-shares.js';
import { createMemoryStore } from '../../../src/store/memory-store.js';

const TELEGRAM: RateBudget = { globalPerSecond: 30, privateChatIntervalMs: 1000, groupChatIntervalMs: 3000, groupPerMinute: 20 };
const SLACK: RateBudget = { globalPerSecond: 20, privateChatIntervalMs: 1000, groupChatIntervalMs: 1000, groupPerMinute: 0, perMinute: { edit: 50 } };
const log = { warn() {} };

/** A replica's scheduler as the shares see it: what it was told, and what its calls count now. */
class FakeScheduler {
  share: BudgetShare | undefined;
  usage: BudgetUsage = { globalPerSecond: 0, perMinute: {} };
  setShare(share: BudgetShare | undefined) {
    this.share = share;
  }
}

function setup(budget: RateBudget = TELEGRAM) {
  let now = 1_000_000;
  const store = createMemoryStore({ now: () => now, sweepIntervalMs: 0 });
  const replica = (id: string) => {
    const scheduler = new FakeScheduler();
    const target: ShareTarget = { platform: 'telegram', budget, scheduler: { setShare: (s) => scheduler.setShare(s), usage: () => scheduler.usage } };
    const shares = new BudgetShares({ store, id, token: `${id}#t`, ttlMs: 3000, log });
    return { id, shares, scheduler, target, tick: (live: number) => shares.tick([target], live), gps: () => scheduler.share?.globalPerSecond ?? 0 };
  };
  return { store, replica, advance: (ms: number) => (now += ms) };
}

describe('BudgetShares', () => {
  it('alone: the whole budget; a second replica gets room only once the first has come down, then 15 + 15', async () => {
    const { replica } = setup();
    const a = replica('a');
    const b = replica('b');
    await a.tick(1);
    expect(a.gps()).toBe(30);
    // b joins: the equal split is 15, but a's row still says 30 (a has not seen b yet).
    await b.tick(2);
    expect(b.gps()).toBe(0);
    expect(a.gps() + b.gps()).toBeLessThanOrEqual(30);
    // a sees b: lowers to 15 at once and writes it; its calls in the window are within 15.
    a.scheduler.usage = { globalPerSecond: 12, perMinute: {} };
    const lowered = await a.tick(2);
    expect(lowered.lowered).toBe(true);
    expect(a.gps()).toBe(15);
    await b.tick(2);
    expect(b.gps()).toBe(15);
    expect(b.shares.ready([b.target])).toBe(true);
  });

  it('calls made under a larger share still count: the newcomer waits until they have left the window', async () => {
    const { replica } = setup();
    const a = replica('a');
    const b = replica('b');
    await a.tick(1);
    a.scheduler.usage = { globalPerSecond: 28, perMinute: {} }; // busy at its old share
    await b.tick(2);
    const r = await a.tick(2);
    expect(a.gps()).toBe(15); // lowered at once
    expect(r.pending).toBe(true); // but its row still holds the 28 calls in the window
    await b.tick(2);
    expect(b.gps()).toBe(2); // what is left: 30 - 28
    a.scheduler.usage = { globalPerSecond: 9, perMinute: {} }; // a second later
    await a.tick(2);
    await b.tick(2);
    expect(b.gps()).toBe(15);
  });

  it('three replicas: 10 each; when one dies the others raise only after its row has expired, then 15 each', async () => {
    const { replica, advance } = setup();
    const [a, b, c] = [replica('a'), replica('b'), replica('c')];
    for (let round = 0; round < 3; round++) for (const r of [a, b, c]) await r.tick(3);
    expect([a.gps(), b.gps(), c.gps()]).toEqual([10, 10, 10]);
    // c dies (no more ticks). Its row lives TTL + the window after its last write.
    advance(2000);
    await a.tick(2);
    await b.tick(2);
    expect(a.gps() + b.gps() + c.gps()).toBeLessThanOrEqual(30);
    expect(a.gps()).toBe(10);
    advance(3500);
    await a.tick(2);
    await b.tick(2);
    await a.tick(2);
    expect([a.gps(), b.gps()]).toEqual([15, 15]);
  });

  it('a replica that leaves rewrites its row to the calls still in the window, which then expires', async () => {
    const { replica, advance } = setup();
    const [a, b] = [replica('a'), replica('b')];
    for (let round = 0; round < 2; round++) for (const r of [a, b]) await r.tick(2);
    expect([a.gps(), b.gps()]).toEqual([15, 15]);
    b.scheduler.usage = { globalPerSecond: 4, perMinute: {} };
    await b.shares.leave([b.target]);
    expect(b.gps()).toBe(0);
    await a.tick(1);
    expect(a.gps()).toBe(26); // 30 - the 4 calls b made in the last second
    advance(2100);
    await a.tick(1);
    expect(a.gps()).toBe(30);
  });

  it('per-minute kind caps are split too (Slack chat.update 50/min: 25 each)', async () => {
    const { replica } = setup(SLACK);
    const [a, b] = [replica('a'), replica('b')];
    for (let round = 0; round < 2; round++) for (const r of [a, b]) await r.tick(2);
    expect(a.scheduler.share).toEqual({ globalPerSecond: 10, perMinute: { edit: 25 } });
    expect(b.scheduler.share).toEqual({ globalPerSecond: 10, perMinute: { edit: 25 } });
  });

  it('never gives more than the budget in total, whatever order 4 replicas tick in while joining', async () => {
    const { replica } = setup();
    const rs = ['a', 'b', 'c', 'd'].map(replica);
    const live = (n: number) => n;
    // Joins one by one, each tick in a shuffled order, checking the sum after every step.
    for (let joined = 1; joined <= rs.length; joined++) {
      for (let round = 0; round < 3; round++) {
        const order = rs.slice(0, joined).sort(() => Math.random() - 0.5);
        for (const r of order) {
          await r.tick(live(joined));
          expect(rs.reduce((n, x) => n + x.gps(), 0)).toBeLessThanOrEqual(30);
        }
      }
    }
    expect(rs.map((r) => r.gps())).toEqual([7, 7, 7, 7]);
  });
});
