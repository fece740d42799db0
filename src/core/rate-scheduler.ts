// One scheduler per adapter through which every outbound platform call goes. It keeps the platform's
// budget (a global sliding window, a minimum interval per chat, a per-minute cap per group) so that 429s
// are the exception, and when one comes anyway it waits what the platform said before that chat's next
// call. Under pressure the cheapest work yields first: typing before edits before sends/finals.
// A budget may also cap one kind of call per minute across the whole bot (RateBudget.perMinute). Part of
// such a cap can be reserved for calls promised later (a live reply posted early owes one final edit):
// reserved slots go only to urgent calls, so intermediate edits cannot starve the finals.

import { PlatformError, PlatformRateLimitError, type CallKind, type RateBudget } from './adapter-types.js';

/** Share of a per-minute kind cap that may be reserved (the rest stays free for unpromised calls). */
const RESERVABLE_SHARE = 0.5;

/** Lower runs first. Sends, choices and finals are never dropped; edits merge; typing is droppable. */
export enum Priority {
  Send = 0,
  Delete = 1,
  Edit = 2,
  Typing = 3,
}

export interface SchedulerTarget {
  /** The chat the call counts against (conversation chat id, platform-qualified). */
  chatKey: string;
  isGroup: boolean;
}

export interface ScheduledTask<T> {
  readonly promise: Promise<T>;
  /** Removes the task if it has not started; its promise rejects with TaskCancelledError. */
  cancel(): boolean;
  readonly started: boolean;
}

export class TaskCancelledError extends Error {
  override readonly name = 'TaskCancelledError';
}

export interface SchedulerStats {
  calls: number;
  rateLimited: number;
  /** Total milliseconds chats were held back by a platform 429. */
  rateLimitWaitMs: number;
  droppedTyping: number;
  retries: number;
}

export interface SchedulerOptions {
  now?: () => number;
  /** Attempts for a call failing with a non-permanent PlatformError (5xx, network). Default 3. */
  maxAttempts?: number;
  /** Base backoff for those retries, ms. Default 500. */
  retryBaseMs?: number;
  onRateLimited?: (target: SchedulerTarget, retryAfterMs: number) => void;
  /**
   * Extra wait when a window is full, for clock granularity, ms. Default 10 for the global second (which
   * already counts calls until they may have arrived) and 50 for per-minute kind caps (counted at start).
   */
  windowMarginMs?: number;
  /**
   * The longest time from our start of a call to its arrival at the platform that the global window
   * allows for, ms. Default 200. A call counts until a second after it may have arrived: after its answer
   * (it arrived before that, whatever the network did) or after start + this, whichever is sooner. (Only
   * waiting for answers would be exact for any delay, but on a busy event loop answers are observed late
   * and the budget would go unused.)
   */
  maxArrivalDelayMs?: number;
}

/**
 * The part of the bot's budget this process may use, when several replicas split it (see
 * core/replicas/budget-shares.ts). Never more than the budget itself; 0 means "none now": calls wait.
 */
export interface BudgetShare {
  /** Calls per second across the bot this process may make. */
  globalPerSecond: number;
  /** Per-minute caps by kind (only kinds the budget caps); a kind not listed keeps the budget's cap. */
  perMinute?: Partial<Record<CallKind, number>>;
}

/** Calls that still count against each window now (what a replica reports while budgets are split). */
export interface BudgetUsage {
  /** Calls that may still arrive within the global second (the arrival-time window). */
  globalPerSecond: number;
  /** Starts within the sliding minute, per capped kind. */
  perMinute: Partial<Record<CallKind, number>>;
}

/** The kind a call draws on; a function is asked right before the call would start (it may change until then). */
export type KindOf = CallKind | (() => CallKind | undefined);

interface Task {
  seq: number;
  priority: Priority;
  kind?: KindOf;
  target: SchedulerTarget;
  run: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  attempts: number;
  started: boolean;
  cancelled: boolean;
}

interface ChatState {
  key: string;
  queue: Task[];
  /** Earliest time the next call may start. */
  nextAt: number;
  /** Start times within the last minute (groups only). */
  minute: number[];
  inFlight: boolean;
}

/** How long one-at-a-time pacing lasts after the last bot-wide 429, ms. */
const SERIAL_WINDOW_MS = 60_000;
/** The longest pause after each success in that mode, ms (one long retry-after must not slow everything). */
const MAX_SERIAL_PACE_MS = 10_000;

