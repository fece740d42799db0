import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PlatformError, PlatformRateLimitError, type RateBudget } from '../../src/core/adapter-types.js';
import { Priority, RateScheduler, TaskCancelledError, type SchedulerTarget } from '../../src/core/rate-scheduler.js';

// Fake timers drive both setTimeout and Date.now, so the scheduler's clock and its timers agree and
// the assertions are about *when* calls started in scheduler time, never about wall-clock speed.

const budget = (b: Partial<RateBudget> = {}): RateBudget => ({
  globalPerSecond: 1000,
  privateChatIntervalMs: 0,
  groupChatIntervalMs: 0,
  groupPerMinute: 0,
  ...b,
});
const priv = (id: string): SchedulerTarget => ({ chatKey: `t:${id}`, isGroup: false });
const grp = (id: string): SchedulerTarget => ({ chatKey: `t:${id}`, isGroup: true });

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Max number of start times inside any window [t, t + windowMs). */
function maxInWindow(times: number[], windowMs: number): number {
  const s = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0; i < s.length; i++) {
    let j = i;
    while (j < s.length && s[j] < s[i] + windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

describe('RateScheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never starts more than globalPerSecond calls in any 1 s window', async () => {
    const s = new RateScheduler(budget({ globalPerSecond: 5 }), { now: Date.now });
    const starts: number[] = [];
    const all = Array.from({ length: 23 }, (_, i) =>
      s.schedule(priv(`c${i}`), Priority.Send, async () => {
        starts.push(Date.now());
      }).promise,
    );
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all(all);
    expect(starts).toHaveLength(23);
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(5);
    // The budget is used, not wasted: 23 calls at 5/s need 4 extra windows, not many more.
    expect(Math.max(...starts) - Math.min(...starts)).toBeLessThan(5000);
  });

  it('keeps the minimum interval between calls in one private chat and one group chat', async () => {
    const s = new RateScheduler(budget({ privateChatIntervalMs: 1000, groupChatIntervalMs: 3000 }), { now: Date.now });
    const p: number[] = [];
    const g: number[] = [];
    const all = [];
    for (let i = 0; i < 4; i++) {
      all.push(s.schedule(priv('a'), Priority.Send, async () => void p.push(Date.now())).promise);
      all.push(s.schedule(grp('g'), Priority.Send, async () => void g.push(Date.now())).promise);
    }
    await vi.advanceTimersByTimeAsync(20_000);
    await Promise.all(all);
    expect(p).toHaveLength(4);
    expect(g).toHaveLength(4);
    for (let i = 1; i < 4; i++) {
      expect(p[i] - p[i - 1]).toBeGreaterThanOrEqual(1000);
      expect(g[i] - g[i - 1]).toBeGreaterThanOrEqual(3000);
    }
  });

  it('caps calls per minute in a group chat', async () => {
    const s = new RateScheduler(budget({ groupPerMinute: 3 }), { now: Date.now });
    const starts: number[] = [];
    const all = Array.from({ length: 7 }, () => s.schedule(grp('g'), Priority.Send, async () => void starts.push(Date.now())).promise);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(starts).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(120_000);
    await Promise.all(all);
    expect(starts).toHaveLength(7);
    expect(maxInWindow(starts, 60_000)).toBeLessThanOrEqual(3);
    // A private chat is not subject to the group cap.
    const privStarts: number[] = [];
    const privDone = Promise.all(Array.from({ length: 5 }, () => s.schedule(priv('p'), Priority.Send, async () => void privStarts.push(Date.now())).promise));
    await vi.advanceTimersByTimeAsync(100); // global starts are spaced 1000/N ms apart
    await privDone;
    expect(maxInWindow(privStarts, 60_000)).toBe(5);
  });

  it('caps a kind of call per sliding minute across all chats, and other kinds are not held up behind it', async () => {
    const s = new RateScheduler(budget({ perMinute: { edit: 3 } }), { now: Date.now });
    const edits: number[] = [];
    const sends: number[] = [];
    const all = Array.from({ length: 6 }, (_, i) => s.schedule(priv(`c${i % 2}`), Priority.Send, async () => void edits.push(Date.now()), 'edit').promise);
    // A send queued behind capped edits in the same chat still goes at once.
    all.push(s.schedule(priv('c0'), Priority.Send, async () => void sends.push(Date.now()), 'send').promise);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(edits).toHaveLength(3);
    expect(sends).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(61_000);
    await Promise.all(all);
    expect(edits).toHaveLength(6);
    expect(maxInWindow(edits, 60_000)).toBeLessThanOrEqual(3);
  });

  it('keeps reserved slots of a kind for urgent calls: intermediate edits wait, finals do not', async () => {
    const s = new RateScheduler(budget({ perMinute: { edit: 4 } }), { now: Date.now });
    // Half of the cap may be reserved, no more.
    expect(s.reserve('edit')).toBe(true);
    expect(s.reserve('edit')).toBe(true);
    expect(s.reserve('edit')).toBe(false);
    const intermediate: number[] = [];
    const finals: number[] = [];
    const inter = Array.from({ length: 4 }, (_, i) => s.schedule(priv(`i${i}`), Priority.Edit, async () => void intermediate.push(Date.now()), 'edit').promise);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(intermediate).toHaveLength(2); // 4 per minute, 2 held back
    const fin = Array.from({ length: 2 }, (_, i) => s.schedule(priv(`f${i}`), Priority.Send, async () => void finals.push(Date.now()), 'edit').promise);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(finals).toHaveLength(2); // the reserved slots
    s.release('edit');
    s.release('edit');
    await vi.advanceTimersByTimeAsync(61_000);
    await Promise.all([...inter, ...fin]);
    expect(intermediate).toHaveLength(4);
    expect(maxInWindow([...intermediate, ...finals], 60_000)).toBeLessThanOrEqual(4);
    // A kind without a cap never refuses a reservation.
    expect(Array.from({ length: 10 }, () => s.reserve('send')).every(Boolean)).toBe(true);
  });

  it('asks a kind function right before starting, so the newest answer counts', async () => {
    const s = new RateScheduler(budget({ perMinute: { edit: 1 } }), { now: Date.now });
    await s.schedule(priv('a'), Priority.Send, async () => {}, 'edit').promise;
    let kind: 'send' | 'edit' = 'edit';
    const ran: number[] = [];
    const p = s.schedule(priv('b'), Priority.Send, async () => void ran.push(Date.now()), () => kind).promise;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(ran).toHaveLength(0); // would be the second edit this minute
    kind = 'send';
    s.release('edit'); // any pump re-asks
    await vi.advanceTimersByTimeAsync(10);
    await p;
    expect(ran).toHaveLength(1);
  });

  it('runs sends before edits before typing within a chat', async () => {
    const s = new RateScheduler(budget(), { now: Date.now });
    const order: string[] = [];
    const block = deferred();
    const first = s.schedule(priv('a'), Priority.Send, () => block.promise);
    await vi.advanceTimersByTimeAsync(0);
    expect(first.started).toBe(true);
    // Queued while the chat is busy; typing first so it is not dropped (the queue is empty then).
    const t = s.schedule(priv('a'), Priority.Typing, async () => void order.push('typing'));
    const e = s.schedule(priv('a'), Priority.Edit, async () => void order.push('edit'));
    const d = s.schedule(priv('a'), Priority.Delete, async () => void order.push('delete'));
    const snd = s.schedule(priv('a'), Priority.Send, async () => void order.push('send'));
    block.resolve();
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all([t.promise, e.promise, d.promise, snd.promise]);
    expect(order).toEqual(['send', 'delete', 'edit', 'typing']);
  });

  it('runs the highest priority first across chats when the global budget is the bottleneck', async () => {
    const s = new RateScheduler(budget({ globalPerSecond: 1 }), { now: Date.now });
    const order: string[] = [];
    await s.schedule(priv('x'), Priority.Send, async () => {}).promise; // uses this second's budget
    const jobs = [
      s.schedule(priv('a'), Priority.Typing, async () => void order.push('a-typing')),
      s.schedule(priv('b'), Priority.Edit, async () => void order.push('b-edit')),
      s.schedule(priv('c'), Priority.Edit, async () => void order.push('c-edit')),
      s.schedule(priv('d'), Priority.Send, async () => void order.push('d-send')),
    ];
    await vi.advanceTimersByTimeAsync(10_000);
    await Promise.all(jobs.map((j) => j.promise));
    // Same priority keeps arrival order.
    expect(order).toEqual(['d-send', 'b-edit', 'c-edit', 'a-typing']);
  });

  it('drops a typing indicator when the chat already has queued work', async () => {
    const s = new RateScheduler(budget(), { now: Date.now });
    const block = deferred();
    s.schedule(priv('a'), Priority.Send, () => block.promise);
    await vi.advanceTimersByTimeAsync(0);
    const queued = s.schedule(priv('a'), Priority.Edit, async () => {});
    const typing = vi.fn(async () => {});
    const t = s.schedule(priv('a'), Priority.Typing, typing);
    await expect(t.promise).resolves.toBeUndefined();
    // Another chat with nothing queued still gets its typing indicator.
    const other = vi.fn(async () => {});
    const otherDone = s.schedule(priv('b'), Priority.Typing, other).promise;
    await vi.advanceTimersByTimeAsync(10); // global starts are spaced 1000/N ms apart
    await otherDone;
    block.resolve();
    await vi.advanceTimersByTimeAsync(100);
    await queued.promise;
    expect(typing).not.toHaveBeenCalled();
    expect(other).toHaveBeenCalledTimes(1);
    expect(s.stats.droppedTyping).toBe(1);
  });

  it('on a 429 holds that chat back by retryAfterMs and retries the same call; other chats proceed', async () => {
    const limited: Array<{ target: SchedulerTarget; ms: number }> = [];
    const s = new RateScheduler(budget(), { now: Date.now, onRateLimited: (target, ms) => limited.push({ target, ms }) });
    const t0 = Date.now();
    const aCalls: number[] = [];
    const a = s.schedule(priv('a'), Priority.Send, async () => {
      aCalls.push(Date.now());
      if (aCalls.length === 1) throw new PlatformRateLimitError(5000);
      return 'a-ok';
    });
    await vi.advanceTimersByTimeAsync(0);
    const aNext = vi.fn(async () => 'a2');
    const a2 = s.schedule(priv('a'), Priority.Send, aNext);
    const bAt: number[] = [];
    const b = s.schedule(priv('b'), Priority.Send, async () => void bAt.push(Date.now()));
    await vi.advanceTimersByTimeAsync(1000);
    await b.promise;
    expect(bAt[0] - t0).toBeLessThan(1000);
    expect(aCalls).toHaveLength(1);
    expect(aNext).not.toHaveBeenCalled(); // the chat is held, not just the failed call
    await vi.advanceTimersByTimeAsync(5000);
    await expect(a.promise).resolves.toBe('a-ok');
    await expect(a2.promise).resolves.toBe('a2');
    expect(aCalls).toHaveLength(2);
    expect(aCalls[1] - aCalls[0]).toBeGreaterThanOrEqual(5000);
    expect(s.stats.rateLimited).toBe(1);
    expect(s.stats.rateLimitWaitMs).toBe(5000);
    expect(limited).toEqual([{ target: priv('a'), ms: 5000 }]);
  });

  it('retries a non-permanent PlatformError up to maxAttempts, then rejects with it', async () => {
    const s = new RateScheduler(budget(), { now: Date.now, maxAttempts: 3, retryBaseMs: 100 });
    const err = new PlatformError('bad gateway', 502, false);
    const run = vi.fn(async () => {
      throw err;
    });
    const t = s.schedule(priv('a'), Priority.Send, run);
    const caught = t.promise.catch((e) => e);
    await vi.advanceTimersByTimeAsync(5000);
    expect(await caught).toBe(err);
    expect(run).toHaveBeenCalledTimes(3);
    expect(s.stats.retries).toBe(2);

    let n = 0;
    const flaky = s.schedule(priv('b'), Priority.Send, async () => {
      if (++n < 3) throw new PlatformError('timeout', 'ETIMEDOUT', false);
      return 'ok';
    });
    await vi.advanceTimersByTimeAsync(5000);
    await expect(flaky.promise).resolves.toBe('ok');
    expect(n).toBe(3);
  });

  it('does not retry a permanent PlatformError or an unknown error', async () => {
    const s = new RateScheduler(budget(), { now: Date.now });
    const run = vi.fn(async () => {
      throw new PlatformError('chat not found', 400, true);
    });
    const t = s.schedule(priv('a'), Priority.Send, run);
    const caught = t.promise.catch((e) => e);
    await vi.advanceTimersByTimeAsync(5000);
    expect(await caught).toBeInstanceOf(PlatformError);
    expect(run).toHaveBeenCalledTimes(1);
    const plain = vi.fn(async () => {
      throw new TypeError('bug');
    });
    const p = s.schedule(priv('b'), Priority.Send, plain).promise.catch((e) => e);
    await vi.advanceTimersByTimeAsync(5000);
    expect(await p).toBeInstanceOf(TypeError);
    expect(plain).toHaveBeenCalledTimes(1);
  });

  it('cancels a task that has not started, and refuses to cancel one that has', async () => {
    const s = new RateScheduler(budget(), { now: Date.now });
    const block = deferred();
    const first = s.schedule(priv('a'), Priority.Send, () => block.promise);
    await vi.advanceTimersByTimeAsync(0);
    const run = vi.fn(async () => {});
    const second = s.schedule(priv('a'), Priority.Send, run);
    const rejected = second.promise.catch((e) => e);
    expect(s.pending()).toBe(1);
    expect(second.cancel()).toBe(true);
    expect(second.cancel()).toBe(false);
    expect(first.cancel()).toBe(false);
    expect(await rejected).toBeInstanceOf(TaskCancelledError);
    expect(s.pending()).toBe(0);
    block.resolve();
    await vi.advanceTimersByTimeAsync(100);
    await first.promise;
    expect(run).not.toHaveBeenCalled();
  });

  it('close() rejects every waiting task and refuses new ones', async () => {
    const s = new RateScheduler(budget({ privateChatIntervalMs: 10_000 }), { now: Date.now });
    await s.schedule(priv('a'), Priority.Send, async () => {}).promise;
    const run = vi.fn(async () => {});
    const waiting = [s.schedule(priv('a'), Priority.Send, run), s.schedule(priv('a'), Priority.Edit, run)].map((t) => t.promise.catch((e) => e));
    s.close();
    for (const w of waiting) expect(await w).toBeInstanceOf(TaskCancelledError);
    await expect(s.schedule(priv('b'), Priority.Send, run).promise).rejects.toBeInstanceOf(TaskCancelledError);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(run).not.toHaveBeenCalled();
  });

  it('spreads global starts evenly instead of bursting when the window frees', async () => {
    const s = new RateScheduler(budget({ globalPerSecond: 10 }), { now: Date.now });
    const starts: number[] = [];
    const all = Array.from({ length: 30 }, (_, i) => s.schedule(priv(`c${i}`), Priority.Send, async () => void starts.push(Date.now())).promise);
    await vi.advanceTimersByTimeAsync(5_000);
    await Promise.all(all);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100); // 1000 ms / 10
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(10);
  });

  it('holds against any arrival between a call\'s start and its answer (or start + maxArrivalDelayMs): no second can hold more than N', async () => {
    // Answers take 0–300 ms (a jittery network). Wherever in [start, min(answer, start + 200)] each call
    // reached the platform, no window of 1000 ms may contain more than N of them: for every t, at most N of
    // those intervals meet [t, t + 1000].
    const N = 10;
    const s = new RateScheduler(budget({ globalPerSecond: N }), { now: Date.now, maxArrivalDelayMs: 200 });
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const spans: Array<[number, number]> = [];
    const all = Array.from({ length: 60 }, (_, i) =>
      s.schedule(priv(`c${i}`), Priority.Send, async () => {
        const start = Date.now();
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 300)));
        spans.push([start, Math.min(Date.now(), start + 200)]);
      }).promise,
    );
    await vi.advanceTimersByTimeAsync(30_000);
    await Promise.all(all);
    expect(spans).toHaveLength(60);
    let worst = 0;
    for (const t of spans.flatMap(([a, b]) => [a - 1000, b])) worst = Math.max(worst, spans.filter(([a, b]) => b >= t && a <= t + 1000).length);
    expect(worst).toBeLessThanOrEqual(N);
    // And the budget is used: 60 calls at 10/s, each held at most 1.2 s, take well under 8 s.
    expect(Math.max(...spans.map(([a]) => a)) - Math.min(...spans.map(([a]) => a))).toBeLessThan(8_000);
  });

  it('a call counts until a second after its answer, or after start + maxArrivalDelayMs when the answer is late', async () => {
    const s = new RateScheduler(budget({ globalPerSecond: 2 }), { now: Date.now, maxArrivalDelayMs: 200 });
    const hang = deferred();
    const started: Array<[string, number]> = [];
    const t0 = Date.now();
    const run = (id: string, wait?: Promise<void>) => async () => {
      started.push([id, Date.now() - t0]);
      if (wait) await wait;
    };
    const a = s.schedule(priv('a'), Priority.Send, run('a', hang.promise)).promise; // answered very late
    const b = s.schedule(priv('b'), Priority.Send, run('b')).promise; // answered at once, at 500 ms
    const c = s.schedule(priv('c'), Priority.Send, run('c')).promise;
    const d = s.schedule(priv('d'), Priority.Send, run('d')).promise;
    await vi.advanceTimersByTimeAsync(5_000);
    // a: start 0, arrived by 200 at the latest → counts until 1,210 (with the 10 ms margin); b: answered at 500 → until 1,510.
    expect(started).toEqual([['a', 0], ['b', 500], ['c', 1210], ['d', 1510]]);
    hang.resolve();
    await Promise.all([a, b, c, d]);
  });
});
