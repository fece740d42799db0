// Checks and copies every store implementation applies to what callers hand it, so they agree on what
// a value is (JSON), what a TTL is, and what a batch may hold.

import { MAX_NOTIFY_PAYLOAD_BYTES, type SeenOptions, type StoreOp } from './store.js';

/**
 * A caller's value as JSON text. A JSON round trip, not structuredClone, so every store holds exactly
 * what the file store would read back after a restart (a Date becomes its ISO string).
 */
export function toJson(value: unknown, what: string): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`${what} must be a JSON value, got ${typeof value}`);
  return json;
}

/** A deep copy of a caller's value, as the store will hold it. */
export function copyIn(value: unknown, what: string): unknown {
  return JSON.parse(toJson(value, what)) as unknown;
}

/** Stored values are plain JSON already, so structuredClone is an exact and fast copy out. */
export function copyOut<T>(value: unknown): T {
  return structuredClone(value) as T;
}

/** Throws unless `ttlMs` is absent or a finite number of ms >= 0. */
export function checkTtl(ttlMs: number | undefined, what: string): void {
  if (ttlMs === undefined) return;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0) {
    throw new RangeError(`${what} must be a finite number of ms >= 0, got ${String(ttlMs)}`);
  }
}

/** A dedupe mark's `order`, checked: absent, or a safe integer (it is a bigint in PostgreSQL). */
export function checkOrder(options: SeenOptions | undefined, what = 'order'): number | undefined {
  const order = options?.order;
  if (order !== undefined && !Number.isSafeInteger(order)) throw new RangeError(`${what} must be a safe integer, got ${String(order)}`);
  return order;
}

/** Throws unless `payload` fits a notification. */
export function checkPayload(payload: string): void {
  if (typeof payload !== 'string') throw new TypeError(`notify payload must be a string, got ${typeof payload}`);
  const bytes = Buffer.byteLength(payload);
  if (bytes > MAX_NOTIFY_PAYLOAD_BYTES) {
    throw new RangeError(`notify payload is ${bytes} bytes; the limit is ${MAX_NOTIFY_PAYLOAD_BYTES}`);
  }
}

/** A batch step with its value already copied in (JSON text) and its TTL checked. */
export type PreparedOp =
  | { op: 'set' | 'setIfAbsent' | 'insert'; key: string; json: string; ttlMs?: number }
  | { op: 'delete'; key: string }
  | { op: 'enqueue'; queue: string; json: string }
  | { op: 'dequeue'; queue: string }
  | { op: 'requireLock'; name: string; owner: string }
  | { op: 'markSeen'; scope: string; id: string; order?: number }
  | { op: 'notify'; channel: string; payload: string };

/** Validates a whole batch before any of it is applied; throws on the first bad step, naming it. */
export function prepareBatch(ops: readonly StoreOp[]): PreparedOp[] {
  if (!Array.isArray(ops)) throw new TypeError('batch takes an array of ops');
  return ops.map((op, i): PreparedOp => {
    const at = `batch[${i}]`;
    switch (op?.op) {
      case 'set':
      case 'setIfAbsent':
      case 'insert':
        checkTtl(op.ttlMs, `${at}.ttlMs`);
        return { op: op.op, key: op.key, json: toJson(op.value, `${at}.value`), ttlMs: op.ttlMs };
      case 'delete':
        return { op: 'delete', key: op.key };
      case 'enqueue':
        return { op: 'enqueue', queue: op.queue, json: toJson(op.item, `${at}.item`) };
      case 'dequeue':
        return { op: 'dequeue', queue: op.queue };
      case 'requireLock':
        return { op: 'requireLock', name: op.name, owner: op.owner };
      case 'markSeen': {
        if (typeof op.scope !== 'string' || typeof op.id !== 'string') throw new TypeError(`${at} needs a string scope and id`);
        const order = checkOrder(op, `${at}.order`);
        return order === undefined ? { op: 'markSeen', scope: op.scope, id: op.id } : { op: 'markSeen', scope: op.scope, id: op.id, order };
      }
      case 'notify': {
        const payload = op.payload ?? '';
        checkChannel(op.channel);
        checkPayload(payload);
        return { op: 'notify', channel: op.channel, payload };
      }
      default:
        throw new TypeError(`${at} has unknown op ${JSON.stringify((op as { op?: unknown } | undefined)?.op)}`);
    }
  });
}

/** Throws unless `name` is a string without U+0000 (which PostgreSQL text cannot hold). */
export function checkName(name: string, what: string): void {
  if (typeof name !== 'string') throw new TypeError(`${what} must be a string, got ${typeof name}`);
  if (name.includes('\u0000')) throw new TypeError(`${what} must not contain the NUL character (U+0000)`);
}

/** Longest channel name, bytes of UTF-8 (a PostgreSQL identifier). */
const MAX_CHANNEL_BYTES = 63;

/** Throws unless `channel` is a usable notification channel name (1–63 bytes, no NUL). */
export function checkChannel(channel: string): void {
  checkName(channel, 'channel');
  const bytes = Buffer.byteLength(channel);
  if (bytes === 0 || bytes > MAX_CHANNEL_BYTES) throw new RangeError(`channel must be 1–${MAX_CHANNEL_BYTES} bytes, got ${bytes}`);
}
