// Slack's published Web API limits, enforced per method: tiers are per method per workspace per minute
// (Tier 2 20+, Tier 3 50+, Tier 4 100+), chat.postMessage is about one message per second per channel with
// short bursts. A call over a limit gets HTTP 429 with Retry-After in whole seconds and costs nothing.
import type { LimitRule } from './types.js';

const tier = (limit: number): LimitRule => ({ scope: 'workspace', limit, windowMs: 60_000 });

/**
 * The defaults. chat.stopStream is Tier 2 and chat.appendStream Tier 4 per Slack's method pages;
 * chat.startStream is taken as Tier 2 like stopStream (its page did not say).
 */
export const DEFAULT_LIMITS: Record<string, LimitRule> = {
  // "1 per second per channel; short bursts allowed": a bucket of 2 absorbs network jitter, not more.
  'chat.postMessage': { scope: 'channel', perSecond: 1, burst: 2 },
  'chat.update': tier(50),
  'chat.delete': tier(50),
  'chat.postEphemeral': tier(100),
  'chat.startStream': tier(20),
  'chat.appendStream': tier(100),
  'chat.stopStream': tier(20),
  'reactions.add': tier(50),
  'reactions.remove': tier(50),
  'users.info': tier(100),
  'files.info': tier(100),
  'conversations.info': tier(50),
};

export class MethodLimits {
  private readonly windows = new Map<string, number[]>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rules: Record<string, LimitRule>,
    private readonly clock: () => number,
  ) {}

  /** Admits one call or returns the seconds to wait (≥ 1). */
  admit(method: string, channel: string | undefined): number | undefined {
    const rule = this.rules[method];
    if (!rule) return undefined;
    const key = rule.scope === 'channel' ? `${method}/${channel ?? ''}` : method;
    const now = this.clock();
    if ('perSecond' in rule) {
      const b = this.buckets.get(key) ?? { tokens: rule.burst, at: now };
      b.tokens = Math.min(rule.burst, b.tokens + ((now - b.at) / 1000) * rule.perSecond);
      b.at = now;
      this.buckets.set(key, b);
      if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) / rule.perSecond));
      b.tokens -= 1;
      return undefined;
    }
    const times = this.windows.get(key) ?? [];
    this.windows.set(key, times);
    while (times.length && times[0] <= now - rule.windowMs) times.shift();
    if (times.length >= rule.limit) {
      const waitMs = times[times.length - rule.limit] + rule.windowMs - now;
      return Math.max(1, Math.ceil(waitMs / 1000));
    }
    times.push(now);
    return undefined;
  }
}

/** Defaults with the caller's overrides (null removes a limit). */
export function mergeLimits(overrides: Record<string, LimitRule | null> | undefined): Record<string, LimitRule> {
  const out: Record<string, LimitRule> = { ...DEFAULT_LIMITS };
  for (const [method, rule] of Object.entries(overrides ?? {})) {
    if (rule === null) delete out[method];
    else out[method] = rule;
  }
  return out;
}
