// A replica's part of the bot's budget (RateScheduler.setShare): calls wait while the share is 0, start
// at the share's pace once given, and `usage()` reports what still counts in each window.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RateBudget } from '../../src/core/adapter-types.js';
import { Priority, RateScheduler, type SchedulerTarget } from '../../src/core/rate-scheduler.js';

const budget: RateBudget = { globalPerSecond: 30, privateChatIntervalMs: 0, groupChatIntervalMs: 0, groupPerMinute: 0, perMinute: { edit: 50 } };
const chat = (i: number): SchedulerTarget => ({ chatKey: `t:${i}`, isGroup: false });

/** Most start times inside any window [t, t + windowMs). */
function maxInWindow(times: number[], windowMs: number): number {
  const s = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[i] - s[j] >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('RateScheduler shares', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('holds every call while the share is 0, then keeps to the share, not the budget', async () => {
    const s = new RateScheduler(budget, { now: Date.now });
    s.setShare({ globalPerSecond: 0, perMinute: { edit: 0 } });
    const starts: number[] = [];
    const all = Array.from({ length: 40 }, (_, i) => s.schedule(chat(i), Priority.Send, async () => void starts.push(Date.now()), 'send').promise);
    await vi.advanceTimersByTimeAsync(5000);
    expect(starts).toHaveLength(0);
    s.setShare({ globalPerSecond: 10, perMinute: { edit: 25 } });
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all(all);
    expect(starts).toHaveLength(40);
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(10);
    s.close();
  });

  it('caps a kind per minute at the share', async () => {
    const s = new RateScheduler({ ...budget, globalPerSecond: 1000 }, { now: Date.now });
    s.setShare({ globalPerSecond: 1000, perMinute: { edit: 5 } });
    const starts: number[] = [];
    const all = Array.from({ length: 8 }, (_, i) => s.schedule(chat(i), Priority.Send, async () => void starts.push(Date.now()), 'edit').promise);
    await vi.advanceTimersByTimeAsync(1000);
    expect(starts).toHaveLength(5);
    expect(s.usage().perMinute.edit).toBe(5);
    await vi.advanceTimersByTimeAsync(61_000);
    await Promise.all(all);
    expect(starts).toHaveLength(8);
    s.close();
  });

  it('usage() counts the calls still in the global window and drops them after it', async () => {
    const s = new RateScheduler(budget, { now: Date.now });
    // Starts are spaced 1000/30 ms apart: let the fake clock run them all.
    const all = Array.from({ length: 6 }, (_, i) => s.schedule(chat(i), Priority.Send, async () => {}, 'send').promise);
    await vi.advanceTimersByTimeAsync(300);
    await Promise.all(all);
    expect(s.usage().globalPerSecond).toBe(6);
    await vi.advanceTimersByTimeAsync(1100);
    expect(s.usage().globalPerSecond).toBe(0);
    s.close();
  });

  it('without a share the whole budget is used (one process)', async () => {
    const s = new RateScheduler(budget, { now: Date.now });
    const starts: number[] = [];
    const all = Array.from({ length: 30 }, (_, i) => s.schedule(chat(i), Priority.Send, async () => void starts.push(Date.now()), 'send').promise);
    await vi.advanceTimersByTimeAsync(999);
    await Promise.all(all);
    expect(starts).toHaveLength(30);
    s.close();
  });
});
