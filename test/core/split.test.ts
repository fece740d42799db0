import { describe, expect, it } from 'vitest';
import { markdownToTelegramHtml, measureTelegram, TELEGRAM_MAX_TEXT } from '../../adapters/telegram/format.js';
import { splitMarkdown, splitMarkdownRanges } from '../../src/core/split.js';

const plain = (s: string): number => s.length;

function rng(seed: number): (k: number) => number {
  let s = seed >>> 0;
  return (k) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % k);
  };
}

const WORDS = ['the', 'loop', 'agent', 'said', 'hello.', 'world!', 'why?', '`code`', '**bold**', '_it_', '[link](https://example.com/a)',
  '😀', '👍🏽', 'a<b', '&amp;', 'x_y', 'long-word-without-spaces-xxxxxxxxxxxxxx', '``a ` b``', '![img](https://i.io/x.png)', '日本語。'];

/** Random but realistic markdown: paragraphs, lists, quotes, tables and all kinds of fences. */
function generate(seed: number, blocks: number): string {
  const r = rng(seed);
  const sentence = (): string => Array.from({ length: 3 + r(20) }, () => WORDS[r(WORDS.length)]).join(' ');
  const out: string[] = [];
  for (let b = 0; b < blocks; b++) {
    switch (r(9)) {
      case 0: {
        const marker = ['```', '````', '~~~', '~~~~~'][r(4)];
        const lang = ['', 'ts', 'python', 'c++'][r(4)];
        const lines = Array.from({ length: 1 + r(40) }, (_, i) => `${'  '.repeat(r(3))}line_${i}(${sentence()});${r(5) === 0 ? '\n' : ''}`);
        if (marker.length > 3 && r(2)) lines.splice(1, 0, '```inner', 'nested', '```');
        out.push(`${marker}${lang}\n${lines.join('\n')}\n${marker}`);
        break;
      }
      case 1:
        out.push(Array.from({ length: 1 + r(6) }, () => `- ${sentence()}`).join('\n'));
        break;
      case 2:
        out.push(Array.from({ length: 1 + r(6) }, (_, i) => `${i + 1}. ${sentence()}`).join('\n'));
        break;
      case 3:
        out.push(`> ${sentence()}\n> ${sentence()}`);
        break;
      case 4:
        out.push(`# ${sentence()}`);
        break;
      case 5:
        out.push(`| a | b |\n|---|---|\n| ${WORDS[r(WORDS.length)]} | ${WORDS[r(WORDS.length)]} |`);
        break;
      case 6:
        out.push('x'.repeat(50 + r(600)));
        break;
      default:
        out.push(Array.from({ length: 1 + r(8) }, sentence).join(r(2) ? ' ' : '\n'));
    }
  }
  return out.join(r(4) ? '\n\n' : '\n');
}

