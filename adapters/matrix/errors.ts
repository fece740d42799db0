// Every failed client-server call is classified here, in one place: a rate limit (wait what the server
// said), a refusal retrying cannot fix, or a transient failure the core's scheduler retries. The access
// token travels in a header, never in a URL, but messages are still scrubbed of it in case a server
// echoes it back.
import { MatrixError } from 'matrix-bot-sdk';
import { PlatformError, PlatformRateLimitError } from '../../src/core/adapter-types.js';
import { redactSecrets } from '../shared/redact.js';
import { AdapterStartupError } from '../shared/startup-error.js';

/** Why the adapter could not start. */
export type MatrixStartupCode = 'unauthorized' | 'network' | 'login' | 'no-state';

/** A start() failure the operator must act on (refused token or password, unreachable homeserver). */
export class MatrixStartupError extends AdapterStartupError<MatrixStartupCode> {
  override readonly name = 'MatrixStartupError';
}

/** Wait used when a 429 names no retry_after_ms, ms. */
const DEFAULT_RETRY_AFTER_MS = 1000;

/** Replaces the token wherever it appears. */
export function scrubSecret(text: string, secret: string | undefined): string {
  return redactSecrets(text, [secret]);
}

/** The HTTP status of a failure the SDK threw: a MatrixError, or the raw response for a non-Matrix body. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof MatrixError) return err.statusCode;
  if (err && typeof err === 'object' && typeof (err as { statusCode?: unknown }).statusCode === 'number') return (err as { statusCode: number }).statusCode;
  return undefined;
}

/** The Matrix error code (`M_FORBIDDEN`, …) of a failure (raw, or already classified), if it has one. */
export function errcodeOf(err: unknown): string | undefined {
  if (err instanceof MatrixError) return err.errcode;
  if (err instanceof PlatformError && typeof err.platformCode === 'string' && err.platformCode.startsWith('M_')) return err.platformCode;
  return undefined;
}

/** What a person reads about a failure: `M_CODE: text`, `HTTP 502`, or the network error. Token-free. */
export function describe(err: unknown, secret?: string): string {
  let text: string;
  if (err instanceof MatrixError) text = `${err.errcode}: ${err.error}`;
  else if (statusOf(err) !== undefined) text = `HTTP ${statusOf(err)}`;
  else if (err instanceof Error) text = `${(err as NodeJS.ErrnoException).code ? `${(err as NodeJS.ErrnoException).code}: ` : ''}${err.message}`;
  else text = String(err);
  return scrubSecret(text, secret);
}

function retryAfterHeader(err: unknown): number | undefined {
  const headers = (err as { headers?: Record<string, string | undefined> })?.headers;
  const value = headers?.['retry-after'];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

/**
 * Classifies a failed call (`what` names it for messages). `M_LIMIT_EXCEEDED`/429 → PlatformRateLimitError
 * (retry_after_ms; the limit is per account, so it holds back every room); other 4xx → permanent;
 * 5xx, timeouts and network errors → not permanent (the scheduler retries).
 */
export function classifyMatrixError(err: unknown, what: string, secret?: string): PlatformRateLimitError | PlatformError {
  const status = statusOf(err);
  const errcode = errcodeOf(err);
  const why = describe(err, secret);
  if (errcode === 'M_LIMIT_EXCEEDED' || status === 429) {
    const ms = (err instanceof MatrixError ? err.retryAfterMs : undefined) ?? retryAfterHeader(err) ?? DEFAULT_RETRY_AFTER_MS;
    return new PlatformRateLimitError(ms, `matrix ${what}: ${why}`, { global: true });
  }
  if (status !== undefined) {
    return new PlatformError(`matrix ${what}: ${why}`, errcode ?? status, status >= 400 && status < 500);
  }
  return new PlatformError(`matrix ${what}: ${why}`, 'network', false);
}

/**
 * Runs an SDK call under `signal`. The SDK's requests cannot be cancelled, so an abort stops the wait
 * (the request ends by its own timeout); failures come back classified.
 */
export async function call<T>(what: string, signal: AbortSignal | undefined, fn: () => Promise<T>, secret?: string): Promise<T> {
  signal?.throwIfAborted();
  const work = fn();
  work.catch(() => {}); // after an abort nobody waits for it any more
  try {
    if (!signal) return await work;
    return await new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
        (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
      );
    });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw classifyMatrixError(err, what, secret);
  }
}
