// What a failed turn means, decided in one place: whose fault it is (the loop server's, our credentials',
// the platform's, the message's own) and so whether the message is kept, dropped with a reason, or parks
// its conversation. Nothing here blames the loop server for a platform fault, or a message for an outage.

import {
  LoopApiError,
  LoopArchivedError,
  LoopAuthError,
  LoopConflictError,
  LoopNotFoundError,
  LoopPermissionError,
  LoopRateLimitError,
  LoopValidationError,
} from '../loop-api/errors.js';
import { PlatformError, PlatformRateLimitError } from './adapter-types.js';
import { UserTokenError } from './loop-clients.js';

export type TurnFailure =
  /** The bound loop cannot take messages (archived, deleted, another user's): keep the message, park the conversation. */
  | { kind: 'loop-blocked'; reason: 'loop_archived' | 'loop_not_found' | 'not_loop_owner' }
  /** The loop server refuses our credentials (401, 403 other than not_loop_owner): our outage; keep, back off. */
  | { kind: 'loop-auth'; code: string }
  /**
   * access.loopTokens per-user: the person whose token drives the loop has none linked, or the server refused
   * it. Their problem, not the bridge's: keep the message, park the conversation until they /link, tell them once.
   */
  | { kind: 'user-token'; reason: 'token_missing' | 'token_refused'; user: string; code?: string }
  /** The server refused this message for its own content (400, 409 idempotency reuse): drop it, saying why. */
  | { kind: 'loop-refused'; code: string }
  /** 5xx, 429, network, timeout: keep, back off (at least `retryAfterMs`). */
  | { kind: 'loop-unreachable'; retryAfterMs?: number }
  /** The platform refused something this message needs (a 400 from getFile, forbidden): final for the message. */
  | { kind: 'platform-permanent' }
  /** The platform is having trouble: keep, back off. */
  | { kind: 'platform-transient'; retryAfterMs?: number }
  /** Anything else (a bug, a broken response): retried a few times, then the message is skipped. */
  | { kind: 'unknown' };

export function classifyTurnFailure(err: unknown): TurnFailure {
  if (err instanceof UserTokenError) return { kind: 'user-token', reason: err.code, user: err.user, code: err.serverCode };
  if (err instanceof PlatformRateLimitError) return { kind: 'platform-transient', retryAfterMs: err.retryAfterMs };
  if (err instanceof PlatformError) return err.permanent ? { kind: 'platform-permanent' } : { kind: 'platform-transient' };
  if (!(err instanceof LoopApiError)) return { kind: 'unknown' };
  if (err instanceof LoopArchivedError) return { kind: 'loop-blocked', reason: 'loop_archived' };
  if (err instanceof LoopNotFoundError && err.code === 'loop_not_found') return { kind: 'loop-blocked', reason: 'loop_not_found' };
  if (err instanceof LoopPermissionError && err.code === 'not_loop_owner') return { kind: 'loop-blocked', reason: 'not_loop_owner' };
  // A revoked or unknown token, an account not onboarded, or a proxy's 401/403 page: nothing about this message.
  if (err instanceof LoopAuthError || err instanceof LoopPermissionError) return { kind: 'loop-auth', code: err.serverCode ?? err.code };
  if (err instanceof LoopRateLimitError) return { kind: 'loop-unreachable', retryAfterMs: err.retryAfterMs };
  if (err.retryable) return { kind: 'loop-unreachable' };
  if (err instanceof LoopValidationError || err instanceof LoopConflictError) return { kind: 'loop-refused', code: err.code };
  if (err.status !== undefined && err.status >= 400 && err.status < 500) return { kind: 'loop-refused', code: err.serverCode ?? err.code };
  return { kind: 'unknown' };
}
