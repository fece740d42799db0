// Capped exponential backoff with full jitter ("sleep = random(0, min(cap, base·2^n))"): spreads a crowd
// of reconnecting bridges evenly instead of in synchronized waves. A 429's Retry-After overrides it.

import { LoopRateLimitError, isRetryable, transportError } from './errors.js';

/** Retry policy for safe calls. */
export interface RetryPolicy {
  /** Total tries including the first. Default 4. */
  attempts: number;
  /** Backoff base, ms. Default 250. */
  baseDelayMs: number;
  /** Backoff cap, ms. Default 5000. */
  maxDelayMs: number;
  /** A 429 asking to wait longer than this is not retried (the error is thrown), ms. Default 60000. */
  maxRetryAfterMs: number;
}

/** The defaults of RetryPolicy. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 5000, maxRetryAfterMs: 60_000 };

/** Fills a partial policy with the defaults (negative or NaN values fall back to them). */
export function resolveRetryPolicy(p: Partial<RetryPolicy> | undefined): RetryPolicy {
  const pick = (v: number | undefined, d: number, min: number) =>
    typeof v === 'number' && Number.isFinite(v) && v >= min ? v : d;
  return {
    attempts: Math.floor(pick(p?.attempts, DEFAULT_RETRY.attempts, 1)),
    baseDelayMs: pick(p?.baseDelayMs, DEFAULT_RETRY.baseDelayMs, 0),
    maxDelayMs: pick(p?.maxDelayMs, DEFAULT_RETRY.maxDelayMs, 0),
    maxRetryAfterMs: pick(p?.maxRetryAfterMs, DEFAULT_RETRY.maxRetryAfterMs, 0),
  };
}

/** Delay before retry number `retry` (0 = first retry), ms: uniform in [0, min(max, base·2^retry)). */
export function backoffDelay(
  retry: number,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry, 30));
  return Math.floor(random() * ceiling);
}

/** Resolves after `ms`, or rejects with a LoopTransportError('aborted') as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(transportError('aborted', 'wait', signal.reason));
    const onAbort = () => {
      clearTimeout(timer);
      reject(transportError('aborted', 'wait', signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Options of withRetry. */
export interface WithRetryOptions {
  policy: RetryPolicy;
  signal?: AbortSignal;
  /** Which errors to retry; default `isRetryable` (5xx, 429, network, timeout). */
  shouldRetry?: (err: unknown) => boolean;
  /** Called before each wait (for logging). */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Injectable randomness for tests. Default Math.random. */
  random?: () => number;
}

/**
 * Runs `fn` up to `policy.attempts` times. `fn` gets the 1-based attempt number. An abort stops at once
 * (during a wait too); a 429 waits its Retry-After instead of the backoff.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, o: WithRetryOptions): Promise<T> {
  const shouldRetry = o.shouldRetry ?? isRetryable;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (o.signal?.aborted || attempt >= o.policy.attempts || !shouldRetry(err)) throw err;
      let delayMs = backoffDelay(attempt - 1, o.policy, o.random);
      if (err instanceof LoopRateLimitError && err.retryAfterMs !== undefined) {
        if (err.retryAfterMs > o.policy.maxRetryAfterMs) throw err;
        delayMs = err.retryAfterMs;
      }
      o.onRetry?.({ attempt, delayMs, error: err });
      await sleep(delayMs, o.signal);
    }
  }
}