export class RateScheduler {
  private readonly chats = new Map<string, ChatState>();
  /**
   * Calls that may still arrive at the platform within the second before now: in flight (`end` Infinity)
   * or answered less than a second ago. A call reaches the platform between our start and its answer.
   */
  private readonly recent: Array<{ start: number; end: number }> = [];
  /** When the last global start was due (not when it happened: a late timer does not push the pace back). */
  private lastSlot = -Infinity;
  /** Start times within the last minute, per capped kind. */
  private readonly kinds = new Map<CallKind, number[]>();
  private readonly reserved = new Map<CallKind, number>();
  /** No call starts before this (a platform 429 that holds back the whole bot). */
  private globalPausedUntil = 0;
  /**
   * After a bot-wide 429 the bot's real budget is smaller than ours: until this time (a minute without
   * another one) calls go one at a time, each success followed by a pause as long as the last retry-after
   * (the platform's refill time), instead of releasing every waiting chat at once to earn a 429 each.
   */
  private serialUntil = 0;
  private lastGlobalRetryMs = 0;
  /** This process's part of the budget (replicas); undefined = all of it. */
  private share: BudgetShare | undefined;
  private running = 0;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private closed = false;
  readonly stats: SchedulerStats = { calls: 0, rateLimited: 0, rateLimitWaitMs: 0, droppedTyping: 0, retries: 0 };
  private readonly now: () => number;

