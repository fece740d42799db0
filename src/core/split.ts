import MarkdownIt from 'markdown-it';

// Block structure only: fences are all the splitter needs from the parser, and skipping the
// inline pass makes a 100,000-character parse take about a millisecond.
const blockParser = new MarkdownIt('default', { html: false });
blockParser.core.ruler.disable(['inline', 'linkify', 'replacements', 'smartquotes', 'text_join']);

/** A table located in the source: a chunk starting among its rows repeats its header (offsets in UTF-16 units). */
interface Table {
  /** Start of the header row's line. */
  start: number;
  /** Start of the first body row's line (just past the delimiter row). */
  bodyStart: number;
  /** End of the last row's line. */
  end: number;
  /** The header and delimiter rows as written (container prefixes included), repeated on later chunks. */
  header: string;
}

/** A fenced code block located in the (newline-normalised) source, offsets in UTF-16 units. */
interface Fence {
  /** Start of the opening fence line. */
  openStart: number;
  /** Start of the first content line (just past the opening line's newline). */
  contentStart: number;
  /** Start of the closing fence line; for an unclosed fence, the end of its region. */
  closeStart: number;
  /** End of the closing fence line (before its newline); equals closeStart when unclosed. */
  closeEnd: number;
  /** The line that reopens this fence at the start of a chunk (container prefix + marker + language). */
  reopen: string;
  /** The line that closes this fence at the end of a chunk. */
  close: string;
}

/** One chunk as a slice of the source plus the fence lines the splitter added around it. */
export interface ChunkRange {
  /** Offset of the chunk's first source character (UTF-16 units, in `text`). */
  start: number;
  /** Offset just past the chunk's last source character; trailing whitespace is excluded. */
  end: number;
  /** Added fence-reopening line, or a table's repeated header and delimiter rows (with the newline); '' when none. */
  prefix: string;
  /** Added fence-closing line (with its leading newline), or '' when none. */
  suffix: string;
}

