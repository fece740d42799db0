import { describe, expect, it } from 'vitest';
import { extractUsage, parseEvent, toLoopEvent } from '../../src/loop-api/events.js';

describe('toLoopEvent', () => {
  it('maps snake_case wire events to the camelCase union', () => {
    expect(toLoopEvent('started', { turn_id: 'turn_1', cold_start: false })).toEqual({ type: 'started', turnId: 'turn_1', coldStart: false });
    expect(toLoopEvent('queued', { position: 2 })).toEqual({ type: 'queued', position: 2 });
    expect(toLoopEvent('snapshot', { turn_id: 't', assistant_text_so_far: 'abc', pending_choice_id: null })).toEqual({
      type: 'snapshot', turnId: 't', assistantTextSoFar: 'abc', pendingChoiceId: null,
    });
    expect(toLoopEvent('tool_call', { tool_use_id: 'toolu_1', tool: 'Bash', input_summary: 'ls' })).toEqual({
      type: 'tool_call', toolUseId: 'toolu_1', tool: 'Bash', inputSummary: 'ls',
    });
    // input_summary absent on the wire → absent here (not undefined-valued).
    expect(toLoopEvent('tool_call', { tool_use_id: 'toolu_1', tool: 'Read' })).toStrictEqual({ type: 'tool_call', toolUseId: 'toolu_1', tool: 'Read' });
    expect(toLoopEvent('tool_result', { tool_use_id: 'toolu_1', ok: false })).toEqual({ type: 'tool_result', toolUseId: 'toolu_1', ok: false });
    expect(toLoopEvent('choice_resolved', { choice_id: 'c', source: 'api' })).toEqual({ type: 'choice_resolved', choiceId: 'c', source: 'api' });
    expect(toLoopEvent('done', { turn_id: 't' })).toEqual({ type: 'done', turnId: 't' });
    expect(toLoopEvent('interrupted', { turn_id: 't' })).toEqual({ type: 'interrupted', turnId: 't' });
    expect(toLoopEvent('error', { code: 'agent_error', message: 'boom' })).toStrictEqual({ type: 'error', code: 'agent_error', message: 'boom' });
    expect(toLoopEvent('error', { code: 'x', message: 'y', turn_id: 't' })).toEqual({ type: 'error', code: 'x', message: 'y', turnId: 't' });
    expect(toLoopEvent('ping', {})).toEqual({ type: 'ping' });
    expect(toLoopEvent('thinking_delta', { text: 'hm' })).toEqual({ type: 'thinking_delta', text: 'hm' });
  });

  it('normalises the [IMPL] permission payload and the [SPEC] one', () => {
    expect(toLoopEvent('requires_choice', { choice_id: 'choice_t1', kind: 'permission', payload: { tool: 'Bash', title: 'Claude wants to use Bash', display_name: 'Bash' } })).toEqual({
      type: 'requires_choice', choiceId: 'choice_t1', kind: 'permission', payload: { tool: 'Bash', title: 'Claude wants to use Bash', display_name: 'Bash' },
    });
    expect(toLoopEvent('requires_choice', { choice_id: 'c', kind: 'permission', payload: { tool: 'Bash', command: 'rm -rf x', reason: 'cleanup' } })).toEqual({
      type: 'requires_choice', choiceId: 'c', kind: 'permission', payload: { tool: 'Bash', command: 'rm -rf x', reason: 'cleanup' },
    });
  });

  it('normalises the [IMPL] question payload', () => {
    const ev = toLoopEvent('requires_choice', {
      choice_id: 'choice_t2', kind: 'question',
      payload: { questions: [{ question: 'Which colour?', header: 'Colour', options: [{ label: 'Red', description: 'warm', markdown: 'x' }, { label: 'Blue', description: 'cool' }], multiSelect: true }] },
    });
    expect(ev).toEqual({
      type: 'requires_choice', choiceId: 'choice_t2', kind: 'question',
      payload: { questions: [{ question: 'Which colour?', header: 'Colour', options: [{ label: 'Red', description: 'warm' }, { label: 'Blue', description: 'cool' }], multiSelect: true }] },
    });
  });

  it('normalises the [SPEC] question payload (ids, string options, multi_select)', () => {
    const ev = toLoopEvent('requires_choice', {
      choice_id: 'c', kind: 'question',
      payload: { questions: [{ id: 'q1', question: 'Pick', options: ['A', { label: 'B' }], multi_select: false }, { id: 'q2', question: 'Free?', multi_select: true }] },
    });
    expect(ev).toEqual({
      type: 'requires_choice', choiceId: 'c', kind: 'question',
      payload: { questions: [
        { id: 'q1', question: 'Pick', options: [{ label: 'A' }, { label: 'B' }], multiSelect: false },
        { id: 'q2', question: 'Free?', options: [], multiSelect: true },
      ] },
    });
  });

  it('turns missing required fields and unknown names into unknown, never throwing', () => {
    const cases: [string, unknown][] = [
      ['assistant_delta', {}],
      ['assistant_delta', { text: 5 }],
      ['tool_call', { tool: 'Bash' }],
      ['tool_result', { tool_use_id: 'x' }],
      ['started', {}],
      ['queued', { position: 'one' }],
      ['snapshot', { turn_id: 't' }],
      ['requires_choice', { choice_id: 'c', kind: 'permission', payload: {} }],
      ['requires_choice', { choice_id: 'c', kind: 'question', payload: { questions: [{ header: 'no text' }] } }],
      ['requires_choice', { choice_id: 'c', kind: 'teleport', payload: {} }],
      ['requires_choice', { kind: 'permission', payload: { tool: 'x' } }],
      ['choice_resolved', {}],
      ['brand_new', { a: 1 }],
      ['done', 'not an object'],
      ['done', null],
      ['ping', [1, 2]],
    ];
    for (const [name, data] of cases) expect(toLoopEvent(name, data)).toEqual({ type: 'unknown', event: name, data });
  });

  it('parseEvent keeps raw text for invalid JSON and defaults the name to message', () => {
    expect(parseEvent('done', '{oops')).toEqual({ type: 'unknown', event: 'done', data: '{oops' });
    expect(parseEvent(undefined, '{"a":1}')).toEqual({ type: 'unknown', event: 'message', data: { a: 1 } });
  });
});

