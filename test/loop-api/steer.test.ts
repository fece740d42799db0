// steerTurn against the simulator ([IMPL] §4.5): a message sent while a turn runs is either taken into that
// turn at its next tool step, or run as a turn of its own after it; the running turn is held at gates so
// which one happens never depends on speed.

import { describe, expect, it } from 'vitest';
import { LoopClient } from '../../src/loop-api/client.js';
import { LoopArchivedError } from '../../src/loop-api/errors.js';
import { followTurn } from '../../src/loop-api/follower.js';
import { steerTurn } from '../../src/loop-api/steer.js';
import type { TurnEvent } from '../../src/loop-api/types.js';
import type { Simulator } from '../../src/sim/index.js';
import { collect, simPerTest, textOf } from '../helpers/loop-sim.js';
import { waitFor } from '../helpers/wait.js';

const FOLLOW = { pollIntervalMs: 50, giveUpAfterMs: 10_000 };

const setup = simPerTest();

const terminals = (evs: TurnEvent[]) => evs.filter((e) => e.type === 'done' || e.type === 'interrupted' || e.type === 'error');

/** Starts the running turn (its own follow collects its events) and waits until it holds at `gate`. */
async function runningTurn(sim: Simulator, client: LoopClient, loopId: string, before: string): Promise<{ events: Promise<TurnEvent[]> }> {
  const events = collect(followTurn(client, loopId, { content: 'first' }, { ...FOLLOW, idempotencyKey: 'k-first' }));
  await waitFor(() => sim.written(loopId).includes(before), 'the running turn to reach its gate');
  return { events }; // wrapped: an async function would wait for a returned promise
}

describe('steerTurn', () => {
  it('a steer before a tool step is taken into the running turn: its follow shows the continuation, the steer has no turn of its own', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, [{ delta: 'Looking. ' }, { gate: 'g' }, { tool: { name: 'Bash', input: { command: 'ls' } } }, { delta: 'never written' }]);
    sim.scriptNextTurn(loopId, [{ delta: 'Switching folders.' }]);
    const { events: first } = await runningTurn(sim, client, loopId, 'Looking.');
    let queued: boolean | undefined;
    const outcome = steerTurn(client, loopId, { content: 'use the other folder' }, { ...FOLLOW, idempotencyKey: 'k-steer', onSent: (q) => void (queued = q) });
    await waitFor(() => queued !== undefined, 'the steer to be held by the server');
    expect(queued).toBe(true);
    expect(sim.received(loopId)).toEqual(['first']); // waiting for the next tool step
    sim.release('g');
    expect((await outcome).kind).toBe('taken-in');
    const evs = await first;
    expect(textOf(evs)).toBe('Looking. Switching folders.');
    expect(terminals(evs)).toHaveLength(1);
    expect(sim.received(loopId)).toEqual(['first', 'use the other folder']);
    expect(sim.written(loopId)).toBe('Looking. Switching folders.'); // one turn: the same turn continued
  });

  it('a steer after the last tool step runs as its own turn: its events come whole from the watch, none of the running turn\'s', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, [{ delta: 'Almost done. ' }, { gate: 'g' }, { delta: 'Done.' }]);
    // The steer's own turn writes at once, with no delay: only a watch attached before it began sees this.
    sim.scriptNextTurn(loopId, [{ delta: 'Own ' }, { delta: 'turn.' }]);
    const { events: first } = await runningTurn(sim, client, loopId, 'Almost done.');
    let queued: boolean | undefined;
    const outcome = steerTurn(client, loopId, { content: 'also this' }, { ...FOLLOW, idempotencyKey: 'k-steer', onSent: (q) => void (queued = q) });
    await waitFor(() => queued !== undefined, 'the steer to be held by the server');
    sim.release('g');
    const o = await outcome;
    expect(o.kind).toBe('own-turn');
    const own = await collect((o as Extract<typeof o, { kind: 'own-turn' }>).events);
    expect(textOf(own)).toBe('Own turn.');
    expect(own.filter((e) => e.type === 'gap')).toEqual([]);
    expect(terminals(own)).toHaveLength(1);
    expect(own.at(-1)?.type).toBe('done');
    expect(textOf(await first)).toBe('Almost done. Done.');
    expect(sim.received(loopId)).toEqual(['first', 'also this']);
  });

  it('a steer to an idle loop is a turn of its own at once (onSent says it was not queued)', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, [{ delta: 'Plain answer.' }]);
    let queued: boolean | undefined;
    const o = await steerTurn(client, loopId, { content: 'nothing runs' }, { ...FOLLOW, idempotencyKey: 'k-idle', onSent: (q) => void (queued = q) });
    expect(queued).toBe(false);
    expect(o.kind).toBe('own-turn');
    expect(textOf(await collect((o as Extract<typeof o, { kind: 'own-turn' }>).events))).toBe('Plain answer.');
  });

  it('the watch cut while the steer waits is reopened, and the outcome is still right', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, [{ delta: 'Working. ' }, { gate: 'g' }, { tool: { name: 'Read' } }, { delta: 'x' }]);
    sim.scriptNextTurn(loopId, [{ delta: 'Steered.' }]);
    const { events: first } = await runningTurn(sim, client, loopId, 'Working.');
    // The steer's watch is the next /events stream: cut after its snapshot, while the steer waits.
    sim.faults.cutStreamAfter(1, { path: /\/events$/ });
    let queued: boolean | undefined;
    const outcome = steerTurn(client, loopId, { content: 'steer after a cut' }, { ...FOLLOW, idempotencyKey: 'k-cut', onSent: (q) => void (queued = q) });
    await waitFor(() => queued !== undefined && sim.listeners(loopId) >= 2, 'the steer sent and its watch attached again');
    sim.release('g');
    expect((await outcome).kind).toBe('taken-in');
    expect(textOf(await first)).toBe('Working. Steered.');
  });

  it('sent again with the same key (a restart), the server replays instead of sending twice', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, [{ delta: 'Held. ' }, { gate: 'g' }, { tool: { name: 'Bash' } }, { delta: 'y' }]);
    sim.scriptNextTurn(loopId, [{ delta: 'Once.' }]);
    const { events: first } = await runningTurn(sim, client, loopId, 'Held.');
    const ac = new AbortController();
    let sent = 0;
    const abandoned = steerTurn(client, loopId, { content: 'only once' }, { ...FOLLOW, idempotencyKey: 'k-once', signal: ac.signal, onSent: () => void sent++ });
    await waitFor(() => sent === 1, 'the first attempt held by the server');
    ac.abort(); // the process died before it knew the outcome
    await expect(abandoned).rejects.toThrow(/aborted/);
    const again = steerTurn(client, loopId, { content: 'only once' }, { ...FOLLOW, idempotencyKey: 'k-once', onSent: () => void sent++ });
    await waitFor(() => sent === 2, 'the repeat answered from the server\'s record');
    sim.release('g');
    expect((await again).kind).toBe('taken-in');
    expect(textOf(await first)).toBe('Held. Once.');
    expect(sim.received(loopId).filter((m) => m === 'only once')).toHaveLength(1);
  });

  it('a refused steer (archived loop) throws the typed error before anything is sent', async () => {
    const { client, loopId } = await setup();
    await client.archiveLoop(loopId);
    await expect(steerTurn(client, loopId, { content: 'x' }, { ...FOLLOW, idempotencyKey: 'k-arch' })).rejects.toBeInstanceOf(LoopArchivedError);
  });
});
