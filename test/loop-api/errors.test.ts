import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopClient } from '../../src/loop-api/client.js';
import {
  LoopApiError, LoopArchivedError, LoopAuthError, LoopConflictError, LoopNotFoundError, LoopPermissionError,
  LoopRateLimitError, LoopServerError, LoopValidationError, errorFromResponse, isRetryable,
  parseRetryAfter, transportError,
} from '../../src/loop-api/errors.js';

const TOKEN = 'la_0123456789abcdef0123456789abcdef0123456789abcdef';
const env = (type: string, code: string, message = 'msg') => JSON.stringify({ error: { type, code, message } });
const res = (status: number, body: string, headers: Record<string, string> = {}) => errorFromResponse({ status, headers, body }, [TOKEN]);

/** Every piece of text an error can leak through: message, stack, and the whole cause chain. */
function allText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    if (e instanceof Error) {
      parts.push(e.message, e.stack ?? '', JSON.stringify(e), String(e));
      for (const k of Object.keys(e)) parts.push(String((e as unknown as Record<string, unknown>)[k]));
      e = e.cause;
    } else {
      parts.push(typeof e === 'string' ? e : JSON.stringify(e));
      break;
    }
  }
  return parts.join('\n');
}

describe('errorFromResponse', () => {
  it('maps statuses and envelope codes to the classes callers decide on', () => {
    const cases: [number, string, new (...a: never[]) => LoopApiError, string][] = [
      [401, env('authentication_error', 'missing_credentials'), LoopAuthError, 'missing_credentials'],
      [403, env('permission_error', 'not_loop_owner'), LoopPermissionError, 'not_loop_owner'],
      [403, env('permission_error', 'onboarding_incomplete'), LoopPermissionError, 'onboarding_incomplete'],
      [404, env('not_found_error', 'loop_not_found'), LoopNotFoundError, 'loop_not_found'],
      [404, env('not_found_error', 'choice_not_found'), LoopNotFoundError, 'choice_not_found'],
      [400, env('invalid_request_error', 'loop_archived'), LoopArchivedError, 'loop_archived'],
      [400, env('invalid_request_error', 'missing_content'), LoopValidationError, 'missing_content'],
      [400, env('invalid_request_error', 'invalid_choice_payload'), LoopValidationError, 'invalid_choice_payload'],
      [409, env('conflict_error', 'idempotency_key_reused'), LoopConflictError, 'idempotency_key_reused'],
      [429, env('rate_limit_error', 'too_many_requests'), LoopRateLimitError, 'too_many_requests'],
      [500, 'Internal Server Error', LoopServerError, 'http_error'],
      [502, '<html>bad gateway</html>', LoopServerError, 'http_error'],
      [500, env('internal_error', 'sandbox_spawn_failed'), LoopServerError, 'sandbox_spawn_failed'],
      [400, env('invalid_request_error', 'some_future_code'), LoopValidationError, 'http_error'],
      [418, 'teapot', LoopApiError, 'http_error'],
    ];
    for (const [status, body, cls, code] of cases) {
      const e = res(status, body);
      expect(e, `${status} ${body}`).toBeInstanceOf(cls);
      expect(e.code).toBe(code);
      expect(e.status).toBe(status);
    }
    const future = res(400, env('invalid_request_error', 'some_future_code'));
    expect(future.serverCode).toBe('some_future_code');
    expect(future.type).toBe('invalid_request_error');
  });

  it('classifies retryability: 5xx and 429 yes, other 4xx no', () => {
    expect(isRetryable(res(500, 'x'))).toBe(true);
    expect(isRetryable(res(503, env('internal_error', 'x')))).toBe(true);
    expect(isRetryable(res(429, env('rate_limit_error', 'too_many_requests')))).toBe(true);
    for (const s of [400, 401, 403, 404, 409]) expect(isRetryable(res(s, env('x', 'y')))).toBe(false);
    expect(isRetryable(transportError('network_error', 'x', new Error('ECONNRESET')))).toBe(true);
    expect(isRetryable(transportError('timeout', 'x', undefined))).toBe(true);
    expect(isRetryable(transportError('aborted', 'x', undefined))).toBe(false);
    expect(isRetryable(new Error('plain'))).toBe(false);
  });

  it('reads Retry-After seconds or HTTP date as milliseconds', () => {
    expect((res(429, '', { 'retry-after': '3' }) as LoopRateLimitError).retryAfterMs).toBe(3000);
    expect((res(429, '', {}) as LoopRateLimitError).retryAfterMs).toBeUndefined();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:10 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(['2'], now)).toBe(2000);
  });

  it('never carries the token, even when a body or cause echoes it', () => {
    const echo = `Authorization: Bearer ${TOKEN}`;
    const errs = [
      res(401, env('authentication_error', 'missing_credentials', `bad token ${TOKEN}`)),
      res(500, echo),
      res(429, env('rate_limit_error', 'too_many_requests', echo), { 'retry-after': '1' }),
      transportError('network_error', 'getLoop', Object.assign(new Error(`connect failed ${echo}`), { code: 'ECONNREFUSED' }), [TOKEN]),
      transportError('timeout', 'getLoop', new Error(echo), [TOKEN]),
      transportError('aborted', 'getLoop', new Error(echo), [TOKEN]),
    ];
    for (const e of errs) {
      expect(allText(e)).not.toContain(TOKEN);
      expect(allText(e)).not.toContain(TOKEN.slice(3)); // nor its hex body
    }
  });
});

