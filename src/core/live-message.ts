// A reply that grows: one or more platform messages kept in step with the rendered turn. Each step makes
// exactly one platform call through the scheduler, reading the newest wanted state when it runs, so any
// number of updates between two calls coalesce into one edit. New chunks and the final state go at send
// priority; intermediate edits wait for the live pace and yield to everything else.
// Where edits have a bot-wide per-minute cap (Slack), a reply is posted before it is final only if a slot for
// its final edit can be reserved; otherwise its first post waits (and is then usually the final text).
// In draft mode (Telegram sendMessageDraft in private chats) the growing tail is an ephemeral preview
// instead of an edited message; only finished chunks, and at the end the final one, become real messages.

import type { ChatAdapter, ConversationRef, MessageRef, OutboundMessage } from './adapter-types.js';
import { PlatformError, PlatformRateLimitError } from './adapter-types.js';
import { Priority, TaskCancelledError, type RateScheduler, type ScheduledTask, type SchedulerTarget } from './rate-scheduler.js';

/**
 * What the reply should show: the messages, or a function that renders them. A function is called only
 * when a platform call is about to happen, so text that the edit pace would discard is never rendered.
 */
export type LiveContent = OutboundMessage[] | (() => OutboundMessage[]);

/** One platform message of the live reply as last delivered. */
export interface DeliveredChunk {
  ref: MessageRef;
  /** Text + buttons signature of what the platform shows. */
  sig: string;
  finalized: boolean;
}

export interface LiveMessageDeps {
  adapter: ChatAdapter;
  scheduler: RateScheduler;
  conversation: ConversationRef;
  target: SchedulerTarget;
  /** Minimum ms between intermediate edits of this reply. */
  editIntervalMs: number;
  /**
   * Called after every change of the delivered list (to persist refs for restart). When a new platform
   * message was created, the next call waits for the returned promise: a restarted daemon must know the
   * message exists, or it would post it again.
   */
  onDelivered?: (chunks: DeliveredChunk[], created: boolean) => void | Promise<void>;
  /** Called when wanted content reaches the platform: ms it waited (staleness). */
  onStaleness?: (ms: number) => void;
  signal: AbortSignal;
  now?: () => number;
  /** Stream the tail as a draft preview with this non-zero id (adapter.draft must exist). */
  draftId?: number;
  /**
   * How long finish() keeps retrying a final delivery that fails transiently (platform 5xx, network) before it
   * gives up and rejects, ms. Default 60000. Permanent failures (blocked, forbidden, closed topic) reject at once.
   */
  deliveryTimeoutMs?: number;
  /** First pause between those retries, ms; doubles up to 10 s. Default 1000. */
  deliveryRetryMs?: number;
}

/** finish() was cut short by the shutdown signal (the turn resumes on the next start). */
export class LiveMessageAbortedError extends Error {
  override readonly name = 'LiveMessageAbortedError';
}

export class LiveMessage {
  private wanted: OutboundMessage[] = [];
  private delivered: DeliveredChunk[];
  private final = false;
  private task: ScheduledTask<void> | null = null;
  private taskPriority = Priority.Typing;
  private paceTimer: NodeJS.Timeout | null = null;
  private lastEditAt = 0;
  private dirtySince: number | null = null;
  private failure: unknown = null;
  private abandoned = false;
  /** Scheduler tasks this message cancelled itself (to replace them): their rejection is no failure. */
  private readonly replaced = new WeakSet<ScheduledTask<void>>();
  /** Retry of a final delivery after a transient failure. */
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay = 0;
  /** When finish() stops retrying transient failures (set at the first one). */
  private giveUpAt: number | null = null;
  private onAbort: (() => void) | null = null;
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  /** Text of the last draft preview shown (draft mode). */
  private drafted: string | null = null;
  /** Newer content not rendered yet (see LiveContent). */
  private source: (() => OutboundMessage[]) | null = null;
  /**
   * A send that failed without a known outcome (it may have posted): its retry sends the very same message,
   * so an adapter whose sends are idempotent per message (Matrix transaction ids) gets the first post back
   * instead of making a second one; newer content then follows as an edit.
   */
  private unsure: { index: number; message: OutboundMessage } | null = null;
  private readonly now: () => number;
  /** A slot of the edit budget held for this reply's final edit (see the header). */
  private editReserved = false;

