// Turn engine over real HTTP: framing, sdk_message, queueing/injection, interrupt, choices and the
// per-loop tracker quirks, each with its quirk switched off too.
import { afterEach, describe, expect, it } from 'vitest';
import { harness, until, type Harness } from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.sim.close();
});

describe('a plain turn (§4.1, §4.2)', () => {
  it('frames events exactly and brackets them with sdk_message init/user/result', async () => {
    h = await harness();
    const id = await h.createLoop();
    const s = await h.send(id, 'hello *world*');
    expect(s.res.headers.get('cache-control')).toBe('no-cache');
    expect(await s.waitEnd()).toBe('end');
    expect(s.badFrames).toEqual([]);
    expect(s.events[0]!.event).toBe('started');
    expect(s.events[0]!.data).toEqual({ turn_id: expect.stringMatching(/^turn_[0-9a-f]{20}$/), cold_start: false });
    const sdk = s.events.filter((e) => e.event === 'sdk_message').map((e) => e.data);
    expect(sdk[0]).toMatchObject({ type: 'system', subtype: 'init' });
    expect(sdk[1]).toMatchObject({ type: 'user', message: { content: 'hello *world*' } });
    const result = sdk.find((d) => d.type === 'result');
    expect(result).toMatchObject({ subtype: 'success', is_error: false, num_turns: 1, usage: { input_tokens: expect.any(Number), output_tokens: expect.any(Number) } });
    expect(typeof result.total_cost_usd).toBe('number');
    expect(typeof result.duration_ms).toBe('number');
    // result's sdk_message comes right before done, and done is last.
    expect(s.events.at(-2)!.data.type).toBe('result');
    expect(s.events.at(-1)!.event).toBe('done');
    const text = s.mapped.filter((e) => e.event === 'assistant_delta').map((e) => e.data.text);
    expect(text.length).toBeGreaterThan(2);
    expect(text.join('')).toContain('**Echo:** hello *world*');
    expect(s.events.at(-1)!.data).toEqual({ turn_id: s.events[0]!.data.turn_id });
    expect(h.sim.received(id)).toEqual(['hello *world*']);
  });
  it('scripted tools, thinking, raw events and an absent input_summary', async () => {
    h = await harness();
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [
      { thinking: 'hmm' },
      { tool: { id: 'toolu_A', name: 'Bash', input: { command: 'ls' } } },
      { tool: { id: 'toolu_B', name: 'Task', input: { other: 1 }, ok: false } },
      { raw: { event: 'mystery', data: { x: 1 } } },
      { delta: 'end' },
    ]);
    const s = await h.send(id, 'go');
    await s.waitEnd();
    expect(s.mapped.slice(1).map((e) => [e.event, e.data])).toEqual([
      ['thinking_delta', { text: 'hmm' }],
      ['tool_call', { tool_use_id: 'toolu_A', tool: 'Bash', input_summary: 'ls' }],
      ['tool_result', { tool_use_id: 'toolu_A', ok: true }],
      ['tool_call', { tool_use_id: 'toolu_B', tool: 'Task' }],
      ['tool_result', { tool_use_id: 'toolu_B', ok: false }],
      ['mystery', { x: 1 }],
      ['assistant_delta', { text: 'end' }],
      ['done', expect.anything()],
    ]);
  });
  it('an error step: the POST closes at error, watchers see error then done', async () => {
    h = await harness();
    const id = await h.createLoop();
    const w = await h.watch(id);
    h.sim.scriptNextTurn(id, [{ delta: 'x' }, { error: 'boom' }, { delta: 'never' }]);
    const s = await h.send(id, 'go');
    await s.waitEnd();
    expect(s.names()).toEqual(['started', 'assistant_delta', 'error']);
    expect(s.mapped.at(-1)!.data).toEqual({ code: 'agent_error', message: 'boom' });
    await w.waitEvent('done');
    expect(w.names()).toEqual(['assistant_delta', 'error', 'done']);
    w.close();
  });
  it('GET /events never gets queued/started, is live only and does not close at done', async () => {
    h = await harness();
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ delta: 'first' }]);
    await (await h.send(id, 'one')).waitEnd();
    const w = await h.watch(id);
    h.sim.scriptNextTurn(id, [{ delta: 'second' }]);
    await (await h.send(id, 'two')).waitEnd();
    await w.waitEvent('done');
    h.sim.scriptNextTurn(id, [{ delta: 'third' }]);
    await (await h.send(id, 'three')).waitEnd();
    await until(() => w.mapped.filter((e) => e.event === 'done').length === 2);
    expect(w.names()).toEqual(['assistant_delta', 'done', 'assistant_delta', 'done']);
    await until(() => h.sim.openStreams() === 1);
    w.close();
    await until(() => h.sim.openStreams() === 0);
  });
});

