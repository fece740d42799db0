// Several `loopbridge start` processes sharing one PostgreSQL store: the replicas. This ties together
// who is alive (roster.ts), which replica runs which chat (placement.ts), the conversation turn leases
// and the intake leader leases (lease.ts, intake-leaders.ts) and the split of the platform budgets
// (budget-shares.ts), all driven by one beat every TTL/3 and by notifications:
//
// - a message accepted on any replica commits a `wake` notice with it; the replica that runs its chat
//   hears it and takes the conversation's lease (no polling);
// - a replica that releases a conversation with work left, or hands intake back, says so, and the next
//   owner acts at once; one that dies is noticed when its row and leases expire (at most a beat after
//   the TTL), and the others then rescan for the work it left;
// - a replica that cannot reach the store stops taking work when its leases run out, and says so.

import { randomBytes } from 'node:crypto';
import type { Store, StoreNotice, StoreOp, Unsubscribe } from '../../store/store.js';
import { conversationKey, type ChatAdapter } from '../adapter-types.js';
import type { Metrics } from '../metrics.js';
import { keys, type QueuedMessage } from '../state.js';
import { BudgetShares, type ShareTarget } from './budget-shares.js';
import { FencedStore } from './fenced-store.js';
import { INTAKE_CHANNEL, IntakeLeaders } from './intake-leaders.js';
import { LeaseKeeper, type Lease } from './lease.js';
import { ownerOf } from './placement.js';
import { ROSTER_CHANNEL, Roster } from './roster.js';
import type { TurnClaim, TurnClaims } from './turn-claims.js';

/** Options of a `ReplicaCoordinator`. */
export interface ReplicaOptions {
  /** This replica's id (`replica.id`; default hostname-pid). Shown in /healthz and as the `replica` metrics label. */
  id: string;
  /** Lease TTL, ms (`replica.leaseTtlMs`): a dead replica's work resumes elsewhere about this long after its last beat. */
  leaseTtlMs: number;
  /**
   * The same database through connections of its own, for leases, heartbeats and budget rows, so that
   * they never wait behind the turns' writes. Default: the bridge's store.
   */
  coordinationStore?: Store;
}

/** What the coordinator does to the rest of the bridge. */
export interface ReplicaHooks {
  /** Starts (or re-runs) a conversation's worker here. */
  wake(convKey: string): void;
  /** Looks for work this replica should run now (after membership changed or notices were missed). */
  rescan(): Promise<void>;
}

/** What /healthz says about this replica. */
export interface ReplicaHealth {
  id: string;
  /** False while cut off from the store (or another process uses this id): it takes no work. */
  takingWork: boolean;
  problem?: string;
  /** Ready replicas as this one sees them. */
  members: string[];
  leases: {
    /** Platforms whose intake this replica runs (leader leases). */
    intake: string[];
    /** How many conversation turn leases it holds. */
    turns: number;
    /** Their conversation keys (at most 100). */
    conversations: string[];
  };
  /** This replica's share of each platform's calls per second. */
  budget: Record<string, number>;
}

/** When shares are still settling, look again after this long (the global window and its margins), ms. */
const SETTLE_MS = 2100;

/** Wake-up notices: `<chat key>\n<conversation key>`. */
const WAKE_CHANNEL = 'lb_wake';

export class ReplicaCoordinator implements TurnClaims {
  readonly replicated = true;
  readonly id: string;
  /** Owner token of this process in every lock it takes. */
  readonly token: string;
  /** The bridge's store (turn state, queues). */
  readonly #store: Store;
  /** Where leases, heartbeats and budget rows go (the same database, maybe its own connections). */
  readonly #coord: Store;
  readonly #ttlMs: number;
  readonly #log: ReplicaLog;
  readonly #keeper: LeaseKeeper;
  readonly #roster: Roster;
  readonly #budget: BudgetShares;
  readonly #intake: IntakeLeaders;
  readonly #targets: ShareTarget[] = [];
  readonly #retries = new Map<string, NodeJS.Timeout>();
  readonly #unsubscribe: Unsubscribe[] = [];
  #hooks: ReplicaHooks | undefined;
  #beatTimer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #settleTimer: NodeJS.Timeout | undefined;
  /** A rescan failed (the store blinked): the next beat does it again. */
  #rescanPending = false;
  #closed = false;

