// Long polling with confirm-after-accept.
//
// Why not @grammyjs/runner: its update fetcher sets `offset = lastId + 1` as soon as a batch is *fetched*
// (createUpdateFetcher in runner.js), so the next getUpdates confirms updates whose handling may not have
// finished; a crash or shutdown in between loses them. Here the offset only moves past an update once
// `sink.accept` resolved for it (the core has durably queued it), so an update the core never took is
// redelivered by Telegram after a restart.
//
// Shape: one batch at a time. Updates of one chat are handled strictly in order, different chats
// concurrently; the next batch is fetched once the batch has settled. accept() is a durable enqueue, not a
// turn, so a batch settles quickly and this costs little over a continuous pipeline.
import type { Api } from 'grammy';
import { GrammyError, HttpError } from 'grammy';
import type { Update } from 'grammy/types';
import { sleepUnlessAborted } from '../shared/abortable-sleep.js';
import { forGrammy, scrubToken, TelegramStartupError } from './errors.js';
import type { TelegramLog } from './telegram-adapter.js';

/** Update types fetched (the rest is never sent to us, so never needs confirming). */
export const ALLOWED_UPDATES = ['message', 'callback_query'] as const;

/** First pause after a failed getUpdates or a refused update, ms; doubles up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** Time allowed for the confirming getUpdates on stop, ms. */
const CONFIRM_TIMEOUT_MS = 5_000;

export interface PollingOptions {
  api: Api;
  /** Only to scrub it from logged errors. */
  token: string;
  /** Long-poll timeout, seconds; default 30. */
  timeoutSec?: number;
  log: TelegramLog;
  /** Hands one update over; resolves once accepted. A rejection leaves the update unconfirmed. */
  handle(update: Update): Promise<void>;
}

/** Chat an update belongs to, for per-chat ordering; updates without a chat form their own group. */
function orderKey(u: Update): string {
  const chat = u.message?.chat.id ?? u.edited_message?.chat.id ?? u.callback_query?.message?.chat.id;
  return chat !== undefined ? `c${chat}` : `u${u.update_id}`;
}

export class PollingTransport {
  /** Next offset to pass: every update below it has been accepted (0 = nothing known yet). */
  private offset = 0;
  /** The offset Telegram was last told (it confirms everything below it). */
  private toldOffset = 0;
  /** Ids at or above `offset` already accepted in this process (re-fetched after a refusal; skip them). */
  private readonly accepted = new Set<number>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: PollingOptions) {}

  /**
   * Clears any webhook (keeping pending updates) and makes the first getUpdates, so a 409 from another
   * poller surfaces here as a startup error; then polls in the background until stop().
   */
  async start(signal: AbortSignal): Promise<void> {
    const { api } = this.options;
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    const stopSignal = AbortSignal.any([signal, this.abort.signal]);
    try {
      await api.deleteWebhook({ drop_pending_updates: false }, forGrammy(stopSignal));
    } catch (err) {
      throw this.startupError(err);
    }
    let first: Update[];
    try {
      first = await api.getUpdates({ timeout: 0, allowed_updates: [...ALLOWED_UPDATES] }, forGrammy(stopSignal));
    } catch (err) {
      throw this.startupError(err);
    }
    this.loop = this.run(first, stopSignal);
  }

  /** Ends the long poll at once, lets the current batch settle, then confirms what was accepted. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.abort.abort();
      await this.loop?.catch(() => undefined);
      await this.confirm();
    })();
    return this.stopping;
  }

  private startupError(err: unknown): Error {
    const { token } = this.options;
    if (err instanceof GrammyError && err.error_code === 409) {
      return new TelegramStartupError('conflict', 'another process is polling this bot token (409 Conflict); stop it or use webhook mode');
    }
    if (err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404)) {
      return new TelegramStartupError('unauthorized', `telegram.token was refused by Telegram (${err.error_code} ${err.error_code === 401 ? 'Unauthorized' : 'Not Found'}): check the token from @BotFather`);
    }
    const why = err instanceof GrammyError ? err.description : err instanceof Error ? err.message : String(err);
    return new TelegramStartupError('network', `cannot start long polling: ${scrubToken(why, token)}`);
  }

  private async run(first: Update[], signal: AbortSignal): Promise<void> {
    const { api, log, token } = this.options;
    const timeout = this.options.timeoutSec ?? 30;
    let batch: Update[] | undefined = first;
    let backoff = FIRST_BACKOFF_MS;
    while (!signal.aborted) {
      if (!batch) {
        try {
          this.toldOffset = this.offset;
          batch = await api.getUpdates({ offset: this.offset, timeout, allowed_updates: [...ALLOWED_UPDATES] }, forGrammy(signal));
        } catch (err) {
          if (signal.aborted) break;
          const conflict = err instanceof GrammyError && err.error_code === 409;
          const why = err instanceof GrammyError ? `${err.error_code}: ${err.description}` : err instanceof HttpError ? err.message : String(err);
          log.warn({ err: scrubToken(why, token), retryInMs: backoff }, conflict ? 'telegram: another poller took over (409); retrying' : 'telegram: getUpdates failed; retrying');
          await sleepUnlessAborted(backoff, signal);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          continue;
        }
      }
      const refused = await this.dispatch(batch);
      batch = undefined;
      if (refused) {
        // The core refused (it is shutting down or its store failed): wait, then fetch from the
        // refused update again so it is offered once more, in order.
        log.warn({ retryInMs: backoff }, 'telegram: an update was not accepted; it stays unconfirmed');
        await sleepUnlessAborted(backoff, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      } else {
        backoff = FIRST_BACKOFF_MS;
      }
    }
  }

  /** Hands a batch to the sink; advances the offset over the accepted prefix. Returns true if anything was refused. */
  private async dispatch(batch: Update[]): Promise<boolean> {
    if (batch.length === 0) return false;
    const groups = new Map<string, Update[]>();
    for (const u of batch) {
      if (u.update_id < this.offset || this.accepted.has(u.update_id)) continue;
      const key = orderKey(u);
      const list = groups.get(key);
      if (list) list.push(u);
      else groups.set(key, [u]);
    }
    const pending: number[] = [];
    await Promise.all(
      [...groups.values()].map(async (updates) => {
        for (let i = 0; i < updates.length; i++) {
          try {
            await this.options.handle(updates[i]);
            this.accepted.add(updates[i].update_id);
          } catch (err) {
            // Later updates of this chat must not overtake the refused one: leave them all pending.
            for (const u of updates.slice(i)) pending.push(u.update_id);
            this.options.log.debug({ updateId: updates[i].update_id, err: String(err) }, 'telegram: update refused');
            return;
          }
        }
      }),
    );
    const last = batch[batch.length - 1].update_id;
    this.offset = pending.length ? Math.min(...pending) : Math.max(this.offset, last + 1);
    for (const id of this.accepted) if (id < this.offset) this.accepted.delete(id);
    return pending.length > 0;
  }

  /** Tells Telegram the final offset (as grammy's bot.stop does), so accepted updates are not redelivered. */
  private async confirm(): Promise<void> {
    if (this.offset === 0 || this.offset === this.toldOffset) return;
    try {
      await this.options.api.getUpdates({ offset: this.offset, limit: 1, timeout: 0 }, forGrammy(AbortSignal.timeout(CONFIRM_TIMEOUT_MS)));
      this.toldOffset = this.offset;
    } catch (err) {
      this.options.log.warn({ err: scrubToken(err instanceof Error ? err.message : String(err), this.options.token) }, 'telegram: could not confirm the last updates; they will be redelivered');
    }
  }
}
