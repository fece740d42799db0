// The durable state seam. Small on purpose: a key/value map with TTL, set-if-absent, a lock, per-key
// FIFO queues and dedupe marks, so that a distributed implementation (PostgreSQL) can follow the lowdb one.
// Values are plain JSON. Every mutation is visible to reads at once; `flush()` is the durability
// barrier: it resolves once everything mutated before the call is on disk.

export interface SetOptions {
  /** Time to live in milliseconds; absent = forever. */
  ttlMs?: number;
}

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
  /** Removes and returns the first item. */
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
   *   opened (a restart renews the window, so a redelivery after a long downtime is still caught);
   * - when a mark with an `order` is forgotten, the scope's floor rises to that order: later calls with
   *   an order at or below the floor return false (Telegram's 24 h offset replays are covered this way);
   * - marks without an order are simply forgotten after the window (Matrix sync replays come within
   *   minutes of a restart; Slack stops retrying after ~5 min, so a retry whose original was never
   *   seen has an order above any floor and is processed);
   * - a scope with no marks left keeps its floor for `SEEN_SCOPE_TTL_MS` (7 days) after its last mark.
   */
  markSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean>;
  /** True when `markSeen` would return false (a redelivery); marks nothing. */
  isSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean>;

  /**
   * Takes a lock for `owner` for `ttlMs`. True if taken (or already held by `owner`, which renews it).
   */
  acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLock(name: string, owner: string): Promise<void>;

  /** Resolves once every mutation made before this call is durable. */
  flush(): Promise<void>;
  /** Flushes and releases the file. */
  close(): Promise<void>;
}
