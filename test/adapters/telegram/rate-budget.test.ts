// The scheduler's global budget read independently, at the platform: the Telegram fake counts *arrivals* in
// a sliding second, and the network delays each request by a random 0–150 ms (so requests started at an even
// pace arrive bunched and out of order). Telegram's "30 per second" must hold under that reading too.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { Outlet } from '../../../src/core/outlet.js';
import { Metrics } from '../../../src/core/metrics.js';
import type { ConversationRef } from '../../../src/core/adapter-types.js';
import { startFakeTelegram, type FakeTelegram } from '../../peers/fake-telegram.js';
import { adapterFor } from './tg-test-kit.js';

const CHATS = 90;
let fake: FakeTelegram;

beforeAll(async () => {
  fake = await startFakeTelegram({ networkJitterMs: 150 }); // limits enforced: 30/s global
  for (let i = 0; i < CHATS; i++) fake.addChat({ id: 7000 + i, type: 'private', first_name: `P${i}` });
});
afterAll(async () => {
  await fake.close();
});

/** Most arrivals in any window [t, t + 1000] (inclusive at both ends: the strictest reading). */
function maxPerSlidingSecond(times: number[]): number {
  const s = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (j < s.length && s[j] <= s[i] + 1000) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

it('90 sends to 90 chats at once under 0–150 ms network jitter: no 429, at most 30 arrivals in any sliding second', { timeout: 60_000 }, async () => {
  const adapter = adapterFor(fake);
  const outlet = new Outlet(adapter, new AbortController().signal, new Metrics());
  const chats: ConversationRef[] = Array.from({ length: CHATS }, (_, i) => ({ platform: 'telegram', chatId: String(7000 + i), isDirect: true }));
  await Promise.all(chats.map((c, i) => outlet.send(c, { text: `message ${i}` })));
  expect(fake.rateLimited()).toBe(0);
  const arrivals = fake.calls.filter((c) => c.method === 'sendMessage').map((c) => c.at);
  expect(arrivals).toHaveLength(CHATS);
  expect(maxPerSlidingSecond(arrivals)).toBeLessThanOrEqual(30);
  expect(outlet.scheduler.stats.rateLimited).toBe(0);
  // (The pace, ≤ 1.2× the budget's floor, is measured by bench:telegram, not asserted here.)
  outlet.scheduler.close();
});
