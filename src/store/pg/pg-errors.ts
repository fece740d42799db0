// Maps what node-postgres throws to the store's errors: "cannot reach the database" (worth retrying)
// apart from "the database refused this". Messages keep PostgreSQL's own text (it holds no values we
// sent: those travel as parameters) and never the connection URL.

import { StoreError, StoreUnavailableError } from '../errors.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
// node-postgres's own words for a lost or hung connection.
const LOST = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection ended|not queryable/i;

function sqlState(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  return code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True when `error` says the database cannot be reached or went away, rather than refused a statement. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (NETWORK_CODES.has(code)) return true;
  const state = sqlState(error);
  // 08: connection exception; 57P0x: shutdown / cannot connect now; 53300: too many connections;
  // 40001/40P01: serialization failure / deadlock (transient by definition).
  if (state && (state.startsWith('08') || /^57P0[1-4]$/.test(state) || state === '53300' || state === '40001' || state === '40P01')) return true;
  return error instanceof Error && LOST.test(error.message);
}

/** The store error for a failed `what` (e.g. `set`), keeping the original as `cause`. */
export function toStoreError(error: unknown, what: string, target: string): Error {
  if (error instanceof StoreError || error instanceof TypeError || error instanceof RangeError) return error;
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  // Node's AggregateError (a refused connection to every address of a host) has no message, only a code.
  const text = (error instanceof Error && error.message) || code || String(error);
  const state = sqlState(error);
  const detail = `${text}${state ? ` (SQLSTATE ${state})` : ''}`;
  if (isUnavailable(error)) return new StoreUnavailableError(`PostgreSQL at ${target} is unreachable (${what}): ${detail}`, { cause: error });
  return new StoreError('rejected', `PostgreSQL at ${target} refused ${what}: ${detail}`, { cause: error });
}

/** `host:port/database` of a connection URL, without credentials, for messages. */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    return `${host}:${u.port || '5432'}${u.pathname && u.pathname !== '/' ? u.pathname : '/'}`;
  } catch {
    return '(unparsable URL)';
  }
}
