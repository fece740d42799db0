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
  await vi.advanceTimersByTimeAsync(3000);
  expect((await b.promise) - t0).toBeGreaterThanOrEqual(expectedWait - 20);
  if (!global) expect((await b.promise) - t0).toBeLessThan(100);
  expect(await a.promise).toBeGreaterThanOrEqual(1_000_000 + 2000);
  s.close();
});
