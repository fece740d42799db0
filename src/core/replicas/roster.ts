// Who is alive: each replica keeps a row `replica/<id>` in the store (TTL = the lease TTL) and rewrites
// it on every beat, reading everyone's rows at the same time. Joins, leaves and readiness are also
// announced on a channel, so the others need not wait for their next beat. A replica is `ready` once it
// has a share of every platform's budget; chats are placed only on ready replicas (placement.ts).
//
// This replica's own view of itself: if its row cannot be rewritten before the TTL runs out (the store
// is unreachable), it is cut off: the others will drop it, so it stops taking work until a beat gets
// through again.

import { hostname } from 'node:os';
import type { Store } from '../../store/store.js';

/** What a replica writes about itself. */
export interface RosterRow {
  id: string;
  /** Owner token of this process (the id plus a nonce): two processes given the same id differ here. */
  token: string;
  host: string;
  pid: number;
  /** Epoch ms when the process joined. */
  joinedAt: number;
  /** Has a share of every platform's budget: chats may be placed here. */
  ready: boolean;
}

/** Options of a `Roster`. */
export interface RosterOptions {
  store: Store;
  id: string;
  token: string;
  /** Row TTL, ms (the lease TTL). */
  ttlMs: number;
  /** Monotonic clock, ms. Default `performance.now`. */
  now?: () => number;
  /** Told when the ready members change or this replica is cut off or back. */
  onChange: () => void;
  log: { warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void; info(obj: object, msg?: string): void };
}

const PREFIX = 'replica/';
/** Announcements: `join <id>`, `ready <id>`, `leave <id>`. */
export const ROSTER_CHANNEL = 'lb_roster';

export class Roster {
  readonly #o: RosterOptions;
  readonly #now: () => number;
  readonly #row: RosterRow;
  /** Ready replicas as last read (self included only while ready and not cut off). */
  #ready: string[] = [];
  #live = 1;
  #joined = false;
  #cutOff: string | undefined;
  #deadline: NodeJS.Timeout | undefined;
  /** Set when another live process writes a row under this replica's id. */
  duplicateOf: RosterRow | undefined;

  constructor(options: RosterOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#row = { id: options.id, token: options.token, host: hostname(), pid: process.pid, joinedAt: Date.now(), ready: false };
  }

  /** Ready replica ids, sorted (what placement uses). */
  members(): readonly string[] {
    return this.#ready;
  }

  /** Live replicas, ready or not (this one included): how many split the budgets. */
  liveCount(): number {
    return this.#live;
  }

  /** Why this replica is cut off from the others, or undefined. */
  get cutOff(): string | undefined {
    return this.#cutOff;
  }

  get ready(): boolean {
    return this.#row.ready;
  }

  /** Writes the row, announces it and reads the others. Throws if the store is unreachable. */
  async join(): Promise<void> {
    await this.#write();
    this.#joined = true;
    await this.#o.store.notify?.(ROSTER_CHANNEL, `join ${this.#o.id}`);
    await this.#read();
  }

  /** Rewrites the row and reads the others; false (and the row not renewed) if the store failed. */
  async beat(): Promise<boolean> {
    if (!this.#joined) return false;
    try {
      await this.#write();
      await this.#read();
      return true;
    } catch (err) {
      this.#o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'replica heartbeat failed');
      return false;
    }
  }

  /** Marks this replica ready (or not) and tells the others. */
  async setReady(ready: boolean): Promise<void> {
    if (this.#row.ready === ready || !this.#joined) return;
    this.#row.ready = ready;
    await this.#write();
    await this.#o.store.notify?.(ROSTER_CHANNEL, `${ready ? 'ready' : 'join'} ${this.#o.id}`);
    await this.#read();
  }

  /** An announcement from the channel: a leave counts at once; anything else is read from the rows. */
  async heard(payload: string): Promise<void> {
    const [what, id] = payload.split(' ');
    if (!id || id === this.#o.id) return;
    if (what === 'leave') this.#setMembers(this.#ready.filter((m) => m !== id), Math.max(1, this.#live - 1));
    await this.#read().catch(() => {});
  }

  /** Deletes the row and announces the leave. Best effort. */
  async leave(): Promise<void> {
    clearTimeout(this.#deadline);
    if (!this.#joined) return;
    this.#joined = false;
    this.#setMembers([], 1);
    await this.#o.store.delete(PREFIX + this.#o.id).catch(() => {});
    await this.#o.store.notify?.(ROSTER_CHANNEL, `leave ${this.#o.id}`).catch(() => {});
  }

  close(): void {
    clearTimeout(this.#deadline);
  }

  async #write(): Promise<void> {
    const sentAt = this.#now();
    await this.#o.store.set(PREFIX + this.#o.id, this.#row, { ttlMs: this.#o.ttlMs });
    // The row lives at least until sentAt + TTL; unless rewritten by then, the others drop this replica.
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(() => this.#lostTouch(), Math.max(0, sentAt + this.#o.ttlMs - this.#now()));
    this.#deadline.unref();
    if (this.#cutOff) {
      this.#o.log.info({}, 'replica is back in touch with the store');
      this.#cutOff = undefined;
      this.#o.onChange();
    }
  }

  async #read(): Promise<void> {
    const rows = (await this.#o.store.list<RosterRow>(PREFIX)).map(([, row]) => row);
    const same = rows.find((r) => r.id === this.#o.id && r.token !== this.#o.token);
    if (same && same.token !== this.duplicateOf?.token) {
      this.#o.log.error({ replica: this.#o.id, otherHost: same.host, otherPid: same.pid }, 'another process uses this replica id (replica.id): give each replica its own');
    }
    this.duplicateOf = same;
    const ready = new Set(rows.filter((r) => r.ready).map((r) => r.id));
    ready.delete(this.#o.id);
    if (this.#row.ready && !this.#cutOff && this.#joined) ready.add(this.#o.id);
    const live = new Set(rows.map((r) => r.id));
    live.add(this.#o.id);
    this.#setMembers([...ready].sort(), live.size);
  }

  #setMembers(ready: string[], live: number): void {
    const changed = ready.join('\n') !== this.#ready.join('\n');
    this.#ready = ready;
    this.#live = live;
    if (changed) this.#o.onChange();
  }

  #lostTouch(): void {
    if (this.#cutOff || !this.#joined) return;
    this.#cutOff = 'cannot reach the store: this replica takes no work until it can (the others take over its conversations and intake)';
    this.#o.log.error({}, 'replica cut off from the store; it stops taking work');
    this.#setMembers(this.#ready.filter((m) => m !== this.#o.id), this.#live);
    this.#o.onChange();
  }
}