describe('queueing (§4.5)', () => {
  it('injects a queued message at the next tool step, without its tool_result; both POSTs close at the same done', async () => {
    h = await harness();
    const id = await h.createLoop();
    // The gate holds the first turn before its tool step until the second message is queued.
    h.sim.scriptNextTurn(id, [{ delta: 'working' }, { gate: 'inject' }, { tool: { id: 'toolu_I', name: 'Bash' } }, { delta: 'abandoned' }]);
    h.sim.scriptNextTurn(id, [{ delta: 'redirected' }]);
    const p1 = await h.send(id, 'first');
    await p1.waitEvent('assistant_delta');
    const p2 = await h.send(id, 'second');
    const busy = await h.getLoop(id);
    expect([busy.busy, busy.queue_depth]).toEqual([true, 1]);
    expect(busy.current_turn.turn_id).toBe(p2.events[1]?.data.turn_id ?? (await p2.waitEvent('started')).data.turn_id);
    h.sim.release('inject');
    await p1.waitEnd();
    await p2.waitEnd();
    expect(p2.names()[0]).toBe('queued');
    expect(p2.mapped[0]!.data).toEqual({ position: 1 });
    const body = (s: typeof p1) => s.mapped.filter((e) => e.event === 'assistant_delta').map((e) => e.data.text).join('|');
    expect(body(p1)).toBe('working|redirected');
    expect(body(p2)).toBe('redirected');
    expect(p1.names()).toContain('tool_call');
    expect(p1.names()).not.toContain('tool_result');
    expect(h.sim.received(id)).toEqual(['first', 'second']);
    await until(async () => (await h.getLoop(id)).busy === false);
  });
  it('with noToolResultAtInjection off the injected step still gets its tool_result', async () => {
    h = await harness({ quirks: { noToolResultAtInjection: false } });
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ delta: 'w' }, { gate: 'inject-2' }, { tool: { id: 'toolu_J', name: 'Bash' } }]);
    const p1 = await h.send(id, 'first');
    await p1.waitEvent('assistant_delta');
    const p2 = await h.send(id, 'second');
    await p2.waitEvent('queued');
    h.sim.release('inject-2');
    await p1.waitEnd();
    expect(p1.mapped.find((e) => e.event === 'tool_result')?.data).toEqual({ tool_use_id: 'toolu_J', ok: true });
  });
  it('without a tool step ahead the queued message runs after done; its POST closed at the first done (IMPL)', async () => {
    h = await harness();
    const id = await h.createLoop();
    const w = await h.watch(id);
    h.sim.scriptNextTurn(id, [{ delta: 'one' }, { gate: 'after-one' }, { delta: 'two' }]);
    h.sim.scriptNextTurn(id, [{ delta: 'own reply' }]);
    const p1 = await h.send(id, 'first');
    await p1.waitEvent('assistant_delta');
    const p2 = await h.send(id, 'second');
    await p2.waitEvent('started');
    h.sim.release('after-one');
    await p1.waitEnd();
    await p2.waitEnd();
    expect(p2.mapped.map((e) => e.event)).toEqual(['queued', 'started', 'assistant_delta', 'done']);
    expect(p2.mapped[2]!.data.text).toBe('two');
    await until(() => w.mapped.filter((e) => e.event === 'done').length === 2);
    expect(w.mapped.filter((e) => e.event === 'assistant_delta').map((e) => e.data.text)).toEqual(['one', 'two', 'own reply']);
    expect(h.sim.received(id)).toEqual(['first', 'second']);
    w.close();
  });
  it('with queuedStreamClosesAtCurrentDone off a queued POST follows its own turn', async () => {
    h = await harness({ quirks: { queuedStreamClosesAtCurrentDone: false } });
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ delta: 'one' }, { gate: 'own' }, { delta: 'two' }]);
    h.sim.scriptNextTurn(id, [{ delta: 'own reply' }]);
    const p1 = await h.send(id, 'first');
    await p1.waitEvent('assistant_delta');
    const p2 = await h.send(id, 'second');
    await p2.waitEvent('queued');
    h.sim.release('own');
    await p2.waitEnd();
    expect(p2.mapped.filter((e) => e.event === 'assistant_delta').map((e) => e.data.text)).toEqual(['own reply']);
  });
});

