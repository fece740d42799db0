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

/** An `event:` line longer than this is not worth piecing together across chunks. */
const MAX_NAME_LINE = 256;

/** Index of the first CR or LF at or after `from`, or -1. */
function lineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}

/** `line` is an `event:` line or the start of one. */
function mayBeEventLine(line: string): boolean {
  return line.startsWith('event:') || 'event:'.startsWith(line);
}


/** Incremental decoder: push chunks, get the complete events they finished. */
export class SseDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly parser: EventSourceParser;
  private out: LoopEvent[] = [];
  private endsWithCr = false;
  private overflowed = false;
  /** The chunk holding the last `event:` line seen and where its value starts; how many such lines so far. */
  private nameChunk: string | undefined;
  private namePos = 0;
  private eventLines = 0;
  /** `eventLines` when an oversized event was last reported (one report per oversized event). */
  private reportedAt = -1;
  /** The next chunk starts a line (the previous one ended with a line break). */
  private atLineStart = true;
  /** An unfinished `event:` line (or a prefix of one) from the end of the previous chunk. */
  private partial: string | null = null;

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
          this.out.push(this.oversized(this.lastEventName()));
        }
      }
      this.endsWithCr = text.charCodeAt(text.length - 1) === 13;
    }
    return this.take();
  }

  private oversized(event: string): LoopEvent {
    return { type: 'oversized', event, limit: this.maxEventChars };
  }

  /**
   * Notes the last `event:` field line of the stream (the name of the event being received) and counts
   * them. A line within one chunk is only located (chunk and offset), its name read when an event
   * overflows, so this allocates nothing; a line split across chunks is pieced together (rare, small).
   */
  private noteEventLines(text: string): void {
    let from = 0;
    if (this.partial !== null) {
      const end = lineEnd(text, 0);
      const line = this.partial + (end < 0 ? text : text.slice(0, end));
      if (end < 0) {
        this.partial = line.length <= MAX_NAME_LINE && mayBeEventLine(line) ? line : null;
        return;
      }
      this.partial = null;
      if (line.startsWith('event:')) this.sawEventLine(line, 6);
      from = end;
    }
    for (let k = text.indexOf('event:', from); k >= 0; k = text.indexOf('event:', k + 6)) {
      const atLineStart = k === 0 ? this.atLineStart : text.charCodeAt(k - 1) === 10 || text.charCodeAt(k - 1) === 13;
      if (!atLineStart) continue;
      if (lineEnd(text, k) < 0) break; // the chunk's unfinished last line: taken up below
      this.sawEventLine(text, k + 6);
    }
    // An unfinished last line that is (or may become) an `event:` line waits for the rest.
    const last = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
    const tailStart = last + 1;
    if (tailStart < text.length && (tailStart > 0 || this.atLineStart) && text.length - tailStart <= MAX_NAME_LINE) {
      const c = text.charCodeAt(tailStart);
      if (c === 101 /* e */) {
        const tail = text.slice(tailStart);
        if (mayBeEventLine(tail)) this.partial = tail;
      }
    }
    this.atLineStart = tailStart === text.length;
  }

  private sawEventLine(chunk: string, valueAt: number): void {
    this.eventLines++;
    this.nameChunk = chunk;
    this.namePos = valueAt;
  }

  /** The name on the last `event:` line seen ('' if none). */
  private lastEventName(): string {
    const chunk = this.nameChunk;
    if (chunk === undefined) return '';
    let from = this.namePos;
    if (chunk.charCodeAt(from) === 32) from++;
    const end = lineEnd(chunk, from);
    return chunk.slice(from, end < 0 ? chunk.length : end);
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
