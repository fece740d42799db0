// The walk over markdown-it's tokens that every chat formatter shares: paragraph and list spacing, list
// markers and their indentation, headings as bold lines, code blocks and tables as preformatted blocks,
// nested emphasis written once, links the platform may not render shown as "text (url)". A platform
// subclass supplies only its markup (escaping, emphasis, code, links, quotes); the walk decides where
// things go. Each instance renders one reply.
import { createChatMarkdown, fenceLanguage, inlinePlain, tableCells, tableText, attr, type MdToken } from './markdown-parts.js';

/** Inline emphasis kinds. */
export type InlineStyle = 'bold' | 'italic' | 'strike';

/** Written for `---` (no chat platform has a rule). */
export const HR_LINE = '———';

const parser = createChatMarkdown({ breaks: false });

export abstract class MarkdownWalker {
  protected out = '';
  /** Newlines owed before the next content (paragraph gaps are 2, list items 1). */
  protected pending = 0;
  /** Open quotes; platforms merge nested quotes into one. */
  protected quoteDepth = 0;
  /** Open list contexts; `next` is the next ordinal of an ordered list. */
  protected lists: { ordered: boolean; next: number }[] = [];
  /** True right after a list marker, so the item's first paragraph stays on the marker's line. */
  protected atItemStart = false;
  /** Open links, outermost first; `tag` when written as the platform's link markup, else the URL follows as text. */
  protected links: { tag: boolean; url: string }[] = [];
  // Nested same-kind emphasis (`**a **b** c**`) adds nothing visible; writing only the outermost keeps the
  // output minimal and away from each platform's nesting rules.
  private depth: Record<InlineStyle, number> = { bold: 0, italic: 0, strike: 0 };

  /** URLs the platform may link to; any other is shown as text. */
  protected abstract readonly allowedUrl: RegExp;
  /** Text as the platform shows it literally. */
  protected abstract escape(text: string): string;
  /** The opening or closing mark of an emphasis. */
  protected abstract styleMark(style: InlineStyle, open: boolean): string;
  /** An inline code span (`code`), already placed. */
  protected abstract codeSpan(code: string): string;
  /** A preformatted block (a fence, an indented block, or a table laid out as text); `lang` '' when none. */
  protected abstract codeBlock(body: string, lang: string): string;
  /** The markup that opens a link to an allowed URL. */
  protected abstract linkOpen(href: string): string;
  /** The markup that closes it. */
  protected abstract linkClose(): string;
  /** An image with an allowed source, written as a link to it. */
  protected abstract imageLink(src: string, alt: string): string;
  /** A quote was opened (`outermost` when no other is open) or closed (`outermost` when none is left). */
  protected abstract quoteStarted(outermost: boolean): void;
  protected abstract quoteEnded(outermost: boolean): void;
  /** Whether a link or an image here may be written as platform markup (links do not nest). */
  protected abstract linkAllowed(): boolean;

  /** One line break inside the current block (before a list's indentation). */
  protected lineBreak(): string {
    return '\n';
  }

  /** Written before content, after any owed newlines (`afterBreak` when some were just written). */
  protected beforeContent(_afterBreak: boolean): string {
    return '';
  }

  /** Called before a preformatted block starts. */
  protected beforeCodeBlock(): void {}

  /** Whether emphasis is written here (some platforms format nothing inside a link). */
  protected styleAllowed(): boolean {
    return true;
  }

  /** The finished text (after `render`'s walk). */
  protected finish(): string {
    return this.out;
  }

  /** The reply's markdown in this platform's markup. */
  render(markdown: string): string {
    this.block(parser.parse(markdown, {}));
    return this.finish();
  }

  /** Indent of an item's continuation lines: past the markers of every open list. */
  protected indent(): string {
    return '   '.repeat(this.lists.length);
  }

  protected want(newlines: number): void {
    if (this.out.length > 0) this.pending = Math.max(this.pending, newlines);
  }

  /** Writes content (text or inline markup), first paying owed newlines. */
  protected put(s: string, continuationIndent = true): void {
    const broke = this.pending > 0;
    if (broke) {
      this.out += this.lineBreak().repeat(this.pending) + (continuationIndent && this.lists.length > 0 ? this.indent() : '');
      this.pending = 0;
    }
    this.out += this.beforeContent(broke);
    this.out += s;
  }

  /** A preformatted block starts on a line of its own, outside any quote markup. */
  private pre(body: string, lang: string): void {
    this.beforeCodeBlock();
    if (this.pending > 0) {
      this.out += '\n'.repeat(this.pending);
      this.pending = 0;
    }
    this.out += this.codeBlock(body, lang);
    this.atItemStart = false;
  }

  private startBlock(): void {
    if (this.atItemStart) return;
    this.want(this.lists.length > 0 ? 1 : 2);
  }

  private style(style: InlineStyle, open: boolean): void {
    if (!this.styleAllowed()) return;
    if (open) {
      if (this.depth[style]++ === 0) this.put(this.styleMark(style, true));
    } else if (--this.depth[style] === 0) this.put(this.styleMark(style, false));
  }

  private block(tokens: MdToken[]): void {
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      switch (t.type) {
        case 'paragraph_open':
          this.startBlock();
          break;
        case 'heading_open':
          this.startBlock();
          this.style('bold', true);
          break;
        case 'paragraph_close':
          this.atItemStart = false;
          break;
        case 'heading_close':
          this.style('bold', false);
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
          this.quoteDepth++;
          this.quoteStarted(this.quoteDepth === 1);
          break;
        case 'blockquote_close':
          this.quoteDepth--;
          this.quoteEnded(this.quoteDepth === 0);
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
          const { rows, aligns } = tableCells(tokens, i + 1, stop);
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

  private inline(children: MdToken[]): void {
    for (const t of children) {
      switch (t.type) {
        case 'text':
          this.put(this.escape(t.content));
          break;
        case 'softbreak':
        case 'hardbreak':
          this.put(this.lineBreak() + (this.lists.length > 0 ? this.indent() : ''));
          break;
        case 'code_inline':
          this.put(this.codeSpan(t.content));
          break;
        case 'strong_open':
        case 'strong_close':
          this.style('bold', t.type === 'strong_open');
          break;
        case 'em_open':
        case 'em_close':
          this.style('italic', t.type === 'em_open');
          break;
        case 's_open':
        case 's_close':
          this.style('strike', t.type === 's_open');
          break;
        case 'link_open': {
          const href = attr(t, 'href');
          const tag = this.allowedUrl.test(href) && this.linkAllowed();
          this.links.push({ tag, url: href });
          if (tag) this.put(this.linkOpen(href));
          break;
        }
        case 'link_close': {
          const link = this.links.pop();
          if (link?.tag) this.put(this.linkClose());
          else if (link?.url && t.info !== 'auto') this.put(this.escape(` (${link.url})`));
          break;
        }
        case 'image': {
          const src = attr(t, 'src');
          const alt = inlinePlain(t.children) || 'image';
          if (this.allowedUrl.test(src) && this.linkAllowed()) this.put(this.imageLink(src, alt));
          else this.put(this.escape(src ? `${alt} (${src})` : alt));
          break;
        }
        default:
          // html_inline cannot occur (html:false); anything else unknown is shown as its source.
          if (t.content) this.put(this.escape(t.content));
          break;
      }
    }
  }
}