/** The result of {@link splitMarkdownRanges}: the source as split and the chunk ranges within it. */
export interface SplitResult {
  /** The source with line endings normalised to `\n` (offsets refer to this). */
  text: string;
  chunks: ChunkRange[];
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lineEnd(text: string, from: number): number {
  const i = text.indexOf('\n', from);
  return i < 0 ? text.length : i;
}

function findFences(text: string): Fence[] {
  return findBlocks(text).fences;
}

/** Fences and tables of the source, in order, from one block parse. */
function findBlocks(text: string): { fences: Fence[]; tables: Table[] } {
  const fences: Fence[] = [];
  const tables: Table[] = [];
  // Most replies have neither: skip the parse (it runs on every render of a live reply).
  if (!text.includes('```') && !text.includes('~~~') && !text.includes('|')) return { fences, tables };
  const starts = lineStarts(text);
  const at = (line: number): number => (line < starts.length ? starts[line] : text.length);
  for (const token of blockParser.parse(text, {})) {
    if (token.type === 'table_open' && token.map) {
      const [first, last] = token.map;
      const bodyStart = at(first + 2);
      if (last > first + 2) tables.push({ start: at(first), bodyStart, end: lineEnd(text, at(last - 1)), header: text.slice(at(first), bodyStart - 1) });
      continue;
    }
    if (token.type !== 'fence' || !token.map) continue;
    const [first, last] = token.map;
    const openStart = at(first);
    const openEnd = lineEnd(text, openStart);
    const openLine = text.slice(openStart, openEnd);
    const markerAt = Math.max(0, openLine.indexOf(token.markup));
    // Blockquote markers must be repeated on added lines; list-item markers become indentation.
    const container = openLine.slice(0, markerAt).replace(/[^>\s]/g, ' ');
    const contentStart = Math.min(text.length, openEnd + 1);
    let closeStart = at(last);
    let closeEnd = closeStart;
    if (last - 1 > first) {
      const lastStart = at(last - 1);
      const lastLine = text.slice(lastStart, lineEnd(text, lastStart)).replace(/^[\s>]*/, '');
      const ch = token.markup[0];
      const run = lastLine.length - lastLine.replace(ch === '`' ? /^`+/ : /^~+/, '').length;
      if (run >= token.markup.length && lastLine.slice(run).trim() === '') {
        closeStart = lastStart;
        closeEnd = lineEnd(text, lastStart);
      }
    }
    fences.push({
      openStart,
      contentStart,
      closeStart,
      closeEnd,
      // Only the language (first word of the info string) is repeated: it is all a formatter uses,
      // and a long info string repeated on every chunk could eat the whole limit.
      reopen: container + token.markup + (token.info.trim().split(/\s+/)[0] ?? '').slice(0, 32),
      close: container + token.markup,
    });
  }
  return { fences, tables };
}

/** The table whose body rows a chunk starting at `pos` begins among (it repeats the header). */
function tableStartInside(tables: Table[], pos: number): Table | undefined {
  for (const t of tables) if (pos >= t.bodyStart && pos < t.end) return t;
  return undefined;
}

/** The table a cut at `pos` would separate from its delimiter row (a header with no body is no table). */
function tableHeaderAt(tables: Table[], pos: number): Table | undefined {
  for (const t of tables) if (pos > t.start && pos < t.bodyStart) return t;
  return undefined;
}

/**
 * The closing fence line needed to end a code block left open at the end of `markdown`, or null
 * when no fence is open there. Lets callers append more content after streamed text safely.
 */
export function openFenceCloser(markdown: string): string | null {
  const text = markdown.replace(/\r\n?/g, '\n');
  const fences = findFences(text);
  const f = fences[fences.length - 1];
  if (!f || f.closeStart !== f.closeEnd || f.closeEnd < text.replace(/\n+$/, '').length) return null;
  return f.close;
}

/** Index of the last fence with openStart < pos (fences are sorted and disjoint). */
function fenceBefore(fences: Fence[], pos: number): Fence | undefined {
  let lo = 0;
  let hi = fences.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (fences[mid].openStart < pos) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 ? fences[found] : undefined;
}

/** Fence a cut at `pos` falls inside (the chunk must close it and the next reopen it). */
function fenceCutInside(fences: Fence[], pos: number): Fence | undefined {
  const f = fenceBefore(fences, pos);
  return f && pos > f.contentStart && pos < f.closeEnd ? f : undefined;
}

/** Fence a chunk starting at `pos` begins inside of (it must reopen it). */
function fenceStartInside(fences: Fence[], pos: number): Fence | undefined {
  const f = fenceBefore(fences, pos + 1);
  return f && pos >= f.contentStart && pos < f.closeEnd && f.contentStart > f.openStart ? f : undefined;
}

/** A cut inside a fence's opening line (or right after it) or inside its closing line breaks the fence. */
function cutForbidden(fences: Fence[], pos: number): boolean {
  const f = fenceBefore(fences, pos);
  if (!f) return false;
  return pos <= f.contentStart || (pos > f.closeStart && pos < f.closeEnd);
}

const SPAN_SEARCH = 1000;
// An opener this close to the end of the window may be closed just past it; splitting before
// it keeps the span whole, and deciding from the window alone keeps full chunks stable.
const SPAN_TAIL = 300;

/**
 * Intervals [a, b) of inline code spans and links inside text[from, to) (fences skipped).
 * Only the window is read, so the result for a chunk never changes as text is appended.
 */
function protectedSpans(text: string, from: number, to: number, fences: Fence[]): [number, number][] {
  const spans: [number, number][] = [];
  const blankAfter = (i: number, limit: number): number => {
    const m = /\n[ \t]*\n/g;
    m.lastIndex = i;
    const hit = m.exec(text);
    return hit && hit.index < limit ? hit.index : -1;
  };
  let i = from;
  let fi = 0;
  while (fi < fences.length && fences[fi].closeEnd <= from) fi++;
  while (i < to) {
    while (fi < fences.length && fences[fi].closeEnd <= i) fi++;
    const fence = fences[fi];
    if (fence && i >= fence.openStart) {
      i = Math.max(i + 1, fence.closeEnd);
      continue;
    }
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      i += 2;
      continue;
    }
    if (c === 0x60 /* ` */) {
      let k = i;
      while (k < to && text.charCodeAt(k) === 0x60) k++;
      const run = k - i;
      const limit = Math.min(to, i + SPAN_SEARCH);
      const blank = blankAfter(k, limit);
      const stop = blank >= 0 ? blank : limit;
      let close = -1;
      for (let j = text.indexOf('`', k); j >= 0 && j < stop; ) {
        let e = j;
        while (e < text.length && text.charCodeAt(e) === 0x60) e++;
        if (e - j === run) {
          close = e;
          break;
        }
        j = text.indexOf('`', e);
      }
      if (close >= 0 && close <= to) {
        spans.push([i, close]);
        i = close;
        continue;
      }
      if (close < 0 && blank < 0 && stop === to && to - i <= SPAN_TAIL) spans.push([i, to]);
      i = k;
      continue;
    }
    if (c === 0x5b /* [ */ || (c === 0x21 /* ! */ && text.charCodeAt(i + 1) === 0x5b) || c === 0x3c /* < */) {
      const end = linkEnd(text, i, to);
      if (end > 0) {
        spans.push([i, end]);
        i = end;
        continue;
      }
      if (end === -2 && to - i <= SPAN_TAIL) spans.push([i, to]);
    }
    i++;
  }
  return spans;
}

/**
 * End of a link/image/autolink starting at i (exclusive), -1 when there is none, -2 when one
 * may still be open at the window's end `to`.
 */
function linkEnd(text: string, i: number, to: number): number {
  if (text.charCodeAt(i) === 0x3c) {
    const m = /^<[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*>/.exec(text.slice(i, Math.min(to, i + SPAN_SEARCH)));
    return m ? i + m[0].length : -1;
  }
  let j = text.charCodeAt(i) === 0x21 ? i + 2 : i + 1;
  const limit = Math.min(to, i + SPAN_SEARCH);
  const match = (open: number, close: number, from: number): number => {
    let depth = 1;
    for (let k = from; k < limit; k++) {
      const c = text.charCodeAt(k);
      if (c === 0x5c) k++;
      else if (c === open) depth++;
      else if (c === close && --depth === 0) return k;
      else if (c === 0x0a && /^\n[ \t]*\n/.test(text.slice(k, k + 64))) return -1;
    }
    return limit === to && to < i + SPAN_SEARCH ? -2 : -1;
  };
  const textEnd = match(0x5b, 0x5d, j);
  if (textEnd < 0) return textEnd;
  j = textEnd + 1;
  if (j >= to) return to < i + SPAN_SEARCH ? -2 : -1;
  if (text.charCodeAt(j) !== 0x28) return -1;
  const urlEnd = match(0x28, 0x29, j + 1);
  return urlEnd < 0 ? urlEnd : urlEnd + 1;
}

function insideSpan(spans: [number, number][], pos: number): [number, number] | undefined {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = spans[mid];
    if (pos <= a) hi = mid - 1;
    else if (pos >= b) lo = mid + 1;
    else return spans[mid];
  }
  return undefined;
}

// Text that starts a block (fence, heading, quote, list item) when it begins a line; a mid-line
// cut must not move it to the start of the next chunk, where it would change meaning.
const BLOCK_START = /^(?:`{3}|~{3}|#{1,6}(?:[ \t]|$)|>|[-+*](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$))/;

/** True when a cut at p (mid-line) would make the next chunk open with a block construct. */
function startsBlockAfter(text: string, fences: Fence[], p: number): boolean {
  if (p <= 0 || text.charCodeAt(p - 1) === 0x0a) return false;
  const q = nextStart(text, fences, p);
  return q < text.length && text.charCodeAt(q - 1) !== 0x0a && BLOCK_START.test(text.slice(q, q + 12));
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09;
const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

/** Break classes, best first. */
const enum Break {
  Paragraph = 0,
  Line = 1,
  Sentence = 2,
  Space = 3,
}

/** The class of a cut at p (judged by the characters before it), or -1 when p is no natural break. */
function breakClass(text: string, p: number): number {
  const c = text.charCodeAt(p - 1);
  if (c === 0x0a) {
    let k = p - 2;
    while (k >= 0 && isSpace(text.charCodeAt(k))) k--;
    return k < 0 || text.charCodeAt(k) === 0x0a ? Break.Paragraph : Break.Line;
  }
  if (isSpace(c)) {
    const b = text.charCodeAt(p - 2);
    return b === 0x2e || b === 0x21 || b === 0x3f ? Break.Sentence : Break.Space;
  }
  if (c === 0x3002 || c === 0xff01 || c === 0xff1f) return Break.Sentence;
  return -1;
}

/** Where the next chunk starts after a cut at p: blank lines (and, mid-line, spaces) are dropped. */
function nextStart(text: string, fences: Fence[], p: number): number {
  if (fenceCutInside(fences, p)) return p; // code keeps every character, indentation included
  let q = p;
  if (q > 0 && text.charCodeAt(q - 1) !== 0x0a) while (q < text.length && isSpace(text.charCodeAt(q))) q++;
  if (q < text.length && text.charCodeAt(q) === 0x0a) q++;
  return skipBlankLines(text, q);
}

/** Skips whole blank lines from q (q at a line start); the next line keeps its indentation. */
function skipBlankLines(text: string, q: number): number {
  for (;;) {
    let k = q;
    while (k < text.length && isSpace(text.charCodeAt(k))) k++;
    if (k >= text.length) return text.length;
    if (text.charCodeAt(k) !== 0x0a) return q;
    q = k + 1;
  }
}

/**
 * Splits markdown into chunks that each measure ≤ maxLength, returning where each chunk lies in
 * the source. See {@link splitMarkdown} for the rules; this form lets callers and tests check
 * that nothing was dropped.
 */
export function splitMarkdownRanges(markdown: string, maxLength: number, measure: (md: string) => number): SplitResult {
  const text = markdown.replace(/\r\n?/g, '\n');
  const n = text.length;
  const { fences, tables } = findBlocks(text);
  const chunks: ChunkRange[] = [];
  const cache = new Map<string, number>();
  const measured = (s: string): number => {
    let m = cache.get(s);
    if (m === undefined) {
      m = measure(s);
      cache.set(s, m);
    }
    return m;
  };

  let start = skipBlankLines(text, 0);
  while (start < n) {
    const reopen = fenceStartInside(fences, start);
    const table = reopen ? undefined : tableStartInside(tables, start);
    // A table continued from the previous chunk repeats its header, unless that would eat half the limit.
    const header = table && measured(table.header) <= maxLength / 2 ? table.header + '\n' : '';
    const prefix = reopen ? reopen.reopen + '\n' : header;
    const build = (p: number): ChunkRange => {
      let end = p;
      while (end > start && /\s/.test(text[end - 1])) end--;
      const closing = p < n ? fenceCutInside(fences, p) : undefined;
      return { start, end, prefix, suffix: closing ? '\n' + closing.close : '' };
    };
    const str = (r: ChunkRange): string => r.prefix + text.slice(r.start, r.end) + r.suffix;
    const size = (p: number): number => measured(str(build(p)));
    const fits = (p: number): boolean => size(p) <= maxLength;

    // Find lo = the largest end that fits (treating the measure as monotone), probing first where a
    // length-like measure puts it, so the usual case costs two or three measurements.
    let lo = start;
    let hi = n + 1;
    const p0 = Math.min(n, start + Math.max(1, maxLength));
    if (fits(p0)) {
      lo = p0;
      if (p0 === n) {
        chunks.push(build(n));
        break;
      }
      let step = 1;
      while (lo < n && fits(Math.min(n, lo + step))) {
        lo = Math.min(n, lo + step);
        step *= 2;
      }
      if (lo === n) {
        chunks.push(build(n));
        break;
      }
      hi = Math.min(n, lo + step);
    } else hi = p0;
    let interpolate = true;
    while (hi - lo > 1) {
      let mid = (lo + hi) >> 1;
      if (interpolate && lo > start) {
        const mLo = size(lo);
        const mHi = size(hi);
        if (mHi > mLo) mid = Math.min(hi - 1, Math.max(lo + 1, lo + Math.floor(((maxLength - mLo) * (hi - lo)) / (mHi - mLo))));
      } else if (interpolate && lo === start) {
        const mHi = size(hi);
        if (mHi > 0) mid = Math.min(hi - 1, Math.max(lo + 1, start + Math.floor(((hi - start) * maxLength) / mHi)));
      }
      interpolate = !interpolate;
      if (fits(mid)) lo = mid;
      else hi = mid;
    }

    const cut = chooseCut(text, fences, tables, start, lo, n, fits);
    chunks.push(build(cut));
    start = nextStart(text, fences, cut);
  }
  return { text, chunks };
}

/** Picks the cut for a chunk whose longest fitting end is lo. Always returns a position > start. */
function chooseCut(
  text: string,
  fences: Fence[],
  tables: Table[],
  start: number,
  lo: number,
  n: number,
  fits: (p: number) => boolean,
): number {
  if (lo > start) {
    const top = Math.min(n, lo + 1);
    const spans = protectedSpans(text, start, top, fences);
    // Natural breaks only count in the second half of the window; an earlier one would make
    // chunks needlessly short.
    const floor = start + Math.floor((lo - start) / 2);
    let ink = start;
    while (ink < top && /\s/.test(text[ink])) ink++;
    // Natural breaks outside code spans/links first; those inside one only when none is outside.
    const outside: number[][] = [[], [], [], []];
    const inside: number[][] = [[], [], [], []];
    for (let p = top; p >= floor && p > ink; p--) {
      const cls = breakClass(text, p);
      if (cls < 0 || (p > lo && !isSpace(text.charCodeAt(p - 1)) && text.charCodeAt(p - 1) !== 0x0a)) continue;
      const list = (insideSpan(spans, p) ? inside : outside)[cls];
      if (list.length >= 2 || cutForbidden(fences, p) || tableHeaderAt(tables, p) || (cls >= Break.Sentence && startsBlockAfter(text, fences, p))) continue;
      list.push(p);
      if (cls === Break.Paragraph && list === outside[cls] && list.length >= 2) break;
    }
    for (const list of outside) for (const p of list) if (fits(p)) return p;

    // Never split a surrogate pair or a fence line.
    const hardCut = (at: number): number => {
      let p = at;
      const f = fenceBefore(fences, p);
      if (f && p > f.openStart && p <= f.contentStart && f.openStart > start) p = f.openStart;
      else if (f && p > f.closeStart && p < f.closeEnd) p = f.closeStart > start ? f.closeStart : f.closeEnd;
      const t = tableHeaderAt(tables, p);
      if (t && t.start > start) p = t.start; // a header row goes with its delimiter and body
      // Step back past the spaces a mid-line cut drops, so the next chunk does not open a block.
      for (let k = 0; k < 8 && p > ink + 1 && startsBlockAfter(text, fences, p); k++) p--;
      if (p > start + 1 && isHighSurrogate(text.charCodeAt(p - 1))) p--;
      return p;
    };
    // A code span/link that crosses the window's end but starts inside it moves whole to the next chunk.
    const span = insideSpan(spans, lo);
    if (span && span[0] > ink && !startsBlockAfter(text, fences, span[0])) {
      const p = hardCut(span[0]);
      if (p > ink && fits(p)) return p;
    }
    for (const list of inside) for (const p of list) if (fits(p)) return p;
    const p = hardCut(lo);
    if (p > ink && fits(p)) return p;
    // The adjustments did not fit (fence lines added): search down for any fitting cut.
    let a = start;
    let b = p;
    while (b - a > 1) {
      const mid = (a + b) >> 1;
      if (fits(mid)) a = mid;
      else b = mid;
    }
    if (a > start) {
      if (a > start + 1 && isHighSurrogate(text.charCodeAt(a - 1))) a--;
      return a;
    }
  }
  // Nothing fits (limit smaller than one character plus added fences): take one code point so
  // the split always progresses; the chunk may then exceed the limit.
  return isHighSurrogate(text.charCodeAt(start)) && start + 2 <= n ? start + 2 : start + 1;
}

/**
 * Splits markdown so each chunk measures ≤ maxLength.
 *
 * Greedy from the start (so chunks already full never change as text is appended); each break
 * prefers a paragraph break, then a line break, a sentence end, a space, and only then a hard
 * cut (never inside a surrogate pair). A cut inside a fenced code block closes the fence at the
 * end of the chunk and reopens it (same marker and info string) at the start of the next; those
 * lines count in the measured length. A chunk that starts among a table's body rows repeats the table's
 * header and delimiter rows (counted too; skipped when they would take more than half the limit), and the
 * header is never cut from its delimiter row. Nothing is dropped except whitespace at the breaks.
 * @param maxLength the limit, in the unit `measure` returns
 * @param measure length of a chunk as the platform counts it (must grow with the text)
 */
export function splitMarkdown(markdown: string, maxLength: number, measure: (md: string) => number): string[] {
  const { text, chunks } = splitMarkdownRanges(markdown, maxLength, measure);
  return chunks.map((c) => c.prefix + text.slice(c.start, c.end) + c.suffix).filter((c) => c.length > 0);
}