describe('sdk_message result usage', () => {
  it('fills usage from usage, cost, turns, duration, is_error and subtype', () => {
    const data = {
      type: 'result', subtype: 'success', is_error: false, total_cost_usd: 0.0123, num_turns: 3, duration_ms: 4567,
      usage: { input_tokens: 100, output_tokens: 50, cache_read_input_tokens: 10, cache_creation_input_tokens: 5 },
    };
    expect(toLoopEvent('sdk_message', data)).toEqual({
      type: 'sdk_message',
      usage: { inputTokens: 100, outputTokens: 50, cacheReadInputTokens: 10, cacheCreationInputTokens: 5, totalCostUsd: 0.0123, numTurns: 3, durationMs: 4567, isError: false, subtype: 'success' },
    });
  });

  it('sums modelUsage when usage is absent', () => {
    const u = extractUsage({
      type: 'result', is_error: true, subtype: 'error_max_turns',
      modelUsage: { a: { inputTokens: 1, outputTokens: 2, cacheReadInputTokens: 3, cacheCreationInputTokens: 4 }, b: { inputTokens: 10, outputTokens: 20 } },
    });
    expect(u).toEqual({ inputTokens: 11, outputTokens: 22, cacheReadInputTokens: 3, cacheCreationInputTokens: 4, isError: true, subtype: 'error_max_turns' });
  });

  it('leaves usage off for the synthetic {type:"result"} and for other sdk messages', () => {
    expect(toLoopEvent('sdk_message', { type: 'result' })).toStrictEqual({ type: 'sdk_message' });
    expect(toLoopEvent('sdk_message', { type: 'user', usage: { input_tokens: 1 } })).toStrictEqual({ type: 'sdk_message' });
  });

  it('parses a raw sdk_message only when it is a result (the one thing the bridge reads)', () => {
    const result = JSON.stringify({ type: 'result', subtype: 'success', usage: { input_tokens: 7, output_tokens: 8 } });
    expect(parseEvent('sdk_message', result)).toEqual({ type: 'sdk_message', usage: { inputTokens: 7, outputTokens: 8, subtype: 'success' } });
    expect(parseEvent('sdk_message', '{"type":"stream_event","event":{"type":"content_block_delta"}}')).toStrictEqual({ type: 'sdk_message' });
    // A tool result that quotes a result message inside a string is not a result.
    expect(parseEvent('sdk_message', JSON.stringify({ type: 'user', content: '{"type":"result","usage":{"input_tokens":1}}' }))).toStrictEqual({ type: 'sdk_message' });
    expect(parseEvent('sdk_message', '{"session_id":"s","type":"result","usage":{"output_tokens":3}}')).toEqual({ type: 'sdk_message', usage: { outputTokens: 3 } });
    // Not even valid JSON: no parse, so nothing to complain about (the bridge ignores it anyway).
    expect(parseEvent('sdk_message', '{not json')).toStrictEqual({ type: 'sdk_message' });
  });

  it('reads the echo of a user message the loop took in (how a steer is seen joining a turn), never a tool result', () => {
    const echo = (content: unknown) => JSON.stringify({ type: 'user', message: { role: 'user', content }, parent_tool_use_id: null, session_id: 's' });
    expect(parseEvent('sdk_message', echo('use the other folder'))).toStrictEqual({ type: 'sdk_message', userText: 'use the other folder' });
    expect(parseEvent('sdk_message', echo([{ type: 'text', text: 'look at ' }, { type: 'image', source: {} }, { type: 'text', text: 'this' }]))).toStrictEqual({
      type: 'sdk_message',
      userText: 'look at this',
    });
    expect(parseEvent('sdk_message', echo([{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'use the other folder' }]))).toStrictEqual({ type: 'sdk_message' });
    expect(parseEvent('sdk_message', echo([{ type: 'image', source: {} }]))).toStrictEqual({ type: 'sdk_message' });
    expect(parseEvent('sdk_message', JSON.stringify({ type: 'assistant', message: { role: 'assistant', content: 'x' } }))).toStrictEqual({ type: 'sdk_message' });
  });
});
