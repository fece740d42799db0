// Folds the events of one turn into the view the renderer draws. Pure, so a restarted daemon can rebuild
// the same view from a replay, and tests can drive it without a server.

import { DEFAULT_MAX_TEXT_CHARS } from '../loop-api/follower.js';
import type { TurnEvent, TurnUsage } from '../loop-api/types.js';
import type { TurnSegment, TurnView } from './render.js';

export interface TurnProgress {
  view: TurnView;
  turnId?: string;
  usage?: TurnUsage;
  /** tool_use_id → input summary, to show the command on a permission prompt. */
  toolSummaries: Record<string, string>;
  /** True once a terminal event was applied. */
  ended: boolean;
  /** Assistant text held so far, chars (absent in records written before it existed = 0). */
  textChars?: number;
  /** Most assistant text a reply holds, chars; the rest is cut with a visible notice. Default 1,048,576. */
  textLimit?: number;
}

/** A fresh view of a turn; `textLimit` caps the text it holds (replies.maxTextChars). */
export function newProgress(textLimit: number = DEFAULT_MAX_TEXT_CHARS): TurnProgress {
  return { view: { segments: [], status: 'running' }, toolSummaries: {}, ended: false, textChars: 0, textLimit };
}

/** `text` cut to at most `max` UTF-16 units without splitting a surrogate pair. */
function cutText(text: string, max: number): string {
  let end = Math.max(0, max);
  if (end > 0 && end < text.length && /[\uD800-\uDBFF]/.test(text[end - 1])) end--;
  return text.slice(0, end);
}

/** Events the reply never shows: an oversized one of these kinds is skipped without a word. */
const SILENT_KINDS = new Set(['sdk_message', 'ping', 'thinking_delta']);

/** Applies one event; returns true when the visible view changed. */
export function applyEvent(p: TurnProgress, ev: TurnEvent): boolean {
  const segs = p.view.segments;
  switch (ev.type) {
    case 'started':
      p.turnId = ev.turnId;
      return false;
    case 'assistant_delta': {
      if (!ev.text) return false;
      const limit = p.textLimit ?? DEFAULT_MAX_TEXT_CHARS;
      const held = p.textChars ?? 0;
      if (held >= limit) return false; // already cut, and said so
      const text = held + ev.text.length > limit ? cutText(ev.text, limit - held) : ev.text;
      p.textChars = held + text.length;
      const last = segs[segs.length - 1];
      if (text) {
        if (last?.kind === 'text') last.text += text;
        else segs.push({ kind: 'text', text });
      }
      if (text.length < ev.text.length) {
        p.textChars = limit;
        segs.push({ kind: 'notice', text: `⚠️ The reply is cut here: it reached ${limit.toLocaleString('en-US')} characters (replies.maxTextChars). The loop's further text is not shown.` });
      }
      return true;
    }
    case 'oversized':
      // One event over the client's size limit was skipped; tool output and SDK noise do not belong in the reply.
      if (SILENT_KINDS.has(ev.event)) return false;
      segs.push({
        kind: 'notice',
        text: `⚠️ Part of this reply is missing: the loop sent ${ev.event === 'assistant_delta' ? 'a piece of text' : `one \`${ev.event || 'unnamed'}\` event`} larger than ${ev.limit.toLocaleString('en-US')} characters, which was skipped.`,
      });
      return true;
    case 'tool_call':
      if (ev.inputSummary) p.toolSummaries[ev.toolUseId] = ev.inputSummary;
      if (findTool(segs, ev.toolUseId)) return false;
      segs.push({ kind: 'tool', tool: { toolUseId: ev.toolUseId, tool: ev.tool, summary: ev.inputSummary, status: 'running' } });
      return true;
    case 'tool_result': {
      const seg = findTool(segs, ev.toolUseId);
      if (!seg) return false;
      seg.tool.status = ev.ok ? 'ok' : 'failed';
      return true;
    }
    case 'gap':
      segs.push({ kind: 'notice', text: `⚠️ Part of this reply may be missing: ${ev.reason.replace(/\.$/, '')}.` });
      return true;
    case 'sdk_message':
      if (ev.usage) p.usage = ev.usage;
      return false;
    case 'done':
    case 'interrupted':
    case 'error':
      if (p.ended) return false;
      p.ended = true;
      // Tools still marked running when the turn ends never reported back; don't leave a spinner.
      for (const s of segs) if (s.kind === 'tool' && s.tool.status === 'running') s.tool.status = ev.type === 'done' ? 'ok' : 'failed';
      if (ev.type === 'done') p.view.status = 'done';
      else if (ev.type === 'interrupted') p.view.status = 'interrupted';
      else {
        p.view.status = 'error';
        p.view.error = ev.message || ev.code;
      }
      return true;
    default:
      return false;
  }
}

function findTool(segs: TurnSegment[], id: string): Extract<TurnSegment, { kind: 'tool' }> | undefined {
  for (const s of segs) if (s.kind === 'tool' && s.tool.toolUseId === id) return s;
  return undefined;
}

/** The plain text of the reply (assistant text only), e.g. for tests and the piped console. */
export function replyText(view: TurnView): string {
  return view.segments
    .filter((s): s is Extract<TurnSegment, { kind: 'text' }> => s.kind === 'text')
    .map((s) => s.text)
    .join('');
}

/** A one-line usage/cost footer, or undefined when the server sent nothing usable. */
export function usageFooter(u: TurnUsage | undefined): string | undefined {
  if (!u) return undefined;
  const parts: string[] = [];
  if (u.inputTokens !== undefined || u.outputTokens !== undefined) {
    parts.push(`${fmt(u.inputTokens ?? 0)} in / ${fmt(u.outputTokens ?? 0)} out tokens`);
  }
  if (u.totalCostUsd !== undefined) parts.push(`$${u.totalCostUsd.toFixed(4)}`);
  if (u.durationMs !== undefined) parts.push(`${(u.durationMs / 1000).toFixed(1)} s`);
  return parts.length ? `_${parts.join(' · ')}_` : undefined;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
