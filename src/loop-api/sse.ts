// Bytes → LoopEvents. eventsource-parser does the framing (CR/LF/CRLF, multi-line data, comments); a
// streaming TextDecoder keeps multi-byte UTF-8 characters intact across chunk boundaries. An event is
// only emitted at its terminating blank line, so a stream cut mid-event drops the partial event.
// One event may hold at most `maxEventChars`: a bigger one is skipped (reported once as `oversized`, with
// its name when its `event:` line was seen) and the stream goes on, so a 60 MiB tool output neither fills
// the memory nor ends the turn.

import { createParser, type EventSourceParser } from 'eventsource-parser';
import { parseEvent } from './events.js';
import type { LoopEvent } from './types.js';

/** Largest single event, chars: 1 Mi (the loop's own message limit is the same size). */
export const MAX_SSE_EVENT_CHARS = 1024 * 1024;

/** `event:` field lines (complete ones: a line break follows), SSE-style: one optional space after the colon. */
const EVENT_LINE = /(?:^|[\r\n])event: ?([^\r\n]*)(?=[\r\n])/g;
/** How much of a chunk's unfinished last line is kept to find an `event:` line split across chunks. */
const CARRY_MAX = 256;

/** Incremental decoder: push chunks, get the complete events they finished. */
export class SseDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly parser: EventSourceParser;
  private out: LoopEvent[] = [];
  private endsWithCr = false;
  private overflowed = false;
  /** Name on the last `event:` line seen, and how many such lines so far (one report per oversized event). */
  private lastEventName = '';
  private eventLines = 0;
  private reportedAt = -1;
  /** The unfinished last line of the previous chunk, while it is short enough to be an `event:` line. */
  private carry = '';
  private carryValid = true;

  constructor(private readonly maxEventChars: number = MAX_SSE_EVENT_CHARS) {
    this.parser = createParser({
      maxBufferSize: maxEventChars,
      onEvent: (m) => {
        // The parser checks its buffer between chunks only, so one big chunk can still carry a big event.
        if (m.data.length > this.maxEventChars) this.out.push(this.oversized(m.event ?? ''));
        else this.out.push(parseEvent(m.event, m.data));
      },
      onError: (e) => {
        // Unknown fields and bad `retry:` lines are legal noise; an overflow means "skip this event".
        if (e.type === 'max-buffer-size-exceeded') this.overflowed = true;
      },
    });
  }

  /** Feeds bytes (or already-decoded text) and returns the events completed by them. */
  push(chunk: Uint8Array | string): LoopEvent[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (text.length > 0) {
      this.noteEventLines(text);
      this.parser.feed(text);
      if (this.overflowed) {
        // The parser dropped the event and stopped; resume. The rest of the event's line arrives as a
        // field line without a known name and is ignored, so the next event parses normally.
        this.overflowed = false;
        this.parser.reset();
        if (this.reportedAt !== this.eventLines) {
          this.reportedAt = this.eventLines;
          this.out.push(this.oversized(this.lastEventName));
        }
      }
      this.endsWithCr = text.charCodeAt(text.length - 1) === 13;
    }
    return this.take();
  }

  private oversized(event: string): LoopEvent {
    return { type: 'oversized', event, limit: this.maxEventChars };
  }

  /** Remembers the name of the event being received (the last complete `event:` line). */
  private noteEventLines(text: string): void {
    // A line split across chunks is found through the carry. Mid-way through a long line (a big `data:`
    // line) there is no carry, and a sentinel keeps `^` from taking the chunk's start for a line start.
    const scan = this.carryValid ? this.carry + text : `x${text}`;
    EVENT_LINE.lastIndex = 0;
    for (let m = EVENT_LINE.exec(scan); m; m = EVENT_LINE.exec(scan)) {
      this.lastEventName = m[1];
      this.eventLines++;
    }
    const cut = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
    const tail = cut >= 0 ? text.slice(cut + 1) : this.carryValid ? this.carry + text : '';
    this.carryValid = (cut >= 0 || this.carryValid) && tail.length <= CARRY_MAX;
    this.carry = this.carryValid ? tail : '';
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
