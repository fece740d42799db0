import { describe, expect, it } from 'vitest';
import {
  TELEGRAM_MAX_TEXT,
  markdownToTelegramHtml,
  measureTelegram,
  telegramVisibleLength,
} from '../../../adapters/telegram/format.js';
import { splitMarkdown } from '../../../src/core/split.js';

const ALLOWED_TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'a', 'code', 'pre', 'blockquote']);

/** Throws unless `html` is something Telegram's HTML parse mode accepts. */
function checkTelegramHtml(html: string): void {
  const stack: string[] = [];
  const tagRe = /<(\/?)([a-zA-Z0-9]*)([^<>]*)>/g;
  let last = 0;
  const checkText = (text: string): void => {
    if (/[<>]/.test(text)) throw new Error(`raw < or > in text: ${JSON.stringify(text)}`);
    const amp = text.replace(/&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);/gi, '');
    if (amp.includes('&')) throw new Error(`bare & in text: ${JSON.stringify(text)}`);
  };
  for (const m of html.matchAll(tagRe)) {
    checkText(html.slice(last, m.index));
    last = m.index + m[0].length;
    const [, closing, name, attrs] = m;
    if (!ALLOWED_TAGS.has(name)) throw new Error(`tag not allowed: ${m[0]}`);
    if (closing) {
      if (attrs.trim()) throw new Error(`attributes on a closing tag: ${m[0]}`);
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
      continue;
    }
    const parent = stack[stack.length - 1];
    if (parent === 'code') throw new Error(`<${name}> inside <code>`);
    if (parent === 'pre' && !(name === 'code' && /^ class="language-[A-Za-z0-9_+-]+"$/.test(attrs))) {
      throw new Error(`<${name}${attrs}> inside <pre>`);
    }
    if (name === 'a') {
      if (!/^ href="[^"<>]*"$/.test(attrs)) throw new Error(`bad link attributes: ${m[0]}`);
      if (stack.includes('a')) throw new Error('nested <a>');
    } else if (name === 'span') {
      if (attrs !== ' class="tg-spoiler"') throw new Error(`bad span: ${m[0]}`);
    } else if (name === 'blockquote') {
      if (attrs !== '' && attrs !== ' expandable') throw new Error(`bad blockquote: ${m[0]}`);
      if (stack.includes('blockquote')) throw new Error('nested <blockquote>');
    } else if (name === 'code' && parent === 'pre') {
      // checked above
    } else if (attrs !== '') throw new Error(`unexpected attributes: ${m[0]}`);
    stack.push(name);
  }
  checkText(html.slice(last));
  if (stack.length) throw new Error(`unclosed tags: ${stack.join(',')}`);
}

