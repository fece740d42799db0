// A realistic turn stream in memory for the SSE parse benchmark: the simulator's exact framing
// (`event: x\ndata: {json}\n\n`), a mix of event kinds, cut into random-sized chunks like a socket delivers.

/** A byte stream and what it holds. */
export interface SseCorpus {
  /** The stream cut into chunks (views into one buffer, no copies). */
  chunks: Uint8Array[];
  /** Total bytes. */
  bytes: number;
  /** Events in the stream. */
  events: number;
  /** Events per kind. */
  mix: Record<string, number>;
}

/** Small deterministic PRNG (mulberry32) so every run parses the same stream. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['the', 'loop', 'reads', 'a', 'file', 'and', 'writes', 'tests', 'for', 'größe', 'naïve', '✓', 'code', '`npm test`', 'then', '**bold**', 'résumé', '→', 'done.'];

/**
 * `events` events (default 500,000): ~70 % assistant_delta (20–60 chars, some non-ASCII), ~6 % tool_call,
 * ~6 % tool_result, ~8 % sdk_message (assistant-message shaped), ~10 % ping; chunks of 1–16 KiB.
 */
export function buildSseCorpus(events = 500_000, seed = 42): SseCorpus {
  const r = rng(seed);
  const mix: Record<string, number> = {};
  const parts: string[] = [];
  let tool = 0;
  for (let i = 0; i < events; i++) {
    const x = r();
    let name: string;
    let data: unknown;
    if (x < 0.7) {
      name = 'assistant_delta';
      let text = '';
      const target = 20 + Math.floor(r() * 40);
      while (text.length < target) text += WORDS[Math.floor(r() * WORDS.length)] + (r() < 0.05 ? '\n' : ' ');
      data = { text };
    } else if (x < 0.76) {
      name = 'tool_call';
      data = { tool_use_id: `toolu_${(++tool).toString(36).padStart(12, '0')}`, tool: r() < 0.5 ? 'Bash' : 'Read', input_summary: r() < 0.5 ? 'ls -la src/' : '/workspace/README.md' };
    } else if (x < 0.82) {
      name = 'tool_result';
      data = { tool_use_id: `toolu_${tool.toString(36).padStart(12, '0')}`, ok: r() < 0.9 };
    } else if (x < 0.9) {
      name = 'sdk_message';
      data = {
        type: 'assistant',
        session_id: '7f1c2a9e-0000-4000-8000-000000000000',
        message: { id: `msg_${i}`, role: 'assistant', content: [{ type: 'text', text: 'Working on it.' }], usage: { input_tokens: 1200, output_tokens: 40 } },
      };
    } else {
      name = 'ping';
      data = {};
    }
    mix[name] = (mix[name] ?? 0) + 1;
    parts.push(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }
  const buf = Buffer.from(parts.join(''), 'utf8');
  const chunks: Uint8Array[] = [];
  for (let off = 0; off < buf.length; ) {
    const size = 1024 + Math.floor(r() * 15 * 1024);
    chunks.push(buf.subarray(off, Math.min(buf.length, off + size)));
    off += size;
  }
  return { chunks, bytes: buf.length, events, mix };
}
