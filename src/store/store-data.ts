// The persisted shape of the embedded store, and the check that a loaded file has it.

import { seenDataProblem, type SeenScope } from './seen-marks.js';

/** One stored value; `exp` is the epoch ms at which it expires (absent = never). */
export interface StoreEntry {
  v: unknown;
  exp?: number;
}

/** The whole state, as written to the JSON file. */
export interface StoreData {
  /** File format version; bumped on incompatible changes. Always 1 for now. */
  version: 1;
  /** Key/value entries, by key. */
  entries: Record<string, StoreEntry>;
  /** Per-key FIFO queues, first item first. Empty queues are removed. */
  queues: Record<string, unknown[]>;
  /** Locks by name; `v` is the owner token. Kept apart so `list('')` never shows them. */
  locks: Record<string, StoreEntry>;
  /** Dedupe marks by scope (see `Store.markSeen`). Absent in files written before it existed. */
  seen?: Record<string, SeenScope>;
}

/** A fresh, empty state. */
export function emptyStoreData(): StoreData {
  return { version: 1, entries: {}, queues: {}, locks: {}, seen: {} };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEntryMap(value: unknown): value is Record<string, StoreEntry> {
  if (!isRecord(value)) return false;
  for (const entry of Object.values(value)) {
    if (!isRecord(entry) || !('v' in entry)) return false;
    if (entry.exp !== undefined && typeof entry.exp !== 'number') return false;
  }
  return true;
}

/**
 * Returns why `value` is not a valid `StoreData`, or undefined if it is. A file that parses as JSON
 * but has the wrong shape is as unusable as a torn one, so the loader treats both alike.
 */
export function storeDataProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'top level is not an object';
  if (value.version !== 1) return `unsupported version ${JSON.stringify(value.version)}`;
  if (!isEntryMap(value.entries)) return '"entries" is not a map of {v, exp?}';
  if (!isEntryMap(value.locks)) return '"locks" is not a map of {v, exp?}';
  if (!isRecord(value.queues) || !Object.values(value.queues).every(Array.isArray)) {
    return '"queues" is not a map of arrays';
  }
  if (value.seen !== undefined) return seenDataProblem(value.seen);
  return undefined;
}
