// The pieces every platform formatter needs around markdown-it: the parser set up for chat replies, the
// escapes of HTML-like markup, a fence's language, the plain text of inline tokens, and tables laid out as
// aligned text (no chat platform renders markdown tables).
import MarkdownIt from 'markdown-it';

/** One markdown-it token. */
export type MdToken = ReturnType<MarkdownIt['parse']>[number];

/** How a table column is aligned (from the delimiter row's colons). */
export type ColumnAlign = 'left' | 'right' | 'center';

/**
 * A markdown-it parser for agent replies. Raw HTML off, so HTML in a reply becomes visible text and never
 * markup; linkify off, so a bare URL stays exactly as written (every platform links it itself); the
 * `entity` rule off, so `&amp;` written by the agent is shown literally, as in a plain-text fallback.
 * `breaks`: a single newline is a line break (Matrix) rather than a space (Telegram, Slack).
 */
export function createChatMarkdown(options: { breaks: boolean }): MarkdownIt {
  const md = new MarkdownIt('default', { html: false, linkify: false, typographer: false, breaks: options.breaks });
  md.disable('entity');
  return md;
}

/** Escapes &, < and > (HTML text; also exactly the three characters Slack's mrkdwn reserves). */
export function escapeHtmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes text for a double-quoted HTML attribute. */
export function escapeHtmlAttr(s: string): string {
  return escapeHtmlText(s).replace(/"/g, '&quot;');
}

/** The language of a fence info string, reduced to what is safe in a class name ('' when none). */
export function fenceLanguage(info: string): string {
  const word = info.trim().split(/\s+/)[0] ?? '';
  return word.replace(/[^A-Za-z0-9_+-]/g, '').slice(0, 32);
}

/** A token's attribute, '' when absent. */
export function attr(token: MdToken, name: string): string {
  return token.attrGet(name) ?? '';
}

/** Plain visible text of inline children (used for table cells and image alt text). */
export function inlinePlain(children: MdToken[] | null): string {
  let s = '';
  for (const t of children ?? []) {
    if (t.type === 'text' || t.type === 'code_inline') s += t.content;
    else if (t.type === 'softbreak' || t.type === 'hardbreak') s += ' ';
    else if (t.type === 'image') s += inlinePlain(t.children);
  }
  return s;
}

/** Length in code points, which is what a monospace cell shows. */
function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** A markdown table as aligned plain-text rows, a `-+-` rule under the header row. */
export function tableText(rows: string[][], aligns: ColumnAlign[]): string {
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

/** The cells (plain text, trimmed) and column alignments of the table between `table_open` and `table_close`. */
export function tableCells(tokens: MdToken[], from: number, stop: number): { rows: string[][]; aligns: ColumnAlign[] } {
  const rows: string[][] = [];
  const aligns: ColumnAlign[] = [];
  let row: string[] | null = null;
  for (let j = from; j < stop; j++) {
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
  return { rows, aligns };
}
