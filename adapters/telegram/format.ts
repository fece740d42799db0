import MarkdownIt from 'markdown-it';

/** Telegram's limit on a message text, in UTF-16 units after entity parsing. */
export const TELEGRAM_MAX_TEXT = 4096;

type Token = ReturnType<MarkdownIt['parse']>[number];

// html:false so raw HTML in the reply becomes visible text, never markup; linkify off so a
// bare URL stays exactly as written (Telegram links it itself). The `entity` rule is off so
// `&amp;` written by the agent is shown literally, as it is in the plain-text fallback.
const md = new MarkdownIt('default', { html: false, linkify: false, typographer: false, breaks: false });
md.disable('entity');

const ALLOWED_URL = /^(?:https?:\/\/|tg:\/\/|mailto:)/i;
const HR_LINE = '———';

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;');
}

/** The language of a fence info string, reduced to what is safe in a class name ('' when none). */
function fenceLanguage(info: string): string {
  const word = info.trim().split(/\s+/)[0] ?? '';
  return word.replace(/[^A-Za-z0-9_+-]/g, '').slice(0, 32);
}

function attr(token: Token, name: string): string {
  return token.attrGet(name) ?? '';
}

/** Plain visible text of inline children (used for table cells and image alt text). */
function inlinePlain(children: Token[] | null): string {
  let s = '';
  for (const t of children ?? []) {
    if (t.type === 'text' || t.type === 'code_inline') s += t.content;
    else if (t.type === 'softbreak' || t.type === 'hardbreak') s += ' ';
    else if (t.type === 'image') s += inlinePlain(t.children);
  }
  return s;
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** A markdown table as aligned plain-text rows (Telegram has no tables). */
function tableText(rows: string[][], aligns: string[]): string {
  const cols = Math.max(0, ...rows.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < cols; c++) widths.push(Math.max(1, ...rows.map((r) => codePoints(r[c] ?? ''))));
  const pad = (s: string, c: number): string => {
    const gap = widths[c] - codePoints(s);
    if (aligns[c] === 'right') return ' '.repeat(gap) + s;
    if (aligns[c] === 'center') return ' '.repeat(Math.floor(gap / 2)) + s + ' '.repeat(Math.ceil(gap / 2));
    return s + ' '.repeat(gap);
  };
  const line = (r: string[]): string =>
    widths.map((_, c) => pad(r[c] ?? '', c)).join(' | ').trimEnd();
  const out = rows.map(line);
  if (out.length > 0) out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('-+-'));
  return out.join('\n');
}

/** Builds Telegram HTML from markdown-it tokens; keeps every emitted tag balanced. */
class HtmlWriter {
  private out = '';
  /** Newlines owed before the next content (paragraph gaps are 2, list items 1). */
  private pending = 0;
  private quoteDepth = 0;
  private quoteOpen = false;
  /** Open list contexts; `next` is the next ordinal of an ordered list. */
  private lists: { ordered: boolean; next: number }[] = [];
  /** True right after a list marker, so the item's first paragraph stays on the marker's line. */
  private atItemStart = false;
  // Nested same-type tags (`**a **b** c**`) add nothing visible; emitting only the outermost
  // keeps the output minimal and away from Telegram's nesting rules.
  private depth: Record<string, number> = { b: 0, i: 0, s: 0 };
  /** Link state stack: the href when rendered as <a>, or the URL to append as text otherwise. */
  private links: { tag: boolean; url: string; text: string }[] = [];

  result(): string {
    this.closeQuote();
    return this.out;
  }

  /** Indent of an item's continuation lines: past the markers of every open list. */
  private indent(): string {
    return '   '.repeat(this.lists.length);
  }

  private want(newlines: number): void {
    if (this.out.length > 0) this.pending = Math.max(this.pending, newlines);
  }

  /** Writes content (text or inline tags), first paying owed newlines and opening a pending quote. */
  private put(s: string, continuationIndent = true): void {
    if (this.pending > 0) {
      this.out += '\n'.repeat(this.pending);
      this.pending = 0;
      if (continuationIndent && this.lists.length > 0) this.out += this.indent();
    }
    if (this.quoteDepth > 0 && !this.quoteOpen) {
      this.out += '<blockquote>';
      this.quoteOpen = true;
    }
    this.out += s;
  }

  private closeQuote(): void {
    if (this.quoteOpen) {
      this.out += '</blockquote>';
      this.quoteOpen = false;
    }
  }

  /** A <pre> block; a quote around it is closed and reopened after, as pre inside blockquote is not safe. */
  private pre(body: string, lang: string): void {
    this.closeQuote();
    if (this.pending > 0) {
      this.out += '\n'.repeat(this.pending);
      this.pending = 0;
    }
    this.out += lang ? `<pre><code class="language-${lang}">${escapeText(body)}</code></pre>` : `<pre>${escapeText(body)}</pre>`;
    this.atItemStart = false;
  }

  private startBlock(): void {
    if (this.atItemStart) return;
    this.want(this.lists.length > 0 ? 1 : 2);
  }

