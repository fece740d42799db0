import { describe, expect, it } from 'vitest';
import { LoopRateLimitError, LoopServerError, LoopTransportError, LoopValidationError } from '../../src/loop-api/errors.js';
import { backoffDelay, resolveRetryPolicy, sleep, withRetry } from '../../src/loop-api/retry.js';

const fast = resolveRetryPolicy({ attempts: 4, baseDelayMs: 1, maxDelayMs: 2 });
const server = () => new LoopServerError({ code: 'http_error', message: 'x', status: 503, retryable: true });

describe('backoffDelay', () => {
  it('stays within [0, min(cap, base·2^n)) with full jitter', () => {
    const p = { baseDelayMs: 250, maxDelayMs: 5000 };
    expect(backoffDelay(0, p, () => 0)).toBe(0);
    expect(backoffDelay(0, p, () => 0.999999)).toBe(249);
    expect(backoffDelay(3, p, () => 0.999999)).toBe(1999);
    expect(backoffDelay(10, p, () => 0.999999)).toBe(4999); // capped
    expect(backoffDelay(1000, p, () => 0.5)).toBe(2500); // huge n does not overflow
    for (let n = 0; n < 12; n++) {
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(n, p);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.min(5000, 250 * 2 ** n));
      }
    }
  });

  it('resolves defaults and rejects nonsense values', () => {
    expect(resolveRetryPolicy(undefined)).toEqual({ attempts: 4, baseDelayMs: 250, maxDelayMs: 5000, maxRetryAfterMs: 60000 });
    expect(resolveRetryPolicy({ attempts: 0, baseDelayMs: -1, maxDelayMs: NaN })).toEqual({ attempts: 4, baseDelayMs: 250, maxDelayMs: 5000, maxRetryAfterMs: 60000 });
  });
});

describe('withRetry', () => {
  it('retries retryable errors up to the attempt limit then throws the last error', async () => {
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw server(); }, { policy: fast })).rejects.toBeInstanceOf(LoopServerError);
    expect(calls).toBe(4);
  });

  it('returns once a retry succeeds', async () => {
    let calls = 0;
    const v = await withRetry(async (n) => { calls++; if (n < 3) throw server(); return 'ok'; }, { policy: fast });
    expect(v).toBe('ok');
    expect(calls).toBe(3);
  });

  it('does not retry non-retryable errors', async () => {
    let calls = 0;
    const bad = new LoopValidationError({ code: 'missing_content', message: 'x', status: 400 });
    await expect(withRetry(async () => { calls++; throw bad; }, { policy: fast })).rejects.toBe(bad);
    expect(calls).toBe(1);
  });

  it('waits the 429 Retry-After instead of the backoff, and throws when it is too long', async () => {
    const waits: number[] = [];
    let calls = 0;
    await withRetry(async () => {
      calls++;
      if (calls === 1) throw new LoopRateLimitError({ code: 'too_many_requests', message: 'x', status: 429, retryable: true, retryAfterMs: 20 });
      return 1;
    }, { policy: fast, onRetry: (i) => waits.push(i.delayMs) });
    expect(waits).toEqual([20]);
    const long = new LoopRateLimitError({ code: 'too_many_requests', message: 'x', status: 429, retryable: true, retryAfterMs: 10 * 60_000 });
    calls = 0;
    await expect(withRetry(async () => { calls++; throw long; }, { policy: fast })).rejects.toBe(long);
    expect(calls).toBe(1);
  });

  it('stops immediately when aborted during a wait, without another attempt', async () => {
    const ac = new AbortController();
    let calls = 0;
    const slow = resolveRetryPolicy({ attempts: 10, baseDelayMs: 60_000, maxDelayMs: 60_000 });
    const p = withRetry(async () => { calls++; throw server(); }, { policy: slow, signal: ac.signal, random: () => 0.99 });
    setTimeout(() => ac.abort(), 10);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoopTransportError);
    expect((err as LoopTransportError).code).toBe('aborted');
    expect(calls).toBe(1);
  });

  it('does not start when already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(sleep(1000, ac.signal)).rejects.toMatchObject({ code: 'aborted' });
  });
});
