import { describe, expect, it } from 'vitest';
import { SseDecoder, decodeSse } from '../../src/loop-api/sse.js';
import type { LoopEvent } from '../../src/loop-api/types.js';

const enc = new TextEncoder();

function parseAll(chunks: (string | Uint8Array)[]): LoopEvent[] {
  const d = new SseDecoder();
  const out: LoopEvent[] = [];
  for (const c of chunks) out.push(...d.push(typeof c === 'string' ? enc.encode(c) : c));
  out.push(...d.end());
  return out;
}

function frame(event: string | undefined, data: unknown): string {
  return `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

// A realistic turn with multi-byte text (2-, 3- and 4-byte UTF-8) and a comment.
const STREAM =
  frame('started', { turn_id: 'turn_0a1b2c3d4e5f60718293', cold_start: false }) +
  ': keep-alive comment\n\n' +
  frame('sdk_message', { type: 'system', subtype: 'init' }) +
  frame('tool_call', { tool_use_id: 'toolu_1', tool: 'Bash', input_summary: 'ls -la' }) +
  frame('requires_choice', { choice_id: 'choice_toolu_1', kind: 'permission', payload: { tool: 'Bash', title: 'Run?', display_name: 'Bash' } }) +
  frame('choice_resolved', { choice_id: 'choice_toolu_1', source: 'api' }) +
  frame('tool_result', { tool_use_id: 'toolu_1', ok: true }) +
  frame('assistant_delta', { text: 'Grüße, 世界! 🎉 ' }) +
  frame('assistant_delta', { text: 'naïve café — ok' }) +
  frame('ping', {}) +
  frame('done', { turn_id: 'turn_0a1b2c3d4e5f60718293' });

describe('SseDecoder', () => {
  it('parses a whole stream', () => {
    const evs = parseAll([STREAM]);
    expect(evs.map((e) => e.type)).toEqual([
      'started', 'sdk_message', 'tool_call', 'requires_choice', 'choice_resolved', 'tool_result',
      'assistant_delta', 'assistant_delta', 'ping', 'done',
    ]);
    expect(evs[6]).toEqual({ type: 'assistant_delta', text: 'Grüße, 世界! 🎉 ' });
  });

  it('gives the same events when the bytes are split at every single boundary', () => {
    const bytes = enc.encode(STREAM);
    const whole = parseAll([bytes]);
    for (let i = 1; i < bytes.length; i++) {
      expect(parseAll([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(whole);
    }
  });

  it('gives the same events when fed one byte at a time and at random boundaries', () => {
    const bytes = enc.encode(STREAM.repeat(20));
    const whole = parseAll([bytes]);
    expect(whole).toHaveLength(200);
    const oneByOne: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) oneByOne.push(bytes.subarray(i, i + 1));
    expect(parseAll(oneByOne)).toEqual(whole);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let round = 0; round < 50; round++) {
      const chunks: Uint8Array[] = [];
      let at = 0;
      while (at < bytes.length) {
        const n = 1 + Math.floor(rand() * 40);
        chunks.push(bytes.subarray(at, at + n));
        at += n;
      }
      expect(parseAll(chunks)).toEqual(whole);
    }
  });

  it('handles CRLF and lone CR line endings, also split between CR and LF', () => {
    const lf = frame('assistant_delta', { text: 'a' }) + frame('done', { turn_id: 't' });
    const crlf = lf.replace(/\n/g, '\r\n');
    const cr = lf.replace(/\n/g, '\r');
    const expected = parseAll([lf]);
    expect(expected).toHaveLength(2);
    expect(parseAll([crlf])).toEqual(expected);
    expect(parseAll([cr])).toEqual(expected);
    for (const variant of [crlf, cr]) {
      const b = enc.encode(variant);
      for (let i = 1; i < b.length; i++) expect(parseAll([b.subarray(0, i), b.subarray(i)])).toEqual(expected);
    }
  });

  it('joins multi-line data with \\n', () => {
    const evs = parseAll(['event: assistant_delta\ndata: {"text":\ndata: "x\\ny"}\n\n']);
    expect(evs).toEqual([{ type: 'assistant_delta', text: 'x\ny' }]);
    const raw = parseAll(['event: weird\ndata: line1\ndata: line2\n\n']);
    expect(raw).toEqual([{ type: 'unknown', event: 'weird', data: 'line1\nline2' }]);
  });

  it('ignores comments, and a missing event name becomes message → unknown', () => {
    const evs = parseAll([': hello\n\n:another\ndata: {"a":1}\n\n']);
    expect(evs).toEqual([{ type: 'unknown', event: 'message', data: { a: 1 } }]);
  });

  it('passes unknown event names and invalid JSON through as unknown without throwing', () => {
    const evs = parseAll([frame('brand_new', { x: 1 }), 'event: assistant_delta\ndata: {not json\n\n', frame('done', { turn_id: 't' })]);
    expect(evs).toEqual([
      { type: 'unknown', event: 'brand_new', data: { x: 1 } },
      { type: 'unknown', event: 'assistant_delta', data: '{not json' },
      { type: 'done', turnId: 't' },
    ]);
  });

  it('drops a partial event at the end of the stream', async () => {
    async function* body() {
      yield enc.encode(frame('assistant_delta', { text: 'one' }));
      yield enc.encode('event: assistant_delta\ndata: {"text":"two"}\n'); // no blank line: cut mid-event
    }
    const out: LoopEvent[] = [];
    for await (const e of decodeSse(body())) out.push(e);
    expect(out).toEqual([{ type: 'assistant_delta', text: 'one' }]);
  });

  it('ignores id: and retry: lines and unknown fields', () => {
    const evs = parseAll(['id: 7\nretry: 100\nfoo: bar\nevent: ping\ndata: {}\n\n']);
    expect(evs).toEqual([{ type: 'ping' }]);
  });

  it('decodes a long stream fed in 16 KiB chunks without losing an event (speed is measured by bench:loop-api)', () => {
    const one = frame('assistant_delta', { text: 'hello world ' }) + frame('ping', {});
    const bytes = enc.encode(one.repeat(50_000)); // 100k events
    const d = new SseDecoder();
    let n = 0;
    for (let i = 0; i < bytes.length; i += 16 * 1024) n += d.push(bytes.subarray(i, i + 16 * 1024)).length;
    expect(n).toBe(100_000);
  });

  describe('an event larger than the limit', () => {
    const LIMIT = 10_000;
    const chunked = (text: string, size: number): Uint8Array[] => {
      const bytes = enc.encode(text);
      const out: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
      return out;
    };
    const decode = (chunks: Uint8Array[]): LoopEvent[] => {
      const d = new SseDecoder(LIMIT);
      const out: LoopEvent[] = [];
      for (const c of chunks) out.push(...d.push(c));
      return [...out, ...d.end()];
    };
    const big = (n: number) => 'x'.repeat(n);

    it('is skipped and reported once with its name; the stream goes on (fed in chunks, as from the network)', () => {
      const text = frame('started', { turn_id: 't', cold_start: false }) + frame('assistant_delta', { text: big(35_000) }) + frame('assistant_delta', { text: 'after' }) + frame('done', { turn_id: 't' });
      for (const size of [1, 1000, 4096]) {
        expect(decode(chunked(text, size)), `chunks of ${size}`).toEqual([
          { type: 'started', turnId: 't', coldStart: false },
          { type: 'oversized', event: 'assistant_delta', limit: LIMIT },
          { type: 'assistant_delta', text: 'after' },
          { type: 'done', turnId: 't' },
        ]);
      }
    });

    it('is skipped also when it arrives in one chunk', () => {
      const text = frame('assistant_delta', { text: big(20_000) }) + frame('ping', {});
      expect(decode([enc.encode(text)])).toEqual([{ type: 'oversized', event: 'assistant_delta', limit: LIMIT }, { type: 'ping' }]);
    });

    it('two in a row are two reports, each with its own name (a big tool output, then big text)', () => {
      const text = frame('sdk_message', { type: 'user', content: big(30_000) }) + frame('assistant_delta', { text: big(30_000) }) + frame('done', { turn_id: 't' });
      expect(decode(chunked(text, 2048))).toEqual([
        { type: 'oversized', event: 'sdk_message', limit: LIMIT },
        { type: 'oversized', event: 'assistant_delta', limit: LIMIT },
        { type: 'done', turnId: 't' },
      ]);
    });

    it('the default limit is 1 Mi characters: a 60 MiB event costs no more than the limit to skip', () => {
      const d = new SseDecoder();
      const out: LoopEvent[] = [...d.push('event: assistant_delta\ndata: {"text":"')];
      const piece = 'y'.repeat(64 * 1024);
      for (let i = 0; i < 960; i++) out.push(...d.push(piece)); // 60 MiB
      out.push(...d.push('"}\n\n'), ...d.push(frame('done', { turn_id: 't' })), ...d.end());
      expect(out).toEqual([{ type: 'oversized', event: 'assistant_delta', limit: 1024 * 1024 }, { type: 'done', turnId: 't' }]);
    });
  });
});
