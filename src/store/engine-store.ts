// The in-memory engine behind both store implementations: all `Store` semantics (TTL, set-if-absent,
// locks, FIFO queues, deep copies) live here once. Persistence is a plug-in that is told "dirty" after
// every mutation and asked to flush/close; the memory store plugs in nothing.

import { StoreClosedError } from './errors.js';
import { LocalNotices } from './local-notices.js';
import { isSeenIn, pruneScope, scopeIsStale, type SeenMark, type SeenScope } from './seen-marks.js';
import type { SeenOptions, SetOptions, Store, StoreHealth, StoreNotice, StoreOp, Unsubscribe } from './store.js';
import { emptyStoreData, type StoreData, type StoreEntry } from './store-data.js';
import { checkChannel, checkOrder, checkPayload, checkTtl, copyIn, copyOut, prepareBatch } from './values.js';

/** What the engine needs from a persistence layer. */
export interface Persistence {
  /** Called synchronously after every mutation (including sweeps that removed something). */
  markDirty(): void;
  /** Resolves once every mutation marked before the call is durable. */
  flush(): Promise<void>;
  /** Flushes and releases resources. Called once, by `close()`. */
  close(): Promise<void>;
  /** Why mutations are not becoming durable now (e.g. failing writes), or undefined. */
  problem?(): string | undefined;
}

/** Options of the engine. */
export interface EngineStoreOptions {
  /** Clock for TTLs, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Expired entries are swept at most this often, ms. Default 60000. 0 disables the sweep timer. */
  sweepIntervalMs?: number;
  /** Where mutations go to become durable. Default: nowhere (memory only). */
  persistence?: Persistence;
  /** What `health()` reports as the kind. Default `memory`. */
  kind?: StoreHealth['kind'];
}

export { StoreClosedError };

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

/** Null-prototype map, so a key such as "__proto__" is an ordinary key. */
function dict<V>(source?: Record<string, V>): Record<string, V> {
  const out = Object.create(null) as Record<string, V>;
  if (source) for (const key of Object.keys(source)) out[key] = source[key] as V;
  return out;
}

/**
 * Rebuilds loaded data with null-prototype maps. Mutates the holder in place so that whoever shares
 * the object (lowdb's `Low.data`) sees the same state the engine edits.
 */
export function normalizeStoreData(data: StoreData): StoreData {
  data.version = 1;
  data.entries = dict(data.entries);
  data.queues = dict(data.queues);
  data.locks = dict(data.locks);
  data.seen = dict(data.seen);
  return data;
}

const hasOwn = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);

/** The shared `Store` implementation over a `StoreData` object. */
export class EngineStore implements Store {
  readonly #data: StoreData;
  readonly #now: () => number;
  readonly #persistence: Persistence | undefined;
  readonly #sweepTimer: NodeJS.Timeout | undefined;
  readonly #notices = new LocalNotices();
  readonly #kind: StoreHealth['kind'];
  readonly #sweepIntervalMs: number;
  /** When this store was opened: dedupe windows count from here at the earliest (see `markSeen`). */
  readonly #openedAt: number;
  #lastSweep: number;
  #closing: Promise<void> | undefined;

  constructor(data: StoreData = emptyStoreData(), options: EngineStoreOptions = {}) {
    this.#data = normalizeStoreData(data);
    this.#now = options.now ?? Date.now;
    this.#persistence = options.persistence;
    this.#kind = options.kind ?? 'memory';
    const interval = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.#sweepIntervalMs = interval;
    this.#openedAt = this.#now();
    this.#lastSweep = this.#openedAt;
    if (interval > 0) {
      this.#sweepTimer = setInterval(() => this.sweep(), interval);
      // A store must never be the reason a process stays alive.
      this.#sweepTimer.unref();
    }
  }

  #open(): void {
    if (this.#closing) throw new StoreClosedError();
  }

  #changed(): void {
    this.#persistence?.markDirty();
    // Also swept on the store's own clock, so what expired goes even when timers lag (or a test's clock jumps).
    if (this.#sweepIntervalMs > 0 && this.#now() - this.#lastSweep >= this.#sweepIntervalMs) this.sweep();
  }