const isFenceLine = (prefix: string): boolean => /^[>\s]*(`{3,}|~{3,})[^\n]*\n$/.test(prefix);

/** The chunks without repeated table headers (what the reader sees once, for comparing with the whole). */
function withoutRepeatedHeaders(markdown: string, max: number, measure: (s: string) => number): string[] {
  const { text, chunks } = splitMarkdownRanges(markdown, max, measure);
  return chunks.map((c) => (c.prefix && !isFenceLine(c.prefix) ? '' : c.prefix) + text.slice(c.start, c.end) + c.suffix);
}

/** Asserts every chunk fits, is its source slice plus added fence lines, and nothing between chunks but whitespace. */
function checkSplit(markdown: string, max: number, measure: (s: string) => number): string[] {
  const { text, chunks } = splitMarkdownRanges(markdown, max, measure);
  const strings = splitMarkdown(markdown, max, measure);
  expect(strings.length).toBe(chunks.length);
  let pos = 0;
  chunks.forEach((c, i) => {
    expect(strings[i]).toBe(c.prefix + text.slice(c.start, c.end) + c.suffix);
    expect(measure(strings[i]), `chunk ${i} of ${chunks.length}`).toBeLessThanOrEqual(max);
    expect(text.slice(pos, c.start).trim(), `gap before chunk ${i}`).toBe('');
    expect(c.end).toBeGreaterThan(c.start);
    pos = c.end;
    // Added lines are exactly fence lines, or the header and delimiter rows of the table the chunk starts in.
    if (c.prefix && !isFenceLine(c.prefix)) {
      const headerAt = text.lastIndexOf(c.prefix, c.start);
      expect(headerAt, `chunk ${i} repeats a header of its own table`).toBeGreaterThanOrEqual(0);
      expect(c.prefix).toMatch(/^[^\n]*\|[^\n]*\n[^\n]*-[^\n]*\n$/);
    }
    if (c.suffix) expect(c.suffix).toMatch(/^\n[>\s]*(`{3,}|~{3,})$/);
    // A chunk that begins mid-line never begins with a fence (it would turn the rest into code).
    if (!c.prefix && c.start > 0 && text[c.start - 1] !== '\n') expect(text.slice(c.start)).not.toMatch(/^(```|~~~)/);
    // A high surrogate never ends a chunk.
    expect(text.slice(c.start, c.end)).not.toMatch(/[\uD800-\uDBFF]$/);
  });
  expect(text.slice(pos).trim()).toBe('');
  // Nothing lost: removing the added fences and re-joining gives the source, modulo whitespace.
  const rejoined = chunks.map((c) => text.slice(c.start, c.end)).join('');
  expect(rejoined.replace(/\s/g, '')).toBe(markdown.replace(/\s/g, ''));
  return strings;
}

describe('splitMarkdown', () => {
  it('returns short text as one chunk and nothing for empty text', () => {
    expect(splitMarkdown('hello **world**', 4096, plain)).toEqual(['hello **world**']);
    expect(splitMarkdown('', 4096, plain)).toEqual([]);
    expect(splitMarkdown('\n\n  \n', 4096, plain)).toEqual([]);
  });

  it('prefers a paragraph break, then a line break, a sentence end, a space, then a hard cut', () => {
    const para = 'aaaa aaaa. aaaa\naaaa\n\nbbbb bbbb. bbbb\nbbbb bbbb';
    expect(splitMarkdown(para, 40, plain)[0]).toBe('aaaa aaaa. aaaa\naaaa');
    const line = 'aaaa aaaa. aaaa\naaaa bbbb. bbbb\nbbbb bbbb cccc';
    expect(splitMarkdown(line, 40, plain)[0]).toBe('aaaa aaaa. aaaa\naaaa bbbb. bbbb');
    const sentence = 'aaaa aaaa aaaa. bbbb bbbb bbbb cccc cccc dddd';
    expect(splitMarkdown(sentence, 30, plain)[0]).toBe('aaaa aaaa aaaa.');
    const space = 'aaaa aaaa aaaa bbbb bbbb bbbb cccc cccc dddd';
    expect(splitMarkdown(space, 30, plain)[0]).toBe('aaaa aaaa aaaa bbbb bbbb bbbb');
    expect(splitMarkdown('x'.repeat(25), 10, plain)).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
  });

  it('does not take a natural break that would leave the chunk less than half full', () => {
    const text = 'ab\n\n' + 'word '.repeat(30);
    const [first] = splitMarkdown(text, 60, plain);
    expect(first.length).toBeGreaterThan(30);
  });

  it('never cuts a surrogate pair', () => {
    const chunks = checkSplit('😀'.repeat(100), 11, plain);
    for (const c of chunks) expect(c).toMatch(/^(😀)+$/);
  });

  it('keeps inline code spans and links whole when a break outside exists', () => {
    const code = 'intro words here `some code with many spaces inside it` tail words';
    for (const max of [40, 50, 60]) {
      for (const c of checkSplit(code, max, plain)) expect((c.match(/`/g) ?? []).length % 2, c).toBe(0);
    }
    // A span longer than the limit is split, but still at a space rather than mid-word.
    expect(checkSplit(code, 30, plain)).toEqual(['intro words here', '`some code with many spaces', 'inside it` tail words']);
    const link = 'see the [documentation page for details](https://x.io/a) and more text after';
    for (const max of [50, 60, 70]) {
      const chunks = checkSplit(link, max, plain);
      expect(chunks.some((c) => c.includes('[documentation page for details](https://x.io/a)')), String(max)).toBe(true);
    }
  });

  it('closes and reopens a long fence with the same marker and language', () => {
    const body = Array.from({ length: 1500 }, (_, i) => `  console.log(${i}, "x < y && z");`).join('\n');
    const md = `Here:\n\n\`\`\`ts\n${body}\n\`\`\`\n\nDone.`;
    expect(md.length).toBeGreaterThan(20_000);
    const chunks = checkSplit(md, TELEGRAM_MAX_TEXT, measureTelegram);
    expect(chunks.length).toBeGreaterThan(5);
    for (const [i, c] of chunks.entries()) {
      if (i > 0) expect(c.startsWith('```ts\n')).toBe(true);
      if (i < chunks.length - 1) expect(c.endsWith('\n```')).toBe(true);
    }
    // Code lines are never cut in the middle and keep their indentation.
    const lines = chunks.flatMap((c) => c.split('\n')).filter((l) => l.includes('console.log'));
    expect(lines).toEqual(body.split('\n'));
  });

  it('reopens longer and tilde fences with their own marker', () => {
    const inner = '```js\nnot the end\n```\n';
    const body = Array.from({ length: 200 }, (_, i) => `row ${i}\n${i % 20 === 0 ? inner : ''}`).join('');
    for (const marker of ['````', '~~~', '~~~~~']) {
      const md = `${marker}text\n${body}${marker}\n\nafter`;
      const chunks = checkSplit(md, 300, plain);
      for (const [i, c] of chunks.entries()) {
        if (i > 0 && i < chunks.length - 1) {
          expect(c.startsWith(`${marker}text\n`)).toBe(true);
          expect(c.endsWith(`\n${marker}`)).toBe(true);
        }
      }
    }
  });

  it('reopens a fence inside a blockquote with its quote marker', () => {
    const md = '> ```py\n' + Array.from({ length: 60 }, (_, i) => `> print(${i})`).join('\n') + '\n> ```';
    const chunks = checkSplit(md, 200, plain);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks[1].startsWith('> ```py\n> print(')).toBe(true);
    expect(chunks[0].endsWith('\n> ```')).toBe(true);
  });

  it('respects the limit and loses nothing on generated markdown', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const md = generate(seed, 5 + (seed % 30));
      for (const max of [120, 500, 1500]) checkSplit(md, max, plain);
      checkSplit(md, 700, measureTelegram);
      checkSplit(md, TELEGRAM_MAX_TEXT, measureTelegram);
    }
  });

  it('respects the limit and loses nothing on hostile markdown at small limits', () => {
    const pieces = ['*', '**', '_', '`', '```', '```ts\n', '\n', '\n\n', '> ', '- ', '1. ', '# ', '[', ']', '(', ')', 'https://x.io',
      '<', '>', '&', '"', '|', '---', '    ', 'word', ' ', '😀', '![', '\\', '~~~\n', 'some longer words here. ', '\n```\n', '\n> ```js\n'];
    const r = rng(7);
    for (let t = 0; t < 600; t++) {
      let md = '';
      for (let i = 1 + r(300); i > 0; i--) md += pieces[r(pieces.length)];
      checkSplit(md, 30 + r(200), t % 2 ? plain : measureTelegram);
    }
  });

  it('formats the chunks to the same visible text as the whole', () => {
    const shown = (md: string): string =>
      markdownToTelegramHtml(md)
        .replace(/<[^>]*>/g, '')
        .replace(/[\s|+\-—]/g, '')
        // A list split across chunks keeps its source numbers; the whole renumbers merged lists.
        .replace(/\d+\./g, '');
    for (let seed = 200; seed < 240; seed++) {
      const md = generate(seed, 30);
      for (const [max, measure] of [[300, plain], [1000, measureTelegram]] as const) {
        checkSplit(md, max, measure);
        expect(withoutRepeatedHeaders(md, max, measure).map(shown).join(''), `seed ${seed}`).toBe(shown(md));
      }
    }
  });

  it('a table split across messages repeats its header row in the later parts, and never cuts the header from its delimiter', () => {
    const rows = Array.from({ length: 40 }, (_, i) => `| ${i + 1} | step ${i + 1} | ${i % 3 ? 'ok' : 'retried'} |`);
    const header = '| # | what | result |\n| ---: | --- | :---: |';
    const md = `Intro paragraph.\n\n${header}\n${rows.join('\n')}\n\nAfter the table.`;
    for (const [max, measure] of [[400, plain], [700, measureTelegram]] as const) {
      const chunks = checkSplit(md, max, measure);
      const withRows = chunks.filter((c) => /\| \d+ \| step/.test(c));
      expect(withRows.length).toBeGreaterThan(1);
      for (const c of withRows) expect(c, `every part with rows starts its table with the header`).toContain(header);
      // Every row once, in order, across the parts.
      const seen = chunks.join('\n').split('\n').filter((l) => /^\| \d+ \|/.test(l));
      expect(seen).toEqual(rows);
      // Each part renders as a table on Telegram (a <pre> block with the header line).
      for (const c of withRows) expect(markdownToTelegramHtml(c)).toMatch(/<pre>[^<]*what/);
    }
  });

  it('keeps full chunks stable while the text grows', () => {
    for (let seed = 100; seed < 112; seed++) {
      const full = generate(seed, 40);
      const measure = seed % 2 ? plain : measureTelegram;
      const max = seed % 2 ? 400 : 1000;
      let previous: string[] = [];
      const step = Math.max(7, Math.floor(full.length / 150));
      for (let len = step; len <= full.length + step; len += step) {
        const chunks = splitMarkdown(full.slice(0, len), max, measure);
        // Every chunk but the last was full: it must come back identical.
        for (let i = 0; i < previous.length - 1; i++) expect(chunks[i], `seed ${seed} len ${len} chunk ${i}`).toBe(previous[i]);
        previous = chunks;
      }
    }
  });

  it('splits a 100,000-character reply', () => {
    const md = generate(7, 400).repeat(3).slice(0, 100_000);
    const chunks = checkSplit(md, TELEGRAM_MAX_TEXT, plain);
    expect(chunks.length).toBeGreaterThanOrEqual(25);
  });
});
