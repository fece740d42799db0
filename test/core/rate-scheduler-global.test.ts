// A platform whose rate limit is the bot's as a whole (Matrix: per account) answers one chat's call with a
// 429: every chat must then wait, not just that one.
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { PlatformRateLimitError } from '../../src/core/adapter-types.js';
import { Priority, RateScheduler } from '../../src/core/rate-scheduler.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

const budget = { globalPerSecond: 1000, privateChatIntervalMs: 0, groupChatIntervalMs: 0, groupPerMinute: 0 };

it.each([
  [true, 2000],
  [false, 0],
])('a 429 marked global (%s) holds back other chats for its retry-after', async (global, expectedWait) => {
  const s = new RateScheduler(budget, { now: Date.now });
  let first = true;
  const a = s.schedule({ chatKey: 'm:a', isGroup: false }, Priority.Send, async () => {
    if (first) {
      first = false;
      throw new PlatformRateLimitError(2000, 'limited', { global });
    }
    return Date.now();
  });
  await vi.advanceTimersByTimeAsync(10);
  const t0 = Date.now();
  const b = s.schedule({ chatKey: 'm:b', isGroup: false }, Priority.Send, async () => Date.now());
  await vi.advanceTimersByTimeAsync(6000);
  expect((await b.promise) - t0).toBeGreaterThanOrEqual(expectedWait - 20);
  if (!global) expect((await b.promise) - t0).toBeLessThan(100);
  expect(await a.promise).toBeGreaterThanOrEqual(1_000_000 + 2000);
  s.close();
});

it('after a bot-wide 429, calls go one at a time, paced by the retry-after: no 429 after the first wave', async () => {
  const s = new RateScheduler(budget, { now: Date.now });
  let limitedUntil = Date.now() + 1000;
  let tooMany = 0;
  const run = async () => {
    if (Date.now() < limitedUntil) {
      tooMany++;
      throw new PlatformRateLimitError(limitedUntil - Date.now(), 'limited', { global: true });
    }
    limitedUntil = Date.now() + 1000; // the platform allows one call a second
    return Date.now();
  };
  const tasks = Array.from({ length: 5 }, (_, i) => s.schedule({ chatKey: `m:${i}`, isGroup: false }, Priority.Send, run));
  await vi.advanceTimersByTimeAsync(10_000);
  const done = (await Promise.all(tasks.map((t) => t.promise))).sort((a, b) => a - b);
  // Only the first wave (all started before any answer came back) meets the limit.
  expect(tooMany).toBe(5);
  for (let i = 1; i < done.length; i++) expect(done[i] - done[i - 1]).toBeGreaterThanOrEqual(990);
  s.close();
});
