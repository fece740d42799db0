// LoopClient: the Loop API v1 over undici (one keep-alive Agent per client). Non-streaming calls get a
// whole-call timeout; streams get a headers timeout plus an idle-read timeout. Safe calls are retried on
// 5xx/429/network errors; unsafe ones only when the caller makes them safe (idempotency key, opt-in).

import { Agent, request, type Dispatcher } from 'undici';
import {
  LoopApiError,
  LoopNotFoundError,
  errorFromResponse,
  redact,
  transportError,
} from './errors.js';
import { resolveRetryPolicy, withRetry, type RetryPolicy } from './retry.js';
import { SseDecoder } from './sse.js';
import type {
  ChoiceAnswer,
  CreateLoopInput,
  ListLoopsQuery,
  Loop,
  LoopEvent,
  LoopPage,
  SendMessageInput,
} from './types.js';

/** Minimal logger (a pino-compatible subset). */
export interface LoopClientLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Options of LoopClient. */
export interface LoopClientOptions {
  /** Server origin, e.g. https://loopat.example.com; '/api/v1' is appended unless already there. */
  baseUrl: string;
  /** Bearer token la_…; never logged or put in an error message. */
  token: string;
  /** Per-request timeout for non-streaming calls and for SSE response headers, ms. Default 30000. */
  timeoutMs?: number;
  /**
   * A stream that delivers no bytes for this long is treated as cut, ms. Default 45000 (three missed
   * 15 s heartbeats). 0 disables it.
   */
  streamIdleTimeoutMs?: number;
  /**
   * Retry policy for 5xx/network errors on safe calls. Defaults: attempts 4, baseDelayMs 250,
   * maxDelayMs 5000 (full jitter), maxRetryAfterMs 60000 (a longer 429 wait is thrown instead).
   */
  retry?: Partial<RetryPolicy>;
  /** Optional logger with debug/warn (pino-compatible subset). */
  logger?: LoopClientLogger;
}

/** Per-call options. */
export interface CallOptions {
  /** Cancels the call (and its retries, and an open stream). */
  signal?: AbortSignal;
}

/** Options of watch. */
export interface WatchOptions extends CallOptions {
  /** Called once the server answered with the stream (this watcher now receives the loop's live events). */
  onOpen?: () => void;
}

/** Options of createLoop. */
export interface CreateLoopOptions extends CallOptions {
  /** Retry 5xx/network failures although a retry may create a second loop. Default false. */
  retryUnsafe?: boolean;
}

/** Options of sendMessage. */
export interface SendMessageOptions extends CallOptions {
  /** Idempotency-Key (≤ 256 chars). With it, 5xx/network failures before the stream are retried. */
  idempotencyKey?: string;
}

interface CallSpec {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  retry: boolean;
  what: string;
  /** Told the 1-based attempt number before each try. */
  onAttempt?: (attempt: number) => void;
  /** Streams: called once the response headers accepted the stream. */
  onOpen?: () => void;
}

const NOOP_LOGGER: LoopClientLogger = { debug() {}, warn() {} };

/** Client of one Loop API v1 server with one token. */
export class LoopClient {
  private readonly base: string;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly streamIdleTimeoutMs: number;
  private readonly policy: RetryPolicy;
  private readonly log: LoopClientLogger;
  private readonly agent: Agent;
  /** Aborted by close(): ends every open stream and pending call. */
  private readonly lifetime = new AbortController();

  constructor(options: LoopClientOptions) {
    const trimmed = options.baseUrl.replace(/\/+$/, '');
    this.base = trimmed.endsWith('/api/v1') ? trimmed : `${trimmed}/api/v1`;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.streamIdleTimeoutMs = options.streamIdleTimeoutMs ?? 45_000;
    this.policy = resolveRetryPolicy(options.retry);
    this.log = options.logger ?? NOOP_LOGGER;
    // Keep-alive well under the server's own idle cut (Bun: ~10 s) so we rarely reuse a dying socket.
    this.agent = new Agent({ keepAliveTimeout: 4_000, keepAliveMaxTimeout: 8_000 });
  }

  /** POST /loops. Not retried (a repeat would create a second loop) unless `retryUnsafe`. */
  async createLoop(input: CreateLoopInput = {}, o: CreateLoopOptions = {}): Promise<Loop> {
    return (await this.json({ method: 'POST', path: '/loops', body: input, signal: o.signal, retry: !!o.retryUnsafe, what: 'createLoop' })) as Loop;
  }

  /** GET /loops/{id}, with the runtime fields busy/queue_depth/current_turn. */
  async getLoop(loopId: string, o: CallOptions = {}): Promise<Loop> {
    return (await this.json({ method: 'GET', path: `/loops/${enc(loopId)}`, signal: o.signal, retry: true, what: 'getLoop' })) as Loop;
  }

