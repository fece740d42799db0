// Idempotency-Key (§4.4.1): replay, 409, scope per user (not loop), disconnect IMPL vs SPEC.
import { afterEach, describe, expect, it } from 'vitest';
import { harness, until, type Harness } from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.sim.close();
});

describe('Idempotency-Key', () => {
  it('replays a finished record verbatim without calling the model; 409 on a different request', async () => {
    h = await harness();
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ delta: 'once' }]);
    const first = await h.send(id, 'hi', { 'idempotency-key': 'k1' });
    await first.waitEnd();
    const replay = await h.send(id, 'hi', { 'idempotency-key': 'k1' });
    expect(await replay.waitEnd()).toBe('end');
    expect(replay.events).toEqual(first.events.filter((e) => e.event !== 'ping'));
    expect(h.sim.received(id)).toEqual(['hi']);
    const conflict = await h.call('POST', `/loops/${id}/messages`, { content: 'other' }, { headers: h.headers(undefined, { 'idempotency-key': 'k1' }) });
    expect([conflict.status, conflict.json.error]).toEqual([409, { type: 'conflict_error', code: 'idempotency_key_reused', message: expect.any(String) }]);
    // The image list is part of the hash; permission_mode is not.
    const img = await h.call('POST', `/loops/${id}/messages`, { content: 'hi', images: [{ mediaType: 'image/png', data: 'AAAA' }] }, { headers: h.headers(undefined, { 'idempotency-key': 'k1' }) });
    expect(img.status).toBe(409);
    const mode = await h.send(id, 'hi', { 'idempotency-key': 'k1' }, { permission_mode: 'plan' });
    await mode.waitEnd();
    expect(h.sim.received(id)).toEqual(['hi']);
  });
  it('is keyed per user, not per loop', async () => {
    const A = 'la_' + '1'.repeat(48);
    const B = 'la_' + '2'.repeat(48);
    h = await harness({ tokens: { [A]: 'alice', [B]: 'bob' } });
    const l1 = await h.createLoop();
    const l2 = await h.createLoop();
    h.sim.scriptNextTurn(l1, [{ delta: 'from l1' }]);
    await (await h.send(l1, 'same', { 'idempotency-key': 'shared' })).waitEnd();
    const other = await h.send(l2, 'same', { 'idempotency-key': 'shared' });
    await other.waitEnd();
    expect(other.mapped.find((e) => e.event === 'assistant_delta')!.data.text).toBe('from l1');
    expect(h.sim.received(l2)).toEqual([]);
    const bobLoop = await h.createLoop({}, B);
    const res = await fetch(`${h.api}/loops/${bobLoop}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${B}`, 'content-type': 'application/json', 'idempotency-key': 'shared' },
      body: JSON.stringify({ content: 'different' }),
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(h.sim.received(bobLoop)).toEqual(['different']);
  });
  it('a retry while the turn is live replays then attaches live, with no new started', async () => {
    h = await harness();
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ delta: 'a' }, { delta: 'b', delayMs: 100 }]);
    const first = await h.send(id, 'live', { 'idempotency-key': 'k2' });
    await first.waitEvent('assistant_delta');
    const second = await h.send(id, 'live', { 'idempotency-key': 'k2' });
    await second.waitEnd();
    expect(second.names()).toEqual(['started', 'assistant_delta', 'assistant_delta', 'done']);
    expect(h.sim.received(id)).toEqual(['live']);
  });
  it('IMPL: a disconnect marks the record done — a retry replays only the prefix, without a terminal event', async () => {
    h = await harness();
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ delta: 'a' }, { gate: 'k3' }, { delta: 'b' }]);
    const first = await h.send(id, 'drop', { 'idempotency-key': 'k3' });
    await first.waitEvent('assistant_delta');
    first.close();
    await until(() => h.sim.openStreams() === 0);
    h.sim.release('k3'); // 'b' comes only after the disconnect, however slow the close was
    await until(async () => (await h.getLoop(id)).busy === false);
    const retry = await h.send(id, 'drop', { 'idempotency-key': 'k3' });
    expect(await retry.waitEnd()).toBe('end');
    expect(retry.names()).toEqual(['started', 'assistant_delta']);
    expect(h.sim.received(id)).toEqual(['drop']);
  });
  it('SPEC (quirk off): the record keeps buffering after a disconnect, so a retry gets the whole turn', async () => {
    h = await harness({ quirks: { disconnectMarksIdempotencyDone: false } });
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ delta: 'a' }, { delta: 'b', delayMs: 150 }, { delta: 'c', delayMs: 50 }]);
    const first = await h.send(id, 'drop', { 'idempotency-key': 'k4' });
    await first.waitEvent('assistant_delta');
    first.close();
    await until(() => h.sim.openStreams() === 0);
    const retry = await h.send(id, 'drop', { 'idempotency-key': 'k4' });
    await retry.waitEnd();
    expect(retry.mapped.filter((e) => e.event === 'assistant_delta').map((e) => e.data.text).join('')).toBe('abc');
    expect(retry.names().at(-1)).toBe('done');
  });
});
