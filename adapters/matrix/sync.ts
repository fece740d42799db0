// The /sync loop with confirm-after-accept: the position (`next_batch`) is stored only once every event
// of a response was handed to the core and durably accepted, so a crash or a refusal means the same
// response is read again (Synapse even serves it from its ~2-minute response cache) and the core's
// durable dedupe drops what it had already taken. matrix-bot-sdk's own sync loop stores the position
// before its (un-awaited) event handlers run, which would lose events on a crash; so this loop is ours,
// and the SDK client makes the requests.
import type { MatrixClient } from 'matrix-bot-sdk';
import type { AdapterState } from '../../src/core/adapter-types.js';
import { sleepUnlessAborted } from '../shared/abortable-sleep.js';
import type { AdapterLog } from '../shared/adapter-log.js';
import { call, describe, errcodeOf, MatrixStartupError } from './errors.js';
import type { RoomEvent } from './parse.js';

/** The parts of a /sync response the adapter reads. */
export interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, JoinedRoom>;
    invite?: Record<string, { invite_state?: { events?: StrippedEvent[] } }>;
    leave?: Record<string, unknown>;
  };
}

export interface JoinedRoom {
  state?: { events?: RoomEvent[] };
  timeline?: { events?: RoomEvent[]; limited?: boolean };
}

/** State events shown with an invite (no event id or timestamp). */
export interface StrippedEvent {
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
}

/** The adapter's logger. */
export type SyncLog = AdapterLog;

export interface SyncOptions {
  client: MatrixClient;
  state: AdapterState;
  log: SyncLog;
  /** Only to scrub from logged errors. */
  secret: string;
  /** Long-poll timeout, ms; default 30000. */
  timeoutMs?: number;
  /** Handles one response; resolves once every event is accepted. A rejection leaves the position where it was. */
  handle(response: SyncResponse, initial: boolean): Promise<void>;
}

/** Events per room per response; a room with more since the last sync is reported as having a gap. */
export const TIMELINE_LIMIT = 100;

// Inline filter: no presence, typing, receipts or account data (none of it is acted on); members
// lazy-loaded (the adapter reads them itself when it needs them).
const FILTER = JSON.stringify({
  presence: { not_types: ['*'] },
  account_data: { not_types: ['*'] },
  room: {
    ephemeral: { not_types: ['*'] },
    account_data: { not_types: ['*'] },
    state: { lazy_load_members: true },
    timeline: { limit: TIMELINE_LIMIT },
  },
});

const SINCE_KEY = 'sync/since';
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** Extra time a request may take beyond its long-poll timeout, ms. */
const REQUEST_SLACK_MS = 30_000;

export class SyncLoop {
  private since: string | undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: SyncOptions) {}

  /** Reads the stored position and makes the first sync (so a refused token surfaces as a startup error), then syncs in the background. */
  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => this.abort.abort(), { once: true });
    const stop = AbortSignal.any([signal, this.abort.signal]);
    this.since = await this.options.state.get<string>(SINCE_KEY);
    let first: SyncResponse;
    try {
      first = await this.sync(0, stop);
    } catch (err) {
      if (stop.aborted) throw err;
      if (errcodeOf(err) === 'M_UNKNOWN_TOKEN') throw new MatrixStartupError('unauthorized', 'the homeserver refused the bot\'s access token on /sync (M_UNKNOWN_TOKEN)');
      throw new MatrixStartupError('network', `the first /sync failed: ${describe(err, this.options.secret)}`);
    }
    this.loop = this.run(first, stop);
  }

  /** Ends the long poll (its request finishes on its own) and waits for the batch in hand to settle. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop?.catch(() => undefined);
  }

  private sync(timeoutMs: number, signal: AbortSignal): Promise<SyncResponse> {
    const qs: Record<string, string | number> = { filter: FILTER, timeout: timeoutMs, set_presence: 'offline' };
    if (this.since) qs.since = this.since;
    return call('sync', signal, () => this.options.client.doRequest('GET', '/_matrix/client/v3/sync', qs, null, timeoutMs + REQUEST_SLACK_MS), this.options.secret);
  }

  private async run(first: SyncResponse, signal: AbortSignal): Promise<void> {
    const { log, state, secret } = this.options;
    const timeout = this.options.timeoutMs ?? 30_000;
    let batch: SyncResponse | undefined = first;
    let backoff = FIRST_BACKOFF_MS;
    while (!signal.aborted) {
      if (!batch) {
        try {
          batch = await this.sync(timeout, signal);
        } catch (err) {
          if (signal.aborted) break;
          const retryAfter = (err as { retryAfterMs?: number }).retryAfterMs;
          const wait = retryAfter ?? backoff;
          log.warn({ err: describe(err, secret), retryInMs: wait }, 'matrix: /sync failed; retrying');
          await sleepUnlessAborted(wait, signal);
          if (retryAfter === undefined) backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          continue;
        }
      }
      try {
        await this.options.handle(batch, this.since === undefined);
        this.since = batch.next_batch;
        await state.set(SINCE_KEY, this.since);
        await state.flush();
        backoff = FIRST_BACKOFF_MS;
      } catch (err) {
        if (signal.aborted) break;
        // The core refused (shutting down, store failing): read the same position again later.
        log.warn({ err: describe(err, secret), retryInMs: backoff }, 'matrix: events were not accepted; they will be read again');
        await sleepUnlessAborted(backoff, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
      batch = undefined;
    }
  }
}
