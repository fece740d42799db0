// Enforced flood limits. Real Telegram does not publish exact numbers; these are the commonly observed ones
// (30/s per bot, ~1/s per chat with a small burst, 20/min per group), all configurable so tests can hit them.
import { tooManyRequests, type ApiError } from './api-error.js';
import type { FakeTelegramLimits } from './types.js';

interface Bucket {
  tokens: number;
  updated: number;
}

export class RateLimits {
  private readonly globalPerSecond: number;
  private readonly chatPerSecond: number;
  private readonly chatBurst: number;
  private readonly groupPerMinute: number;
  private readonly global: number[] = [];
  private readonly buckets = new Map<number, Bucket>();
  private readonly groups = new Map<number, number[]>();

  constructor(limits: FakeTelegramLimits, private readonly clock: () => number) {
    this.globalPerSecond = limits.globalPerSecond ?? 30;
    this.chatPerSecond = limits.chatPerSecond ?? 1;
    this.chatBurst = limits.chatBurst ?? 3;
    this.groupPerMinute = limits.groupPerMinute ?? 20;
  }

  /**
   * Admits one call for `chatId` or returns the 429 to answer. Every limit is checked before any is
   * charged, so a rejected call costs nothing.
   */
  admit(chatId: number): ApiError | undefined {
    const now = this.clock();
    let waitMs = 0;

    prune(this.global, now - 1000);
    if (this.global.length >= this.globalPerSecond) waitMs = Math.max(waitMs, this.global[this.global.length - this.globalPerSecond] + 1000 - now);

    const bucket = this.buckets.get(chatId) ?? { tokens: this.chatBurst, updated: now };
    bucket.tokens = Math.min(this.chatBurst, bucket.tokens + ((now - bucket.updated) / 1000) * this.chatPerSecond);
    bucket.updated = now;
    this.buckets.set(chatId, bucket);
    if (bucket.tokens < 1) waitMs = Math.max(waitMs, ((1 - bucket.tokens) / this.chatPerSecond) * 1000);

    let group: number[] | undefined;
    if (chatId < 0) {
      group = this.groups.get(chatId) ?? [];
      this.groups.set(chatId, group);
      prune(group, now - 60_000);
      if (group.length >= this.groupPerMinute) waitMs = Math.max(waitMs, group[group.length - this.groupPerMinute] + 60_000 - now);
    }

    // retry_after is whole seconds, rounded up so that waiting it always suffices, and at least 1.
    if (waitMs > 0) return tooManyRequests(Math.max(1, Math.ceil(waitMs / 1000)));
    this.global.push(now);
    bucket.tokens -= 1;
    group?.push(now);
    return undefined;
  }
}

/** Drops timestamps at or before `cutoff` (windows hold calls in (now - span, now]). */
function prune(times: number[], cutoff: number): void {
  let n = 0;
  while (n < times.length && times[n] <= cutoff) n++;
  if (n) times.splice(0, n);
}