  constructor(options: ReplicaOptions & { store: Store; log: ReplicaLog; metrics?: Metrics }) {
    this.id = options.id;
    this.token = `${options.id}#${randomBytes(6).toString('hex')}`;
    this.#store = options.store;
    const store = (this.#coord = options.coordinationStore ?? options.store);
    this.#ttlMs = options.leaseTtlMs;
    this.#log = options.log;
    this.#keeper = new LeaseKeeper({ store, owner: this.token, ttlMs: options.leaseTtlMs, log: options.log, onLost: (lease) => this.#lost(lease) });
    this.#roster = new Roster({ store, id: options.id, token: this.token, ttlMs: options.leaseTtlMs, log: options.log, onChange: () => this.#membershipChanged() });
    this.#budget = new BudgetShares({ store, id: options.id, token: this.token, ttlMs: options.leaseTtlMs, log: options.log });
    this.#intake = new IntakeLeaders({ store, keeper: this.#keeper, eligible: () => !this.#roster.cutOff && !this.#closed, log: options.log });
    const m = options.metrics;
    if (m) {
      m.gauge('replica_turn_leases', () => this.#turnLeases().length, 'conversation turn leases this replica holds');
      m.gauge('replica_intake_leases', () => this.#intake.held().length, 'platforms whose intake runs in this replica');
      m.gauge('replica_members', () => this.#roster.members().length, 'ready replicas as this one sees them');
      m.gauge('replica_taking_work', () => (this.#roster.cutOff ? 0 : 1), '1 while this replica takes work (0: cut off from the store)');
    }
  }

  /** Splits this platform's budget with the other replicas (call before `start`). */
  shareBudget(target: ShareTarget): void {
    this.#targets.push(target);
    target.scheduler.setShare(this.#budget.share(target.platform));
  }

  /** Joins the replicas: listens for notices, writes the roster row, takes a budget share, starts the beat. */
  async start(hooks: ReplicaHooks): Promise<void> {
    this.#hooks = hooks;
    const coord = this.#coord;
    if (!coord.subscribe || !coord.notify) throw new TypeError('replicas need a store with notify/subscribe (PostgreSQL)');
    this.#unsubscribe.push(await coord.subscribe(WAKE_CHANNEL, (n) => this.#heardWake(n)));
    this.#unsubscribe.push(await coord.subscribe(ROSTER_CHANNEL, (n) => this.#heardRoster(n)));
    this.#unsubscribe.push(await coord.subscribe(INTAKE_CHANNEL, (n) => this.#heardIntake(n)));
    await this.#roster.join();
    this.#keeper.start();
    await this.#rebalance();
    this.#beatTimer = setInterval(() => void this.beat(), Math.max(50, Math.floor(this.#ttlMs / 3)));
    this.#beatTimer.unref();
    this.#log.info({ replica: this.id, members: this.#roster.members() }, 'joined the replicas');
  }

  /** Runs this adapter's intake only while this replica holds its leader lease. */
  lead(adapter: ChatAdapter, signal: AbortSignal): Promise<void> {
    return this.#intake.add(adapter, signal);
  }

  runsHere(chatKey: string): boolean {
    return !this.#closed && !this.#roster.cutOff && ownerOf(chatKey, this.#roster.members()) === this.id;
  }

  async claim(convKey: string): Promise<TurnClaim | undefined> {
    if (this.#closed || this.#roster.cutOff) return undefined;
    const name = `turn/${convKey}`;
    const lease = await this.#keeper.acquire(name);
    if (!lease) {
      // Held elsewhere: its holder wakes the chat's replica when it lets go, and a dead holder's lease
      // expires within a TTL; look again then.
      this.#retryLater(convKey);
      return undefined;
    }
    clearTimeout(this.#retries.get(convKey));
    this.#retries.delete(convKey);
    const store = new FencedStore(this.#store, name, this.token);
    return { signal: lease.signal, store, guards: [store.guard], release: () => this.#release(convKey, lease) };
  }

  acceptOps(item: QueuedMessage): StoreOp[] {
    return [{ op: 'notify', channel: WAKE_CHANNEL, payload: wakePayload(item) }];
  }

  /** One beat: renew leases, rewrite the roster row, rebalance budgets, seek intake leadership. */
  beat(): Promise<void> {
    this.#beating ??= (async () => {
      const started = performance.now();
      try {
        const alive = await this.#roster.beat();
        const wrote = performance.now();
        if (alive) await this.#rebalance();
        if (alive && this.#rescanPending) this.#rescan();
        await this.#intake.seek();
        const took = performance.now() - started;
        // The roster row lives a TTL: a beat this slow means the store (or this process) is struggling.
        if (took > this.#ttlMs / 3) this.#log.warn({ beatMs: Math.round(took), rosterMs: Math.round(wrote - started) }, 'replica beat was slow');
      } finally {
        this.#beating = undefined;
      }
    })();
    return this.#beating;
  }

  health(): ReplicaHealth {
    const duplicate = this.#roster.duplicateOf;
    const problem =
      this.#roster.cutOff ?? (duplicate ? `another process (${duplicate.host}, pid ${duplicate.pid}) uses this replica id: set a distinct replica.id` : undefined);
    const turns = this.#turnLeases();
    const budget: Record<string, number> = {};
    for (const t of this.#targets) budget[t.platform] = this.#budget.share(t.platform).globalPerSecond;
    return {
      id: this.id,
      takingWork: !this.#roster.cutOff,
      ...(problem ? { problem } : {}),
      members: [...this.#roster.members()],
      leases: { intake: this.#intake.held(), turns: turns.length, conversations: turns.slice(0, 100) },
      budget,
    };
  }

  /** Stops intake here and hands its leader leases to the others (first step of a shutdown). */
  stopIntake(): Promise<void> {
    return this.#intake.stop();
  }

  /** Leaves the roster, so the others stop placing chats here (before the turn leases are given back). */
  async leave(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#beatTimer);
    clearTimeout(this.#settleTimer);
    await this.#beating?.catch(() => {});
    await this.#roster.leave();
  }

  /** Last step of a shutdown: budget rows, remaining leases, subscriptions. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#beatTimer);
    clearTimeout(this.#settleTimer);
    this.#keeper.stop();
    for (const t of this.#retries.values()) clearTimeout(t);
    this.#retries.clear();
    await this.#budget.leave(this.#targets);
    await this.#keeper.releaseAll();
    this.#roster.close();
    for (const u of this.#unsubscribe.splice(0)) await u().catch(() => {});
  }

  #turnLeases(): string[] {
    return this.#keeper
      .names()
      .filter((n) => n.startsWith('turn/'))
      .map((n) => n.slice('turn/'.length));
  }

  async #rebalance(): Promise<void> {
    if (this.#roster.cutOff || this.#closed) return;
    const { lowered, pending } = await this.#budget.tick(this.#targets, this.#roster.liveCount());
    if (lowered) await this.#coord.notify?.(ROSTER_CHANNEL, `budget ${this.id}`).catch(() => {});
    await this.#roster.setReady(this.#budget.ready(this.#targets)).catch(() => {});
    // Calls made under a larger share leave the one-second window soon: look again then, not a beat later.
    if (pending && !this.#settleTimer) {
      this.#settleTimer = setTimeout(() => {
        this.#settleTimer = undefined;
        void this.#rebalance().catch(() => {});
      }, SETTLE_MS);
      this.#settleTimer.unref();
    }
  }

  async #release(convKey: string, lease: Lease): Promise<void> {
    await this.#keeper.release(lease);
    // Work left (the replica stops, or a message came as it let go): wake whoever runs the chat now.
    try {
      const head = await this.#store.peek<QueuedMessage>(keys.inbox(convKey));
      if (head) await this.#coord.notify?.(WAKE_CHANNEL, wakePayload(head));
    } catch {
      // The store is unreachable: the others rescan when this replica drops out of the roster.
    }
  }

  #retryLater(convKey: string): void {
    if (this.#retries.has(convKey)) return;
    const timer = setTimeout(() => {
      this.#retries.delete(convKey);
      if (!this.#closed) this.#hooks?.wake(convKey);
    }, this.#ttlMs);
    timer.unref();
    this.#retries.set(convKey, timer);
  }

  #lost(lease: Lease): void {
    this.#intake.lost(lease);
  }

  #membershipChanged(): void {
    if (this.#roster.cutOff) {
      // The others will take over: stop everything here before its leases could be taken.
      this.#budget.suspend(this.#targets);
      this.#keeper.loseAll();
      return;
    }
    this.#rescan();
  }

  /** Looks for work this replica should now run; if the store fails meanwhile, the next beat looks again. */
  #rescan(): void {
    if (this.#closed || !this.#hooks) return;
    this.#rescanPending = false;
    this.#hooks.rescan().catch((err: unknown) => {
      this.#rescanPending = true;
      this.#log.warn({ err: String(err) }, 'looking for work to take over failed; trying again on the next beat');
    });
  }

  #heardWake(notice: StoreNotice): void {
    if (notice.kind === 'resync') {
      // Notices may have been missed while the connection was down: look at the store itself.
      this.#rescan();
      void this.beat();
      return;
    }
    const [chatKey, convKey] = notice.payload.split('\n');
    if (chatKey && convKey && this.runsHere(chatKey)) this.#hooks?.wake(convKey);
  }

  #heardRoster(notice: StoreNotice): void {
    if (notice.kind === 'resync' || this.#closed) return;
    void this.#roster.heard(notice.payload).then(() => this.#rebalance()).catch(() => {});
  }

  #heardIntake(notice: StoreNotice): void {
    if (notice.kind === 'message' && notice.payload.startsWith('released ')) void this.#intake.seek(notice.payload.slice('released '.length));
  }
}

type ReplicaLog = { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };

function wakePayload(item: QueuedMessage): string {
  return `${conversationKey({ platform: item.conversation.platform, chatId: item.conversation.chatId })}\n${item.convKey}`;
}