describe('errors from the real client never leak the token', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    // A hostile peer: echoes the Authorization header back in every error body, stalls on /stall.
    server = createServer((req, reply) => {
      const auth = String(req.headers.authorization);
      const m = /status=(\d+)/.exec(decodeURIComponent(req.url ?? ''));
      if (req.url?.includes('stall')) return; // never answers
      if (req.url?.includes('drop')) return req.socket.destroy();
      const status = m ? Number(m[1]) : 404;
      reply.writeHead(status, { 'content-type': status === 500 ? 'text/plain' : 'application/json', 'retry-after': '0' });
      reply.end(status === 500 ? `Internal Server Error (${auth})` : env('x_error', 'loop_not_found', `you sent ${auth}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('for every kind of failure', async () => {
    const c = new LoopClient({ baseUrl: base, token: TOKEN, timeoutMs: 300, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    const dead = new LoopClient({ baseUrl: 'http://127.0.0.1:1', token: TOKEN, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    const ac = new AbortController();
    ac.abort();
    const failures: Promise<unknown>[] = [];
    for (const s of [400, 401, 403, 404, 409, 429, 500, 503]) failures.push(c.getLoop(`x?status=${s}`));
    failures.push(c.getLoop('stall'), c.getLoop('drop'), dead.getLoop('x'), c.getLoop('x', { signal: ac.signal }));
    failures.push((async () => { for await (const _ of c.watch('x?status=403')) void _; })());
    failures.push((async () => { for await (const _ of c.sendMessage('x?status=500', { content: 'hi' }, { idempotencyKey: 'k' })) void _; })());
    const results = await Promise.allSettled(failures);
    const kinds = new Set<string>();
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const e = (r as PromiseRejectedResult).reason;
      expect(e).toBeInstanceOf(LoopApiError);
      kinds.add(`${e.constructor.name}:${e.code}`);
      expect(allText(e)).not.toContain(TOKEN);
    }
    expect(kinds).toContain('LoopTransportError:timeout');
    expect(kinds).toContain('LoopTransportError:network_error');
    expect(kinds).toContain('LoopTransportError:aborted');
    expect(kinds).toContain('LoopServerError:http_error');
    expect(kinds).toContain('LoopRateLimitError:loop_not_found');
    await c.close();
    await dead.close();
  });
});
