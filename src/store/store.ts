// The durable state seam. Small on purpose: a key/value map with TTL, set-if-absent, a lock and
// per-key FIFO queues, so that a distributed implementation (Redis) can follow the lowdb one.
// Values are plain JSON. Every mutation is visible to reads at once; `flush()` is the durability
// barrier: it resolves once everything mutated before the call is on disk.

export interface SetOptions {
  /** Time to live in milliseconds; absent = forever. */
  ttlMs?: number;
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
   * Takes a lock for `owner` for `ttlMs`. True if taken (or already held by `owner`, which renews it).
   */
  acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLock(name: string, owner: string): Promise<void>;

  /** Resolves once every mutation made before this call is durable. */
  flush(): Promise<void>;
  /** Flushes and releases the file. */
  close(): Promise<void>;
}
