// Markdown → Slack mrkdwn. Slack's markup: *bold*, _italic_, ~strike~, `code`, ``` blocks ```, <url|label>
// links, `>` quotes; &, < and > must be escaped as &amp; &lt; &gt; everywhere (a raw < would open a control
// sequence, so an agent's "<!channel>" can never ping anyone). Lists, headings and tables have no markup and
// become bullets, bold lines and aligned code blocks. Lengths are measured on this output.
import MarkdownIt from 'markdown-it';

/** Slack's limit on one section block's text, in characters: the length each message is measured against. */
export const SLACK_MAX_TEXT = 3000;

type Token = ReturnType<MarkdownIt['parse']>[number];

// html:false so raw HTML in a reply is shown as text; linkify off so bare URLs stay as written (Slack links
// them itself); the `entity` rule off so "&amp;" written by the agent is shown literally.
const md = new MarkdownIt('default', { html: false, linkify: false, typographer: false, breaks: false });
md.disable('entity');

const ALLOWED_URL = /^(?:https?:\/\/|mailto:)/i;
const HR_LINE = '———';

/** Escapes the three characters Slack reserves. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A URL inside <…|…>: its own reserved characters escaped, and `|` (which would end it) encoded. */
function escapeUrl(url: string): string {
  return escapeMrkdwn(url).replace(/\|/g, '%7C');
}

function attr(token: Token, name: string): string {
  return token.attrGet(name) ?? '';
}

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
  return Array.from(s).length;
}

/** A markdown table as aligned plain-text rows (Slack has no tables). */
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
  const out = rows.map((r) => widths.map((_, c) => pad(r[c] ?? '', c)).join(' | ').trimEnd());
  if (out.length > 0) out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('-+-'));
  return out.join('\n');
}

