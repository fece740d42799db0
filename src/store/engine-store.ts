// The in-memory engine behind both store implementations: all `Store` semantics (TTL, set-if-absent,
// locks, FIFO queues, deep copies) live here once. Persistence is a plug-in that is told "dirty" after
// every mutation and asked to flush/close; the memory store plugs in nothing.

import { isSeenIn, pruneScope, scopeIsStale, type SeenMark, type SeenScope } from './seen-marks.js';
import type { SeenOptions, SetOptions, Store } from './store.js';
import { emptyStoreData, type StoreData, type StoreEntry } from './store-data.js';

/** What the engine needs from a persistence layer. */
export interface Persistence {
  /** Called synchronously after every mutation (including sweeps that removed something). */
  markDirty(): void;
  /** Resolves once every mutation marked before the call is durable. */
  flush(): Promise<void>;
  /** Flushes and releases resources. Called once, by `close()`. */
  close(): Promise<void>;
}

/** Options of the engine. */
export interface EngineStoreOptions {
  /** Clock for TTLs, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Expired entries are swept at most this often, ms. Default 60000. 0 disables the sweep timer. */
  sweepIntervalMs?: number;
  /** Where mutations go to become durable. Default: nowhere (memory only). */
  persistence?: Persistence;
}

/** Thrown by every call on a store after `close()` began. */
export class StoreClosedError extends Error {
  constructor() {
    super('store is closed: no calls are allowed after close()');
    this.name = 'StoreClosedError';
  }
}

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

/**
 * Copies a caller's value into the store. A JSON round trip, not structuredClone, so the memory store
 * holds exactly what the file store would read back after a restart (a Date becomes its ISO string).
 */
function copyIn(value: unknown, what: string): unknown {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`${what} must be a JSON value, got ${typeof value}`);
  return JSON.parse(json) as unknown;
}

/** Stored values are plain JSON already, so structuredClone is an exact and fast copy out. */
function copyOut<T>(value: unknown): T {
  return structuredClone(value) as T;
}

function checkOrder(options: SeenOptions | undefined): number | undefined {
  const order = options?.order;
  if (order !== undefined && !Number.isSafeInteger(order)) throw new RangeError(`order must be a safe integer, got ${String(order)}`);
  return order;
}

function checkTtl(ttlMs: number | undefined, what: string): void {
  if (ttlMs === undefined) return;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0) {
    throw new RangeError(`${what} must be a finite number of ms >= 0, got ${String(ttlMs)}`);
  }
}

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
  readonly #sweepIntervalMs: number;
  /** When this store was opened: dedupe windows count from here at the earliest (see `markSeen`). */
  readonly #openedAt: number;
  #lastSweep: number;
  #closing: Promise<void> | undefined;

  constructor(data: StoreData = emptyStoreData(), options: EngineStoreOptions = {}) {
    this.#data = normalizeStoreData(data);
    this.#now = options.now ?? Date.now;
    this.#persistence = options.persistence;
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
    this.#data.entries[key] = this.#entry(copyIn(value, 'value'), options.ttlMs);
    this.#changed();
  }

  async setIfAbsent(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    this.#open();
    checkTtl(options.ttlMs, 'ttlMs');
    const copy = copyIn(value, 'value');
    if (this.#live(this.#data.entries, key)) return false;
    this.#data.entries[key] = this.#entry(copy, options.ttlMs);
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
    const copy = copyIn(item, 'queue item');
    const existing = hasOwn(this.#data.queues, queue) ? this.#data.queues[queue] : undefined;
    if (existing) existing.push(copy);
    else this.#data.queues[queue] = [copy];
    this.#changed();
  }

  async peek<T = unknown>(queue: string): Promise<T | undefined> {
    this.#open();
    const items = hasOwn(this.#data.queues, queue) ? this.#data.queues[queue] : undefined;
    return items && items.length > 0 ? copyOut<T>(items[0]) : undefined;
  }

  async dequeue<T = unknown>(queue: string): Promise<T | undefined> {
    this.#open();
    const items = hasOwn(this.#data.queues, queue) ? this.#data.queues[queue] : undefined;
    if (!items || items.length === 0) return undefined;
    const first = items.shift();
    // Empty queues are dropped so `queues(prefix)` and the file only hold live ones.
    if (items.length === 0) delete this.#data.queues[queue];
    this.#changed();
    return first as T;
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
    const seen = this.#data.seen!;
    let entry = hasOwn(seen, scope) ? seen[scope] : undefined;
    if (entry) pruneScope(entry, this.#now(), this.#openedAt);
    if (isSeenIn(entry, id, order)) return false;
    if (!entry) entry = seen[scope] = { m: [] };
    const mark: SeenMark = order === undefined ? [id, this.#now()] : [id, this.#now(), order];
    entry.m.push(mark);
    this.#changed();
    return true;
  }

  async isSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean> {
    this.#open();
    const order = checkOrder(options);
    const seen = this.#data.seen!;
    return isSeenIn(hasOwn(seen, scope) ? seen[scope] : undefined, id, order);
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

  async flush(): Promise<void> {
    this.#open();
    await this.#persistence?.flush();
  }

  /** Flushes, stops timers; every later call throws `StoreClosedError`. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#sweepTimer) clearInterval(this.#sweepTimer);
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
