// The store module's public surface.

export type { SeenOptions, SetOptions, Store } from './store.js';
export { SEEN_SCOPE_TTL_MS, SEEN_WINDOW_MS } from './seen-marks.js';
export { StoreClosedError } from './engine-store.js';
export { createMemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { openLowdbStore, type LowdbStore, type LowdbStoreOptions, type LowdbStoreStats } from './lowdb-store.js';
