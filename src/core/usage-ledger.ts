// Turn usage for `loopbridge usage`: turns, tokens and cost per conversation and per person, from the
// loop's `result` messages. Kept aggregated — one record per UTC day × conversation × person, summed as turns
// end — and pruned by the store's own TTL after the retention, so its size is bounded by how many
// conversations are active per day, never by how many turns ran. With the embedded store it lives in a file
// of its own (`<store>.usage.json`, see `usageStorePath`): the hot store file, which every accepted message
// rewrites, does not grow with it. On PostgreSQL it is rows in the same database (one upsert per turn).
// Also kept here: each conversation's last activity (for `conversations list`).

import type { TurnUsage } from '../loop-api/types.js';
import type { Store } from '../store/store.js';

/** One aggregate: a day (UTC, `YYYY-MM-DD`), a conversation, a person. */
export interface UsageRow {
  day: string;
  convKey: string;
  /** Platform-qualified id of the person whose messages these turns answered. */
  user: string;
  turns: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  /** Summed `total_cost_usd` of the turns that reported one. */
  costUsd: number;
  /** Last turn counted, ms since the epoch. */
  lastAt: number;
}

/** A sum over rows (per conversation, per user, or all). */
export type UsageTotals = Omit<UsageRow, 'day' | 'convKey' | 'user' | 'lastAt'>;

/** One finished turn to count. */
export interface TurnUsageEntry {
  convKey: string;
  user: string;
  /** What the loop's `result` said; absent when it sent none (the turn still counts). */
  usage?: TurnUsage;
  /** When the turn ended, ms since the epoch. Default now. */
  at?: number;
}

const DAY_MS = 24 * 3600_000;
const rowKey = (day: string, convKey: string, user: string) => `usage/${day}/${encodeURIComponent(convKey)}/${encodeURIComponent(user)}`;
const activityKey = (convKey: string) => `activity/${convKey}`;

/** Where the embedded store keeps usage: next to the store file (`x.json` → `x.usage.json`). */
export function usageStorePath(storePath: string): string {
  return storePath.endsWith('.json') ? `${storePath.slice(0, -'.json'.length)}.usage.json` : `${storePath}.usage.json`;
}

/** `YYYY-MM-DD` of an instant, UTC. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

export const emptyTotals = (): UsageTotals => ({ turns: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0, costUsd: 0 });

/** Adds `b` into `a` (also a UsageRow into totals). */
export function addTotals(a: UsageTotals, b: UsageTotals): UsageTotals {
  a.turns += b.turns;
  a.inputTokens += b.inputTokens;
  a.outputTokens += b.outputTokens;
  a.cacheReadTokens += b.cacheReadTokens;
  a.cacheCreationTokens += b.cacheCreationTokens;
  a.costUsd += b.costUsd;
  return a;
}

export class UsageLedger {
  /** Per-key write chains: two turns ending together must not both add to the same old value. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    /** Days kept after a day ends (ops.usageRetentionDays). */
    private readonly retentionDays: number,
  ) {}

  /** Counts one finished turn into its day's aggregate and notes the conversation's activity. */
  record(entry: TurnUsageEntry): Promise<void> {
    const at = entry.at ?? Date.now();
    const day = utcDay(at);
    const key = rowKey(day, entry.convKey, entry.user);
    // Kept until `retentionDays` after the end of its day: the same instant for every write of the row.
    const ttlMs = Date.parse(`${day}T00:00:00Z`) + (this.retentionDays + 1) * DAY_MS - Date.now();
    if (ttlMs <= 0) return Promise.resolve(); // a day already past the retention: nothing to keep
    const u = entry.usage ?? {};
    const work = (this.chains.get(key) ?? Promise.resolve()).then(async () => {
      const row = (await this.store.get<UsageRow>(key)) ?? { day, convKey: entry.convKey, user: entry.user, lastAt: 0, ...emptyTotals() };
      addTotals(row, {
        turns: 1,
        inputTokens: u.inputTokens ?? 0,
        outputTokens: u.outputTokens ?? 0,
        cacheReadTokens: u.cacheReadInputTokens ?? 0,
        cacheCreationTokens: u.cacheCreationInputTokens ?? 0,
        costUsd: u.totalCostUsd ?? 0,
      });
      row.lastAt = Math.max(row.lastAt, at);
      await this.store.batch([
        { op: 'set', key, value: row, ttlMs },
        { op: 'set', key: activityKey(entry.convKey), value: { at: row.lastAt, user: entry.user }, ttlMs: this.retentionDays * DAY_MS },
      ]);
    });
    const tail = work.catch(() => {});
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return work;
  }

  /** Every aggregate from `sinceDay` (`YYYY-MM-DD`, inclusive) on, or all kept. */
  async rows(sinceDay?: string): Promise<UsageRow[]> {
    const all = await this.store.list<UsageRow>('usage/');
    return all.map(([, r]) => r).filter((r) => sinceDay === undefined || r.day >= sinceDay);
  }

  /** When each conversation last finished a turn (within the retention). */
  async lastActivity(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [k, v] of await this.store.list<{ at: number }>('activity/')) out.set(k.slice('activity/'.length), v.at);
    return out;
  }

  /** Makes everything recorded so far durable. */
  flush(): Promise<void> {
    return this.store.flush();
  }
}
