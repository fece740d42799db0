// Pending updates, confirmed by offset, delivered by long polling (or by the webhook loop).
import { ApiError } from './api-error.js';

export type Update = { update_id: number } & Record<string, unknown>;

/** Types a bot gets when allowed_updates is empty or never set (the real default leaves these out). */
const NOT_BY_DEFAULT = new Set(['chat_member', 'message_reaction', 'message_reaction_count']);

export const CONFLICT_OTHER_POLLER =
  'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running';
export const CONFLICT_WEBHOOK = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";

/** Wakes everyone waiting; a waiter may also give up after a timeout. */
export class Wakeup {
  private readonly waiters = new Set<() => void>();

  wait(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

interface Poll {
  terminated?: ApiError;
}

export interface GetUpdatesArgs {
  offset?: number;
  /** 1–100; default 100. */
  limit?: number;
  /** Long-poll seconds; default 0. */
  timeout?: number;
  allowedUpdates?: string[];
}

export class UpdateQueue {
  /** Wakes long polls and the webhook loop: a new update, a setting change, or shutdown. */
  readonly changed = new Wakeup();
  private pending: Update[] = [];
  private readonly history = new Map<number, Update>();
  private nextId = 1;
  private allowed: Set<string> | undefined;
  private poll: Poll | undefined;
  closed = false;

  push(body: Record<string, unknown>): number {
    // Snapshot: later edits of a stored message must not rewrite an update already queued.
    const update = { update_id: this.nextId++, ...structuredClone(body) } as Update;
    this.history.set(update.update_id, update);
    this.pending.push(update);
    this.changed.wake();
    return update.update_id;
  }

  redeliver(updateId: number): void {
    const update = this.history.get(updateId);
    if (!update) throw new Error(`fake-telegram: no update ${updateId} to redeliver`);
    if (this.pending.some((u) => u.update_id === updateId)) return;
    this.pending.push(update);
    this.pending.sort((a, b) => a.update_id - b.update_id);
    this.changed.wake();
  }

  dropPending(): void {
    this.pending = [];
  }

  pendingCount(): number {
    return this.pending.length;
  }

  setAllowed(types: string[] | undefined): void {
    if (types === undefined) return; // omitted: the server keeps the previous setting
    this.allowed = types.length ? new Set(types) : undefined;
  }

  allowedList(): string[] | undefined {
    return this.allowed ? [...this.allowed] : undefined;
  }

  /** Next updates the bot may receive; updates of types it did not ask for are discarded, as on the real server. */
  deliverable(limit: number): Update[] {
    this.pending = this.pending.filter((u) => this.isAllowed(u));
    return this.pending.slice(0, limit);
  }

  /** Confirms one update (webhook delivery succeeded). */
  ack(updateId: number): void {
    this.pending = this.pending.filter((u) => u.update_id !== updateId);
  }

  /** Ends a pending long poll with 409 (another poller arrived, or a webhook was set). */
  terminatePoll(description: string): void {
    if (this.poll) {
      this.poll.terminated = new ApiError(409, description);
      this.poll = undefined;
      this.changed.wake();
    }
  }

  async getUpdates(args: GetUpdatesArgs, signal: AbortSignal): Promise<Update[]> {
    // A newer getUpdates terminates the older one: that one is answered 409, this one proceeds.
    this.terminatePoll(CONFLICT_OTHER_POLLER);
    const offset = args.offset ?? 0;
    if (offset > 0) this.pending = this.pending.filter((u) => u.update_id >= offset);
    else if (offset < 0) this.pending = this.pending.slice(offset);
    this.setAllowed(args.allowedUpdates);
    const limit = Math.min(100, Math.max(1, args.limit ?? 100));
    const deadline = Date.now() + Math.max(0, args.timeout ?? 0) * 1000;
    const poll: Poll = {};
    this.poll = poll;
    try {
      for (;;) {
        if (poll.terminated) throw poll.terminated;
        const got = this.deliverable(limit);
        const left = deadline - Date.now();
        if (got.length || left <= 0 || signal.aborted || this.closed) return got;
        const aborted = () => this.changed.wake();
        signal.addEventListener('abort', aborted, { once: true });
        await this.changed.wait(left);
        signal.removeEventListener('abort', aborted);
      }
    } finally {
      if (this.poll === poll) this.poll = undefined;
    }
  }

  private isAllowed(u: Update): boolean {
    const type = Object.keys(u).find((k) => k !== 'update_id') ?? '';
    return this.allowed ? this.allowed.has(type) : !NOT_BY_DEFAULT.has(type);
  }
}
