// `usage.report`: turns, tokens and cost per conversation and per person, summed from the daily aggregates
// the usage ledger keeps (src/core/usage-ledger.ts), from a day on.

import { addTotals, emptyTotals, utcDay, type UsageLedger, type UsageTotals } from '../core/usage-ledger.js';
import { ControlError, type Operations } from './control-protocol.js';

/** Usage of one conversation or one person over the report's days. */
export type UsageLine = UsageTotals & { key: string; lastAt: number; count: number };

export interface UsageReport {
  /** First day counted (UTC, inclusive), or null for everything kept. */
  since: string | null;
  /** How many days of usage are kept (ops.usageRetentionDays). */
  retentionDays: number;
  /** Per conversation (`count`: how many people wrote there), most expensive first. */
  conversations: UsageLine[];
  /** Per person (`count`: in how many conversations), most expensive first. */
  users: UsageLine[];
  total: UsageTotals;
}

/** `YYYY-MM-DD` or an ISO date-time → its UTC day; a clear refusal otherwise. */
export function sinceDay(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = String(value).trim();
  const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const at = dayOnly ? Date.parse(`${text}T00:00:00Z`) : /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  // Date.parse rolls a day past the month's end over (2025-02-30 → March 2nd): such a date is refused, not moved.
  if (Number.isNaN(at) || (dayOnly && utcDay(at) !== text)) throw new ControlError('bad_request', `since must be a date, YYYY-MM-DD (UTC) or an ISO date-time — got ${JSON.stringify(text)}`);
  return utcDay(at);
}

export function usageOperations(o: { usage: UsageLedger; retentionDays: number }): Operations {
  return {
    async 'usage.report'(args): Promise<UsageReport> {
      const since = sinceDay(args.since);
      const rows = await o.usage.rows(since);
      const by = (pick: (r: (typeof rows)[number]) => [string, string]) => {
        const acc = new Map<string, UsageLine & { others: Set<string> }>();
        for (const r of rows) {
          const [key, other] = pick(r);
          const line = acc.get(key) ?? { key, lastAt: 0, count: 0, others: new Set<string>(), ...emptyTotals() };
          addTotals(line, r);
          line.lastAt = Math.max(line.lastAt, r.lastAt);
          line.others.add(other);
          acc.set(key, line);
        }
        return [...acc.values()]
          .map(({ others, ...line }) => ({ ...line, count: others.size }))
          .sort((a, b) => b.costUsd - a.costUsd || b.turns - a.turns || a.key.localeCompare(b.key));
      };
      const total = rows.reduce((t, r) => addTotals(t, r), emptyTotals());
      return { since: since ?? null, retentionDays: o.retentionDays, conversations: by((r) => [r.convKey, r.user]), users: by((r) => [r.user, r.convKey]), total };
    },
  };
}