  #live(map: Record<string, StoreEntry>, key: string): StoreEntry | undefined {
    if (!hasOwn(map, key)) return undefined;
    const entry = map[key] as StoreEntry;
    return entry.exp !== undefined && entry.exp <= this.#now() ? undefined : entry;
  }

  #entry(value: unknown, ttlMs: number | undefined): StoreEntry {
    return ttlMs === undefined ? { v: value } : { v: value, exp: this.#now() + ttlMs };
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    this.#open();
    const entry = this.#live(this.#data.entries, key);
    return entry ? copyOut<T>(entry.v) : undefined;
  }

  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    this.#open();
    checkTtl(options.ttlMs, 'ttlMs');
    this.#put(key, copyIn(value, 'value'), options.ttlMs);
    this.#changed();
  }

  async setIfAbsent(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    this.#open();
    checkTtl(options.ttlMs, 'ttlMs');
    const copy = copyIn(value, 'value');
    if (this.#live(this.#data.entries, key)) return false;
    this.#put(key, copy, options.ttlMs);
    this.#changed();
    return true;
  }

  async delete(key: string): Promise<void> {
    this.#open();
    if (!hasOwn(this.#data.entries, key)) return;
    delete this.#data.entries[key];
    this.#changed();
  }

  async list<T = unknown>(prefix: string): Promise<Array<[string, T]>> {
    this.#open();
    const out: Array<[string, T]> = [];
    // Filter before sorting: the store holds many dedupe marks, and callers list small prefixes.
    for (const key of Object.keys(this.#data.entries).filter((k) => k.startsWith(prefix)).sort()) {
      const entry = this.#live(this.#data.entries, key);
      if (entry) out.push([key, copyOut<T>(entry.v)]);
    }
    return out;
  }

  async enqueue(queue: string, item: unknown): Promise<void> {
    this.#open();
    this.#push(queue, copyIn(item, 'queue item'));
    this.#changed();
  }

  #put(key: string, value: unknown, ttlMs: number | undefined): void {
    this.#data.entries[key] = this.#entry(value, ttlMs);
  }

  #push(queue: string, item: unknown): void {
    const existing = hasOwn(this.#data.queues, queue) ? this.#data.queues[queue] : undefined;
    if (existing) existing.push(item);
    else this.#data.queues[queue] = [item];
  }

  /** Removes the first item; `{}` when the queue is empty (an item may itself be falsy). */
  #shift(queue: string): { item?: unknown } {
    const items = hasOwn(this.#data.queues, queue) ? this.#data.queues[queue] : undefined;
    if (!items || items.length === 0) return {};
    const item = items.shift();
    // Empty queues are dropped so `queues(prefix)` and the file only hold live ones.
    if (items.length === 0) delete this.#data.queues[queue];
    return { item };
  }

  async peek<T = unknown>(queue: string): Promise<T | undefined> {
    this.#open();
    const items = hasOwn(this.#data.queues, queue) ? this.#data.queues[queue] : undefined;
    return items && items.length > 0 ? copyOut<T>(items[0]) : undefined;
  }

  async dequeue<T = unknown>(queue: string): Promise<T | undefined> {
    this.#open();
    const shifted = this.#shift(queue);
    if (!('item' in shifted)) return undefined;
    this.#changed();
    return shifted.item as T;
  }

  async items<T = unknown>(queue: string): Promise<T[]> {
    this.#open();
    const items = hasOwn(this.#data.queues, queue) ? this.#data.queues[queue] : undefined;
    return items ? copyOut<T[]>(items) : [];
  }

  async queues(prefix: string): Promise<string[]> {
    this.#open();
    return Object.keys(this.#data.queues)
      .filter((name) => name.startsWith(prefix) && (this.#data.queues[name]?.length ?? 0) > 0)
      .sort();
  }

  async markSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean> {
    this.#open();
    const order = checkOrder(options);
    if (isSeenIn(this.#prunedScope(scope), id, order)) return false;
    this.#addMark(scope, id, order);
    this.#changed();
    return true;
  }

  async isSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean> {
    this.#open();
    const order = checkOrder(options);
    const seen = this.#data.seen!;
    return isSeenIn(hasOwn(seen, scope) ? seen[scope] : undefined, id, order);
  }

  /** The scope's marks with those past their window forgotten (the floor raised), or undefined. */
  #prunedScope(scope: string): SeenScope | undefined {
    const seen = this.#data.seen!;
    const entry = hasOwn(seen, scope) ? seen[scope] : undefined;
    if (entry) pruneScope(entry, this.#now(), this.#openedAt);
    return entry;
  }

  #addMark(scope: string, id: string, order: number | undefined): void {
    const seen = this.#data.seen!;
    const entry = (hasOwn(seen, scope) ? seen[scope] : undefined) ?? (seen[scope] = { m: [] });
    const mark: SeenMark = order === undefined ? [id, this.#now()] : [id, this.#now(), order];
    entry.m.push(mark);
  }

  async acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    this.#open();
    checkTtl(ttlMs, 'lock ttlMs');
    const held = this.#live(this.#data.locks, name);
    if (held && held.v !== owner) return false;
    this.#data.locks[name] = { v: owner, exp: this.#now() + ttlMs };
    this.#changed();
    return true;
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    this.#open();
    const held = hasOwn(this.#data.locks, name) ? this.#data.locks[name] : undefined;
    // Only the owner releases; an expired lock of another owner is left for the sweep.
    if (!held || held.v !== owner) return;
    delete this.#data.locks[name];
    this.#changed();
  }

  async batch(ops: readonly StoreOp[]): Promise<boolean> {
    this.#open();
    const prepared = prepareBatch(ops);
    // Guards see what earlier steps of the batch wrote (as in a transaction): track keys touched.
    const touched = new Map<string, boolean>();
    const present = (key: string) => touched.get(key) ?? this.#live(this.#data.entries, key) !== undefined;
    const marked = new Set<string>();
    for (const op of prepared) {
      if (op.op === 'setIfAbsent' && present(op.key)) return false;
      if (op.op === 'requireLock' && this.#live(this.#data.locks, op.name)?.v !== op.owner) return false;
      if (op.op === 'markSeen') {
        // Pruning first, as `markSeen` does; it forgets only what the window allows, so it may stay if the batch fails.
        const mark = `${op.scope}\u0000${op.id}`;
        if (marked.has(mark) || isSeenIn(this.#prunedScope(op.scope), op.id, op.order)) return false;
        marked.add(mark);
      }
      if (op.op === 'set' || op.op === 'setIfAbsent' || op.op === 'insert') touched.set(op.key, true);
      if (op.op === 'delete') touched.set(op.key, false);
    }
    // Synchronous from here on: no write can snapshot a half-applied batch.
    let changed = false;
    for (const op of prepared) {
      switch (op.op) {
        case 'set':
        case 'setIfAbsent':
          this.#put(op.key, JSON.parse(op.json), op.ttlMs);
          changed = true;
          break;
        case 'insert':
          if (!this.#live(this.#data.entries, op.key)) {
            this.#put(op.key, JSON.parse(op.json), op.ttlMs);
            changed = true;
          }
          break;
        case 'delete':
          if (hasOwn(this.#data.entries, op.key)) {
            delete this.#data.entries[op.key];
            changed = true;
          }
          break;
        case 'enqueue':
          this.#push(op.queue, JSON.parse(op.json));
          changed = true;
          break;
        case 'dequeue':
          if ('item' in this.#shift(op.queue)) changed = true;
          break;
        case 'requireLock':
          break;
        case 'markSeen':
          this.#addMark(op.scope, op.id, op.order);
          changed = true;
          break;
        case 'notify':
          this.#notices.publish(op.channel, op.payload);
          break;
      }
    }
    if (changed) this.#changed();
    return true;
  }

  async notify(channel: string, payload = ''): Promise<void> {
    this.#open();
    checkChannel(channel);
    checkPayload(payload);
    this.#notices.publish(channel, payload);
  }

  async subscribe(channel: string, listener: (notice: StoreNotice) => void): Promise<Unsubscribe> {
    this.#open();
    checkChannel(channel);
    return this.#notices.subscribe(channel, listener);
  }

  async health(): Promise<StoreHealth> {
    if (this.#closing) return { ok: false, kind: this.#kind, problem: 'store is closed' };
    const problem = this.#persistence?.problem?.();
    return problem ? { ok: false, kind: this.#kind, problem } : { ok: true, kind: this.#kind };
  }

  async flush(): Promise<void> {
    this.#open();
    await this.#persistence?.flush();
  }

  /** Flushes, stops timers; every later call throws `StoreClosedError`. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#sweepTimer) clearInterval(this.#sweepTimer);
      this.#notices.clear();
      await this.#persistence?.close();
    })();
    return this.#closing;
  }

  /** Removes expired entries, locks and dedupe marks now; returns how many. Runs on the sweep timer too. */
  sweep(): number {
    if (this.#closing) return 0;
    const now = this.#now();
    this.#lastSweep = now;
    let removed = 0;
    const seen = this.#data.seen!;
    for (const scope of Object.keys(seen)) {
      const entry = seen[scope] as SeenScope;
      removed += pruneScope(entry, now, this.#openedAt);
      if (scopeIsStale(entry, now, this.#openedAt)) {
        delete seen[scope];
        removed++;
      }
    }
    for (const map of [this.#data.entries, this.#data.locks]) {
      for (const key of Object.keys(map)) {
        const exp = map[key]?.exp;
        if (exp !== undefined && exp <= now) {
          delete map[key];
          removed++;
        }
      }
    }
    if (removed > 0) this.#persistence?.markDirty();
    return removed;
  }
}