  constructor(
    private budget: RateBudget,
    private readonly options: SchedulerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Queues one platform call; `kind` names what it draws on when the budget caps kinds per minute. */
  schedule<T>(target: SchedulerTarget, priority: Priority, run: () => Promise<T>, kind?: KindOf): ScheduledTask<T> {
    if (this.closed) {
      const p = Promise.reject(new TaskCancelledError('scheduler closed'));
      p.catch(() => {});
      return { promise: p, cancel: () => false, started: false };
    }
    const chat = this.chat(target.chatKey);
    // A typing indicator is pointless when the chat already has work waiting: drop it.
    if (priority === Priority.Typing && chat.queue.length > 0) {
      this.stats.droppedTyping++;
      return { promise: Promise.resolve(undefined as T), cancel: () => false, started: false };
    }
    let task!: Task;
    const promise = new Promise<T>((resolve, reject) => {
      task = {
        seq: this.seq++,
        priority,
        kind,
        target,
        run,
        resolve: resolve as (v: unknown) => void,
        reject,
        attempts: 0,
        started: false,
        cancelled: false,
      };
    });
    insertSorted(chat.queue, task);
    this.pump();
    return {
      promise,
      cancel: () => {
        if (task.started || task.cancelled) return false;
        task.cancelled = true;
        const i = chat.queue.indexOf(task);
        if (i >= 0) chat.queue.splice(i, 1);
        task.reject(new TaskCancelledError('cancelled'));
        return true;
      },
      get started() {
        return task.started;
      },
    };
  }

  /** Limits this process to `share` of the budget (undefined: the whole budget) and reschedules waiting calls. */
  setShare(share: BudgetShare | undefined): void {
    this.share = share;
    this.pump();
  }

  /** How many calls count against each window right now (the global second, each capped kind's minute). */
  usage(): BudgetUsage {
    const now = this.now();
    const span = 1000 + (this.options.windowMarginMs ?? 10);
    let global = 0;
    for (const r of this.recent) if (this.arrivedBy(r) + span > now) global++;
    const perMinute: BudgetUsage['perMinute'] = {};
    for (const [kind, times] of this.kinds) perMinute[kind] = times.filter((t) => t > now - 60_000).length;
    return { globalPerSecond: global, perMinute };
  }

  /** Calls per second this process may make: the budget's, or less under a share. */
  private globalLimit(): number {
    const budget = this.budget.globalPerSecond;
    return this.share ? Math.min(budget, this.share.globalPerSecond) : budget;
  }

  /** `kind`'s per-minute cap for this process, or undefined when the budget does not cap it. */
  private kindCap(kind: CallKind): number | undefined {
    const cap = this.budget.perMinute?.[kind];
    if (!cap) return undefined;
    const shared = this.share?.perMinute?.[kind];
    return shared === undefined ? cap : Math.min(cap, shared);
  }

  /**
   * Holds one slot of `kind`'s per-minute cap for a call promised later (it will come at Send priority).
   * False when the reservable share is taken; true (and nothing held) when the kind has no cap.
   */
  reserve(kind: CallKind): boolean {
    const cap = this.kindCap(kind);
    if (cap === undefined) return true;
    const held = this.reserved.get(kind) ?? 0;
    if (held + 1 > Math.max(1, Math.floor(cap * RESERVABLE_SHARE))) return false;
    this.reserved.set(kind, held + 1);
    return true;
  }

  /** Gives back a slot taken with reserve(). */
  release(kind: CallKind): void {
    if (!this.budget.perMinute?.[kind]) return;
    this.reserved.set(kind, Math.max(0, (this.reserved.get(kind) ?? 0) - 1));
    this.pump();
  }

  /** Tasks waiting (not started) across all chats. */
  pending(): number {
    let n = 0;
    for (const c of this.chats.values()) n += c.queue.length;
    return n;
  }

  /** Rejects every waiting task and stops. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const chat of this.chats.values()) {
      for (const t of chat.queue.splice(0)) t.reject(new TaskCancelledError('scheduler closed'));
    }
  }

  private chat(key: string): ChatState {
    let c = this.chats.get(key);
    if (!c) {
      c = { key, queue: [], nextAt: 0, minute: [], inFlight: false };
      this.chats.set(key, c);
    }
    return c;
  }

  /** Earliest time a call for this chat may start, given every budget. */
  private readyAt(chat: ChatState, isGroup: boolean, now: number): number {
    let at = chat.nextAt;
    if (isGroup && this.budget.groupPerMinute > 0) {
      while (chat.minute.length && chat.minute[0] <= now - 60_000) chat.minute.shift();
      if (chat.minute.length >= this.budget.groupPerMinute) at = Math.max(at, chat.minute[0] + 60_000);
    }
    return at;
  }

  private globalReadyAt(now: number): number {
    const limit = this.globalLimit();
    // No share of the budget now (replicas rebalancing): nothing starts until setShare gives some.
    if (limit <= 0) return Infinity;
    // Budgets this high (a start every < 2 ms) are no platform's limit: no pacing, no window to keep.
    const gap = 1000 / limit;
    // A bot-wide 429 holds back every call, whatever the budget.
    if (gap < 2) return Math.max(now, this.globalPausedUntil);
    // Answers come back in any order: compact in place (this runs per dispatch; no garbage).
    const span = 1000 + (this.options.windowMarginMs ?? 10);
    let kept = 0;
    for (const r of this.recent) if (this.arrivedBy(r) + span > now) this.recent[kept++] = r;
    this.recent.length = kept;
    // Starts are spread evenly (one every 1000/N ms) rather than released in a burst when the window frees.
    const spaced = Math.max(now, this.lastSlot + gap, this.globalPausedUntil);
    if (this.recent.length < limit) return spaced;
    // Full. The platform counts arrivals, and a call arrives between our start and its answer (and within
    // maxArrivalDelayMs of its start): so it counts until a second after the sooner of the two. With fewer
    // than N calls that could still land in the second before any start, no sliding second of arrivals
    // ever holds more than N, whatever the network's jitter within that bound.
    let earliest = Infinity;
    for (const r of this.recent) earliest = Math.min(earliest, this.arrivedBy(r));
    return Math.max(spaced, earliest + span);
  }

  private kindOf(task: Task): CallKind | undefined {
    return typeof task.kind === 'function' ? task.kind() : task.kind;
  }

  /** When the task's kind has room in its sliding minute (reserved slots count unless the task is urgent). */
  private kindReadyAt(task: Task, now: number): number {
    const kind = this.kindOf(task);
    if (kind === undefined) return now;
    const cap = this.kindCap(kind);
    if (cap === undefined) return now;
    const times = this.kinds.get(kind) ?? [];
    while (times.length && times[0] <= now - 60_000) times.shift();
    const held = task.priority === Priority.Send ? 0 : (this.reserved.get(kind) ?? 0);
    const over = times.length + held - cap;
    if (over < 0) return now;
    // Room comes when enough starts leave the window; if reservations alone fill it, release() wakes us.
    return over < times.length ? times[over] + 60_000 + (this.options.windowMarginMs ?? 50) : Infinity;
  }

  private pump(): void {
    if (this.closed) return;
    for (;;) {
      const now = this.now();
      const globalAt = this.globalReadyAt(now);
      let best: { chat: ChatState; task: Task } | null = null;
      let wakeAt = Infinity;
      // values(), not entries(): this loop runs per dispatch over every chat, and entry tuples are garbage.
      for (const chat of this.chats.values()) {
        if (chat.inFlight) continue;
        if (!chat.queue[0]) {
          if (chat.nextAt <= now && chat.minute.length === 0) this.chats.delete(chat.key);
          continue;
        }
        const at = this.readyAt(chat, chat.queue[0].target.isGroup, now);
        if (at > now) {
          wakeAt = Math.min(wakeAt, at);
          continue;
        }
        // The first task whose kind has room: a call waiting for its kind's minute must not hold up a
        // call of another kind in the same chat.
        let head: Task | undefined;
        for (const t of chat.queue) {
          const kindAt = this.kindReadyAt(t, now);
          if (kindAt <= now) {
            head = t;
            break;
          }
          wakeAt = Math.min(wakeAt, kindAt);
        }
        if (!head) continue;
        if (!best || head.priority < best.task.priority || (head.priority === best.task.priority && head.seq < best.task.seq)) {
          best = { chat, task: head };
        }
      }
      if (!best) return this.arm(wakeAt);
      if (globalAt > now) return this.arm(globalAt);
      if (this.running > 0 && now < this.serialUntil) return; // the running call's end pumps again
      this.start(best.chat, best.task, now);
    }
  }

  /** By when this call reached the platform at the latest (see `maxArrivalDelayMs`). */
  private arrivedBy(r: { start: number; end: number }): number {
    return Math.min(r.end, r.start + (this.options.maxArrivalDelayMs ?? 200));
  }

  private arm(at: number): void {
    if (at === Infinity || (this.timer && this.timerAt <= at)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, at - this.now()));
    this.timer.unref?.();
  }

