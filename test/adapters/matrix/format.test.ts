// Markdown → Matrix content: the HTML subset, escaping of whatever the agent writes, the edit shape, and
// the size measure the core splits by.
import { describe, expect, it } from 'vitest';
import { editContent, markdownToMatrixHtml, measureMatrix, textContent } from '../../../adapters/matrix/format.js';

describe('matrix format', () => {
  it('renders the safe subset: bold, italic, strike, code, fenced code with its language, links, lists, quotes, tables', () => {
    const html = markdownToMatrixHtml(
      [
        '**bold** *it* ~~gone~~ `x<y`',
        '',
        '```ts\nconst a = 1 < 2;\n```',
        '',
        '[site](https://example.org) - item',
        '',
        '- one\n- two',
        '',
        '1. first',
        '',
        '> quoted',
        '',
        '| a | b |\n| --- | --- |\n| 1 | 2 |',
      ].join('\n'),
    );
    expect(html).toContain('<strong>bold</strong> <em>it</em> <del>gone</del> <code>x&lt;y</code>');
    expect(html).toContain('<pre><code class="language-ts">const a = 1 &lt; 2;\n</code></pre>');
    expect(html).toContain('<a href="https://example.org">site</a>');
    expect(html).toMatch(/<ul>\s*<li>one<\/li>\s*<li>two<\/li>\s*<\/ul>/);
    expect(html).toMatch(/<ol>\s*<li>first<\/li>\s*<\/ol>/);
    expect(html).toMatch(/<blockquote>\s*<p>quoted<\/p>\s*<\/blockquote>/);
    expect(html).toMatch(/<table>[\s\S]*<th>a<\/th>[\s\S]*<td>2<\/td>[\s\S]*<\/table>/);
  });

  it('never turns what the agent wrote into markup', () => {
    const html = markdownToMatrixHtml('<script>alert(1)</script> <b>x</b> &amp; [x](javascript:alert(1)) ![pic](https://e.org/p.png)');
    expect(html).not.toMatch(/<script|<b>|href="javascript/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;x&lt;/b&gt; &amp;amp;');
    expect(html).toContain('<a href="https://e.org/p.png">pic</a>');
    expect(markdownToMatrixHtml('```"><img src=x>\ncode\n```')).toContain('<pre><code class="language-img">');
  });

  it('keeps single newlines as line breaks (chat text)', () => {
    expect(markdownToMatrixHtml('line one\nline two')).toBe('<p>line one<br>\nline two</p>');
  });

  it('plain content has no HTML; formatted content has both bodies', () => {
    expect(textContent('*x*', true)).toEqual({ msgtype: 'm.text', body: '*x*' });
    expect(textContent('*x*')).toEqual({ msgtype: 'm.text', body: '*x*', format: 'org.matrix.custom.html', formatted_body: '<p><em>x</em></p>' });
  });

  it('an edit replaces the content, falls back to "* text", and notifies nobody again', () => {
    expect(editContent('$ev', '**done**')).toEqual({
      msgtype: 'm.text',
      body: '* **done**',
      'm.new_content': { msgtype: 'm.text', body: '**done**', format: 'org.matrix.custom.html', formatted_body: '<p><strong>done</strong></p>', 'm.mentions': {} },
      'm.mentions': {},
      'm.relates_to': { rel_type: 'm.replace', event_id: '$ev' },
    });
  });

  it('measures a chunk as its edit content in UTF-8 JSON bytes, so escaping and emoji count', () => {
    const plain = measureMatrix('a'.repeat(1000));
    expect(measureMatrix('<'.repeat(1000))).toBeGreaterThanOrEqual(plain + 3000); // &lt; in the HTML
    expect(measureMatrix('é'.repeat(1000))).toBeGreaterThan(plain + 2000); // two bytes each, three times over
    expect(measureMatrix('a'.repeat(2000))).toBeGreaterThan(plain);
    expect(plain).toBe(Buffer.byteLength(JSON.stringify(editContent(`$${'x'.repeat(43)}`, 'a'.repeat(1000)))));
  });
});
