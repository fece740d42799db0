// Event delivery with Slack's retry rules: an event not acknowledged within the ack timeout (3 s) is sent
// again with `retry_attempt`/`retry_reason` (Socket Mode) or `X-Slack-Retry-Num`/`-Reason` (HTTP), three
// times at most, after the configured pauses (Slack: at once, ~1 min, ~5 min). Each attempt is recorded.
import type { DeliveryRecord } from './types.js';

export interface PendingEvent {
  eventId?: string;
  type: 'events_api' | 'interactive';
  payload: Record<string, unknown>;
}

/** One way of getting an event to the app: resolves with the attempt's outcome once known. */
export interface Transport {
  readonly via: 'socket' | 'http';
  /** Sends one attempt; resolves true when acknowledged in time, else false with the reason Slack would give. */
  attempt(ev: PendingEvent, attempt: number, reason: string | undefined, record: DeliveryRecord): Promise<{ acked: boolean; reason?: string }>;
}

export class Delivery {
  readonly records: DeliveryRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly transport: () => Transport,
    private readonly retryDelaysMs: number[],
    private readonly clock: () => number,
  ) {}

  /** Delivers with retries; resolves true once acknowledged, false after the last retry failed. */
  async deliver(ev: PendingEvent, firstAttempt = 0): Promise<boolean> {
    let reason: string | undefined;
    for (let attempt = firstAttempt; attempt <= this.retryDelaysMs.length && !this.closed; attempt++) {
      if (attempt > 0) await this.sleep(this.retryDelaysMs[attempt - 1] ?? 0);
      if (this.closed) return false;
      const t = this.transport();
      const record: DeliveryRecord = { eventId: ev.eventId, type: ev.type, via: t.via, attempt, ...(reason ? { reason } : {}), sentAt: this.clock() };
      this.records.push(record);
      const r = await t.attempt(ev, attempt, reason, record);
      if (r.acked) {
        record.ackedAt = this.clock();
        return true;
      }
      reason = r.reason ?? 'timeout';
    }
    return false;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}
