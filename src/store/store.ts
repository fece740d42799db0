// The durable state seam. Small on purpose: a key/value map with TTL, set-if-absent, a lock, per-key
// FIFO queues and per-chat dedupe marks, plus an atomic batch of writes, so that the embedded stores
// (memory, lowdb) and PostgreSQL implement it with the same semantics (test/store/store-semantics.test.ts
// runs against all three). Values are plain JSON. Every mutation is visible to reads at once; `flush()` is
// the durability barrier: it resolves once everything mutated before the call is on disk (lowdb) or
// committed (PostgreSQL).
//
// Names (keys, queues, locks, channels, dedupe scopes and ids) are strings without U+0000: PostgreSQL
// text cannot hold it.

/** Options of a write. */
export interface SetOptions {
  /** Time to live in milliseconds; absent = forever. */
  ttlMs?: number;
}

/**
 * One step of an atomic `batch`. Writes (`set`, `delete`, `enqueue`, `dequeue`) are applied in order;
 * guards (`setIfAbsent`, `requireLock`, `markSeen`) are checked in order against the state the earlier steps left,
 * and when one fails nothing of the batch is applied. `notify` is delivered only if the batch commits.
 */
export type StoreOp =
  | { op: 'set'; key: string; value: unknown; ttlMs?: number }
  /** A guard that also writes: sets the key if it is absent (or expired), else fails the batch. */
  | { op: 'setIfAbsent'; key: string; value: unknown; ttlMs?: number }
  /** Sets the key if it is absent (or expired); a live value is kept and the batch goes on. */
  | { op: 'insert'; key: string; value: unknown; ttlMs?: number }
  | { op: 'delete'; key: string }
  | { op: 'enqueue'; queue: string; item: unknown }
  /** Removes the first item of `queue`, if any (the item is not returned). */
  | { op: 'dequeue'; queue: string }
  /** A guard: the batch commits only while `owner` holds lock `name` (fencing for leases). */
  | { op: 'requireLock'; name: string; owner: string }
  /**
   * A guard that also writes: `Store.markSeen(scope, id, { order })` inside the batch. Fails the batch
   * where `markSeen` would return false (a redelivery); otherwise marks, committed with the rest.
   */
  | { op: 'markSeen'; scope: string; id: string; order?: number }
  /** Tells subscribers of `channel` after the batch committed; see `Store.notify`. */
  | { op: 'notify'; channel: string; payload?: string };

/** What a subscriber hears on a channel. */
export type StoreNotice =
  /** A `notify` on the channel (by this process or, with PostgreSQL, any replica). */
  | { kind: 'message'; payload: string }
  /** Notices may have been missed (the connection was lost and is back): re-read what you watch. */
  | { kind: 'resync' };

/** Stops a subscription; resolves once no more notices are delivered to it. */
export type Unsubscribe = () => Promise<void>;

/** Whether the store can serve calls now (for `/healthz`). */
export interface StoreHealth {
  /** True when reads and writes work. */
  ok: boolean;
  /** Which implementation: `memory`, `lowdb` or `postgres`. */
  kind: 'memory' | 'lowdb' | 'postgres';
  /** What is wrong (never a secret or a stored value); absent when ok. */
  problem?: string;
}

/** Longest `notify` payload, bytes of UTF-8 (PostgreSQL's limit is 8000). */
export const MAX_NOTIFY_PAYLOAD_BYTES = 7999;

/** Options of `markSeen` / `isSeen`. */
export interface SeenOptions {
  /**
   * The message's position in its scope, when the platform's positions only grow there (Telegram
   * `message_id`; Slack `ts` as integer microseconds). A safe integer. Absent for opaque ids (Matrix).
   */
  order?: number;
}