/** Code block content: escaped, and a ``` inside broken up so it cannot end the block early. */
function codeBody(s: string): string {
  return escapeMrkdwn(s).replace(/```/g, '``\u200b`');
}

class MrkdwnWriter {
  private out = '';
  private pending = 0;
  private quoteDepth = 0;
  private lists: { ordered: boolean; next: number }[] = [];
  private atItemStart = false;
  // Nested same markers (`**a **b** c**`) add nothing visible and would close each other early in Slack.
  private depth: Record<string, number> = { '*': 0, _: 0, '~': 0 };
  private inLink = 0;
  /** The next content opens a quote's first line. */
  private quoteStart = false;

  result(): string {
    return this.out;
  }

  private indent(): string {
    return '   '.repeat(this.lists.length);
  }

  private want(newlines: number): void {
    if (this.out.length > 0) this.pending = Math.max(this.pending, newlines);
  }

  /** A line break inside the current block: keeps the quote marker and list indentation going. */
  private newline(count: number, indent = true): string {
    let s = '';
    for (let i = 0; i < count; i++) s += '\n' + (this.quoteDepth > 0 ? '> ' : '');
    return s + (indent && this.lists.length > 0 ? this.indent() : '');
  }

  private put(s: string, continuationIndent = true): void {
    if (this.pending > 0) {
      this.out += this.newline(this.pending, continuationIndent);
      this.pending = 0;
    } else if (this.quoteStart) {
      this.out += '> ';
    }
    this.quoteStart = false;
    this.out += s;
  }

  /** A code block starts on its own line and cannot sit in a quote's `> ` prefix (Slack would show it). */
  private pre(body: string): void {
    const quote = this.quoteDepth;
    this.quoteDepth = 0;
    if (this.pending > 0) {
      this.out += '\n'.repeat(this.pending);
      this.pending = 0;
    }
    this.out += '```\n' + codeBody(body) + '\n```';
    this.quoteDepth = quote;
    this.atItemStart = false;
  }

  private startBlock(): void {
    if (this.atItemStart) return;
    this.want(this.lists.length > 0 ? 1 : 2);
  }

  private mark(m: '*' | '_' | '~', open: boolean): void {
    if (this.inLink) return;
    if (open) {
      if (this.depth[m]++ === 0) this.put(m);
    } else if (--this.depth[m] === 0) this.put(m);
  }

  block(tokens: Token[]): void {
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      switch (t.type) {
        case 'paragraph_open':
          this.startBlock();
          break;
        case 'heading_open':
          this.startBlock();
          this.mark('*', true);
          break;
        case 'paragraph_close':
          this.atItemStart = false;
          break;
        case 'heading_close':
          this.mark('*', false);
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
          this.put('   '.repeat(this.lists.length - 1) + marker, false);
          this.atItemStart = true;
          break;
        }
        case 'list_item_close':
          this.atItemStart = false;
          break;
        case 'blockquote_open':
          this.startBlock();
          // Slack has one level of quote; inner quotes merge into it. The gap before it is not quoted, and
          // its first block starts right after the marker.
          if (this.quoteDepth++ === 0) {
            if (this.pending > 0) this.out += '\n'.repeat(this.pending);
            this.pending = 0;
            this.quoteStart = true;
            this.atItemStart = true;
          }
          break;
        case 'blockquote_close':
          this.quoteDepth--;
          this.want(this.lists.length > 0 ? 1 : 2);
          break;
        case 'fence':
        case 'code_block':
          this.startBlock();
          this.pre(t.content.replace(/\n$/, ''));
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
          this.pre(tableText(rows, aligns));
          this.want(2);
          i = stop;
          break;
        }
        default:
          break;
      }
    }
  }

  private inline(children: Token[]): void {
    for (const t of children) {
      switch (t.type) {
        case 'text':
          this.put(escapeMrkdwn(t.content));
          break;
        case 'softbreak':
        case 'hardbreak':
          this.put(this.newline(1));
          break;
        case 'code_inline':
          // Slack code spans cannot hold a backtick, and nothing is formatted inside a link label.
          this.put(this.inLink || t.content.includes('`') ? escapeMrkdwn(t.content) : '`' + escapeMrkdwn(t.content) + '`');
          break;
        case 'strong_open':
          this.mark('*', true);
          break;
        case 'strong_close':
          this.mark('*', false);
          break;
        case 'em_open':
          this.mark('_', true);
          break;
        case 'em_close':
          this.mark('_', false);
          break;
        case 's_open':
          this.mark('~', true);
          break;
        case 's_close':
          this.mark('~', false);
          break;
        case 'link_open': {
          const href = attr(t, 'href');
          if (ALLOWED_URL.test(href) && this.inLink === 0) {
            this.inLink++;
            this.put(`<${escapeUrl(href)}|`);
            this.linkStack.push({ tag: true, url: href });
          } else {
            this.linkStack.push({ tag: false, url: href });
          }
          break;
        }
        case 'link_close': {
          const link = this.linkStack.pop();
          if (link?.tag) {
            this.inLink--;
            this.put('>');
          } else if (link?.url && t.info !== 'auto') this.put(escapeMrkdwn(` (${link.url})`));
          break;
        }
        case 'image': {
          const src = attr(t, 'src');
          const alt = inlinePlain(t.children) || 'image';
          if (ALLOWED_URL.test(src) && this.inLink === 0) this.put(`<${escapeUrl(src)}|${escapeMrkdwn(alt).replace(/\|/g, '¦')}>`);
          else this.put(escapeMrkdwn(src ? `${alt} (${src})` : alt));
          break;
        }
        default:
          if (t.content) this.put(escapeMrkdwn(t.content));
          break;
      }
    }
  }

  private linkStack: { tag: boolean; url: string }[] = [];
}

/** Markdown → Slack mrkdwn (for a section block or a message's `text`). */
export function markdownToMrkdwn(markdown: string): string {
  const writer = new MrkdwnWriter();
  writer.block(md.parse(markdown, {}));
  return writer.result();
}

/** Length Slack counts for a section block: the mrkdwn string as sent. */
export function measureSlack(markdown: string): number {
  return markdownToMrkdwn(markdown).length;
}
