// Idempotency records (§4.4.1): keyed by (user, key) — not by loop — kept 24 h in memory. A record
// buffers every event its POST emitted (not pings) and fans live events out to attached streams.
import type { SseStream } from './sse.js';

/** Idempotency window, ms. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface BufferedEvent {
  event: string;
  data: unknown;
}

/** One POST's output: the buffered events plus the streams currently receiving it live. */
export class TurnRecord {
  readonly events: BufferedEvent[] = [];
  /** Terminal event written, or (IMPL quirk) the client disconnected. */
  done = false;
  readonly sinks = new Set<SseStream>();
  /** Stops the session listener that feeds this record (set by the POST handler). */
  detach: () => void = () => {};

  constructor(
    readonly hash: number,
    readonly createdAt: number,
    /** Only records stored under a key need a buffer. */
    private readonly buffered: boolean,
  ) {}

  emit(event: string, data: unknown): void {
    if (this.buffered) this.events.push({ event, data });
    for (const s of this.sinks) s.write(event, data);
  }

  /** Marks the record done and ends every attached stream. */
  finish(): void {
    this.done = true;
    for (const s of this.sinks) s.end();
    this.sinks.clear();
  }
}

export class IdempotencyStore {
  private readonly records = new Map<string, TurnRecord>();

  /** Drops expired records; the real server does this on every POST /messages. */
  sweep(now: number): void {
    for (const [k, r] of this.records) if (now - r.createdAt > IDEMPOTENCY_TTL_MS) this.records.delete(k);
  }

  get(user: string, key: string): TurnRecord | undefined {
    return this.records.get(`${user}\u0000${key}`);
  }

  set(user: string, key: string, rec: TurnRecord): void {
    this.records.set(`${user}\u0000${key}`, rec);
  }
}
