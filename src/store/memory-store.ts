// A store that lives only in memory, with exactly the lowdb store's semantics (it is the same
// engine without persistence), for unit tests of modules that need a Store.

import { EngineStore } from './engine-store.js';
import type { Store } from './store.js';

/** Options of `createMemoryStore`. */
export interface MemoryStoreOptions {
  /** Clock for TTLs (tests), epoch ms. Default Date.now. */
  now?: () => number;
  /** Expired entries are swept at most this often, ms. Default 60000. */
  sweepIntervalMs?: number;
}

/** A fresh, empty in-memory store; `flush()` resolves at once. */
export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  return new EngineStore(undefined, { now: options.now, sweepIntervalMs: options.sweepIntervalMs });
}
