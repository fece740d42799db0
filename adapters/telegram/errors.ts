// Every Bot API failure is classified here, in one place: what the core's scheduler should do with it
// (wait, retry, give up) and which failures are really successes or call for a plain-text resend.
// The token must never leak: grammy's network errors wrap fetch errors whose text can hold the request
// URL (`/bot<token>/method`), so every message that leaves this file is scrubbed.
import { GrammyError, HttpError } from 'grammy';
import { PlatformError, PlatformRateLimitError } from '../../src/core/adapter-types.js';
import { redactSecrets } from '../shared/redact.js';
import { AdapterStartupError } from '../shared/startup-error.js';

/** Why the adapter could not start. */
export type TelegramStartupCode = 'unauthorized' | 'conflict' | 'network' | 'webhook';

/** A start() failure the operator must act on (wrong token, a second poller, unreachable API, webhook refused). */
export class TelegramStartupError extends AdapterStartupError<TelegramStartupCode> {
  override readonly name = 'TelegramStartupError';
}

/** What a caller does with a failed Bot API call. */
export type TelegramFailure =
  /** An edit that changed nothing: the message already shows this content. */
  | { kind: 'not-modified' }
  /** The HTML did not parse on Telegram's side: resend once as plain text. */
  | { kind: 'parse-entities'; error: PlatformError }
  /** answerCallbackQuery on a query that is too old or already answered: nothing left to do. */
  | { kind: 'query-expired' }
  /** Everything else: throw this. */
  | { kind: 'throw'; error: PlatformRateLimitError | PlatformError };

const NOT_MODIFIED = /message is not modified/i;
const PARSE_ENTITIES = /can't parse entities|can't find end of the entity|unsupported start tag/i;
const QUERY_EXPIRED = /query is too old|query id is invalid/i;

/** Replaces every occurrence of the token (and its URL-encoded form) with a placeholder. */
export function scrubToken(text: string, token: string): string {
  return redactSecrets(text, [token]);
}

/** A cause safe to attach: same name, scrubbed message, no nested objects that might carry the URL. */
function safeCause(err: unknown, token: string): Error | undefined {
  if (!(err instanceof Error)) return undefined;
  const inner = err instanceof HttpError && err.error instanceof Error ? `: ${err.error.message}` : '';
  const copy = new Error(scrubToken(`${err.message}${inner}`, token));
  copy.name = err.name;
  return copy;
}

/**
 * Classifies a failed Bot API call. `method` names the call for messages. 429 → PlatformRateLimitError
 * (retry_after in ms); 400/401/403/404 → permanent; 409/5xx/network → not permanent (the scheduler retries).
 */
export function classifyTelegramError(err: unknown, method: string, token: string): TelegramFailure {
  const cause = safeCause(err, token);
  if (err instanceof GrammyError) {
    const description = scrubToken(err.description, token);
    const code = err.error_code;
    if (code === 429) {
      const seconds = err.parameters.retry_after ?? 1;
      return { kind: 'throw', error: new PlatformRateLimitError(seconds * 1000, `telegram ${method}: ${description}`) };
    }
    if (code === 400 && NOT_MODIFIED.test(description)) return { kind: 'not-modified' };
    const permanent = code >= 400 && code < 500 && code !== 409;
    const error = new PlatformError(`telegram ${method}: ${description}`, code, permanent, { cause });
    if (code === 400 && PARSE_ENTITIES.test(description)) return { kind: 'parse-entities', error };
    if (code === 400 && QUERY_EXPIRED.test(description)) return { kind: 'query-expired' };
    return { kind: 'throw', error };
  }
  if (err instanceof HttpError) {
    // HttpError's own message is "Network request for '<method>' failed!" (grammy leaves the URL out
    // unless sensitiveLogs is on, which we never set); scrub anyway in case that changes.
    return { kind: 'throw', error: new PlatformError(`telegram ${method}: ${scrubToken(err.message, token)}`, 'network', false, { cause }) };
  }
  const text = err instanceof Error ? err.message : String(err);
  return { kind: 'throw', error: new PlatformError(`telegram ${method}: ${scrubToken(text, token)}`, undefined, false, { cause }) };
}

/** The error to throw for a failure (the special kinds become their PlatformError or a generic one). */
export function toThrowable(f: TelegramFailure, method: string): PlatformError | PlatformRateLimitError {
  switch (f.kind) {
    case 'throw':
    case 'parse-entities':
      return f.error;
    case 'not-modified':
      return new PlatformError(`telegram ${method}: message is not modified`, 400, true);
    case 'query-expired':
      return new PlatformError(`telegram ${method}: query is too old`, 400, true);
  }
}

/** grammy's Node typings name the abort-controller polyfill's AbortSignal; the native one works the same at runtime. */
export type GrammySignal = NonNullable<Parameters<import('grammy').Api['getMe']>[0]>;

/** The native signal, typed for grammy's API methods. */
export function forGrammy(signal: AbortSignal): GrammySignal {
  return signal as unknown as GrammySignal;
}