  constructor(
    private readonly deps: LiveMessageDeps,
    delivered: DeliveredChunk[] = [],
  ) {
    this.delivered = delivered.map((d) => ({ ...d }));
    this.now = deps.now ?? Date.now;
  }

  /** The platform messages so far. */
  chunks(): DeliveredChunk[] {
    return this.delivered.map((d) => ({ ...d }));
  }

  /** Sets the wanted content (intermediate). Empty chunks mean "nothing to show yet". */
  update(content: LiveContent): void {
    if (this.final) return;
    if (typeof content === 'function') {
      this.source = content;
      this.dirtySince ??= this.now();
      this.kick();
      return;
    }
    this.source = null;
    this.setWanted(content);
  }

  /** Sets the final content and resolves once every chunk shows it (and adapters were told it is final). */
  finish(messages: OutboundMessage[]): Promise<void> {
    if (this.abandoned) return Promise.reject(new TaskCancelledError('abandoned'));
    this.final = true;
    this.source = null;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    // Whatever the platform does (hang, fail, never answer), shutdown settles this wait.
    if (!this.onAbort && !this.deps.signal.aborted) {
      this.onAbort = () => this.shutDown();
      this.deps.signal.addEventListener('abort', this.onAbort, { once: true });
    }
    this.setWanted(messages);
    return done;
  }

  /** Stops scheduling (shutdown); pending waits reject. */
  abandon(): void {
    // A step already running may still land; nothing new starts after this.
    this.abandoned = true;
    this.clearTimers();
    if (this.task) this.replaced.add(this.task);
    this.task?.cancel();
    this.settle(new TaskCancelledError('abandoned'));
    this.releaseEdit();
  }