  private start(chat: ChatState, task: Task, now: number): void {
    chat.queue.splice(chat.queue.indexOf(task), 1);
    const kind = this.kindOf(task);
    if (kind && this.budget.perMinute?.[kind]) {
      const times = this.kinds.get(kind) ?? [];
      times.push(now);
      this.kinds.set(kind, times);
    }
    chat.inFlight = true;
    task.started = true;
    task.attempts++;
    this.stats.calls++;
    const entry = { start: now, end: Infinity };
    const gap = 1000 / this.globalLimit();
    if (gap >= 2) {
      this.recent.push(entry);
      // A start less than a gap late keeps the schedule (the next may come sooner); after a pause it restarts.
      this.lastSlot = this.lastSlot + gap >= now - gap ? this.lastSlot + gap : now;
    }
    if (task.target.isGroup) chat.minute.push(now);
    const interval = task.target.isGroup ? this.budget.groupChatIntervalMs : this.budget.privateChatIntervalMs;
    chat.nextAt = now + interval;
    this.running++;
    task
      .run()
      .then(
        (v) => {
          const at = this.now();
          if (at < this.serialUntil) this.globalPausedUntil = Math.max(this.globalPausedUntil, at + this.lastGlobalRetryMs);
          task.resolve(v);
        },
        (err) => this.failed(chat, task, err),
      )
      .finally(() => {
        entry.end = this.now();
        chat.inFlight = false;
        this.running--;
        this.pump();
      });
  }

  private failed(chat: ChatState, task: Task, err: unknown): void {
    if (this.closed) return task.reject(err);
    if (err instanceof PlatformRateLimitError) {
      // The platform's word wins: hold this chat back for as long as it said, then retry the same call.
      this.stats.rateLimited++;
      this.stats.rateLimitWaitMs += err.retryAfterMs;
      chat.nextAt = Math.max(chat.nextAt, this.now() + err.retryAfterMs);
      if (err.global) {
        const at = this.now();
        this.globalPausedUntil = Math.max(this.globalPausedUntil, at + err.retryAfterMs);
        // A 429 met mid-refill names less than a full refill: pace by the longest seen in this window.
        const longest = at < this.serialUntil ? Math.max(this.lastGlobalRetryMs, err.retryAfterMs) : err.retryAfterMs;
        this.lastGlobalRetryMs = Math.min(longest, MAX_SERIAL_PACE_MS);
        this.serialUntil = at + SERIAL_WINDOW_MS;
      }
      this.options.onRateLimited?.(task.target, err.retryAfterMs);
      task.started = false;
      chat.queue.unshift(task);
      return;
    }
    const max = this.options.maxAttempts ?? 3;
    if (err instanceof PlatformError && !err.permanent && task.attempts < max) {
      this.stats.retries++;
      const backoff = (this.options.retryBaseMs ?? 500) * 2 ** (task.attempts - 1);
      chat.nextAt = Math.max(chat.nextAt, this.now() + backoff);
      task.started = false;
      chat.queue.unshift(task);
      return;
    }
    task.reject(err);
  }
}

function insertSorted(queue: Task[], task: Task): void {
  let i = queue.length;
  while (i > 0 && queue[i - 1].priority > task.priority) i--;
  queue.splice(i, 0, task);
}
