// Webhook mode: updates are POSTed in order, one at a time; a non-2xx answer or a network error keeps the
// update queued and it is retried with a growing pause, as the real server does (there in seconds/minutes).
import type { UpdateQueue } from './update-queue.js';

/** First retry pause after a failed delivery, ms; doubles up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2000;
/** How long the fake waits for the bot's HTTP answer, ms. */
const DELIVERY_TIMEOUT_MS = 10_000;

export interface WebhookInfo {
  url: string;
  has_custom_certificate: boolean;
  pending_update_count: number;
  max_connections?: number;
  allowed_updates?: string[];
  last_error_date?: number;
  last_error_message?: string;
}

export class WebhookDelivery {
  private url = '';
  private secret: string | undefined;
  private maxConnections = 40;
  private generation = 0;
  private lastError: { date: number; message: string } | undefined;
  private readonly stop = new AbortController();

  constructor(private readonly queue: UpdateQueue, private readonly nowSeconds: () => number) {}

  get active(): boolean {
    return this.url !== '';
  }

  set(url: string, secret: string | undefined, maxConnections: number | undefined): void {
    this.url = url;
    this.secret = secret;
    this.maxConnections = maxConnections ?? 40;
    this.lastError = undefined;
    const gen = ++this.generation;
    this.queue.changed.wake();
    void this.run(gen);
  }

  clear(): void {
    this.url = '';
    this.generation++;
    this.queue.changed.wake();
  }

  close(): void {
    this.generation++;
    this.stop.abort();
    this.queue.changed.wake();
  }

  info(): WebhookInfo {
    return {
      url: this.url,
      has_custom_certificate: false,
      pending_update_count: this.queue.pendingCount(),
      ...(this.url ? { max_connections: this.maxConnections } : {}),
      ...(this.url && this.queue.allowedList() ? { allowed_updates: this.queue.allowedList() } : {}),
      ...(this.lastError ? { last_error_date: this.lastError.date, last_error_message: this.lastError.message } : {}),
    };
  }

  private async run(gen: number): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    while (gen === this.generation && !this.queue.closed) {
      const next = this.queue.deliverable(1)[0];
      if (!next) {
        await this.queue.changed.wait();
        continue;
      }
      const error = await this.post(next);
      if (gen !== this.generation) return;
      if (!error) {
        this.queue.ack(next.update_id);
        backoff = FIRST_BACKOFF_MS;
        continue;
      }
      this.lastError = { date: this.nowSeconds(), message: error };
      await this.queue.changed.wait(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /** Returns undefined on a 2xx answer, else the error the real server would show in getWebhookInfo. */
  private async post(update: unknown): Promise<string | undefined> {
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.secret ? { 'X-Telegram-Bot-Api-Secret-Token': this.secret } : {}) },
        body: JSON.stringify(update),
        signal: AbortSignal.any([this.stop.signal, AbortSignal.timeout(DELIVERY_TIMEOUT_MS)]),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? undefined : `Wrong response from the webhook: ${res.status} ${res.statusText}`;
    } catch (err) {
      return `Connection failed: ${(err as Error).name}`;
    }
  }
}
