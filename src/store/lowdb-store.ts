// The embedded store: the shared engine over lowdb's `Low`, persisted through an fsync'd atomic
// file adapter, with mutations coalesced into few whole-file writes.

import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Low } from 'lowdb';
import { AtomicJsonFile } from './atomic-file.js';
import { CoalescedWriter } from './coalesced-writer.js';
import { EngineStore } from './engine-store.js';
import type { Store } from './store.js';
import { emptyStoreData, storeDataProblem, type StoreData } from './store-data.js';

/** Options of `openLowdbStore`. */
export interface LowdbStoreOptions {
  /** JSON file path; its folder is created if missing. */
  path: string;
  /** Longest a mutation waits before it is written, ms. Default 50. A burst of thousands of mutations in that window costs one write. */
  flushDelayMs?: number;
  /** Clock for TTLs (tests). Default Date.now. */
  now?: () => number;
  /** Expired entries are swept at most this often, ms. Default 60000. */
  sweepIntervalMs?: number;
  /**
   * Told about problems that do not stop the store: a corrupt file moved aside, a failed write
   * (retried). Default: `process.emitWarning`. Messages never contain stored values.
   */
  onWarning?: (message: string) => void;
}

/** Counters of a `LowdbStore`. */
export interface LowdbStoreStats {
  /** Whole-file writes completed since open. */
  writes: number;
}

/** The lowdb `Store`, with counters for tests and metrics. */
export interface LowdbStore extends Store {
  stats(): LowdbStoreStats;
}

const DEFAULT_FLUSH_DELAY_MS = 50;

function defaultWarning(message: string): void {
  process.emitWarning(message, 'LoopbridgeStoreWarning');
}

/** Opens (or creates) the store file at `options.path` and loads it. */
export async function openLowdbStore(options: LowdbStoreOptions): Promise<LowdbStore> {
  const path = resolve(options.path);
  const warn = options.onWarning ?? defaultWarning;
  await mkdir(dirname(path), { recursive: true });

  const file = new AtomicJsonFile<StoreData>(path, { validate: storeDataProblem, onWarning: warn });
  await file.removeStaleTempFiles();
  const db = new Low<StoreData>(file, emptyStoreData());
  await db.read();

  const writer = new CoalescedWriter({
    write: () => db.write(),
    delayMs: options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS,
    onError: (error) => {
      const code = error instanceof Error && 'code' in error ? ` (${String(error.code)})` : '';
      warn(`store file ${path} write failed${code}; will retry: ${error instanceof Error ? error.message : String(error)}`);
    },
  });

  // Low.data is the object the engine mutates in place, so db.write() always writes current state.
  const engine = new EngineStore(db.data, {
    now: options.now,
    sweepIntervalMs: options.sweepIntervalMs,
    persistence: writer,
    kind: 'lowdb',
  });
  return Object.assign(engine, { stats: (): LowdbStoreStats => ({ writes: writer.writes }) });
}