  /** GET /loops: one page, newest created first. */
  async listLoops(query: ListLoopsQuery = {}, o: CallOptions = {}): Promise<LoopPage> {
    const q: Record<string, string> = {};
    if (query.limit !== undefined) q.limit = String(query.limit);
    if (query.after !== undefined) q.after = query.after;
    if (query.before !== undefined) q.before = query.before;
    if (query.archived) q.archived = 'true';
    return (await this.json({ method: 'GET', path: '/loops', query: q, signal: o.signal, retry: true, what: 'listLoops' })) as LoopPage;
  }

  /** Pages forward with after=<last_id> while has_more. */
  async *listAllLoops(query: Omit<ListLoopsQuery, 'after' | 'before'> = {}, o: CallOptions = {}): AsyncIterable<Loop> {
    const seen = new Set<string>();
    let after: string | undefined;
    for (;;) {
      const page = await this.listLoops({ ...query, after }, o);
      for (const loop of page.data) {
        // Loops created while paging shift nothing forward (order is by creation), but be safe anyway.
        if (seen.has(loop.id)) continue;
        seen.add(loop.id);
        yield loop;
      }
      if (!page.has_more || !page.last_id || page.last_id === after) return;
      after = page.last_id;
    }
  }

  /** DELETE /loops/{id}: archive (idempotent on the server, so retried). */
  async archiveLoop(loopId: string, o: CallOptions = {}): Promise<void> {
    await this.empty({ method: 'DELETE', path: `/loops/${enc(loopId)}`, signal: o.signal, retry: true, what: 'archiveLoop' });
  }

  /**
   * POST /messages: the raw turn stream (closes at done/interrupted/error or when cut). Errors before the
   * stream are thrown as typed errors. Retried on 5xx/network ONLY when idempotencyKey is given. A cut
   * (server idle cut, network drop, idle-read timeout) or the caller's abort simply ends the iteration.
   */
  sendMessage(loopId: string, input: SendMessageInput, o: SendMessageOptions = {}): AsyncIterable<LoopEvent> {
    const body: Record<string, unknown> = { content: input.content };
    if (input.images !== undefined) body.images = input.images;
    if (input.permissionMode !== undefined) body.permission_mode = input.permissionMode;
    const headers: Record<string, string> = {};
    if (o.idempotencyKey !== undefined) headers['idempotency-key'] = o.idempotencyKey;
    return this.stream(
      { method: 'POST', path: `/loops/${enc(loopId)}/messages`, body, headers, signal: o.signal, retry: o.idempotencyKey !== undefined, what: 'sendMessage' },
      true,
    );
  }

  /** GET /events: live events until the signal aborts or the server cuts the stream (then it just ends). */
  watch(loopId: string, o: WatchOptions = {}): AsyncIterable<LoopEvent> {
    return this.stream({ method: 'GET', path: `/loops/${enc(loopId)}/events`, signal: o.signal, retry: true, what: 'watch', onOpen: o.onOpen }, false);
  }

  /**
   * POST /choices/{id}. Retried on 5xx/network: a repeat of an answer that did land gives 404
   * choice_not_found, which after a retry is taken as success.
   */
  async answerChoice(loopId: string, choiceId: string, answer: ChoiceAnswer, o: CallOptions = {}): Promise<void> {
    let attempts = 0;
    try {
      await this.empty({
        method: 'POST',
        path: `/loops/${enc(loopId)}/choices/${enc(choiceId)}`,
        body: answer,
        signal: o.signal,
        retry: true,
        what: 'answerChoice',
        onAttempt: (n) => (attempts = n),
      });
    } catch (err) {
      if (attempts > 1 && err instanceof LoopNotFoundError && err.code === 'choice_not_found') {
        this.log.debug({ loopId, choiceId }, 'answerChoice: 404 after a retry, the first answer landed');
        return;
      }
      throw err;
    }
  }

  /** POST /interrupt (202 even when idle, so safe to repeat). */
  async interrupt(loopId: string, o: CallOptions = {}): Promise<void> {
    await this.empty({ method: 'POST', path: `/loops/${enc(loopId)}/interrupt`, signal: o.signal, retry: true, what: 'interrupt' });
  }

  /** Ends open streams and pending calls, then closes the connection pool. */
  async close(): Promise<void> {
    this.lifetime.abort();
    await this.agent.close().catch(() => this.agent.destroy());
  }

  // ---- internals -------------------------------------------------------------------------------------

  private async json(spec: CallSpec): Promise<unknown> {
    const text = await this.call(spec);
    try {
      return JSON.parse(text);
    } catch {
      throw new LoopApiError({ code: 'protocol_error', message: `${spec.what}: response is not JSON` });
    }
  }

  private async empty(spec: CallSpec): Promise<void> {
    await this.call(spec);
  }

  /** One non-streaming call with retries; resolves to the 2xx body text. */
  private call(spec: CallSpec): Promise<string> {
    return this.retrying(spec, async (attempt) => {
      spec.onAttempt?.(attempt);
      const { res, done } = await this.send(spec, false);
      try {
        const text = await res.body.text();
        if (res.statusCode >= 200 && res.statusCode < 300) return text;
        throw errorFromResponse({ status: res.statusCode, headers: res.headers, body: text }, [this.token]);
      } catch (err) {
        throw this.wrap(err, spec, done.timedOut());
      } finally {
        done.finish();
      }
    });
  }

