// Turns a stream of "state changed" marks into few whole-state writes: one write at most every
// `delayMs`, never two at once, and a flush barrier that knows which mutations a write covered.
//
// Bookkeeping is by generation: every mark bumps `marked`; a write records the generation it
// snapshotted and, once done, that generation is durable. A flush waits for the generation current
// at its call, so it is released by the first write that covers it and by nothing earlier.

/** Options of a `CoalescedWriter`. */
export interface CoalescedWriterOptions {
  /**
   * Writes the whole current state. Must snapshot the state synchronously, before its first
   * `await`, so that the generation recorded at its start is exactly what it writes.
   */
  write: () => Promise<void>;
  /** Longest a mark waits before its write starts, ms. */
  delayMs: number;
  /** Wait before retrying after a failed write, ms. Default max(delayMs, 1000). */
  retryDelayMs?: number;
  /** Told about failed writes (the state stays dirty and is retried). Default: ignored. */
  onError?: (error: unknown) => void;
}

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Coalesces marks into serialized writes; see the file comment. */
export class CoalescedWriter {
  readonly #options: CoalescedWriterOptions;
  #marked = 0;
  #durable = 0;
  #writing = false;
  /** A write is due as soon as the running one ends (its delay elapsed, or a flush asked). */
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #waiters: Waiter[] = [];
  #writes = 0;
  #closed = false;
  /** The error of the last write, cleared by the next write that succeeds. */
  #failing: unknown;

  constructor(options: CoalescedWriterOptions) {
    this.#options = options;
  }

  /** Completed writes so far. */
  get writes(): number {
    return this.#writes;
  }

  /** True while some mark is not yet durable. */
  get dirty(): boolean {
    return this.#marked > this.#durable;
  }

  /** Why the last write failed, while writes are failing (e.g. `write failed (ENOSPC)`); else undefined. */
  problem(): string | undefined {
    if (this.#failing === undefined) return undefined;
    const error = this.#failing;
    const code = error instanceof Error && 'code' in error ? ` (${String(error.code)})` : '';
    return `write failed${code}; retrying`;
  }

  /** Records a mutation; schedules a write within `delayMs` unless one is already due. */
  markDirty(): void {
    this.#marked++;
    if (!this.#timer && !this.#again) this.#schedule(this.#options.delayMs);
  }

  /** Resolves once every mark made before the call is written; at once if nothing is dirty. */
  flush(): Promise<void> {
    if (!this.dirty) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => {
      this.#waiters.push({ target: this.#marked, resolve, reject });
    });
    if (this.#writing) this.#again = true;
    else this.#start();
    return done;
  }

  /** Flushes, then cancels any timer. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      // After close nothing is retried in the background; a failed final flush is the caller's.
      this.#closed = true;
      this.#clearTimer();
    }
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#writing) this.#again = true;
      else this.#start();
    }, ms);
    // The store must never keep a process alive on its own.
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #start(): void {
    this.#clearTimer();
    this.#again = false;
    this.#writing = true;
    const generation = this.#marked;
    let pending: Promise<void>;
    try {
      pending = this.#options.write();
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      () => this.#finish(generation, undefined),
      (error: unknown) => this.#finish(generation, error ?? new Error('store write failed')),
    );
  }

  #finish(generation: number, error: unknown): void {
    this.#writing = false;
    const covered = this.#waiters.filter((w) => w.target <= generation);
    this.#waiters = this.#waiters.filter((w) => w.target > generation);
    this.#failing = error;
    if (error === undefined) {
      this.#writes++;
      this.#durable = Math.max(this.#durable, generation);
      for (const w of covered) w.resolve();
    } else {
      for (const w of covered) w.reject(error);
      this.#options.onError?.(error);
    }
    if (this.#waiters.length > 0 || (this.#again && error === undefined && this.dirty)) {
      this.#start();
    } else if (this.dirty && !this.#timer) {
      const retry = this.#options.retryDelayMs ?? Math.max(this.#options.delayMs, 1000);
      this.#again = false;
      this.#schedule(error === undefined ? this.#options.delayMs : retry);
    }
  }
}
