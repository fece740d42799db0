import { splitMarkdownRanges } from './src/core/split.js';
import { measureTelegram } from './adapters/telegram/format.js';
function rng(seed: number): (k: number) => number { let s = seed >>> 0; return (k) => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return (((t ^ (t >>> 14)) >>> 0) % k); }; }
const pieces = ['*', '**', '_', '`', '```', '```ts\n', '\n', '\n\n', '> ', '- ', '1. ', '# ', '[', ']', '(', ')', 'https://x.io', '<', '>', '&', '"', '|', '---', '    ', 'word', ' ', '😀', '![', '\\', '~~~\n', 'some longer words here. ', '\n```\n', '\n> ```js\n'];
const r = rng(7); let shown = 0;
for (let t = 0; t < 600; t++) {
  let md = ''; for (let i = 1 + r(300); i > 0; i--) md += pieces[r(pieces.length)];
  const max = 30 + r(200); const m = t % 2 ? (s: string) => s.length : measureTelegram;
  const { text, chunks } = splitMarkdownRanges(md, max, m);
  chunks.forEach((c, i) => { const s = c.prefix + text.slice(c.start, c.end) + c.suffix; if (m(s) > max && shown++ < 3) console.log(max, m(s), t % 2 ? 'plain' : 'tg', JSON.stringify(s), JSON.stringify(text.slice(c.start - 5, c.end + 30))); });
}