/** The text Telegram would show: tags removed, entities decoded. */
function visible(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

function fmt(md: string): string {
  const html = markdownToTelegramHtml(md);
  checkTelegramHtml(html);
  return html;
}

describe('the validity checker', () => {
  it('rejects what Telegram rejects', () => {
    for (const bad of ['<b>x', '<b><i>x</b></i>', '<p>x</p>', 'a < b', 'a & b', '<pre><b>x</b></pre>', '<a href="x"><a href="y">z</a></a>']) {
      expect(() => checkTelegramHtml(bad), bad).toThrow();
    }
    checkTelegramHtml('<b>a <i>b</i></b> &amp; <pre><code class="language-ts">x &lt; y</code></pre>');
  });
});

describe('markdownToTelegramHtml', () => {
  it('maps inline formatting', () => {
    expect(fmt('**bold** _it_ *it2* ~~gone~~ `x < y`')).toBe('<b>bold</b> <i>it</i> <i>it2</i> <s>gone</s> <code>x &lt; y</code>');
  });

  it('maps fenced and indented code with a sanitised language', () => {
    expect(fmt('```ts\nconst a = b < c && d;\n```')).toBe('<pre><code class="language-ts">const a = b &lt; c &amp;&amp; d;</code></pre>');
    expect(fmt('```"><script> x\nhi\n```')).toBe('<pre><code class="language-script">hi</code></pre>');
    expect(fmt('    indented\n    code')).toBe('<pre>indented\ncode</pre>');
    expect(fmt('~~~~\n```\nnested\n```\n~~~~')).toBe('<pre>```\nnested\n```</pre>');
    expect(fmt('````md\n```js\nx\n```\n````')).toBe('<pre><code class="language-md">```js\nx\n```</code></pre>');
  });

  it('keeps only safe links and shows the rest as text', () => {
    expect(fmt('[site](https://example.com/?a=1&b=2)')).toBe('<a href="https://example.com/?a=1&amp;b=2">site</a>');
    expect(fmt('[q](https://x.io/"quoted")')).toBe('<a href="https://x.io/%22quoted%22">q</a>');
    expect(fmt('[mail](mailto:a@b.c) [tg](tg://user?id=1)')).toContain('<a href="tg://user?id=1">tg</a>');
    expect(fmt('[rel](docs/readme.md)')).toBe('rel (docs/readme.md)');
    expect(visible(fmt('[x](javascript:alert(1))'))).not.toMatch(/<a/);
    expect(fmt('<https://auto.example>')).toBe('<a href="https://auto.example">https://auto.example</a>');
    expect(fmt('![a cat](https://img.example/cat.png)')).toBe('<a href="https://img.example/cat.png">a cat</a>');
  });

  it('maps headings, lists, quotes, rules and breaks', () => {
    expect(fmt('# Title\n\ntext')).toBe('<b>Title</b>\n\ntext');
    expect(fmt('- a\n- b\n  - c\n- d')).toBe('• a\n• b\n   • c\n• d');
    expect(fmt('1. one\n2. two')).toBe('1. one\n2. two');
    expect(fmt('7. seven\n8. eight')).toBe('7. seven\n8. eight');
    expect(fmt('> quoted\n> more')).toBe('<blockquote>quoted\nmore</blockquote>');
    expect(fmt('a\n\n---\n\nb')).toBe('a\n\n———\n\nb');
    expect(fmt('line one  \nline two\nline three')).toBe('line one\nline two\nline three');
    expect(fmt('p1\n\np2')).toBe('p1\n\np2');
  });

  it('renders tables as an aligned <pre> block', () => {
    const html = fmt('| name | n |\n|---|--:|\n| alpha | 1 |\n| b | 22 |');
    expect(html).toBe('<pre>name  |  n\n------+---\nalpha |  1\nb     | 22</pre>');
  });

  it('treats hostile input as text', () => {
    expect(fmt('<script>alert(1)</script>')).toBe('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(fmt('a < b && c > d')).toBe('a &lt; b &amp;&amp; c &gt; d');
    expect(visible(fmt('&amp; stays literal'))).toBe('&amp; stays literal');
    expect(visible(fmt('unbalanced *star and _under and **bold'))).toBe('unbalanced *star and _under and **bold');
    expect(visible(fmt('<b>not bold</b>'))).toBe('<b>not bold</b>');
    fmt('> quote\n> > nested\n> ```js\n> code\n> ```\n> after');
    fmt('**bold [link **inside**](https://x.y) `code`** and [**b**`c`](https://x.y)');
    fmt('- ```\n  code in list\n  ```\n- > quote in list');
    fmt('```\nunclosed fence <b>');
    fmt('| a | <b> |\n|---|---|\n| & | `x` |');
  });

  it('always produces valid HTML on random inputs', () => {
    const pieces = ['*', '**', '_', '__', '~~', '`', '```', '```ts\n', '\n', '\n\n', '> ', '- ', '1. ', '# ', '[', ']', '(', ')',
      'https://x.io', '<', '>', '&', '&amp;', '"', '|', '---', '    ', 'word', ' ', '😀', '![', '\\', '<b>', '~~~\n'];
    let seed = 42;
    const rand = (k: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % k;
    };
    for (let t = 0; t < 500; t++) {
      let md = '';
      const len = 1 + rand(60);
      for (let i = 0; i < len; i++) md += pieces[rand(pieces.length)];
      expect(() => fmt(md), JSON.stringify(md)).not.toThrow();
    }
  });
});

describe('lengths', () => {
  it('counts visible UTF-16 units', () => {
    expect(telegramVisibleLength('<b>a&amp;b</b> &lt;x&gt; 😀')).toBe('a&b <x> 😀'.length);
    expect(telegramVisibleLength('<a href="https://x">t</a>')).toBe(1);
  });

  it('measures at least the markdown source (plain-text fallback)', () => {
    expect(measureTelegram('**b**')).toBe(5);
    // A table pads: the formatted text is longer than the source.
    const table = '|a|b|\n|-|-|\n|long cell here|x|';
    expect(measureTelegram(table)).toBeGreaterThanOrEqual(telegramVisibleLength(markdownToTelegramHtml(table)));
    expect(measureTelegram('&')).toBe(1);
  });

  it('splits emoji text at the 4096 boundary without breaking surrogate pairs', () => {
    for (const filler of ['😀', 'a😀', '👍🏽 ']) {
      const md = filler.repeat(Math.ceil(9000 / filler.length));
      const chunks = splitMarkdown(md, TELEGRAM_MAX_TEXT, measureTelegram);
      expect(chunks.length).toBeGreaterThan(1);
      for (const c of chunks) {
        expect(measureTelegram(c)).toBeLessThanOrEqual(TELEGRAM_MAX_TEXT);
        expect(c).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
        checkTelegramHtml(markdownToTelegramHtml(c));
      }
      expect(chunks.join('').replace(/\s/g, '')).toBe(md.replace(/\s/g, ''));
    }
  });
});