  block(tokens: Token[]): void {
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      switch (t.type) {
        case 'paragraph_open':
        case 'heading_open':
          this.startBlock();
          if (t.type === 'heading_open') this.inlineTag('b', true);
          break;
        case 'paragraph_close':
          this.atItemStart = false;
          break;
        case 'heading_close':
          this.inlineTag('b', false);
          this.atItemStart = false;
          break;
        case 'inline':
          this.inline(t.children ?? []);
          this.atItemStart = false;
          break;
        case 'bullet_list_open':
        case 'ordered_list_open': {
          if (this.lists.length > 0) this.want(1);
          else this.startBlock();
          this.atItemStart = false;
          const start = Number.parseInt(attr(t, 'start') || '1', 10);
          this.lists.push({ ordered: t.type === 'ordered_list_open', next: Number.isFinite(start) ? start : 1 });
          break;
        }
        case 'bullet_list_close':
        case 'ordered_list_close':
          this.lists.pop();
          this.want(this.lists.length > 0 ? 1 : 2);
          break;
        case 'list_item_open': {
          this.want(1);
          const list = this.lists[this.lists.length - 1];
          const marker = list.ordered ? `${list.next++}. ` : '• ';
          const pad = '   '.repeat(this.lists.length - 1);
          this.put(pad + escapeText(marker), false);
          this.atItemStart = true;
          break;
        }
        case 'list_item_close':
          this.atItemStart = false;
          break;
        case 'blockquote_open':
          this.startBlock();
          this.atItemStart = false;
          // Telegram does not nest quotes: inner quotes merge into the outer one.
          this.quoteDepth++;
          break;
        case 'blockquote_close':
          this.quoteDepth--;
          if (this.quoteDepth === 0) this.closeQuote();
          this.want(this.lists.length > 0 ? 1 : 2);
          break;
        case 'fence':
        case 'code_block':
          this.startBlock();
          this.pre(t.content.replace(/\n$/, ''), t.type === 'fence' ? fenceLanguage(t.info) : '');
          this.want(this.lists.length > 0 ? 1 : 2);
          break;
        case 'hr':
          this.startBlock();
          this.put(HR_LINE);
          this.atItemStart = false;
          break;
        case 'table_open': {
          const end = tokens.findIndex((x, j) => j > i && x.type === 'table_close');
          const stop = end < 0 ? tokens.length : end;
          const rows: string[][] = [];
          const aligns: string[] = [];
          let row: string[] | null = null;
          for (let j = i + 1; j < stop; j++) {
            const x = tokens[j];
            if (x.type === 'tr_open') row = [];
            else if (x.type === 'tr_close' && row) {
              rows.push(row);
              row = null;
            } else if ((x.type === 'th_open' || x.type === 'td_open') && rows.length === 0 && row) {
              const style = attr(x, 'style');
              aligns.push(style.includes('right') ? 'right' : style.includes('center') ? 'center' : 'left');
            } else if (x.type === 'inline' && row) row.push(inlinePlain(x.children).trim());
          }
          this.startBlock();
          this.pre(tableText(rows, aligns), '');
          this.want(2);
          i = stop;
          break;
        }
        default:
          // html_block cannot occur (html:false); unknown block tokens carry no text of their own.
          break;
      }
    }
  }

  private inlineTag(tag: 'b' | 'i' | 's', open: boolean): void {
    if (open) {
      if (this.depth[tag]++ === 0) this.put(`<${tag}>`);
    } else if (--this.depth[tag] === 0) this.put(`</${tag}>`);
  }

  private inline(children: Token[]): void {
    for (const t of children) {
      switch (t.type) {
        case 'text':
          this.put(escapeText(t.content));
          break;
        case 'softbreak':
        case 'hardbreak':
          this.put('\n' + (this.lists.length > 0 ? this.indent() : ''));
          break;
        case 'code_inline':
          // Telegram forbids entities inside a link's code, so inside links it is plain text.
          this.put(this.links.length > 0 ? escapeText(t.content) : `<code>${escapeText(t.content)}</code>`);
          break;
        case 'strong_open':
          this.inlineTag('b', true);
          break;
        case 'strong_close':
          this.inlineTag('b', false);
          break;
        case 'em_open':
          this.inlineTag('i', true);
          break;
        case 'em_close':
          this.inlineTag('i', false);
          break;
        case 's_open':
          this.inlineTag('s', true);
          break;
        case 's_close':
          this.inlineTag('s', false);
          break;
        case 'link_open': {
          const href = attr(t, 'href');
          const tag = ALLOWED_URL.test(href) && this.links.length === 0;
          this.links.push({ tag, url: href, text: '' });
          if (tag) this.put(`<a href="${escapeAttr(href)}">`);
          break;
        }
        case 'link_close': {
          const link = this.links.pop();
          if (link?.tag) this.put('</a>');
          else if (link && link.url && t.info !== 'auto') this.put(escapeText(` (${link.url})`));
          break;
        }
        case 'image': {
          const src = attr(t, 'src');
          const alt = inlinePlain(t.children) || 'image';
          if (ALLOWED_URL.test(src) && this.links.length === 0) this.put(`<a href="${escapeAttr(src)}">${escapeText(alt)}</a>`);
          else this.put(escapeText(src ? `${alt} (${src})` : alt));
          break;
        }
        default:
          // html_inline cannot occur (html:false); anything else unknown is shown as its source.
          if (t.content) this.put(escapeText(t.content));
          break;
      }
    }
  }
}

/** Markdown → Telegram Bot API HTML (parse_mode 'HTML'). Always returns valid Telegram HTML. */
export function markdownToTelegramHtml(markdown: string): string {
  const writer = new HtmlWriter();
  writer.block(md.parse(markdown, {}));
  return writer.result();
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
