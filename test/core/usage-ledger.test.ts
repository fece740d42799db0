// The usage ledger: one aggregate per UTC day × conversation × person (its size follows active conversations,
// not turns), summed exactly also when turns end together, and gone after the retention.

import { describe, expect, it } from 'vitest';
import { usageStorePath, UsageLedger } from '../../src/core/usage-ledger.js';
import { usageOperations } from '../../src/ops/usage-operations.js';
import { createMemoryStore } from '../../src/store/memory-store.js';

const DAY = 24 * 3600_000;
const usage = { inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 5, totalCostUsd: 0.01 };

describe('usage ledger', () => {
  it('sums turns of a day per conversation and person into one record, also when they end at once', async () => {
    const store = createMemoryStore();
    const ledger = new UsageLedger(store, 90);
    const at = Date.parse('2030-03-04T10:00:00Z');
    await Promise.all(Array.from({ length: 25 }, () => ledger.record({ convKey: 'telegram:-1', user: 'telegram:7', usage, at })));
    await ledger.record({ convKey: 'telegram:-1', user: 'telegram:8', at }); // a turn without a result still counts
    await ledger.record({ convKey: 'telegram:-1', user: 'telegram:7', usage, at: at + DAY });
    const rows = await ledger.rows();
    expect(rows).toHaveLength(3); // 27 turns, 3 records
    const day = rows.find((r) => r.day === '2030-03-04' && r.user === 'telegram:7')!;
    expect(day).toMatchObject({ turns: 25, inputTokens: 2500, outputTokens: 500, cacheReadTokens: 125, lastAt: at });
    expect(day.costUsd).toBeCloseTo(0.25, 10);
    expect((await ledger.rows('2030-03-05')).map((r) => r.day)).toEqual(['2030-03-05']);
    expect((await ledger.lastActivity()).get('telegram:-1')).toBe(at + DAY);

    const report = await usageOperations({ usage: ledger, retentionDays: 90 })['usage.report']({ since: '2030-03-04T23:59:00Z' });
    expect(report).toMatchObject({ since: '2030-03-04', total: { turns: 27 } });
    const users = (report as { users: Array<{ key: string; turns: number; count: number }> }).users;
    expect(users.map((u) => [u.key, u.turns, u.count])).toEqual([['telegram:7', 26, 1], ['telegram:8', 1, 1]]);
  });

  it('forgets a day once the retention after it has passed', async () => {
    let now = Date.now();
    const store = createMemoryStore({ now: () => now });
    const ledger = new UsageLedger(store, 2);
    await ledger.record({ convKey: 'c', user: 'u', usage });
    await ledger.record({ convKey: 'c', user: 'u', usage, at: now - 10 * DAY }); // already past it
    expect((await ledger.rows()).map((r) => r.turns)).toEqual([1]);
    now += 2 * DAY;
    expect(await ledger.rows()).toHaveLength(1);
    now += 2 * DAY;
    expect(await ledger.rows()).toEqual([]);
  });

  it('keeps usage next to the store file, not in it', () => {
    expect(usageStorePath('./data/loopbridge.json')).toBe('./data/loopbridge.usage.json');
    expect(usageStorePath('/var/lib/lb/state')).toBe('/var/lib/lb/state.usage.json');
  });
});
