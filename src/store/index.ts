// The store module's public surface.

export { MAX_NOTIFY_PAYLOAD_BYTES, type SeenOptions, type SetOptions, type Store, type StoreHealth, type StoreNotice, type StoreOp, type Unsubscribe } from './store.js';
export { SEEN_SCOPE_TTL_MS, SEEN_WINDOW_MS } from './seen-marks.js';
export { StoreClosedError, StoreError, StoreUnavailableError, type StoreErrorCode } from './errors.js';
export { createMemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { openLowdbStore, type LowdbStore, type LowdbStoreOptions, type LowdbStoreStats } from './lowdb-store.js';
export { openPgStore, type PgStore, type PgStoreOptions } from './pg/pg-store.js';
export { openStore, type OpenStoreOptions, type StoreSettings } from './open-store.js';
