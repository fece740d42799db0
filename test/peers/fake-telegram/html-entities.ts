// Telegram's HTML parse mode: turns markup into visible text plus MessageEntity objects (UTF-16 offsets),
// rejecting what the real server rejects (unknown tags, unbalanced tags, bad entities).
import { badRequest, type ApiError } from './api-error.js';

export interface Entity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
}

export interface FormattedText {
  text: string;
  entities: Entity[];
}

const SIMPLE_TAGS: Record<string, string> = {
  b: 'bold', strong: 'bold', i: 'italic', em: 'italic', u: 'underline', ins: 'underline',
  s: 'strikethrough', strike: 'strikethrough', del: 'strikethrough', 'tg-spoiler': 'spoiler',
  code: 'code', pre: 'pre', blockquote: 'blockquote', a: 'text_link', span: 'spoiler', 'tg-emoji': 'custom_emoji',
};

const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

interface Open {
  name: string;
  attrs: Map<string, string>;
  start: number;
  /** Set on a <pre> by an inner <code class="language-x">. */
  language?: string;
}

function parseError(what: string): ApiError {
  return badRequest(`can't parse entities: ${what}`);
}

const byteOffset = (s: string, i: number) => Buffer.byteLength(s.slice(0, i), 'utf8');

/** Decodes `&...;` at `i`; returns the text and the index after it, or null when `&` is just a character. */
function decodeEntity(src: string, i: number): { value: string; end: number } | null {
  const m = /^&(#[0-9]{1,8}|#x[0-9a-fA-F]{1,8}|[a-zA-Z][a-zA-Z0-9]{0,31});/.exec(src.slice(i, i + 42));
  if (!m) return null;
  const body = m[1];
  if (body.startsWith('#')) {
    const code = body[1] === 'x' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      throw parseError(`Invalid character reference "${m[0]}" at byte offset ${byteOffset(src, i)}`);
    }
    return { value: String.fromCodePoint(code), end: i + m[0].length };
  }
  const named = NAMED_ENTITIES[body];
  if (named === undefined) throw parseError(`Unsupported HTML entity "${m[0]}" at byte offset ${byteOffset(src, i)}`);
  return { value: named, end: i + m[0].length };
}

function decodeText(src: string, from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; ) {
    if (src[i] === '&') {
      const e = decodeEntity(src, i);
      if (e) {
        out += e.value;
        i = e.end;
        continue;
      }
    }
    out += src[i++];
  }
  return out;
}

/** Parses Telegram HTML. Throws a 400 ApiError "can't parse entities: ..." on invalid markup. */
export function parseHtml(src: string): FormattedText {
  let text = '';
  const entities: Entity[] = [];
  const stack: Open[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (ch === '&') {
      const e = decodeEntity(src, i);
      if (e) {
        text += e.value;
        i = e.end;
      } else {
        text += ch;
        i++;
      }
      continue;
    }
    if (ch !== '<') {
      text += ch;
      i++;
      continue;
    }
    const at = byteOffset(src, i);
    const close = tagEnd(src, i);
    if (close < 0) throw parseError(`Unclosed start tag at byte offset ${at}`);
    if (src[i + 1] === '/') {
      const name = src.slice(i + 2, close).trim().toLowerCase();
      const open = stack.pop();
      if (!open) throw parseError(`Unexpected end tag at byte offset ${at}`);
      if (open.name !== name) throw parseError(`Unmatched end tag at byte offset ${at}, expected "</${open.name}>", found "</${name}>"`);
      closeTag(open, text.length, stack, entities);
      i = close + 1;
      continue;
    }
    const inner = src.slice(i + 1, close);
    const nameMatch = /^[a-zA-Z][a-zA-Z0-9-]*/.exec(inner);
    if (!nameMatch) throw parseError(`Empty tag name at byte offset ${at}`);
    const name = nameMatch[0].toLowerCase();
    if (!(name in SIMPLE_TAGS)) throw parseError(`Unsupported start tag "${name}" at byte offset ${at}`);
    const attrs = parseAttributes(src, i + 1 + nameMatch[0].length, close, at);
    if (name === 'span' && attrs.get('class') !== 'tg-spoiler') throw parseError(`Tag "span" must have class "tg-spoiler" at byte offset ${at}`);
    if (name === 'tg-emoji' && !attrs.has('emoji-id')) throw parseError(`Tag "tg-emoji" must have attribute "emoji-id" at byte offset ${at}`);
    stack.push({ name, attrs, start: text.length });
    i = close + 1;
  }
  const unclosed = stack.pop();
  if (unclosed) throw parseError(`Can't find end tag corresponding to start tag "${unclosed.name}"`);
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { text, entities };
}

/** Index of the `>` closing the tag that starts at `i`, skipping quoted attribute values; -1 if none. */
function tagEnd(src: string, i: number): number {
  let quote = '';
  for (let j = i + 1; j < src.length; j++) {
    const c = src[j];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return j;
  }
  return -1;
}

function parseAttributes(src: string, from: number, to: number, at: number): Map<string, string> {
  const attrs = new Map<string, string>();
  const re = /\s*([a-zA-Z][a-zA-Z0-9_-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/y;
  let pos = from;
  while (pos < to) {
    if (/^\s*$/.test(src.slice(pos, to))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m || re.lastIndex > to) throw parseError(`Expected equal sign in declaration of an attribute of the tag at byte offset ${at}`);
    const raw = m[2] ?? m[3] ?? m[4] ?? '';
    attrs.set(m[1].toLowerCase(), decodeText(raw, 0, raw.length));
    pos = re.lastIndex;
  }
  return attrs;
}

function closeTag(open: Open, end: number, stack: Open[], entities: Entity[]): void {
  const parent = stack[stack.length - 1];
  // <pre><code class="language-x"> is one pre entity carrying the language, not two entities.
  if (open.name === 'code' && parent?.name === 'pre') {
    const lang = /^language-(.+)$/.exec(open.attrs.get('class') ?? '');
    if (lang) parent.language = lang[1];
    return;
  }
  const length = end - open.start;
  if (length === 0) return; // the real server drops empty entities
  const type = SIMPLE_TAGS[open.name];
  const e: Entity = { type, offset: open.start, length };
  if (open.name === 'a') {
    const href = open.attrs.get('href');
    if (!href) return; // <a> without href is plain text
    e.url = href;
  } else if (open.name === 'pre' && open.language) {
    e.language = open.language;
  } else if (open.name === 'blockquote' && open.attrs.has('expandable')) {
    e.type = 'expandable_blockquote';
  } else if (open.name === 'tg-emoji') {
    e.custom_emoji_id = open.attrs.get('emoji-id');
  }
  entities.push(e);
}

/**
 * Strips leading/trailing whitespace as the real server does, moving and clipping entities to match.
 */
export function trimFormatted(ft: FormattedText): FormattedText {
  const lead = ft.text.length - ft.text.trimStart().length;
  const text = ft.text.trim();
  const entities: Entity[] = [];
  for (const e of ft.entities) {
    const start = Math.max(0, e.offset - lead);
    const end = Math.min(text.length, e.offset + e.length - lead);
    if (end > start) entities.push({ ...e, offset: start, length: end - start });
  }
  return { text, entities };
}

/** Visible length as the server counts it: Unicode code points. */
export function visibleLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
