// The platform budget is the bot's, not the replica's: 30 calls/s on Telegram stays 30/s however many
// replicas run. Each replica gets an equal share of every bot-wide limit (the global calls per second,
// each per-minute kind cap) by the live replica count, and per-chat limits stay whole, since a chat runs
// on one replica (placement.ts).
//
// Shares move safely while replicas come and go:
// - lowering is always safe, so a replica lowers its share at once when it sees more replicas;
// - raising happens only under the platform's budget lock: the replica reads every other replica's row
//   (`cap`: the most that replica may still have in any window from now on: its share, or more if calls
//   made under an older, larger share are still inside the window) and takes at most what is left, then
//   writes its own row before it uses the new share.
// A replica that joins therefore waits (share 0, not ready) until the others' rows have come down; one
// that dies keeps its row until its calls have left every window (row TTLs), and then the others raise.

import type { CallKind, RateBudget } from '../adapter-types.js';
import type { BudgetShare, BudgetUsage } from '../rate-scheduler.js';
import type { Store } from '../../store/store.js';

/** A platform whose budget is split: what it allows and the scheduler that keeps this replica's part. */
export interface ShareTarget {
  platform: string;
  budget: RateBudget;
  scheduler: { setShare(share: BudgetShare | undefined): void; usage(): BudgetUsage };
}

/** Options of `BudgetShares`. */
export interface BudgetSharesOptions {
  store: Store;
  /** This replica's id (rows are keyed by it). */
  id: string;
  /** Owner token for the budget locks. */
  token: string;
  /** The lease TTL, ms: a live replica rewrites its rows well within it. */
  ttlMs: number;
  log: { warn(obj: object, msg?: string): void };
}

/** Longest the global window counts a call (1 s after it may have arrived, plus margins), ms. */
const SECOND_WINDOW_MS = 2000;
/** The same for per-minute kind caps, ms. */
const MINUTE_WINDOW_MS = 62_000;
/** How long a budget lock may be held before it lapses (a replica that died mid-tick), ms. */
const LOCK_TTL_MS = 5000;
/** Tries at the budget lock per tick (another replica holds it for a few statements only). */
const LOCK_TRIES = 5;

/** What a tick did. */
export interface TickResult {
  /** This replica's row came down: replicas waiting for room may look again now. */
  lowered: boolean;
  /** This replica's row still counts calls made under a larger share: tick again once they left the window. */
  pending: boolean;
}

interface SecondRow {
  cap: number;
}

interface MinuteRow {
  caps: Partial<Record<CallKind, number>>;
}

const NONE: BudgetShare = { globalPerSecond: 0, perMinute: {} };

function cappedKinds(budget: RateBudget): CallKind[] {
  return (Object.entries(budget.perMinute ?? {}) as Array<[CallKind, number | undefined]>).filter(([, cap]) => (cap ?? 0) > 0).map(([kind]) => kind);
}

export class BudgetShares {
  readonly #o: BudgetSharesOptions;
  readonly #shares = new Map<string, BudgetShare>();
  /** What this replica last wrote per platform (rewritten as is when the lock is busy, to keep it alive). */
  readonly #rows = new Map<string, { second: number; minute: Partial<Record<CallKind, number>> }>();

  constructor(options: BudgetSharesOptions) {
    this.#o = options;
  }

  /** This replica's share of `platform`'s budget now. */
  share(platform: string): BudgetShare {
    return this.#shares.get(platform) ?? NONE;
  }

  /** True when every target has a non-zero share of its calls per second. */
  ready(targets: readonly ShareTarget[]): boolean {
    return targets.every((t) => this.share(t.platform).globalPerSecond > 0);
  }

  /**
   * Recomputes the shares for `live` replicas: lowers at once, raises what the others' rows leave
   * free. Store errors leave the (lowered) shares as they are. True if something was lowered in the
   * rows (others waiting for room may look again).
   */
  async tick(targets: readonly ShareTarget[], live: number): Promise<TickResult> {
    const result: TickResult = { lowered: false, pending: false };
    for (const target of targets) {
      this.#apply(target, this.#lowered(target, live));
      try {
        const r = await this.#raise(target, live);
        result.lowered ||= r.lowered;
        result.pending ||= r.pending;
      } catch (err) {
        this.#o.log.warn({ platform: target.platform, err: err instanceof Error ? err.message : String(err) }, 'could not rebalance the platform budget; keeping the current share');
      }
    }
    return result;
  }

  /** No share at all (the replica is cut off or stopping): every call waits. */
  suspend(targets: readonly ShareTarget[]): void {
    for (const target of targets) this.#apply(target, NONE);
  }

  /**
   * Stopping: rewrites this replica's rows to what its calls still count in each window, with TTLs
   * that end when they have left it, so the others raise their shares as soon as that is safe.
   */
  async leave(targets: readonly ShareTarget[]): Promise<void> {
    for (const target of targets) {
      const usage = target.scheduler.usage();
      this.#apply(target, NONE);
      await this.#writeRows(target, usage.globalPerSecond, usage.perMinute, true).catch(() => {});
    }
  }