describe('interrupt (§4.6)', () => {
  it('sends interrupted to all listeners, then done to watchers; the queue still runs', async () => {
    h = await harness();
    const id = await h.createLoop();
    const w = await h.watch(id);
    h.sim.scriptNextTurn(id, [{ delta: 'a' }, { delta: 'b', delayMs: 10_000 }]);
    h.sim.scriptNextTurn(id, [{ delta: 'queued ran' }]);
    const p1 = await h.send(id, 'long');
    const started = await p1.waitEvent('started');
    await p1.waitEvent('assistant_delta');
    const p2 = await h.send(id, 'next');
    const p2Started = await p2.waitEvent('started');
    expect((await h.call('POST', `/loops/${id}/interrupt`)).status).toBe(202);
    await p1.waitEnd();
    await p2.waitEnd();
    // The tracked turn is the queued POST's (it overwrote the tracker).
    expect(p1.mapped.at(-1)).toEqual({ event: 'interrupted', data: { turn_id: p2Started.data.turn_id } });
    expect(p2.mapped.at(-1)!.event).toBe('interrupted');
    expect(started.data.turn_id).not.toBe(p2Started.data.turn_id);
    await w.waitFor((e) => e.event === 'assistant_delta' && e.data.text === 'queued ran');
    const names = w.names();
    expect(names.slice(0, 3)).toEqual(['assistant_delta', 'interrupted', 'done']);
    expect(h.sim.received(id)).toEqual(['long', 'next']);
    w.close();
  });
});

