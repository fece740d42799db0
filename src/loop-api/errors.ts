// Typed errors of the Loop API client. One base class with a closed `code` union; subclasses are what a
// caller branches on. Messages are built only from status, envelope type/code/message and our own text,
// and every message passes through `redact` so the bearer token can never leak into logs.

import { LOOP_ERROR_CODES, type ErrorType, type LoopErrorCode } from './types.js';

/** Every `code` a LoopApiError can carry: the server's codes plus the client's own. */
export type LoopApiErrorCode =
  | LoopErrorCode
  /** A status whose body was not a known JSON envelope (e.g. a proxy's HTML, `Internal Server Error`). */
  | 'http_error'
  /** Connection refused/reset, DNS, socket closed before the response. */
  | 'network_error'
  /** The call's own timeout (`timeoutMs`) fired. */
  | 'timeout'
  /** The caller's AbortSignal fired. */
  | 'aborted'
  /** The server answered something that breaks the contract (e.g. unparsable JSON on a 2xx). */
  | 'protocol_error';

const KNOWN_CODES: ReadonlySet<string> = new Set(LOOP_ERROR_CODES);

/** Constructor fields shared by every LoopApiError. */
export interface LoopApiErrorInit {
  code: LoopApiErrorCode;
  message: string;
  /** HTTP status, when a response arrived. */
  status?: number;
  /** Envelope `error.type`, when the body was an envelope. */
  type?: ErrorType | string;
  /** The raw envelope code when it is not one we know (then `code` is 'http_error'). */
  serverCode?: string;
  /** Whether repeating a *safe* call may succeed (5xx, network, timeout, 429). */
  retryable?: boolean;
  cause?: unknown;
}

/** Base class of every error the Loop API client throws. */
export class LoopApiError extends Error {
  override name = 'LoopApiError';
  readonly code: LoopApiErrorCode;
  readonly status?: number;
  readonly type?: ErrorType | string;
  readonly serverCode?: string;
  readonly retryable: boolean;
  constructor(init: LoopApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.type = init.type;
    this.serverCode = init.serverCode;
    this.retryable = init.retryable ?? false;
  }
}

/** 401: missing, malformed, unknown or revoked token (always `missing_credentials` on the real server). */
export class LoopAuthError extends LoopApiError {
  override name = 'LoopAuthError';
}
/** 403: `not_loop_owner` or `onboarding_incomplete`. */
export class LoopPermissionError extends LoopApiError {
  override name = 'LoopPermissionError';
}
/** 404: `loop_not_found`, `choice_not_found` (expired/answered/wrong kind) or `token_not_found`. */
export class LoopNotFoundError extends LoopApiError {
  override name = 'LoopNotFoundError';
}
/** 400 `loop_archived`: the loop no longer accepts messages. */
export class LoopArchivedError extends LoopApiError {
  override name = 'LoopArchivedError';
}
/** Any other 400 (limits, missing content, bad choice payload…). */
export class LoopValidationError extends LoopApiError {
  override name = 'LoopValidationError';
}
/** 409 `idempotency_key_reused`: same key, different content. */
export class LoopConflictError extends LoopApiError {
  override name = 'LoopConflictError';
}
/** 429: `retryAfterMs` is the server's Retry-After in milliseconds (undefined when absent). */
export class LoopRateLimitError extends LoopApiError {
  override name = 'LoopRateLimitError';
  readonly retryAfterMs?: number;
  constructor(init: LoopApiErrorInit & { retryAfterMs?: number }) {
    super(init);
    this.retryAfterMs = init.retryAfterMs;
  }
}
/** 5xx, including non-JSON bodies such as a bare `Internal Server Error`. */
export class LoopServerError extends LoopApiError {
  override name = 'LoopServerError';
}
/** No usable response: `network_error`, `timeout` or `aborted`. */
export class LoopTransportError extends LoopApiError {
  override name = 'LoopTransportError';
}

/** Replaces every occurrence of each secret in `text` with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/** Parses Retry-After (delta seconds or an HTTP date) into ms; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** What `errorFromResponse` needs of an HTTP response. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as text (may be empty, HTML, or an envelope). */
  body: string;
}

/**
 * Maps a non-2xx response to the matching typed error (the one place where statuses become classes).
 * `secrets` are scrubbed from the message, in case a server or proxy echoes a header back.
 */
export function errorFromResponse(res: ErrorResponse, secrets: readonly string[] = []): LoopApiError {
  let type: string | undefined;
  let rawCode: string | undefined;
  let serverMessage: string | undefined;
  try {
    const parsed: unknown = JSON.parse(res.body);
    const err = (parsed as { error?: unknown } | null)?.error as Record<string, unknown> | undefined;
    if (err && typeof err === 'object') {
      if (typeof err.type === 'string') type = err.type;
      if (typeof err.code === 'string') rawCode = err.code;
      if (typeof err.message === 'string') serverMessage = err.message;
    }
  } catch {
    // Non-JSON body (proxy page, Hono's text/plain 500): keep only a short snippet.
  }
  const code: LoopApiErrorCode = rawCode !== undefined && KNOWN_CODES.has(rawCode) ? (rawCode as LoopErrorCode) : 'http_error';
  const detail = serverMessage ?? snippet(res.body);
  const label = rawCode !== undefined ? `${type ?? 'error'}/${rawCode}` : 'non-envelope body';
  const message = redact(`Loop API ${res.status} (${label})${detail ? `: ${detail}` : ''}`, secrets);
  const init: LoopApiErrorInit = { code, message, status: res.status, type, serverCode: rawCode, retryable: false };
  const s = res.status;
  if (s === 401) return new LoopAuthError(init);
  if (s === 403) return new LoopPermissionError(init);
  if (s === 404) return new LoopNotFoundError(init);
  if (s === 409) return new LoopConflictError(init);
  if (s === 429) {
    return new LoopRateLimitError({ ...init, retryable: true, retryAfterMs: parseRetryAfter(res.headers['retry-after']) });
  }
  if (s >= 500) return new LoopServerError({ ...init, retryable: true });
  if (s === 400 && code === 'loop_archived') return new LoopArchivedError(init);
  if (s === 400) return new LoopValidationError(init);
  return new LoopApiError(init);
}

function snippet(body: string): string {
  const t = body.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

/**
 * Wraps a failure with no usable response. The original error is NOT kept as-is (library errors can
 * carry request details); the cause is a plain Error with the scrubbed name, message and code.
 */
export function transportError(
  kind: 'network_error' | 'timeout' | 'aborted',
  what: string,
  original: unknown,
  secrets: readonly string[] = [],
): LoopTransportError {
  const base =
    kind === 'timeout' ? `${what} timed out` : kind === 'aborted' ? `${what} aborted` : `${what} failed: network error`;
  let cause: Error | undefined;
  if (original instanceof Error) {
    cause = new Error(redact(`${original.name}: ${original.message}`, secrets));
    const oc = (original as { code?: unknown }).code;
    if (typeof oc === 'string') (cause as Error & { code?: string }).code = oc;
    cause.stack = cause.message; // the original stack frames say nothing useful and could carry data
  }
  const suffix = kind === 'network_error' && cause ? ` (${cause.message})` : '';
  return new LoopTransportError({
    code: kind,
    message: redact(base + suffix, secrets),
    retryable: kind !== 'aborted',
    cause,
  });
}

/** True when repeating a safe call may help: 5xx, 429, network errors and timeouts; never an abort. */
export function isRetryable(err: unknown): boolean {
  return err instanceof LoopApiError && err.retryable;
}
