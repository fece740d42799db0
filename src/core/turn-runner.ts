// Runs one turn: sends the user's message (or re-follows it after a restart), folds the events into a
// view, keeps the live reply in step, shows choices, and delivers the exact final render. The turn record
// is persisted as it goes so a killed daemon can pick up where it was.

import type { LoopClient } from '../loop-api/client.js';
import { DEFAULT_MAX_TEXT_CHARS, followTurn, resumeTurn, type FollowOptions } from '../loop-api/follower.js';
import type { PermissionMode, TurnEvent } from '../loop-api/types.js';
import type { Store } from '../store/store.js';
import type { OutboundMessage } from './adapter-types.js';
import type { ChoiceRegistry } from './choices.js';
import { LiveMessage } from './live-message.js';
import { messageImages } from './message-images.js';
import type { Metrics } from './metrics.js';
import type { Outlet } from './outlet.js';
import { renderTurn } from './render.js';
import { keys, type QueuedMessage, type TurnRecord } from './state.js';
import { applyEvent, newProgress, usageFooter } from './turn-view.js';

/** Telegram wants a non-zero 32-bit draft id, the same for every preview of one reply. */
function draftIdFor(itemId: string): number {
  let h = 0;
  for (let i = 0; i < itemId.length; i++) h = (Math.imul(h, 31) + itemId.charCodeAt(i)) | 0;
  return (h & 0x7fffffff) || 1;
}

/** The record as stored while streaming: everything but the text so far. */
function streamingRecord(record: TurnRecord): TurnRecord {
  return { ...record, progress: newProgress() };
}