  #apply(target: ShareTarget, share: BudgetShare): void {
    this.#shares.set(target.platform, share);
    target.scheduler.setShare(share);
  }

  /** The current share, no larger than an equal split among `live` replicas. */
  #lowered(target: ShareTarget, live: number): BudgetShare {
    const now = this.share(target.platform);
    const fair = (cap: number) => Math.floor(cap / Math.max(1, live));
    const perMinute: BudgetShare['perMinute'] = {};
    for (const kind of cappedKinds(target.budget)) perMinute[kind] = Math.min(now.perMinute?.[kind] ?? 0, fair(target.budget.perMinute![kind]!));
    return { globalPerSecond: Math.min(now.globalPerSecond, fair(target.budget.globalPerSecond)), perMinute };
  }

  /** Under the platform's lock: takes the equal split, or what the others leave if less. */
  async #raise(target: ShareTarget, live: number): Promise<TickResult> {
    const { store, id, token } = this.#o;
    const lock = `budget/${target.platform}`;
    let locked = false;
    for (let i = 0; i < LOCK_TRIES && !locked; i++) {
      // Held by another replica for a few statements: try again shortly, at a random point so two do not collide again.
      if (i > 0) await new Promise((r) => setTimeout(r, 10 + Math.random() * 40 * i));
      locked = await store.acquireLock(lock, token, LOCK_TTL_MS);
    }
    if (!locked) {
      // Keep this replica's rows alive unchanged (never larger without the lock); the next beat tries again.
      const last = this.#rows.get(target.platform);
      if (last) await this.#writeRows(target, last.second, last.minute, false);
      return { lowered: false, pending: true };
    }
    try {
      const rows = await store.list<SecondRow | MinuteRow>(`${lock}/`);
      let othersSecond = 0;
      const othersMinute: Partial<Record<CallKind, number>> = {};
      let mySecond: number | undefined;
      for (const [key, row] of rows) {
        const [, , window, replica] = key.split('/');
        if (window === 's') {
          if (replica === id) mySecond = (row as SecondRow).cap;
          else othersSecond += (row as SecondRow).cap;
        } else if (window === 'm' && replica !== id) {
          for (const [kind, cap] of Object.entries((row as MinuteRow).caps) as Array<[CallKind, number]>) othersMinute[kind] = (othersMinute[kind] ?? 0) + cap;
        }
      }
      const fair = (cap: number) => Math.floor(cap / Math.max(1, live));
      const share: BudgetShare = {
        globalPerSecond: Math.max(0, Math.min(fair(target.budget.globalPerSecond), target.budget.globalPerSecond - othersSecond)),
        perMinute: {},
      };
      for (const kind of cappedKinds(target.budget)) {
        const cap = target.budget.perMinute![kind]!;
        share.perMinute![kind] = Math.max(0, Math.min(fair(cap), cap - (othersMinute[kind] ?? 0)));
      }
      // Calls made under an older, larger share still count until they leave the window.
      const usage = target.scheduler.usage();
      const secondCap = Math.max(share.globalPerSecond, usage.globalPerSecond);
      const minuteCaps: Partial<Record<CallKind, number>> = {};
      for (const kind of cappedKinds(target.budget)) minuteCaps[kind] = Math.max(share.perMinute![kind]!, usage.perMinute[kind] ?? 0);
      await this.#writeRows(target, secondCap, minuteCaps, false);
      this.#apply(target, share);
      const fairSecond = fair(target.budget.globalPerSecond);
      return {
        lowered: mySecond !== undefined && secondCap < mySecond,
        // Old calls still in this row, or less than a fair share because others' rows are still high.
        pending: secondCap > share.globalPerSecond || share.globalPerSecond < fairSecond,
      };
    } finally {
      await store.releaseLock(lock, token).catch(() => {});
    }
  }

  async #writeRows(target: ShareTarget, secondCap: number, minuteCaps: Partial<Record<CallKind, number>>, leaving: boolean): Promise<void> {
    const base = `budget/${target.platform}`;
    this.#rows.set(target.platform, { second: secondCap, minute: minuteCaps });
    const ttl = leaving ? 0 : this.#o.ttlMs;
    const ops = [{ op: 'set' as const, key: `${base}/s/${this.#o.id}`, value: { cap: secondCap } satisfies SecondRow, ttlMs: ttl + SECOND_WINDOW_MS }];
    if (cappedKinds(target.budget).length > 0) {
      ops.push({ op: 'set' as const, key: `${base}/m/${this.#o.id}`, value: { caps: minuteCaps } satisfies MinuteRow as never, ttlMs: ttl + MINUTE_WINDOW_MS });
    }
    await this.#o.store.batch(ops);
  }
}