export interface Store {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, options?: SetOptions): Promise<void>;
  /** Sets only if the key is absent (or expired). Returns true if it set it. */
  setIfAbsent(key: string, value: unknown, options?: SetOptions): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Every live entry whose key starts with `prefix`, in key order. */
  list<T = unknown>(prefix: string): Promise<Array<[string, T]>>;

  /** Appends to the FIFO `queue`. */
  enqueue(queue: string, item: unknown): Promise<void>;
  /** The first item without removing it. */
  peek<T = unknown>(queue: string): Promise<T | undefined>;
  /**
   * Removes and returns the first item. Concurrent dequeues (other replicas) never return the same
   * item; each item is removed exactly once.
   */
  dequeue<T = unknown>(queue: string): Promise<T | undefined>;
  /** All items, first first. */
  items<T = unknown>(queue: string): Promise<T[]>;
  /** Names of the non-empty queues starting with `prefix`. */
  queues(prefix: string): Promise<string[]>;

  /**
   * Dedupe marks, kept per `scope` (one chat) for the redelivery window only, so the store's size does
   * not grow with history. Atomically: returns false if `id` is already marked in `scope`, or if
   * `options.order` is at or below the scope's floor; otherwise marks it and returns true. The mark is
   * durable with the next `flush()` (the caller flushes it together with the queued message).
   *
   * Retention, the same in every implementation (constants in `seen-marks.ts`):
   * - a mark is kept at least `SEEN_WINDOW_MS` (30 min) after it was made **and** after the store was
   *   opened (a restart renews the window, so a redelivery after a long downtime is still caught). With
   *   PostgreSQL "opened" is the latest opening by any replica (the database records it), so every
   *   replica prunes alike and no replica can drop a mark another one's restart renewed;
   * - when a mark with an `order` is forgotten, the scope's floor rises to that order: later calls with
   *   an order at or below the floor return false (Telegram's 24 h offset replays are covered this way);
   * - marks without an order are simply forgotten after the window (Matrix sync replays come within
   *   minutes of a restart; Slack stops retrying after ~5 min, so a retry whose original was never
   *   seen has an order above any floor and is processed);
   * - a scope with no marks left keeps its floor for `SEEN_SCOPE_TTL_MS` (7 days) after its last mark.
   */
  markSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean>;
  /**
   * True when `markSeen` would return false (a redelivery); marks nothing. A mark past its window that
   * no call has pruned yet still counts here (it was seen: erring towards "seen" never runs a message twice).
   */
  isSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean>;

  /**
   * Takes a lock for `owner` for `ttlMs`. True if taken (or already held by `owner`, which renews it).
   * Exclusive across every process sharing the store; PostgreSQL times it by the database's clock.
   */
  acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /**
   * Optional: renews, in one round trip, those of `names` that `owner` still holds (not expired); returns
   * the names renewed. Replicas renew hundreds of turn leases each beat with it. Without it, callers use
   * `acquireLock` per name.
   */
  renewLocks?(names: readonly string[], owner: string, ttlMs: number): Promise<string[]>;
  /** Releases the lock if `owner` holds it; otherwise does nothing. */
  releaseLock(name: string, owner: string): Promise<void>;

  /**
   * Applies `ops` all together or not at all (see `StoreOp`): true if applied, false if a guard
   * failed. Invalid input (a non-JSON value, a bad TTL) throws before anything is applied. Like any
   * mutation it is visible at once and durable after `flush()` (PostgreSQL: committed on return).
   */
  batch(ops: readonly StoreOp[]): Promise<boolean>;

  /** Resolves once every mutation made before this call is durable. */
  flush(): Promise<void>;
  /** Flushes and releases the file or connections; every later call throws `StoreClosedError`. */
  close(): Promise<void>;

  /**
   * Tells the subscribers of `channel` (payload at most `MAX_NOTIFY_PAYLOAD_BYTES`, default `''`).
   * Delivery is best-effort and asynchronous: a subscriber may get a `resync` instead. Memory and
   * lowdb deliver within this process; PostgreSQL to every replica (LISTEN/NOTIFY). Optional.
   */
  notify?(channel: string, payload?: string): Promise<void>;
  /**
   * Calls `listener` for each notice on `channel` until unsubscribed. Resolves once listening, so a
   * `notify` made after it resolves is heard. Optional.
   */
  subscribe?(channel: string, listener: (notice: StoreNotice) => void): Promise<Unsubscribe>;
  /** Whether the store works now; never throws. Optional. */
  health?(): Promise<StoreHealth>;
}
