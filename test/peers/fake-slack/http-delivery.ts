// HTTP mode: events are POSTed as JSON and interactions as `payload=<json>` forms to the app's Request URL,
// signed with the signing secret (v0 HMAC-SHA256 over `v0:<timestamp>:<body>`). Only a 2xx answer within
// the ack timeout counts; anything else is retried with X-Slack-Retry-Num / X-Slack-Retry-Reason.
import { createHmac } from 'node:crypto';
import type { PendingEvent, Transport } from './delivery.js';
import type { DeliveryRecord } from './types.js';

/** Headers Slack signs a request with. `timestampSec` defaults to now. */
export function signRequest(secret: string, body: string, timestampSec = Math.floor(Date.now() / 1000)): Record<string, string> {
  return {
    'x-slack-request-timestamp': String(timestampSec),
    'x-slack-signature': 'v0=' + createHmac('sha256', secret).update(`v0:${timestampSec}:${body}`).digest('hex'),
  };
}

/** The body and content type Slack sends for an event or an interaction. */
export function encodeDelivery(ev: PendingEvent): { body: string; contentType: string } {
  if (ev.type === 'interactive') return { body: `payload=${encodeURIComponent(JSON.stringify(ev.payload))}`, contentType: 'application/x-www-form-urlencoded' };
  return { body: JSON.stringify(ev.payload), contentType: 'application/json' };
}

export class HttpDelivery implements Transport {
  readonly via = 'http' as const;

  constructor(
    readonly url: string,
    private readonly secret: string,
    private readonly ackTimeoutMs: number,
  ) {}

  async attempt(ev: PendingEvent, attempt: number, reason: string | undefined, record: DeliveryRecord): Promise<{ acked: boolean; reason?: string }> {
    const { body, contentType } = encodeDelivery(ev);
    const headers: Record<string, string> = { 'content-type': contentType, ...signRequest(this.secret, body) };
    if (attempt > 0) {
      headers['x-slack-retry-num'] = String(attempt);
      headers['x-slack-retry-reason'] = reason ?? 'http_timeout';
    }
    try {
      const res = await fetch(this.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.ackTimeoutMs) });
      record.status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? { acked: true } : { acked: false, reason: 'http_error' };
    } catch (err) {
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      return { acked: false, reason: timeout ? 'http_timeout' : 'connection_failed' };
    }
  }
}