describe('choices (§5)', () => {
  it('permission allow: 202, choice_resolved{api}, tool_result ok; the payload is the IMPL shape', async () => {
    h = await harness();
    const id = await h.createLoop();
    const s = await h.send(id, 'please ask permission');
    const rc = await s.waitEvent('requires_choice');
    const call = s.mapped.find((e) => e.event === 'tool_call')!;
    expect(call.data).toMatchObject({ tool: 'Bash', input_summary: 'rm -rf ./build' });
    expect(rc.data).toEqual({
      choice_id: `choice_${call.data.tool_use_id}`,
      kind: 'permission',
      payload: { tool: 'Bash', title: 'Claude wants to use Bash', display_name: 'Bash' },
    });
    expect((await h.getLoop(id)).current_turn.pending_choice_id).toBe(rc.data.choice_id);
    const wrongKind = await h.call('POST', `/loops/${id}/choices/${rc.data.choice_id}`, { answers: {} });
    expect(wrongKind.status).toBe(404);
    const bare = rc.data.choice_id.slice('choice_'.length);
    const r = await h.call('POST', `/loops/${id}/choices/${bare}`, { allow: true, answers: {} });
    expect([r.status, r.text]).toEqual([202, '']);
    await s.waitEnd();
    const after = s.names().slice(s.names().indexOf('requires_choice') + 1);
    expect(after.slice(0, 2)).toEqual(['choice_resolved', 'tool_result']);
    expect(s.mapped.find((e) => e.event === 'choice_resolved')!.data).toEqual({ choice_id: rc.data.choice_id, source: 'api' });
    expect(s.mapped.find((e) => e.event === 'tool_result')!.data.ok).toBe(true);
    expect(s.mapped.filter((e) => e.event === 'assistant_delta').map((e) => e.data.text).join('')).toContain('I ran');
    const again = await h.call('POST', `/loops/${id}/choices/${rc.data.choice_id}`, { allow: true });
    expect(again.json.error.code).toBe('choice_not_found');
  });
  it('permission deny gives tool_result ok:false and the turn ends with done', async () => {
    h = await harness();
    const id = await h.createLoop();
    const s = await h.send(id, 'permission');
    const rc = await s.waitEvent('requires_choice');
    await h.call('POST', `/loops/${id}/choices/${rc.data.choice_id}`, { allow: false });
    await s.waitEnd();
    expect(s.mapped.find((e) => e.event === 'tool_result')!.data.ok).toBe(false);
    expect(s.names().at(-1)).toBe('done');
    expect(s.mapped.filter((e) => e.event === 'assistant_delta').map((e) => e.data.text).join('')).toContain('denied');
  });
  it('permission timeout auto-denies without choice_resolved; the choice is then 404 and pending_choice_id stale', async () => {
    h = await harness({ permissionTimeoutMs: 50 });
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ permission: { toolId: 'toolu_P', tool: 'Bash' } }, { gate: 'timed-out' }, { delta: 'after' }]);
    const s = await h.send(id, 'x');
    await s.waitEvent('tool_result');
    expect(s.mapped.find((e) => e.event === 'tool_result')!.data).toEqual({ tool_use_id: 'toolu_P', ok: false });
    expect(s.names()).not.toContain('choice_resolved');
    expect((await h.getLoop(id)).current_turn.pending_choice_id).toBe('choice_toolu_P');
    const late = await h.call('POST', `/loops/${id}/choices/choice_toolu_P`, { allow: true });
    expect(late.json.error.code).toBe('choice_not_found');
    h.sim.release('timed-out');
    await s.waitEnd();
  });
  it('question: verbatim AskUserQuestion payload; answers keyed by question text are echoed', async () => {
    h = await harness();
    const id = await h.createLoop();
    const s = await h.send(id, 'a question for you');
    const rc = await s.waitEvent('requires_choice');
    expect(rc.data.kind).toBe('question');
    const qs = rc.data.payload.questions;
    expect(qs).toHaveLength(2);
    expect(qs.map((q: { multiSelect: boolean }) => q.multiSelect)).toEqual([false, true]);
    expect(qs[0].options[0]).toEqual({ label: expect.any(String), description: expect.any(String) });
    expect(s.mapped.find((e) => e.event === 'tool_call')!.data.tool).toBe('AskUserQuestion');
    const wrongKind = await h.call('POST', `/loops/${id}/choices/${rc.data.choice_id}`, { allow: true });
    expect(wrongKind.status).toBe(404);
    const answers = { [qs[0].question]: 'Python', [qs[1].question]: 'Tests,Docs' };
    expect((await h.call('POST', `/loops/${id}/choices/${rc.data.choice_id}`, { answers })).status).toBe(202);
    await s.waitEnd();
    const text = s.mapped.filter((e) => e.event === 'assistant_delta').map((e) => e.data.text).join('');
    expect(text).toContain('Python');
    expect(text).toContain('Tests,Docs');
    expect(s.mapped.find((e) => e.event === 'tool_result')!.data.ok).toBe(true);
  });
  it('question timeout: failed tool_result, the turn continues, late answer 404', async () => {
    h = await harness({ questionTimeoutMs: 50 });
    const id = await h.createLoop();
    const s = await h.send(id, 'question');
    const rc = await s.waitEvent('requires_choice');
    await s.waitEnd();
    expect(s.mapped.find((e) => e.event === 'tool_result')!.data.ok).toBe(false);
    expect(s.names()).not.toContain('choice_resolved');
    expect(s.names().at(-1)).toBe('done');
    expect((await h.call('POST', `/loops/${id}/choices/${rc.data.choice_id}`, { answers: {} })).status).toBe(404);
  });
  it('interrupt rejects the pending choice (later answer 404)', async () => {
    h = await harness();
    const id = await h.createLoop();
    const s = await h.send(id, 'permission');
    const rc = await s.waitEvent('requires_choice');
    await h.call('POST', `/loops/${id}/interrupt`);
    await s.waitEnd();
    expect(s.names().at(-1)).toBe('interrupted');
    expect((await h.call('POST', `/loops/${id}/choices/${rc.data.choice_id}`, { allow: true })).status).toBe(404);
  });
});

