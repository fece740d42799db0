import { describe, expect, it } from 'vitest';
import type { TurnEvent } from '../../src/loop-api/types.js';
import { renderTurn, renderTurnMarkdown } from '../../src/core/render.js';
import { applyEvent, newProgress, replyText, usageFooter, type TurnProgress } from '../../src/core/turn-view.js';

function fold(events: TurnEvent[]): { p: TurnProgress; changed: boolean[] } {
  const p = newProgress();
  const changed = events.map((ev) => applyEvent(p, ev));
  return { p, changed };
}

const delta = (text: string): TurnEvent => ({ type: 'assistant_delta', text });

describe('turn view', () => {
  it('merges consecutive deltas into one text segment and reports each change', () => {
    const { p, changed } = fold([{ type: 'started', turnId: 't1', coldStart: false }, delta('Hel'), delta(''), delta('lo '), delta('world')]);
    expect(p.turnId).toBe('t1');
    expect(p.view.segments).toEqual([{ kind: 'text', text: 'Hello world' }]);
    expect(changed).toEqual([false, true, false, true, true]);
    expect(replyText(p.view)).toBe('Hello world');
    expect(p.view.status).toBe('running');
  });

  it('tracks tool calls by id: running → ok / failed, duplicates ignored, summaries kept', () => {
    const { p, changed } = fold([
      delta('Looking.'),
      { type: 'tool_call', toolUseId: 'a', tool: 'Bash', inputSummary: 'ls -la' },
      { type: 'tool_call', toolUseId: 'a', tool: 'Bash', inputSummary: 'ls -la' },
      { type: 'tool_call', toolUseId: 'b', tool: 'Read' },
      { type: 'tool_result', toolUseId: 'a', ok: true },
      { type: 'tool_result', toolUseId: 'b', ok: false },
      { type: 'tool_result', toolUseId: 'zzz', ok: true },
    ]);
    expect(changed).toEqual([true, true, false, true, true, true, false]);
    const tools = p.view.segments.filter((s) => s.kind === 'tool');
    expect(tools.map((s) => s.kind === 'tool' && [s.tool.toolUseId, s.tool.status])).toEqual([
      ['a', 'ok'],
      ['b', 'failed'],
    ]);
    expect(p.toolSummaries).toEqual({ a: 'ls -la' });
    const md = renderTurnMarkdown(p.view);
    expect(md).toContain('🔧 Bash `ls -la` ✓');
    expect(md).toContain('🔧 Read ✗');
    expect(renderTurnMarkdown(p.view, { showTools: false })).toBe('Looking.');
  });

  it('text resuming after a tool starts a new paragraph in the render (the wire has no separator)', () => {
    const { p } = fold([delta('First part.'), { type: 'tool_call', toolUseId: 'a', tool: 'Bash' }, { type: 'tool_result', toolUseId: 'a', ok: true }, delta('Second part.')]);
    expect(replyText(p.view)).toBe('First part.Second part.');
    expect(renderTurnMarkdown(p.view)).toBe('First part.\n\n🔧 Bash ✓\n\nSecond part.');
    // With tools hidden the tool still separates the paragraphs.
    expect(renderTurnMarkdown(p.view, { showTools: false })).toBe('First part.\n\nSecond part.');
  });

  it('shows a gap notice where the follower lost part of the turn', () => {
    const { p, changed } = fold([delta('Before.'), { type: 'gap', reason: 'Part of the reply was lost while reconnecting.' }, delta('After.')]);
    expect(changed).toEqual([true, true, true]);
    const [before, notice, after, ...rest] = renderTurnMarkdown(p.view).split('\n\n');
    expect([before, after, rest]).toEqual(['Before.', 'After.', []]);
    expect(notice).toMatch(/^⚠️ .*Part of the reply was lost while reconnecting\.$/);
  });

  it('done ends the turn once; tools that never reported are not left spinning', () => {
    const { p, changed } = fold([
      delta('x'),
      { type: 'tool_call', toolUseId: 'a', tool: 'Bash' },
      { type: 'done', turnId: 't' },
      { type: 'error', code: 'late', message: 'late' },
      delta('ignored?'),
    ]);
    expect(changed.slice(0, 4)).toEqual([true, true, true, false]);
    expect(p.ended).toBe(true);
    expect(p.view.status).toBe('done');
    expect(p.view.error).toBeUndefined();
    expect(renderTurnMarkdown(p.view)).not.toContain('⏳');
  });

  it('interrupted shows "Stopped" and fails running tools', () => {
    const { p } = fold([delta('tick 1'), { type: 'tool_call', toolUseId: 'a', tool: 'Bash' }, { type: 'interrupted', turnId: 't' }]);
    expect(p.view.status).toBe('interrupted');
    const md = renderTurnMarkdown(p.view);
    expect(md).toContain('🔧 Bash ✗');
    expect(md.endsWith('⏹ Stopped.')).toBe(true);
  });

  it('error shows its message (escaped), or its code when the message is empty', () => {
    const a = fold([delta('Starting.'), { type: 'error', code: 'agent_error', message: 'simulated *failure*' }]).p;
    expect(a.view.status).toBe('error');
    expect(renderTurnMarkdown(a.view).endsWith('⚠️ Error: simulated \\*failure\\*')).toBe(true);
    const b = fold([{ type: 'error', code: 'sandbox_evicted', message: '' }]).p;
    expect(renderTurnMarkdown(b.view)).toBe('⚠️ Error: sandbox\\_evicted');
  });

  it('keeps usage from sdk_message and renders a footer only from usable numbers', () => {
    const { p, changed } = fold([
      { type: 'sdk_message' },
      { type: 'sdk_message', usage: { inputTokens: 1234, outputTokens: 56, totalCostUsd: 0.01234, durationMs: 2500 } },
      { type: 'ping' },
      { type: 'unknown', event: 'future_event', data: {} },
    ]);
    expect(changed).toEqual([false, false, false, false]);
    expect(usageFooter(p.usage)).toBe('_1,234 in / 56 out tokens · $0.0123 · 2.5 s_');
    expect(usageFooter(undefined)).toBeUndefined();
    expect(usageFooter({ numTurns: 3 })).toBeUndefined();
    expect(usageFooter({ outputTokens: 7 })).toBe('_0 in / 7 out tokens_');
    const view = { ...fold([delta('Hi.'), { type: 'done', turnId: 't' }]).p.view, footer: usageFooter(p.usage) };
    expect(renderTurn(view, { maxLength: 4000, measure: (s) => s.length })).toEqual(['Hi.\n\n_1,234 in / 56 out tokens · $0.0123 · 2.5 s_']);
  });

  it('a long turn renders into chunks that together hold every character of the text', () => {
    const words = Array.from({ length: 600 }, (_, i) => `word${i}`);
    const { p } = fold(words.map((w) => delta(w + ' ')));
    const chunks = renderTurn(p.view, { maxLength: 500, measure: (s) => s.length });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(500);
    expect(chunks.join(' ').split(/\s+/).filter(Boolean)).toEqual(words);
  });
});
