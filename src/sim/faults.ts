// Fault injection state: failing requests, cut and stalled streams, idle-cut changes.
import type { StreamFaults } from './sse.js';

interface FailRule {
  remaining: number;
  status: number;
  path?: RegExp;
  body?: string;
}

interface StreamRule {
  path?: RegExp;
  faults: StreamFaults;
}

/** A pending "fail this request" decision. */
export interface FailDecision {
  status: number;
  body?: string;
}

export class FaultPlan {
  private readonly fails: FailRule[] = [];
  private readonly streams: StreamRule[] = [];

  failNext(n: number, status: number, opts: { path?: RegExp; body?: string } = {}): void {
    if (n > 0) this.fails.push({ remaining: n, status, path: opts.path, body: opts.body });
  }

  /** Drops every pending failNext rule (requests succeed again). */
  clearFailures(): void {
    this.fails.length = 0;
  }

  cutStreamAfter(n: number, opts: { path?: RegExp } = {}): void {
    this.streams.push({ path: opts.path, faults: { cutAfter: Math.max(0, n) } });
  }

  stallNext(opts: { path?: RegExp } = {}): void {
    this.streams.push({ path: opts.path, faults: { stall: true } });
  }

  /** Consumes one failure for this request path, if a rule matches. */
  takeFailure(path: string): FailDecision | null {
    const i = this.fails.findIndex((r) => !r.path || r.path.test(path));
    if (i < 0) return null;
    const r = this.fails[i]!;
    if (--r.remaining <= 0) this.fails.splice(i, 1);
    return { status: r.status, body: r.body };
  }

  /** Consumes the stream faults for a newly opened SSE stream on this path. */
  takeStreamFaults(path: string): StreamFaults {
    const i = this.streams.findIndex((r) => !r.path || r.path.test(path));
    if (i < 0) return {};
    return this.streams.splice(i, 1)[0]!.faults;
  }
}
