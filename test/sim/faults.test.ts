// Fault injection, pings and the Bun-like idle cut.
import { afterEach, describe, expect, it } from 'vitest';
import { harness, until, type Harness } from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.sim.close();
});

describe('faults', () => {
  it('failNext: 5xx is a non-JSON text body, 4xx the envelope; path filter and count are honoured', async () => {
    h = await harness();
    h.sim.faults.failNext(2, 503);
    for (let i = 0; i < 2; i++) {
      const r = await h.call('GET', '/loops');
      expect([r.status, r.text, r.res.headers.get('content-type')]).toEqual([503, 'Internal Server Error', 'text/plain; charset=UTF-8']);
    }
    expect((await h.call('GET', '/loops')).status).toBe(200);
    h.sim.faults.failNext(1, 429, { path: /\/messages$/ });
    expect((await h.call('GET', '/loops')).status).toBe(200);
    const id = await h.createLoop();
    const r = await h.call('POST', `/loops/${id}/messages`, { content: 'x' });
    expect([r.status, r.json.error.code]).toEqual([429, 'too_many_requests']);
    expect(h.sim.received(id)).toEqual([]);
    h.sim.faults.failNext(1, 500, { body: 'custom' });
    expect((await h.call('GET', '/loops')).text).toBe('custom');
  });
  it('cutStreamAfter destroys the next stream after n events; the turn keeps running', async () => {
    h = await harness();
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ delta: 'a' }, { delta: 'b', delayMs: 50 }]);
    h.sim.faults.cutStreamAfter(2, { path: /\/messages$/ });
    const w = await h.watch(id); // not matched by the path
    const s = await h.send(id, 'x');
    expect(await s.waitEnd()).toBe('error');
    expect(s.events).toHaveLength(2);
    await w.waitEvent('done');
    expect(w.mapped.filter((e) => e.event === 'assistant_delta')).toHaveLength(2);
    w.close();
  });
  it('stallNext keeps the stream open and silent (no events, no pings, no idle cut)', async () => {
    h = await harness({ pingIntervalMs: 20, idleCutMs: 50 });
    const id = await h.createLoop();
    h.sim.faults.stallNext();
    const stalled = await h.watch(id);
    const normal = await h.watch(id);
    await until(() => normal.events.filter((e) => e.event === 'ping').length >= 3);
    expect(stalled.events).toEqual([]);
    expect(h.sim.openStreams()).toBe(2);
    stalled.close();
    normal.close();
  });
  it('pings every interval with data {}', async () => {
    h = await harness({ pingIntervalMs: 30, idleCutMs: null });
    const w = await h.watch(await h.createLoop());
    await until(() => w.events.filter((e) => e.event === 'ping').length >= 2);
    expect(w.events.every((e) => e.event === 'ping' && JSON.stringify(e.data) === '{}')).toBe(true);
    expect(w.badFrames).toEqual([]);
    w.close();
  });
  it('the idle cut destroys a quiet stream (pings slower than the cut); setIdleCut applies to open streams', async () => {
    h = await harness({ pingIntervalMs: 60_000, idleCutMs: 40 });
    const id = await h.createLoop();
    const quiet = await h.watch(id);
    expect(await quiet.waitEnd()).toBe('error');
    expect(quiet.events).toEqual([]);
    h.sim.faults.setIdleCut(null);
    const kept = await h.watch(id);
    h.sim.scriptNextTurn(id, [{ delta: 'a' }]);
    await (await h.send(id, 'x')).waitEnd();
    await kept.waitEvent('done');
    await until(() => h.sim.openStreams() === 1);
    h.sim.faults.setIdleCut(30);
    expect(await kept.waitEnd()).toBe('error');
  });
  it('down refuses connections and restore brings the same port back with state kept', async () => {
    h = await harness();
    const id = await h.createLoop();
    const w = await h.watch(id);
    await h.sim.faults.down();
    expect(await w.waitEnd()).toBe('error');
    await expect(fetch(`${h.api}/loops`)).rejects.toThrow();
    await h.sim.faults.restore();
    expect((await h.getLoop(id)).id).toBe(id);
  });
});
