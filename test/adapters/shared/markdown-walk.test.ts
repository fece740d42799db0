// The walk Telegram and Slack share, driven by a toy markup so that what is the walk's (layout, lists,
// tables, nesting, link fallbacks) is checked apart from any platform's escaping.
import { describe, expect, it } from 'vitest';
import { createChatMarkdown, escapeHtmlAttr, escapeHtmlText, fenceLanguage, inlinePlain, tableText } from '../../../adapters/shared/markdown-parts.js';
import { MarkdownWalker, type InlineStyle } from '../../../adapters/shared/markdown-walk.js';

/** Brackets for markup, so every decision of the walk is visible in the output. */
class Toy extends MarkdownWalker {
  readonly quotes: string[] = [];
  protected readonly allowedUrl = /^https:\/\//;
  protected escape(text: string): string {
    return text.replace(/[[\]]/g, '\\$&');
  }
  protected styleMark(style: InlineStyle, open: boolean): string {
    return `[${open ? '' : '/'}${style}]`;
  }
  protected codeSpan(code: string): string {
    return `[code:${code}]`;
  }
  protected codeBlock(body: string, lang: string): string {
    return `[pre${lang ? ` ${lang}` : ''}]${body}[/pre]`;
  }
  protected linkOpen(href: string): string {
    return `[a ${href}]`;
  }
  protected linkClose(): string {
    return '[/a]';
  }
  protected imageLink(src: string, alt: string): string {
    return `[img ${src} ${alt}]`;
  }
  protected linkAllowed(): boolean {
    return this.links.length === 0;
  }
  protected quoteStarted(outermost: boolean): void {
    this.quotes.push(`open${outermost ? ' outermost' : ''}`);
  }
  protected quoteEnded(outermost: boolean): void {
    this.quotes.push(`close${outermost ? ' outermost' : ''}`);
  }
}

const toy = (md: string) => new Toy().render(md);

describe('MarkdownWalker', () => {
  it('separates paragraphs by a blank line, keeps line breaks, and writes headings as bold lines', () => {
    expect(toy('# Title\n\none\ntwo\n\nthree')).toBe('[bold]Title[/bold]\n\none\ntwo\n\nthree');
  });

  it('writes list markers, keeps an ordered list start, and indents nested lists and continuation lines', () => {
    expect(toy('3. a\n4. b\n   - c\n   - d\n\nafter')).toBe('3. a\n4. b\n   • c\n   • d\n\nafter');
    expect(toy('- first line  \n  second line')).toBe('• first line\n   second line');
  });

  it('writes nested emphasis of one kind once, and other kinds inside it', () => {
    expect(toy('**a **b** c** _i ~~s~~_')).toBe('[bold]a b c[/bold] [italic]i [strike]s[/strike][/italic]');
  });

  it('passes fences with their cleaned language, and tables laid out as text, to codeBlock', () => {
    expect(toy('```ts {linenos}\nx\n```')).toBe('[pre ts]x[/pre]');
    expect(toy('    indented')).toBe('[pre]indented[/pre]');
    expect(toy('| a | b |\n|---|--:|\n| 10 | 2 |\n\nnext')).toBe('[pre]a  | b\n---+--\n10 | 2[/pre]\n\nnext');
  });

  it('links only allowed URLs; others show their URL as text, autolinks only once', () => {
    expect(toy('[docs](https://d.e)')).toBe('[a https://d.e]docs[/a]');
    expect(toy('[docs](ftp://d.e) <ftp://f.g>')).toBe('docs (ftp://d.e) ftp://f.g');
    expect(toy('![alt](https://i.png) ![](ftp://i.png)')).toBe('[img https://i.png alt] image (ftp://i.png)');
    // Inside a link, the platform's linkAllowed() decides: this one nests nothing.
    expect(toy('[![alt](https://i.png)](https://x.y)')).toBe('[a https://x.y]alt (https://i.png)[/a]');
  });

  it('escapes text, code spans go through codeSpan, and hands quotes to the platform with their depth', () => {
    const w = new Toy();
    expect(w.render('a [b] `c`\n\n> q\n>\n> > inner\n\nafter')).toBe('a \\[b\\] [code:c]\n\nq\n\ninner\n\nafter');
    expect(w.quotes).toEqual(['open outermost', 'open', 'close', 'close outermost']);
  });

  it('shows raw HTML and entities as written (the parser is set up for chat)', () => {
    expect(toy('<b>x</b> &amp;')).toBe('<b>x</b> &amp;');
  });
});

describe('markdown parts', () => {
  it('tableText aligns by code points (center leans left, right) and rules the header', () => {
    expect(tableText([['h', 'é✅'], ['long', 'x']], ['center', 'right'])).toBe(' h   | é✅\n-----+---\nlong |  x');
  });

  it('fenceLanguage keeps only a class-safe first word', () => {
    expect(fenceLanguage('  c++ title="x"')).toBe('c++');
    expect(fenceLanguage('"><script>')).toBe('script');
    expect(fenceLanguage('')).toBe('');
  });

  it('inlinePlain reads the text of emphasis, code, breaks and images', () => {
    const inline = createChatMarkdown({ breaks: false }).parseInline('**a** `b`\n![c](x)', {})[0];
    expect(inlinePlain(inline.children)).toBe('a b c');
  });

  it('escapes HTML text and attributes', () => {
    expect(escapeHtmlText('<a href="x">&</a>')).toBe('&lt;a href="x"&gt;&amp;&lt;/a&gt;');
    expect(escapeHtmlAttr('"&"')).toBe('&quot;&amp;&quot;');
  });

  it('createChatMarkdown: breaks decides whether a single newline is a line break', () => {
    expect(createChatMarkdown({ breaks: true }).render('a\nb')).toBe('<p>a<br>\nb</p>\n');
    expect(createChatMarkdown({ breaks: false }).render('a\nb')).toBe('<p>a\nb</p>\n');
  });
});
