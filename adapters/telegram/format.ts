import { escapeHtmlAttr, escapeHtmlText } from '../shared/markdown-parts.js';
import { MarkdownWalker, type InlineStyle } from '../shared/markdown-walk.js';

/** Telegram's limit on a message text, in UTF-16 units after entity parsing. */
export const TELEGRAM_MAX_TEXT = 4096;

const TAGS: Record<InlineStyle, string> = { bold: 'b', italic: 'i', strike: 's' };

/** Telegram HTML; keeps every emitted tag balanced. */
class TelegramHtml extends MarkdownWalker {
  protected readonly allowedUrl = /^(?:https?:\/\/|tg:\/\/|mailto:)/i;
  /** A <blockquote> is open in the output. */
  private quoteOpen = false;

  protected escape(text: string): string {
    return escapeHtmlText(text);
  }

  protected styleMark(style: InlineStyle, open: boolean): string {
    return open ? `<${TAGS[style]}>` : `</${TAGS[style]}>`;
  }

  protected codeSpan(code: string): string {
    // Telegram forbids entities inside a link's code, so inside links it is plain text.
    return this.links.length > 0 ? escapeHtmlText(code) : `<code>${escapeHtmlText(code)}</code>`;
  }

  protected codeBlock(body: string, lang: string): string {
    return lang ? `<pre><code class="language-${lang}">${escapeHtmlText(body)}</code></pre>` : `<pre>${escapeHtmlText(body)}</pre>`;
  }

  protected linkOpen(href: string): string {
    return `<a href="${escapeHtmlAttr(href)}">`;
  }

  protected linkClose(): string {
    return '</a>';
  }

  protected imageLink(src: string, alt: string): string {
    return `<a href="${escapeHtmlAttr(src)}">${escapeHtmlText(alt)}</a>`;
  }

  protected linkAllowed(): boolean {
    return this.links.length === 0;
  }

  protected quoteStarted(): void {
    // Telegram does not nest quotes: inner quotes merge into the outer one, opened with the next content.
    this.atItemStart = false;
  }

  protected quoteEnded(outermost: boolean): void {
    if (outermost) this.closeQuote();
  }

  protected override beforeContent(): string {
    if (this.quoteDepth === 0 || this.quoteOpen) return '';
    this.quoteOpen = true;
    return '<blockquote>';
  }

  /** A quote around a <pre> is closed and reopened after it, as pre inside blockquote is not safe. */
  protected override beforeCodeBlock(): void {
    this.closeQuote();
  }

  protected override finish(): string {
    this.closeQuote();
    return this.out;
  }

  private closeQuote(): void {
    if (this.quoteOpen) {
      this.out += '</blockquote>';
      this.quoteOpen = false;
    }
  }
}

/** Markdown → Telegram Bot API HTML (parse_mode 'HTML'). Always returns valid Telegram HTML. */
export function markdownToTelegramHtml(markdown: string): string {
  return new TelegramHtml().render(markdown);
}

const ENTITY = /&(?:#(\d+)|#x([0-9a-f]+)|(lt|gt|amp|quot));/gi;

/** Length Telegram counts: the text after entity parsing (tags removed, entities decoded), in UTF-16 units. */
export function telegramVisibleLength(html: string): number {
  const text = html.replace(/<[^>]*>/g, '');
  let n = text.length;
  for (const m of text.matchAll(ENTITY)) {
    const cp = m[1] ? Number.parseInt(m[1], 10) : m[2] ? Number.parseInt(m[2], 16) : 0;
    const decoded = m[3] ? 1 : cp > 0xffff ? 2 : 1;
    n -= m[0].length - decoded;
  }
  return n;
}

/**
 * What counts against the 4096 limit for a chunk: max(visible length of the HTML, markdown.length) — so the
 * plain-text fallback (sending the markdown source unformatted after "can't parse entities") fits too.
 */
export function measureTelegram(markdown: string): number {
  return Math.max(telegramVisibleLength(markdownToTelegramHtml(markdown)), markdown.length);
}
