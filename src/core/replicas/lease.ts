// Leases: named store locks this replica holds under its owner token, renewed together on the
// replica's beat. The lock expires on the database clock; this process keeps its own, conservative
// deadline: the moment the last successful renewal was *sent*, plus the TTL (the database set the expiry
// after it received the request, so the lock is ours at least until then). A little before that
// deadline, unless a renewal got through meanwhile, the lease counts as lost: its signal aborts and the
// work under it stops, before another replica can take the lock over.

import { setMaxListeners } from 'node:events';
import type { Store } from '../../store/store.js';

/** Options of a `LeaseKeeper`. */
export interface LeaseKeeperOptions {
  store: Store;
  /** Owner token written into every lock (the replica id plus a per-process nonce). */
  owner: string;
  /** Lease time to live, ms. */
  ttlMs: number;
  /** How long before its deadline a lease counts as lost, ms (calls in flight land first). Default ttlMs/10. */
  marginMs?: number;
  /** Monotonic clock, ms. Default `performance.now`. */
  now?: () => number;
  /** Told when a lease is lost (not when it is released). */
  onLost?: (lease: Lease) => void;
  log: { warn(obj: object, msg?: string): void };
}

/** One lease held by this replica. */
export class Lease {
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #released = false;

  constructor(
    /** The lock's name, e.g. `turn/telegram:42`. */
    readonly name: string,
  ) {
    // Every platform and loop call of a turn listens on its lease's signal.
    setMaxListeners(0, this.#abort.signal);
  }

  /** Aborts when the lease is lost (expired unrenewed or taken over); never on a voluntary release. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Still ours: neither lost nor released. */
  get held(): boolean {
    return !this.#released && !this.#abort.signal.aborted;
  }

  /** @internal Arms the loss timer for `inMs`. */
  armLoss(inMs: number, lost: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(lost, Math.max(0, inMs));
    // A lease timer never keeps a finished process alive.
    this.#timer.unref();
  }

  /** @internal */
  lose(): void {
    clearTimeout(this.#timer);
    if (this.held) this.#abort.abort();
  }

  /** @internal */
  drop(): void {
    clearTimeout(this.#timer);
    this.#released = true;
  }
}

/** The leases of one replica: acquire, renew all on each beat, release, lose at the deadline. */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #held = new Map<string, Lease>();
  readonly #now: () => number;
  readonly #marginMs: number;
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<boolean> | undefined;

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#marginMs = options.marginMs ?? Math.floor(options.ttlMs / 10);
  }

  /**
   * Renews every lease each `everyMs` (default a third of the TTL), on its own timer: nothing else a
   * replica does on its beat may delay a renewal.
   */
  start(everyMs = Math.floor(this.#options.ttlMs / 3)): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      this.#renewing ??= this.renewAll().finally(() => (this.#renewing = undefined));
    }, Math.max(50, everyMs));
    this.#timer.unref();
  }

  /** Stops the renewal timer (leases held stay held until released or past their deadline). */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Names of the leases held now. */
  names(): string[] {
    return [...this.#held.keys()];
  }

  /** The lease `name` if this replica holds it. */
  get(name: string): Lease | undefined {
    return this.#held.get(name);
  }

  /** Takes lock `name` (or renews it if held here). Undefined when another replica holds it. Store errors reject. */
  async acquire(name: string): Promise<Lease | undefined> {
    const existing = this.#held.get(name);
    const sentAt = this.#now();
    const ok = await this.#options.store.acquireLock(name, this.#options.owner, this.#options.ttlMs);
    if (!ok) {
      if (existing) this.#lost(existing);
      return undefined;
    }
    const lease = existing?.held ? existing : new Lease(name);
    this.#held.set(name, lease);
    this.#extend(lease, sentAt);
    return lease;
  }

  /**
   * Renews every lease held (one statement with `Store.renewLocks`, else one lock call each). A lease not
   * renewed expired or was taken: it is lost now. A store error leaves them to their deadlines. True if all renewed.
   */
  async renewAll(): Promise<boolean> {
    const { store, owner, ttlMs } = this.#options;
    const leases = [...this.#held.values()];
    if (leases.length === 0) return true;
    const sentAt = this.#now();
    let renewed: Set<string>;
    try {
      // One statement for all of them where the store can: a replica may hold hundreds of turn leases.
      renewed = store.renewLocks
        ? new Set(await store.renewLocks(leases.map((l) => l.name), owner, ttlMs))
        : new Set((await Promise.all(leases.map(async (l) => ((await store.acquireLock(l.name, owner, ttlMs)) ? [l.name] : [])))).flat());
    } catch {
      return false; // a store error leaves every lease to its deadline
    }
    let all = true;
    for (const lease of leases) {
      if (!renewed.has(lease.name)) {
        // Expired and perhaps taken by another replica: whatever runs under it stops now.
        all = false;
        this.#lost(lease);
      } else if (this.#held.get(lease.name) !== lease) {
        // Released or lost while the renewal was in flight: the lock it renewed is not wanted.
        await store.releaseLock(lease.name, owner).catch(() => {});
      } else {
        this.#extend(lease, sentAt);
      }
    }
    return all;
  }

  /** Gives `lease` back (best effort: if the store is down, the lock expires on its own). */
  async release(lease: Lease): Promise<void> {
    if (this.#held.get(lease.name) === lease) this.#held.delete(lease.name);
    const wasHeld = lease.held;
    lease.drop();
    if (wasHeld) await this.#options.store.releaseLock(lease.name, this.#options.owner).catch(() => {});
  }

  /** Releases every lease. */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.#held.values()].map((lease) => this.release(lease)));
  }

  /** Counts every lease as lost now (the replica is cut off from the store), without asking the store. */
  loseAll(): void {
    for (const lease of [...this.#held.values()]) this.#lost(lease);
  }

  #extend(lease: Lease, sentAt: number): void {
    const deadline = sentAt + this.#options.ttlMs - this.#marginMs;
    lease.armLoss(deadline - this.#now(), () => {
      this.#options.log.warn({ lease: lease.name }, 'lease not renewed in time; stopping the work under it');
      this.#lost(lease);
    });
  }

  #lost(lease: Lease): void {
    if (this.#held.get(lease.name) === lease) this.#held.delete(lease.name);
    if (!lease.held) return;
    lease.lose();
    this.#options.onLost?.(lease);
  }
}