describe('tracker quirks (§4.8)', () => {
  const scenario = async (): Promise<{ id: string; snapText: string; doneIds: string[]; startedId: string }> => {
    const id = await h.createLoop();
    const w1 = await h.watch(id);
    // The gate holds the turn until the second watcher has its snapshot (no delta can slip in, however slow).
    h.sim.scriptNextTurn(id, [{ delta: 'ab' }, { delta: 'cd' }, { permission: { toolId: 'toolu_S', tool: 'Bash' } }, { delta: 'x' }]);
    const p = await h.send(id, 'go');
    const started = await p.waitEvent('started');
    await p.waitEvent('requires_choice');
    await until(() => w1.mapped.some((e) => e.event === 'requires_choice'));
    const w2 = await h.watch(id);
    const snap = await w2.waitEvent('snapshot');
    expect(w2.events[0]!.event).toBe('snapshot');
    expect(snap.data.turn_id).toBe(started.data.turn_id);
    expect(snap.data.pending_choice_id).toBe('choice_toolu_S');
    expect((await h.call('POST', `/loops/${id}/choices/choice_toolu_S`, { allow: true })).status).toBe(202);
    await p.waitEnd();
    await w1.waitEvent('done');
    await w2.waitEvent('done');
    const doneIds = [p, w1, w2].map((s) => s.mapped.find((e) => e.event === 'done')!.data.turn_id as string);
    w1.close();
    w2.close();
    return { id, snapText: snap.data.assistant_text_so_far, doneIds, startedId: started.data.turn_id };
  };
  it('IMPL: text duplicated per listener; only the first listener gets the tracked turn id', async () => {
    h = await harness();
    const r = await scenario();
    expect(r.snapText).toBe('ababcdcd');
    expect(r.doneIds[1]).toBe(r.startedId); // the watcher subscribed first
    expect(r.doneIds[0]).not.toBe(r.startedId);
    expect(r.doneIds[2]).not.toBe(r.startedId);
    expect(r.doneIds[0]).toMatch(/^turn_[0-9a-f]{20}$/);
  });
  it('SPEC: text once, every listener gets the tracked turn id', async () => {
    h = await harness({ quirks: { snapshotTextDuplicated: false, doneTurnIdMismatch: false } });
    const r = await scenario();
    expect(r.snapText).toBe('abcd');
    expect(r.doneIds).toEqual([r.startedId, r.startedId, r.startedId]);
  });
  it('no snapshot when idle', async () => {
    h = await harness();
    const id = await h.createLoop();
    const w = await h.watch(id);
    h.sim.scriptNextTurn(id, [{ delta: 'x' }]);
    await (await h.send(id, 'go')).waitEnd();
    await w.waitEvent('done');
    w.close();
    const w2 = await h.watch(id);
    h.sim.scriptNextTurn(id, [{ delta: 'y' }]);
    await (await h.send(id, 'go')).waitEnd();
    await w2.waitEvent('done');
    expect(w2.events.find((e) => e.event === 'snapshot')).toBeUndefined();
    w2.close();
  });
  const zeroListeners = async (): Promise<{ text: string; pending: string | null; tracked: boolean }> => {
    const id = await h.createLoop();
    // A gate first, so 'y' is written only once the test has seen the last listener leave (never during the close).
    h.sim.scriptNextTurn(id, [{ permission: { toolId: 'toolu_A', tool: 'Bash' } }, { delta: 'y' }, { permission: { toolId: 'toolu_Z', tool: 'Bash' } }, { delta: 'w', delayMs: 10_000 }]);
    const gone = await h.send(id, 'go');
    const st = await gone.waitEvent('started');
    await gone.waitEvent('requires_choice');
    gone.close();
    await until(() => h.sim.listeners(id) === 0);
    expect((await h.call('POST', `/loops/${id}/choices/choice_toolu_A`, { allow: true })).status).toBe(202);
    // The second choice becomes answerable once the zero-listener turn reached it ('y' was written by then).
    await until(async () => (await h.call('POST', `/loops/${id}/choices/choice_toolu_Z`, { allow: true })).status === 202);
    const w = await h.watch(id);
    const snap = await w.waitEvent('snapshot');
    await h.call('POST', `/loops/${id}/interrupt`);
    w.close();
    return { text: snap.data.assistant_text_so_far, pending: snap.data.pending_choice_id, tracked: snap.data.turn_id === st.data.turn_id };
  };
  it('IMPL: with zero listeners nothing updates the tracker', async () => {
    h = await harness();
    expect(await zeroListeners()).toEqual({ text: '', pending: null, tracked: true });
  });
  it('IMPL (default): text written after our only stream left is absent from the snapshot on reattach', async () => {
    h = await harness();
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [
      { delta: 'seg01 ' },
      { delta: 'seg02 ' },
      { permission: { toolId: 'toolu_X', tool: 'Bash' } },
      { delta: 'seg03 ' },
      { delta: 'seg04 ' },
      { permission: { toolId: 'toolu_Y', tool: 'Bash' } },
    ]);
    const p = await h.send(id, 'go', {}, { permission_mode: 'default' });
    await p.waitEvent('requires_choice');
    p.close();
    await until(() => h.sim.listeners(id) === 0);
    expect((await h.call('POST', `/loops/${id}/choices/choice_toolu_X`, { allow: true })).status).toBe(202);
    await until(() => h.sim.written(id).includes('seg04'));
    const w = await h.watch(id);
    const snap = await w.waitEvent('snapshot');
    expect(snap.data.assistant_text_so_far).toBe('seg01 seg02 ');
    expect(h.sim.written(id)).toBe('seg01 seg02 seg03 seg04 ');
    await h.call('POST', `/loops/${id}/interrupt`);
    w.close();
  });
  it('SPEC: the tracker accumulates even with zero listeners', async () => {
    h = await harness({ quirks: { snapshotTextDuplicated: false } });
    expect(await zeroListeners()).toEqual({ text: 'y', pending: null, tracked: true });
  });
});

