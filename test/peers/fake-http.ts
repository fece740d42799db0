// What the HTTP fakes of the platforms (Telegram's Bot API, Slack's Web API) do alike: read a request body
// up to the platform's limit, and fail the next calls of a method as a test asked (an error answer, or a
// connection dropped without one).
import type { IncomingMessage } from 'node:http';

/** Reads a request body whole; throws `tooLarge()` as soon as it passes `maxBytes` (the rest is not read). */
export async function readBodyCapped(req: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Failures queued by a test for the next calls of given methods, each used once, first queued first. */
export class FaultQueue<F> {
  private readonly queued: Array<{ methods: string[]; failure: F }> = [];

  /** Queues `failure` for the next `times` calls of any of `methods`. */
  add(methods: string[], failure: F, times = 1): void {
    for (let i = 0; i < times; i++) this.queued.push({ methods, failure });
  }

  /** The failure queued for this call of `method`, taken off the queue; undefined when none is. */
  take(method: string): F | undefined {
    const i = this.queued.findIndex((f) => f.methods.includes(method));
    return i < 0 ? undefined : this.queued.splice(i, 1)[0].failure;
  }
}

/** Drops the call's connection without an answer, as a network failure does, and records it. */
export function dropConnection(req: IncomingMessage, record: { error?: string }): void {
  record.error = 'network';
  req.socket.destroy();
}