  private clearTimers(): void {
    if (this.paceTimer) clearTimeout(this.paceTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.paceTimer = null;
    this.retryTimer = null;
  }

  private setWanted(messages: OutboundMessage[]): void {
    this.assign(messages);
    this.kick();
  }

  private assign(messages: OutboundMessage[]): void {
    this.wanted = messages.filter((m) => m.text.trim() !== '' || m.buttons?.length).map((m) => ({ ...m, live: true }));
    if (this.dirtySince === null && this.hasWork()) this.dirtySince = this.now();
  }

  /** Renders pending content now (right before a platform call). */
  private materialize(): void {
    const source = this.source;
    this.source = null;
    if (source) this.assign(source());
  }

  private get drafting(): boolean {
    return this.deps.draftId !== undefined && !this.final && typeof this.deps.adapter.draft === 'function';
  }

  /** How many wanted chunks are real messages now: all of them, but the tail while it is a draft. */
  private realCount(): number {
    return this.drafting ? Math.max(0, this.wanted.length - 1) : this.wanted.length;
  }

  private draftPending(): boolean {
    const tail = this.wanted[this.wanted.length - 1];
    return this.drafting && tail !== undefined && this.delivered.length < this.wanted.length && tail.text !== this.drafted;
  }

  private hasWork(): boolean {
    if (this.wanted.length === 0) return false;
    // Chunks only ever grow in number (text is appended), so surplus delivered chunks need no work.
    if (this.delivered.length < this.realCount() || this.draftPending()) return true;
    return this.firstChanged() >= 0;
  }

  private kick(): void {
    // Nothing more will be delivered: every wait settles now (a failed reply must not hold its turn).
    if (this.failure) return this.settle(this.failure);
    if (this.abandoned) return this.settle(new TaskCancelledError('abandoned'));
    if (this.deps.signal.aborted) return this.shutDown();
    if (this.retryTimer) return; // a final delivery waits out a platform outage
    if (this.source) {
      // A queued step renders the newest content itself; otherwise render once the pace allows a call
      // (at once for the first message, so the first text shows as soon as it exists).
      if (this.task) return;
      const wait = this.delivered.length ? this.lastEditAt + this.deps.editIntervalMs - this.now() : 0;
      if (wait > 0) return this.armPace(wait);
      this.materialize();
    }
    this.markShownFinal();
    if (!this.hasWork()) {
      if (this.final) this.settle(null);
      return;
    }
    if (!this.final && this.delivered.length === 0 && !this.drafting && !this.editReserved) {
      // Posting now commits to a final edit later; without a reserved slot, wait for the final text.
      if (!this.deps.scheduler.reserve('edit')) return this.armPace(this.deps.editIntervalMs);
      this.editReserved = true;
    }
    const urgent = this.final || this.delivered.length < this.realCount() || (this.drafting && this.drafted === null);
    const priority = urgent ? Priority.Send : Priority.Edit;
    if (this.task) {
      if (this.task.started || this.taskPriority <= priority) return; // it will read the newest state
      this.replaced.add(this.task);
      this.task.cancel();
      this.task = null;
    }
    if (!urgent) {
      const wait = this.lastEditAt + this.deps.editIntervalMs - this.now();
      if (wait > 0) return this.armPace(wait);
    }
    if (this.paceTimer) {
      clearTimeout(this.paceTimer);
      this.paceTimer = null;
    }
    this.taskPriority = priority;
    const task = this.deps.scheduler.schedule(this.deps.target, priority, () => this.step(), () => this.nextKind());
    this.task = task;
    task.promise.then(
      () => {
        if (this.task === task) this.task = null;
        this.retryDelay = 0;
        this.kick();
      },
      (err) => {
        if (this.task === task) this.task = null;
        if (this.replaced.has(task)) return;
        if (err instanceof PlatformError && !err.permanent && !this.deps.signal.aborted) return this.transientFailure(err);
        // Permanent (blocked, forbidden, closed topic), the scheduler closing, or a bug: the reply is over.
        this.failure = err;
        this.settle(err);
      },
    );
  }

  private markShownFinal(): void {
    if (!this.final || this.deps.adapter.finalized) return;
    // Without a finalized hook there is nothing to tell the platform: a chunk already showing its final
    // content is final, and marking it must not cost a slot of the rate budget.
    this.wanted.forEach((m, i) => {
      if (this.delivered[i] && sig(m) === this.delivered[i].sig) this.delivered[i].finalized = true;
    });
  }

  /**
   * Shutdown: nothing more is sent, and no wait may outlive it. A finish() resolves when the platform
   * already shows the final content (a step still recording it changes nothing the person sees), else it
   * rejects: the turn stays recorded and its reply is completed after a restart.
   */
  private shutDown(): void {
    this.clearTimers();
    this.markShownFinal();
    this.settle(this.final && !this.hasWork() ? null : new LiveMessageAbortedError('shut down before the reply was delivered'));
  }

  /**
   * The platform failed for a while (the scheduler's own retries are spent). An intermediate state is simply
   * tried again with the next update; the final state is retried with backoff until deliveryTimeoutMs.
   */
  private transientFailure(err: PlatformError): void {
    if (!this.final) return;
    const now = this.now();
    this.giveUpAt ??= now + (this.deps.deliveryTimeoutMs ?? 60_000);
    if (now >= this.giveUpAt) {
      this.failure = err;
      return this.settle(err);
    }
    this.retryDelay = this.retryDelay ? Math.min(this.retryDelay * 2, 10_000) : (this.deps.deliveryRetryMs ?? 1000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, Math.min(this.retryDelay, Math.max(0, this.giveUpAt - now)));
  }

  private armPace(wait: number): void {
    this.paceTimer ??= setTimeout(() => {
      this.paceTimer = null;
      this.kick();
    }, wait);
  }

  /** One platform call: the first missing chunk, else the first changed one, else a finalisation. */
  private async step(): Promise<void> {
    const { adapter, conversation, signal } = this.deps;
    this.materialize();
    if (this.delivered.length >= this.realCount() && this.draftPending()) {
      const text = this.wanted[this.wanted.length - 1].text;
      await adapter.draft!(conversation, this.deps.draftId!, text, signal);
      this.drafted = text;
      this.lastEditAt = this.now();
      return;
    }
    const i = this.delivered.length < this.realCount() ? this.delivered.length : this.firstChanged();
    if (i < 0) return;
    let created = false;
    const message = this.wanted[i];
    const s = sig(message);
    if (i === this.delivered.length) {
      const toSend = this.unsure?.index === i ? this.unsure.message : message;
      this.unsure = { index: i, message: toSend };
      const ref = await adapter.send(conversation, toSend, signal).catch((err) => {
        // Refused or rate limited: it did not post, so the retry may send the newest content.
        if ((err instanceof PlatformError && err.permanent) || err instanceof PlatformRateLimitError) this.unsure = null;
        throw err;
      });
      this.unsure = null;
      // A new chunk counts as a write of the reply: the next intermediate edit keeps the pace from it.
      this.lastEditAt = this.now();
      this.delivered.push({ ref, sig: sig(toSend), finalized: false });
      created = true;
    } else if (this.delivered[i].sig !== s) {
      try {
        await adapter.edit(this.delivered[i].ref, message, signal);
        this.lastEditAt = this.now();
        this.delivered[i] = { ...this.delivered[i], sig: s, finalized: false };
      } catch (err) {
        // The message is gone (deleted by someone): post this chunk anew rather than lose it.
        if (!(err instanceof PlatformError) || !err.permanent) throw err;
        const ref = await adapter.send(conversation, message, signal);
        this.delivered[i] = { ref, sig: s, finalized: false };
        created = true;
      }
    }
    // finish() may have landed while this call was in flight: only content that is still the wanted
    // final content may be reported as final (else the next step edits it and reports that).
    if (this.final && this.delivered[i].sig === s && sig(this.wanted[i] ?? { text: '' }) === s && !this.delivered[i].finalized) {
      await adapter.finalized?.(this.delivered[i].ref, message);
      this.delivered[i].finalized = true;
    }
    if (!this.hasWork() && this.dirtySince !== null) {
      this.deps.onStaleness?.(this.now() - this.dirtySince);
      this.dirtySince = null;
    }
    await this.deps.onDelivered?.(this.chunks(), created);
  }

  /** What the next step would do: post a missing chunk, or edit one (a draft preview counts as an edit). */
  private nextKind(): 'send' | 'edit' {
    return this.delivered.length < this.realCount() ? 'send' : 'edit';
  }

  private releaseEdit(): void {
    if (!this.editReserved) return;
    this.editReserved = false;
    this.deps.scheduler.release('edit');
  }

  private firstChanged(): number {
    for (let i = 0; i < Math.min(this.wanted.length, this.delivered.length); i++) {
      if (sig(this.wanted[i]) !== this.delivered[i].sig) return i;
      if (this.final && !this.delivered[i].finalized) return i;
    }
    return -1;
  }

  private settle(err: unknown): void {
    if (err) this.clearTimers();
    if (this.onAbort) {
      this.deps.signal.removeEventListener('abort', this.onAbort);
      this.onAbort = null;
    }
    this.releaseEdit();
    const waiters = this.waiters.splice(0);
    for (const w of waiters) (err ? w.reject(err) : w.resolve());
  }
}

/** Signatures are compared on every step: built once per wanted message (a flat copy of the text each time was the garbage). */
const sigs = new WeakMap<OutboundMessage, string>();

function sig(m: OutboundMessage): string {
  let s = sigs.get(m);
  if (s === undefined) {
    s = m.buttons?.length ? `${m.text}\u0000${JSON.stringify(m.buttons)}` : m.text;
    sigs.set(m, s);
  }
  return s;
}