describe('permission mode (§5.1)', () => {
  it('IMPL: changing the mode wipes profiles and vault; the mode is sticky so resending does not matter', async () => {
    h = await harness();
    const id = await h.createLoop({ profiles: ['p'], vault: 'v' });
    h.sim.scriptNextTurn(id, [{ delta: 'x' }]);
    await (await h.send(id, 'a', {}, { permission_mode: 'bypassPermissions' })).waitEnd();
    expect(await h.getLoop(id)).toMatchObject({ profiles: ['p'], vault: 'v' });
    h.sim.scriptNextTurn(id, [{ delta: 'x' }]);
    await (await h.send(id, 'b', {}, { permission_mode: 'bogus' })).waitEnd();
    expect(await h.getLoop(id)).toMatchObject({ profiles: ['p'], vault: 'v' });
    h.sim.scriptNextTurn(id, [{ delta: 'x' }]);
    await (await h.send(id, 'c', {}, { permission_mode: 'default' })).waitEnd();
    expect(await h.getLoop(id)).toMatchObject({ profiles: [], vault: 'default' });
  });
  it('configWipe off keeps the config', async () => {
    h = await harness({ quirks: { configWipe: false } });
    const id = await h.createLoop({ profiles: ['p'], vault: 'v' });
    h.sim.scriptNextTurn(id, [{ delta: 'x' }]);
    await (await h.send(id, 'c', {}, { permission_mode: 'default' })).waitEnd();
    expect(await h.getLoop(id)).toMatchObject({ profiles: ['p'], vault: 'v' });
  });
  it('coldStartAlwaysFalse off reports a cold start on the first turn only', async () => {
    h = await harness({ quirks: { coldStartAlwaysFalse: false } });
    const id = await h.createLoop();
    const a = await h.send(id, 'one');
    expect((await a.waitEvent('started')).data.cold_start).toBe(true);
    await a.waitEnd();
    const b = await h.send(id, 'two');
    expect((await b.waitEvent('started')).data.cold_start).toBe(false);
    await b.waitEnd();
  });
});
