import { openFenceCloser, splitMarkdown } from './split.js';

/** State of one tool call as shown in the reply. */
export type ToolStatus = 'running' | 'ok' | 'failed';

/** One tool call, rendered as a single compact line. */
export interface ToolLine {
  /** The wire's tool_use id (identity; not shown). */
  toolUseId: string;
  /** Tool name as the loop reports it, e.g. `Bash`. */
  tool: string;
  /** Short description (e.g. the command); truncated to {@link TOOL_SUMMARY_MAX} code points in the line. */
  summary?: string;
  /** running → ⏳, ok → ✓, failed → ✗. */
  status: ToolStatus;
}

/** A piece of a turn, in arrival order. */
export type TurnSegment = { kind: 'text'; text: string } | { kind: 'tool'; tool: ToolLine } | { kind: 'notice'; text: string };

/** Everything known about a turn so far. */
export interface TurnView {
  /** Arrival order; consecutive text deltas are already merged by the caller. */
  segments: TurnSegment[];
  /** 'interrupted' ends the reply with `⏹ Stopped.`, 'error' with `⚠️ Error: …`; the others add nothing. */
  status: 'running' | 'done' | 'interrupted' | 'error';
  /** Shown plainly at the end when status is 'error'. */
  error?: string;
  /** Usage/cost footer (already formatted markdown), shown at the end when set. */
  footer?: string;
}

/** Options for {@link renderTurn}. */
export interface RenderOptions {
  /** Show tool lines (default true). */
  showTools?: boolean;
  /** Platform limit, measured with `measure` (i.e. after formatting). */
  maxLength: number;
  /** Length of a markdown chunk once formatted for the platform. */
  measure: (markdown: string) => number;
}

/** Longest tool summary shown in a tool line, in code points (the `…` included). */
export const TOOL_SUMMARY_MAX = 80;

const TOOL_ICON: Record<ToolStatus, string> = { running: '⏳', ok: '✓', failed: '✗' };

/** Escapes markdown so `s` is shown as written (used for errors and tool names). */
export function escapeMarkdownText(s: string): string {
  return s
    .split('\n')
    .map((line) =>
      line
        .replace(/^[ \t]+/, '') // leading indentation would turn the line into a code block
        .replace(/[\\`*_[\]<>~|]/g, '\\$&')
        .replace(/^([#>+=-])/, '\\$1')
        .replace(/^(\d+)([.)])/, '$1\\$2'),
    )
    .join('\n');
}

/** `s` as an inline code span whose delimiter cannot occur inside it. */
function codeSpan(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return fence + pad + s + pad + fence;
}

function truncateSummary(summary: string): string {
  const flat = summary.replace(/\s+/g, ' ').trim();
  const points = Array.from(flat);
  if (points.length <= TOOL_SUMMARY_MAX) return flat;
  return points.slice(0, TOOL_SUMMARY_MAX - 1).join('').trimEnd() + '…';
}

/** One tool line, e.g. 🔧 Bash `ls -la` ⏳ */
export function renderToolLine(tool: ToolLine): string {
  const summary = tool.summary ? truncateSummary(tool.summary) : '';
  const name = escapeMarkdownText(tool.tool.replace(/\s+/g, ' ').trim()) || 'tool';
  return `🔧 ${name}${summary ? ' ' + codeSpan(summary) : ''} ${TOOL_ICON[tool.status]}`;
}

/** The whole turn as one markdown document (no splitting). */
export function renderTurnMarkdown(view: TurnView, options?: { showTools?: boolean }): string {
  const showTools = options?.showTools ?? true;
  // Blocks are joined by blank lines: text resuming after a tool is a new paragraph even though
  // the wire concatenates text blocks without a separator.
  const blocks: { kind: TurnSegment['kind']; body: string }[] = [];
  let lastKind: TurnSegment['kind'] | undefined;
  for (const seg of view.segments) {
    if (seg.kind === 'text') {
      const prev = blocks[blocks.length - 1];
      if (lastKind === 'text' && prev?.kind === 'text') prev.body += seg.text;
      else blocks.push({ kind: 'text', body: seg.text });
    } else if (seg.kind === 'tool') {
      // A hidden tool still separates the text around it.
      if (showTools) {
        const prev = blocks[blocks.length - 1];
        if (lastKind === 'tool' && prev?.kind === 'tool') prev.body += '\n' + renderToolLine(seg.tool);
        else blocks.push({ kind: 'tool', body: renderToolLine(seg.tool) });
      }
    } else blocks.push({ kind: 'notice', body: seg.text });
    lastKind = seg.kind;
  }

  const tail: string[] = [];
  if (view.status === 'interrupted') tail.push('⏹ Stopped.');
  if (view.status === 'error') tail.push(`⚠️ Error: ${escapeMarkdownText(view.error?.trim() || 'unknown error')}`);
  if (view.footer?.trim()) tail.push(view.footer.trim());

  const parts: string[] = [];
  for (const block of blocks) {
    // Up to three leading spaces are insignificant in markdown but show on plain-text platforms.
    const body = block.kind === 'text' ? block.body.replace(/^(?:[ \t]*\n)+/, '').replace(/^ {1,3}(?=\S)/, '').trimEnd() : block.body.trim();
    if (body) parts.push(body);
  }
  for (const t of tail) parts.push(t);

  // A text block that stopped inside a code fence would swallow everything after it.
  for (let i = 0; i < parts.length - 1; i++) {
    const closer = openFenceCloser(parts[i]);
    if (closer) parts[i] += '\n' + closer;
  }
  return parts.join('\n\n');
}

/** The turn as the list of platform messages, each within options.maxLength after formatting. */
export function renderTurn(view: TurnView, options: RenderOptions): string[] {
  const markdown = renderTurnMarkdown(view, { showTools: options.showTools });
  return markdown ? splitMarkdown(markdown, options.maxLength, options.measure) : [];
}
