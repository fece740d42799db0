// Markdown → Slack mrkdwn. Slack's markup: *bold*, _italic_, ~strike~, `code`, ``` blocks ```, <url|label>
// links, `>` quotes; &, < and > must be escaped as &amp; &lt; &gt; everywhere (a raw < would open a control
// sequence, so an agent's "<!channel>" can never ping anyone). Lists, headings and tables have no markup and
// become bullets, bold lines and aligned code blocks. Lengths are measured on this output.
import { escapeHtmlText } from '../shared/markdown-parts.js';
import { MarkdownWalker, type InlineStyle } from '../shared/markdown-walk.js';

/** Slack's limit on one section block's text, in characters: the length each message is measured against. */
export const SLACK_MAX_TEXT = 3000;

/** Escapes the three characters Slack reserves (the same three as HTML text). */
export function escapeMrkdwn(s: string): string {
  return escapeHtmlText(s);
}

/** A URL inside <…|…>: its own reserved characters escaped, and `|` (which would end it) encoded. */
function escapeUrl(url: string): string {
  return escapeMrkdwn(url).replace(/\|/g, '%7C');
}

/** Code block content: escaped, and a ``` inside broken up so it cannot end the block early. */
function codeBody(s: string): string {
  return escapeMrkdwn(s).replace(/```/g, '``\u200b`');
}

const MARKS: Record<InlineStyle, string> = { bold: '*', italic: '_', strike: '~' };

class Mrkdwn extends MarkdownWalker {
  protected readonly allowedUrl = /^(?:https?:\/\/|mailto:)/i;
  /** The next content opens a quote's first line. */
  private quoteStart = false;

  /** Inside a <url|label> link: Slack formats nothing in a label. */
  private inLink(): boolean {
    return this.links.some((l) => l.tag);
  }

  protected escape(text: string): string {
    return escapeMrkdwn(text);
  }

  protected styleMark(style: InlineStyle): string {
    return MARKS[style];
  }

  // Nested same markers would close each other early in Slack; the walk writes only the outermost.
  protected override styleAllowed(): boolean {
    return !this.inLink();
  }

  protected codeSpan(code: string): string {
    // Slack code spans cannot hold a backtick, and nothing is formatted inside a link label.
    return this.inLink() || code.includes('`') ? escapeMrkdwn(code) : '`' + escapeMrkdwn(code) + '`';
  }

  /** Slack shows no language; a code block cannot sit in a quote's `> ` prefix, so it starts a line of its own. */
  protected codeBlock(body: string): string {
    return '```\n' + codeBody(body) + '\n```';
  }

  protected linkOpen(href: string): string {
    return `<${escapeUrl(href)}|`;
  }

  protected linkClose(): string {
    return '>';
  }

  protected imageLink(src: string, alt: string): string {
    return `<${escapeUrl(src)}|${escapeMrkdwn(alt).replace(/\|/g, '¦')}>`;
  }

  protected linkAllowed(): boolean {
    return !this.inLink();
  }

  /** A line break keeps the quote marker going. */
  protected override lineBreak(): string {
    return '\n' + (this.quoteDepth > 0 ? '> ' : '');
  }

  protected override beforeContent(afterBreak: boolean): string {
    const mark = !afterBreak && this.quoteStart ? '> ' : '';
    this.quoteStart = false;
    return mark;
  }

  protected quoteStarted(outermost: boolean): void {
    // Slack has one level of quote; inner quotes merge into it. The gap before it is not quoted, and its
    // first block starts right after the marker.
    if (!outermost) return;
    if (this.pending > 0) this.out += '\n'.repeat(this.pending);
    this.pending = 0;
    this.quoteStart = true;
    this.atItemStart = true;
  }

  protected quoteEnded(): void {}
}

/** Markdown → Slack mrkdwn (for a section block or a message's `text`). */
export function markdownToMrkdwn(markdown: string): string {
  return new Mrkdwn().render(markdown);
}

/** Length Slack counts for a section block: the mrkdwn string as sent. */
export function measureSlack(markdown: string): number {
  return markdownToMrkdwn(markdown).length;
}
