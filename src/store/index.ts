// The store module's public surface.

export type { SetOptions, Store } from './store.js';
export { StoreClosedError } from './engine-store.js';
export { createMemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { openLowdbStore, type LowdbStore, type LowdbStoreOptions, type LowdbStoreStats } from './lowdb-store.js';