export interface TurnRunnerDeps {
  client: LoopClient;
  store: Store;
  choices: ChoiceRegistry;
  metrics: Metrics;
  /** `maxTextChars`: most assistant text a reply holds (default 1,048,576; see RepliesConfig). */
  replies: { editIntervalMs: { direct: number; group: number }; showTools: boolean; showUsage: boolean; maxTextChars?: number };
  log: { warn(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
  /**
   * Refresh the in-flight record at most this often while streaming, ms. Default 5000. Its content only
   * changes with the phase and the delivered messages (persisted when they change); the refresh keeps
   * `seenAt` (when our stream was last known attached) within this much of the truth for a restart.
   */
  persistEveryMs?: number;
  /** How long a final reply keeps being retried through a platform outage before the turn ends without it, ms. Default 60000. */
  deliveryTimeoutMs?: number;
  /** First pause between those retries, ms. Default 1000. */
  deliveryRetryMs?: number;
}

export interface TurnInput {
  outlet: Outlet;
  item: QueuedMessage;
  loopId: string;
  permissionMode: PermissionMode;
  /** The record left by a previous run of this same turn (restart). */
  previous?: TurnRecord;
  signal: AbortSignal;
  /** Stop-button token for this turn (native buttons only). */
  stopToken?: string;
  /**
   * The message was already delivered by steering (it runs as a turn of its own): follow that turn instead
   * of sending. `events`: its events on a watch attached since before it began; absent after a restart
   * (then it is re-followed on /events). Default: send the message.
   */
  sent?: { events?: AsyncIterable<TurnEvent> };
  /** Told when the turn's message is known to be at the server ('streaming') and when the turn's end was seen ('ended'). */
  onPhase?: (phase: 'streaming' | 'ended') => void;
  /** See FollowOptions.movedOn: lets the follower tell, after a cut, that the loop moved on to a steering message's own turn. */
  movedOn?: FollowOptions['movedOn'];
  /** The client to drive the loop with (its owner's token, access.loopTokens per-user). Default the runner's. */
  client?: LoopClient;
  /** Where this turn's record is written (with replicas: fenced by the conversation's lease). Default: the runner's store. */
  store?: Store;
}

export class TurnRunner {
  private readonly textLimit: number;

  constructor(private readonly deps: TurnRunnerDeps) {
    this.textLimit = deps.replies.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
  }

  async run(input: TurnInput): Promise<void> {
    const lives: LiveMessage[] = [];
    try {
      await this.runTurn(input, lives);
    } finally {
      // However the turn ended (done, undeliverable, loop error, shutdown), its reply schedules nothing more.
      for (const live of lives) live.abandon();
    }
  }

  private async runTurn(input: TurnInput, lives: LiveMessage[]): Promise<void> {
    const { outlet, item, loopId, signal } = input;
    const { metrics } = this.deps;
    const store = input.store ?? this.deps.store;
    const turnKey = keys.turn(item.convKey);
    const conv = item.conversation;
    const record: TurnRecord = input.previous
      ? { ...input.previous }
      : { itemId: item.id, loopId, phase: 'sending', progress: newProgress(this.textLimit), chunks: [], startedAt: Date.now() };
    const live = new LiveMessage(
      {
        adapter: outlet.adapter,
        scheduler: outlet.scheduler,
        conversation: conv,
        target: outlet.target(conv),
        editIntervalMs: conv.isDirect ? this.deps.replies.editIntervalMs.direct : this.deps.replies.editIntervalMs.group,
        signal,
        onDelivered: async (chunks, created) => {
          record.chunks = chunks;
          if (!created) return persist();
          await store.set(turnKey, record.phase === 'final' ? record : streamingRecord(record));
          await store.flush();
        },
        onStaleness: (ms) => metrics.inc('live_staleness_ms_sum', {}, ms),
        draftId: conv.isDirect && outlet.adapter.capabilities.drafts ? draftIdFor(item.id) : undefined,
        deliveryTimeoutMs: this.deps.deliveryTimeoutMs,
        deliveryRetryMs: this.deps.deliveryRetryMs,
      },
      record.chunks,
    );
    lives.push(live);

    let lastPersist = 0;
    const persistEvery = this.deps.persistEveryMs ?? 5000;
    // While streaming, a restart rebuilds the view from the server's replay, so only the phase and the
    // platform message refs need to be durable; the text is stored once, when the turn is final.
    const persist = (force = false) => {
      const now = Date.now();
      if (!force && now - lastPersist < persistEvery) return;
      lastPersist = now;
      record.seenAt = now;
      void store.set(turnKey, streamingRecord(record)).catch(() => {});
    };
    const render = (final: boolean): OutboundMessage[] =>
      this.render(outlet, record, final, input.stopToken).map((m) => ({ ...m, replyTo: item.messageId }));

    metrics.inc('turns_started_total', { platform: conv.platform });
    if (record.phase !== 'final') {
      // A fresh turn, or a restarted one that never saw its end: (re)send with the same idempotency key.
      // The server replays what it buffered, so the view is rebuilt from scratch rather than appended to.
      record.progress = newProgress(this.textLimit);
      if (input.sent) record.phase = 'streaming'; // steering delivered it: never send it again
      // Known before this follow starts, so a later resume reads it even if this process dies at once.
      const holes = input.previous?.detachedBefore === true;
      if (input.previous) record.detachedBefore = true;
      await store.set(turnKey, streamingRecord(record));
      await store.flush();
      if (record.phase === 'streaming') input.onPhase?.('streaming');
      // A resumed turn ran with no stream of ours since the old process last persisted: text written then
      // may be gone ([IMPL]), and the follower says so unless the server proves otherwise.
      const follow = {
        signal,
        detachedSince: input.previous ? (input.previous.seenAt ?? input.previous.startedAt) : undefined,
        snapshotHasHoles: holes,
        maxTextChars: this.textLimit,
        movedOn: input.movedOn,
      };
      const client = input.client ?? this.deps.client;
      let events: AsyncIterable<TurnEvent>;
      if (input.sent) {
        events = input.sent.events ?? resumeTurn(client, loopId, { ...follow, textSoFar: '', detachedSince: follow.detachedSince ?? Date.now() });
      } else {
        const images = await messageImages(outlet, item, signal);
        events = followTurn(
          client,
          loopId,
          { content: item.text, images: images.length ? images : undefined, permissionMode: input.permissionMode },
          { ...follow, idempotencyKey: item.id },
        );
      }
      let lastTyping = 0;
      // Rendered lazily, when the live message is about to call the platform (one closure for the turn).
      const renderLive = () => render(false);
      for await (const ev of events) {
        if (ev.type === 'started' && record.phase === 'sending') {
          record.phase = 'streaming';
          persist(true);
          input.onPhase?.('streaming');
        }
        const changed = applyEvent(record.progress, ev);
        if (ev.type === 'gap' && !record.detachedBefore) {
          record.detachedBefore = true;
          persist(true);
        }
        if (ev.type === 'requires_choice' || ev.type === 'choice_resolved' || ev.type === 'tool_result') await this.sideEffects(input, record, ev);
        const now = Date.now();
        if (now - lastTyping > 4000 && !record.progress.ended) {
          lastTyping = now;
          outlet.typing(conv);
        }
        if (changed) {
          live.update(renderLive);
          persist();
        }
        if (record.progress.ended) break;
      }
      if (!record.progress.ended) {
        // The follower only stops early when aborted (shutdown): keep the record for the next start.
        persist(true);
        live.abandon();
        throw new Error('turn interrupted by shutdown');
      }
      input.onPhase?.('ended');
      record.phase = 'final';
      await store.set(turnKey, record);
      await store.flush();
    }
    try {
      await live.finish(render(true));
    } catch (err) {
      if (signal.aborted) throw err; // shutdown: the record stays and the next start delivers it
      await this.undelivered(input, err);
    }
    await this.deps.choices.turnEnded(outlet, loopId);
    metrics.inc('turns_completed_total', { platform: conv.platform, status: record.progress.view.status });
  }

  /**
   * The platform would not take the reply (blocked, forbidden, a closed topic, or an outage longer than the
   * delivery timeout). The loop did its turn; the conversation moves on, with a notice if the platform takes one.
   */
  private async undelivered(input: TurnInput, err: unknown): Promise<void> {
    const { outlet, item } = input;
    const why = err instanceof Error ? err.message : String(err);
    this.deps.log.warn({ convKey: item.convKey, err: why }, 'reply could not be delivered; moving on');
    this.deps.metrics.inc('replies_undelivered_total', { platform: item.conversation.platform });
    await outlet
      .send(item.conversation, { text: `⚠️ The reply to your message could not be delivered here (${why}). The loop did receive your message and finished its turn.`, plain: true })
      .catch((e) => this.deps.log.debug({ convKey: item.convKey, err: String(e) }, 'the undelivered-reply notice could not be posted either'));
  }

  private render(outlet: Outlet, record: TurnRecord, final: boolean, stopToken?: string): OutboundMessage[] {
    const view = record.progress.view;
    const footer = final && this.deps.replies.showUsage ? usageFooter(record.progress.usage) : undefined;
    const caps = outlet.adapter.capabilities;
    const texts = renderTurn(footer ? { ...view, footer } : view, {
      maxLength: caps.maxTextLength,
      measure: caps.measure,
      showTools: this.deps.replies.showTools,
    });
    const messages: OutboundMessage[] = texts.map((text) => ({ text }));
    if (!final && stopToken && caps.buttons === 'native' && messages.length) {
      messages[messages.length - 1].buttons = [[{ label: '⏹ Stop', token: stopToken }]];
    }
    return messages;
  }

  private async sideEffects(input: TurnInput, record: TurnRecord, ev: TurnEvent): Promise<void> {
    const { choices } = this.deps;
    const { outlet, item, loopId } = input;
    if (ev.type === 'requires_choice') {
      await choices
        .open({ outlet, conversation: item.conversation, loopId, owner: item.sender, toolSummaries: record.progress.toolSummaries }, ev)
        .catch((err) => this.deps.log.warn({ err: String(err), loopId }, 'could not show a choice'));
    } else if (ev.type === 'choice_resolved') {
      await choices.resolved(outlet, loopId, ev.choiceId);
    } else if (ev.type === 'tool_result') {
      await choices.toolFinished(outlet, loopId, ev.toolUseId);
    }
  }

}
