// One server-side SSE response: exact Hono framing (no id/retry lines), pings, Bun-like idle cut,
// and the per-stream faults (cut after n events, stall).
import type { ServerResponse } from 'node:http';

/** Per-stream fault flags decided when the stream opens. */
export interface StreamFaults {
  /** Destroy the connection once this many events have been written. */
  cutAfter?: number;
  /** Write nothing at all (no events, no pings, no end) and never idle-cut: a silent, open stream. */
  stall?: boolean;
}

export interface SseStreamOptions {
  pingIntervalMs: number;
  /** Current idle cut, ms, or null for none; read each time the timer is re-armed. */
  idleCutMs: () => number | null;
  faults: StreamFaults;
}

export class SseStream {
  private written = 0;
  private closed = false;
  private ping: NodeJS.Timeout | null = null;
  private idle: NodeJS.Timeout | null = null;
  private readonly closeHandlers: Array<() => void> = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: SseStreamOptions,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.flushHeaders();
    res.on('close', () => this.onClosed());
    if (opts.faults.cutAfter === 0) {
      res.destroy();
      return;
    }
    if (opts.faults.stall) return;
    this.ping = setInterval(() => this.write('ping', {}), opts.pingIntervalMs);
    this.ping.unref();
    this.armIdle();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs when the response closes for any reason (end, client gone, cut). */
  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closeHandlers.push(fn);
  }

  write(event: string, data: unknown): void {
    if (this.closed || this.opts.faults.stall) return;
    this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    this.written++;
    this.armIdle();
    const cut = this.opts.faults.cutAfter;
    if (cut !== undefined && this.written >= cut) {
      // Let the bytes reach the socket first so the client really received n events.
      this.res.write('', () => this.res.destroy());
      this.closed = true;
      this.stopTimers();
    }
  }

  /** Normal end of a POST stream. A stalled stream stays open (the client must notice). */
  end(): void {
    if (this.closed || this.opts.faults.stall) return;
    this.stopTimers();
    this.res.end();
  }

  /** Destroys the connection without a clean end (what an idle cut or crash does). */
  destroy(): void {
    this.stopTimers();
    this.res.destroy();
  }

  /** Re-arm the idle timer after the idle cut changed at run time. */
  resetIdle(): void {
    if (!this.closed && !this.opts.faults.stall) this.armIdle();
  }

  private armIdle(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const ms = this.opts.idleCutMs();
    if (ms === null) return;
    this.idle = setTimeout(() => this.destroy(), ms);
    this.idle.unref();
  }

  private stopTimers(): void {
    if (this.ping) clearInterval(this.ping);
    if (this.idle) clearTimeout(this.idle);
    this.ping = this.idle = null;
  }

  private onClosed(): void {
    this.closed = true;
    this.stopTimers();
    const hs = this.closeHandlers.splice(0);
    for (const h of hs) h();
  }
}
