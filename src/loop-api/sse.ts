// Bytes → LoopEvents. eventsource-parser does the framing (CR/LF/CRLF, multi-line data, comments); a
// streaming TextDecoder keeps multi-byte UTF-8 characters intact across chunk boundaries. An event is
// only emitted at its terminating blank line, so a stream cut mid-event drops the partial event.

import { createParser, type EventSourceParser } from 'eventsource-parser';
import { LoopApiError } from './errors.js';
import { parseEvent } from './events.js';
import type { LoopEvent } from './types.js';

/** Largest buffered partial event before the stream is declared broken, chars. 64 Mi. */
export const MAX_SSE_BUFFER = 64 * 1024 * 1024;

/** Incremental decoder: push chunks, get the complete events they finished. */
export class SseDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly parser: EventSourceParser;
  private out: LoopEvent[] = [];
  private failure: LoopApiError | undefined;
  private endsWithCr = false;

  constructor(maxBufferSize: number = MAX_SSE_BUFFER) {
    this.parser = createParser({
      maxBufferSize,
      onEvent: (m) => {
        this.out.push(parseEvent(m.event, m.data));
      },
      onError: (e) => {
        // Unknown fields and bad `retry:` lines are legal noise; only an overflow is fatal.
        if (e.type === 'max-buffer-size-exceeded') {
          this.failure = new LoopApiError({ code: 'protocol_error', message: 'SSE event exceeds the buffer limit' });
        }
      },
    });
  }

  /** Feeds bytes (or already-decoded text) and returns the events completed by them. */
  push(chunk: Uint8Array | string): LoopEvent[] {
    if (this.failure) throw this.failure;
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (text.length > 0) {
      this.parser.feed(text);
      this.endsWithCr = text.charCodeAt(text.length - 1) === 13;
    }
    return this.take();
  }

  /**
   * Marks the end of the stream. A trailing CR is a complete line ending (the parser waits to see
   * whether an LF follows), so an event ended by CR CR is still emitted; a truly partial one is dropped.
   */
  end(): LoopEvent[] {
    if (this.endsWithCr) this.parser.feed('\n');
    this.endsWithCr = false;
    return this.take();
  }

  private take(): LoopEvent[] {
    if (this.failure) throw this.failure;
    const events = this.out;
    this.out = [];
    return events;
  }
}

/** Decodes a whole byte stream; ends when it ends (a trailing partial event is dropped). */
export async function* decodeSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<LoopEvent> {
  const d = new SseDecoder();
  for await (const chunk of body) {
    const events = d.push(chunk);
    for (let i = 0; i < events.length; i++) yield events[i];
  }
  for (const e of d.end()) yield e;
}
