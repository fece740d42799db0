// Picks the store the config names: PostgreSQL when `url` is set, else the lowdb file. The daemon and
// the operator commands (pairing) open their store here, so both work against either.

import { openLowdbStore } from './lowdb-store.js';
import { openPgStore } from './pg/pg-store.js';
import type { Store } from './store.js';

/** The `store:` settings (the config's resolved `StoreConfig`). */
export interface StoreSettings {
  /** lowdb file path. */
  path: string;
  /** lowdb write coalescing, ms. */
  flushDelayMs: number;
  /** PostgreSQL URL; null = the file. */
  url: string | null;
}

/** Options of `openStore`. */
export interface OpenStoreOptions {
  /** Overrides `settings.flushDelayMs` (a short-lived command wants its change written at once). */
  flushDelayMs?: number;
  /** Told about problems that do not stop the store. Default `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

/** Opens the store `settings` name; PostgreSQL is migrated on open. */
export function openStore(settings: StoreSettings, options: OpenStoreOptions = {}): Promise<Store> {
  if (settings.url) return openPgStore({ url: settings.url, onWarning: options.onWarning });
  return openLowdbStore({ path: settings.path, flushDelayMs: options.flushDelayMs ?? settings.flushDelayMs, onWarning: options.onWarning });
}
