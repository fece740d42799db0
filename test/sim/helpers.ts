// Test helpers: plain fetch wrappers and a tiny strict SSE reader (checks the exact framing).
import { startSimulator, type SimOptions, type Simulator } from '../../src/sim/index.js';

export interface SseEvent {
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

/** Reads an SSE response block by block; each block must be exactly `event: x\ndata: <json>`. */
export class SseReader {
  readonly events: SseEvent[] = [];
  /** Framing violations seen (should stay empty). */
  readonly badFrames: string[] = [];
  /** 'end' on a clean end of the body, 'error' when the connection broke. */
  readonly ended: Promise<'end' | 'error'>;
  private waiters: Array<() => void> = [];
  private done = false;

  constructor(
    readonly res: Response,
    private readonly ac: AbortController,
  ) {
    this.ended = this.pump();
  }

  get status(): number {
    return this.res.status;
  }

  /** Events other than ping and sdk_message. */
  get mapped(): SseEvent[] {
    return this.events.filter((e) => e.event !== 'ping' && e.event !== 'sdk_message');
  }

  names(): string[] {
    return this.mapped.map((e) => e.event);
  }

  private async pump(): Promise<'end' | 'error'> {
    const reader = this.res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let result: 'end' | 'error' = 'end';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const m = /^event: ([^\n]+)\ndata: ([^\n]*)$/.exec(block);
          if (!m) {
            this.badFrames.push(block);
            continue;
          }
          this.events.push({ event: m[1]!, data: JSON.parse(m[2]!) });
          this.wake();
        }
      }
    } catch {
      result = 'error';
    }
    if (buf !== '') this.badFrames.push(buf);
    this.done = true;
    this.wake();
    return result;
  }

  private wake(): void {
    const ws = this.waiters.splice(0);
    for (const w of ws) w();
  }

  /** Resolves with the first event (from index `from`) matching; rejects if the stream ends first or after timeoutMs. */
  async waitFor(pred: (e: SseEvent) => boolean, timeoutMs = 5000, from = 0): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.slice(from).find(pred);
      if (hit) return hit;
      if (this.done) throw new Error(`stream ended without a matching event; saw ${this.events.map((e) => e.event).join(',')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; saw ${this.events.map((e) => e.event).join(',')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  waitEvent(name: string, timeoutMs = 5000): Promise<SseEvent> {
    return this.waitFor((e) => e.event === name, timeoutMs);
  }

  /** Waits for the body to end (clean or broken) within timeoutMs. */
  async waitEnd(timeoutMs = 5000): Promise<'end' | 'error'> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error(`stream still open; saw ${this.events.map((e) => e.event).join(',')}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.ended, timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  close(): void {
    this.ac.abort();
  }
}

/** A simulator plus plain-fetch helpers bound to its first token. */
export class Harness {
  constructor(readonly sim: Simulator) {}

  get api(): string {
    return `${this.sim.url}/api/v1`;
  }

  headers(token = this.sim.token, extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...extra };
  }

  async call(method: string, path: string, body?: unknown, opts: { token?: string; headers?: Record<string, string>; raw?: string } = {}): Promise<{ status: number; json: any; text: string; res: Response }> {
    const res = await fetch(this.api + path, {
      method,
      headers: opts.headers ?? this.headers(opts.token),
      body: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, res };
  }

  async createLoop(body: Record<string, unknown> = {}, token?: string): Promise<string> {
    const r = await this.call('POST', '/loops', body, { token });
    if (r.status !== 201) throw new Error(`create failed ${r.status} ${r.text}`);
    return r.json.id as string;
  }

  async stream(method: 'POST' | 'GET', path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<SseReader> {
    const ac = new AbortController();
    const res = await fetch(this.api + path, {
      method,
      headers: this.headers(undefined, extraHeaders),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ac.signal,
    });
    if (!res.headers.get('content-type')?.startsWith('text/event-stream')) throw new Error(`not SSE: ${res.status} ${await res.text()}`);
    return new SseReader(res, ac);
  }

  send(loopId: string, content: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Promise<SseReader> {
    return this.stream('POST', `/loops/${loopId}/messages`, { content, ...extra }, headers);
  }

  watch(loopId: string): Promise<SseReader> {
    return this.stream('GET', `/loops/${loopId}/events`);
  }

  async getLoop(loopId: string): Promise<any> {
    return (await this.call('GET', `/loops/${loopId}`)).json;
  }
}

export async function harness(opts: SimOptions = {}): Promise<Harness> {
  return new Harness(await startSimulator({ deltaDelayMs: 1, ...opts }));
}

/** Polls a condition (generous deadline; asserts a condition, never a duration). */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
