// The store as work under a lease sees it: every write commits only while this replica still holds the
// lease (a `requireLock` guard in the same batch), so a replica that lost a conversation's lease (cut off,
// paused past its deadline) cannot overwrite what the replica that took over writes. Reads pass through.

import type { SeenOptions, SetOptions, Store, StoreHealth, StoreNotice, StoreOp, Unsubscribe } from '../../store/store.js';
import { LeaseLostError } from './errors.js';

/** `store` with writes fenced by lock `name` held by `owner`. */
export class FencedStore implements Store {
  readonly #store: Store;
  readonly #guard: StoreOp;
  readonly #name: string;

  constructor(store: Store, name: string, owner: string) {
    this.#store = store;
    this.#name = name;
    this.#guard = { op: 'requireLock', name, owner };
  }

  /** The guard to put first in a batch that must commit only under the lease. */
  get guard(): StoreOp {
    return this.#guard;
  }

  async #write(ops: StoreOp[]): Promise<void> {
    if (!(await this.#store.batch([this.#guard, ...ops]))) throw new LeaseLostError(this.#name);
  }

  get<T = unknown>(key: string): Promise<T | undefined> {
    return this.#store.get<T>(key);
  }

  set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    return this.#write([{ op: 'set', key, value, ttlMs: options.ttlMs }]);
  }

  /** False when the key is live, or the lease is lost (nothing is written either way). */
  setIfAbsent(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    return this.#store.batch([this.#guard, { op: 'setIfAbsent', key, value, ttlMs: options.ttlMs }]);
  }

  delete(key: string): Promise<void> {
    return this.#write([{ op: 'delete', key }]);
  }

  list<T = unknown>(prefix: string): Promise<Array<[string, T]>> {
    return this.#store.list<T>(prefix);
  }

  enqueue(queue: string, item: unknown): Promise<void> {
    return this.#write([{ op: 'enqueue', queue, item }]);
  }

  peek<T = unknown>(queue: string): Promise<T | undefined> {
    return this.#store.peek<T>(queue);
  }

  /** Under the lease only its holder dequeues, so the head read first is the item removed. */
  async dequeue<T = unknown>(queue: string): Promise<T | undefined> {
    const head = await this.#store.peek<T>(queue);
    if (head === undefined) return undefined;
    await this.#write([{ op: 'dequeue', queue }]);
    return head;
  }

  items<T = unknown>(queue: string): Promise<T[]> {
    return this.#store.items<T>(queue);
  }

  queues(prefix: string): Promise<string[]> {
    return this.#store.queues(prefix);
  }

  markSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean> {
    return this.#store.markSeen(scope, id, options);
  }

  isSeen(scope: string, id: string, options?: SeenOptions): Promise<boolean> {
    return this.#store.isSeen(scope, id, options);
  }

  acquireLock(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.#store.acquireLock(name, owner, ttlMs);
  }

  releaseLock(name: string, owner: string): Promise<void> {
    return this.#store.releaseLock(name, owner);
  }

  /** The ops commit only under the lease: false if it is lost (or another guard failed). */
  batch(ops: readonly StoreOp[]): Promise<boolean> {
    return this.#store.batch([this.#guard, ...ops]);
  }

  flush(): Promise<void> {
    return this.#store.flush();
  }

  /** The shared store is not this view's to close. */
  close(): Promise<void> {
    return Promise.reject(new TypeError('a fenced store view cannot close the store'));
  }

  notify(channel: string, payload?: string): Promise<void> {
    return this.#store.notify?.(channel, payload) ?? Promise.resolve();
  }

  subscribe(channel: string, listener: (notice: StoreNotice) => void): Promise<Unsubscribe> {
    if (!this.#store.subscribe) return Promise.reject(new TypeError('the store has no subscribe'));
    return this.#store.subscribe(channel, listener);
  }

  health(): Promise<StoreHealth> {
    return this.#store.health?.() ?? Promise.resolve({ ok: true, kind: 'memory' });
  }
}