  private retrying<T>(spec: CallSpec, fn: (attempt: number) => Promise<T>): Promise<T> {
    if (!spec.retry) return fn(1);
    return withRetry(fn, {
      policy: this.policy,
      signal: this.signalOf(spec),
      onRetry: ({ attempt, delayMs, error }) =>
        this.log.debug(
          { call: spec.what, attempt, delayMs, code: (error as LoopApiError).code, status: (error as LoopApiError).status },
          'loop-api: retrying',
        ),
    });
  }

  private signalOf(spec: CallSpec): AbortSignal {
    return spec.signal ? AbortSignal.any([spec.signal, this.lifetime.signal]) : this.lifetime.signal;
  }

  /**
   * Sends one request. For non-streams the timer covers the whole call (cleared by `finish`); for
   * streams it covers only the headers (cleared once they arrive), the idle read is undici's bodyTimeout.
   */
  private async send(spec: CallSpec, streaming: boolean) {
    const outer = this.signalOf(spec);
    const timer = new AbortController();
    let timedOut = false;
    const handle = setTimeout(() => {
      timedOut = true;
      timer.abort();
    }, this.timeoutMs);
    const done = { finish: () => clearTimeout(handle), timedOut: () => timedOut };
    const url = new URL(this.base + spec.path);
    if (spec.query) for (const [k, v] of Object.entries(spec.query)) url.searchParams.set(k, v);
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.token}`,
      accept: streaming ? 'text/event-stream' : 'application/json',
      ...spec.headers,
    };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res: Dispatcher.ResponseData = await request(url, {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: AbortSignal.any([outer, timer.signal]),
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs + 1_000,
        bodyTimeout: streaming ? this.streamIdleTimeoutMs : this.timeoutMs + 1_000,
      });
      return { res, done };
    } catch (err) {
      done.finish();
      throw this.wrap(err, spec, timedOut);
    }
  }

  /** Turns anything thrown by undici into a typed error (typed errors pass through). */
  private wrap(err: unknown, spec: CallSpec, timedOut: boolean): LoopApiError {
    if (err instanceof LoopApiError) return err;
    if (spec.signal?.aborted || this.lifetime.signal.aborted) return transportError('aborted', spec.what, err, [this.token]);
    const code = (err as { code?: string } | null)?.code;
    if (timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return transportError('timeout', spec.what, err, [this.token]);
    }
    return transportError('network_error', spec.what, err, [this.token]);
  }

  private async *stream(spec: CallSpec, isPost: boolean): AsyncGenerator<LoopEvent> {
    const { res, done } = await this.retrying(spec, async () => {
      const r = await this.send(spec, true);
      try {
        if (r.res.statusCode < 200 || r.res.statusCode >= 300) {
          const text = await r.res.body.text();
          throw errorFromResponse({ status: r.res.statusCode, headers: r.res.headers, body: text }, [this.token]);
        }
        const ct = String(r.res.headers['content-type'] ?? '');
        if (!ct.includes('text/event-stream')) {
          await r.res.body.dump().catch(() => {});
          throw new LoopApiError({ code: 'protocol_error', status: r.res.statusCode, message: `${spec.what}: expected text/event-stream, got '${redact(ct, [this.token])}'` });
        }
        r.done.finish();
        return r;
      } catch (err) {
        r.done.finish();
        throw this.wrap(err, spec, r.done.timedOut());
      }
    });
    done.finish();
    spec.onOpen?.();
    let count = 0;
    // Decoded here rather than through decodeSse: one async generator less per event (they are most of
    // the client's garbage at a thousand concurrent turns).
    const decoder = new SseDecoder();
    try {
      for await (const chunk of res.body) {
        const events = decoder.push(chunk as Uint8Array);
        for (let i = 0; i < events.length; i++) {
          const ev = events[i];
          count++;
          yield ev;
          if (isPost && (ev.type === 'done' || ev.type === 'interrupted' || ev.type === 'error')) return;
        }
      }
      for (const ev of decoder.end()) {
        count++;
        yield ev;
        if (isPost && (ev.type === 'done' || ev.type === 'interrupted' || ev.type === 'error')) return;
      }
      this.log.debug({ call: spec.what, events: count }, 'loop-api: stream ended by server');
    } catch (err) {
      if (err instanceof LoopApiError && err.code === 'protocol_error') throw err;
      if (!(spec.signal?.aborted || this.lifetime.signal.aborted)) {
        const code = (err as { code?: string } | null)?.code;
        this.log.debug({ call: spec.what, events: count, code }, 'loop-api: stream cut');
      }
    } finally {
      // Early exit (terminal, consumer break, error): free the socket without waiting for more bytes.
      if (!res.body.destroyed) res.body.destroy();
    }
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}
