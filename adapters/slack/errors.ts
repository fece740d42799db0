// Every Web API failure is classified here, in one place: a 429 becomes a wait (Retry-After in ms) for the
// core's scheduler, Slack's transient errors are retried by it, everything else is permanent. Tokens never
// leave this file in a message: errors are rebuilt from their Slack error code and scrubbed text.
import { PlatformError, PlatformRateLimitError } from '../../src/core/adapter-types.js';
import { redactSecrets } from '../shared/redact.js';
import { AdapterStartupError } from '../shared/startup-error.js';

/** Why the adapter could not start. */
export type SlackStartupCode = 'bot_token' | 'app_token' | 'signing_secret' | 'network' | 'listen';

/** A start() failure the operator must act on; the message names the config key. */
export class SlackStartupError extends AdapterStartupError<SlackStartupCode> {
  override readonly name = 'SlackStartupError';
}

/** Slack error codes that a retry can fix. */
const TRANSIENT = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited', 'team_added_to_org']);
/** Error codes that mean the token itself was refused. */
export const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'no_permission', 'not_allowed_token_type', 'missing_scope']);

/** Replaces every token occurrence, and anything shaped like a Slack token, with a placeholder. */
export function scrub(text: string, secrets: readonly string[]): string {
  return redactSecrets(text, secrets).replace(/xox[abprs]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+/g, '<token>');
}

interface WebApiErrorShape {
  code?: string;
  message?: string;
  retryAfter?: number;
  statusCode?: number;
  data?: { error?: string };
  original?: { message?: string; name?: string; cause?: { code?: string } };
}

/** The Slack error code of a failed call (`data.error`), if it has one. */
export function slackErrorCode(err: unknown): string | undefined {
  return (err as WebApiErrorShape | undefined)?.data?.error;
}

/** Classifies a failed Web API call. `method` names it in the message. */
export function classifySlackError(err: unknown, method: string, secrets: readonly string[]): PlatformRateLimitError | PlatformError {
  const e = (err ?? {}) as WebApiErrorShape;
  switch (e.code) {
    case 'slack_webapi_rate_limited_error':
      return new PlatformRateLimitError(Math.max(1, e.retryAfter ?? 1) * 1000, `slack ${method}: rate limited`);
    case 'slack_webapi_platform_error': {
      const code = e.data?.error ?? 'unknown_error';
      return new PlatformError(`slack ${method}: ${code}`, code, !TRANSIENT.has(code));
    }
    case 'slack_webapi_http_error': {
      const status = e.statusCode ?? 0;
      return new PlatformError(`slack ${method}: HTTP ${status}`, status, status > 0 && status < 500);
    }
    case 'slack_webapi_request_error': {
      // Never reached Slack, or no answer: retried (a post whose answer was lost may then show twice;
      // Slack offers no idempotency key for chat.postMessage).
      const why = e.original?.cause?.code ?? e.original?.message ?? 'request failed';
      return new PlatformError(`slack ${method}: ${scrub(String(why), secrets)}`, 'network', false);
    }
    default: {
      const text = err instanceof Error ? err.message : String(err);
      return new PlatformError(`slack ${method}: ${scrub(text, secrets)}`, undefined, false);
    }
  }
}
