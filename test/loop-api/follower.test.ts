import { describe, expect, it } from 'vitest';
import { LoopClient } from '../../src/loop-api/client.js';
import { LoopNotFoundError, LoopTransportError } from '../../src/loop-api/errors.js';
import { followTurn, repeatsDeltas, resumeTurn } from '../../src/loop-api/follower.js';
import type { TurnEvent } from '../../src/loop-api/types.js';
import type { ScriptStep } from '../../src/sim/index.js';
import { collect, FAST_RETRY, simPerTest, textOf } from '../helpers/loop-sim.js';
import { waitFor } from '../helpers/wait.js';

const FOLLOW = { pollIntervalMs: 50, giveUpAfterMs: 10_000 };

const setup = simPerTest();

const types = (evs: TurnEvent[], t: string) => evs.filter((e) => e.type === t);

/** Every follow that returns normally ends with exactly one terminal event, last. */
function expectOneTerminalLast(evs: TurnEvent[]): void {
  const terminals = evs.filter((e) => e.type === 'done' || e.type === 'interrupted' || e.type === 'error');
  expect(terminals).toHaveLength(1);
  expect(evs.at(-1)).toBe(terminals[0]);
}

const WORDS = ['Alpha ', 'beta ', 'gamma ', 'delta ', 'epsilon ', 'zeta ', 'eta ', 'theta ', 'iota ', 'kappa'];
const FULL = WORDS.join('');
const slowDeltas = (delayMs: number): ScriptStep[] => WORDS.map((w) => ({ delta: w, delayMs }));

describe('followTurn', () => {
  it('passes a clean turn through unchanged and ends at done', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, slowDeltas(0));
    const evs = await collect(followTurn(client, loopId, { content: 'hi' }, { ...FOLLOW, idempotencyKey: 'k' }));
    expect(evs[0].type).toBe('started');
    expect(textOf(evs)).toBe(FULL);
    expect(types(evs, 'gap')).toEqual([]);
    expectOneTerminalLast(evs);
  });

  // Exact-text recovery tests switch off the [IMPL] "tracker only counts while someone listens" quirk and
  // tell the follower so (snapshotComplete): with the quirk on, a delta produced in the milliseconds between
  // a cut and the reattach is gone for good, which would make exact-text assertions depend on timing. The
  // [IMPL] behaviour has its own tests below ("detached windows").
  const SPEC_TRACKER = { quirks: { snapshotTextDuplicated: false } };
  const SPEC_FOLLOW = { ...FOLLOW, snapshotComplete: true };

  it('recovers a POST stream cut after several events, with exactly the scripted text', async () => {
    const { sim, client, loopId } = await setup(SPEC_TRACKER);
    sim.scriptNextTurn(loopId, slowDeltas(150));
    sim.faults.cutStreamAfter(6, { path: /\/messages$/ });
    const evs = await collect(followTurn(client, loopId, { content: 'hi' }, { ...SPEC_FOLLOW, idempotencyKey: 'k' }));
    expect(textOf(evs)).toBe(FULL);
    expect(types(evs, 'gap')).toEqual([]);
    expectOneTerminalLast(evs);
    expect(evs.at(-1)?.type).toBe('done');
    expect(sim.received(loopId)).toHaveLength(1);
  });

  it('fills text produced while detached from the snapshot (tracker without the IMPL listener quirk)', async () => {
    const { sim, client, loopId } = await setup(SPEC_TRACKER);
    // Deltas keep coming while the watch is refused: only the snapshot can give them back.
    sim.scriptNextTurn(loopId, [...slowDeltas(30), { delta: '!', delayMs: 1_000 }]);
    sim.faults.cutStreamAfter(4, { path: /\/messages$/ });
    sim.faults.failNext(2, 503, { path: /\/events$/ });
    const evs = await collect(followTurn(client, loopId, { content: 'hi' }, { ...SPEC_FOLLOW, idempotencyKey: 'k' }));
    expect(textOf(evs)).toBe(`${FULL}!`);
    expect(types(evs, 'gap')).toEqual([]);
    expectOneTerminalLast(evs);
  });

  it('does not guess when the snapshot holds the text twice ([IMPL] two listeners): one gap, no doubling', async () => {
    const { sim, client, loopId } = await setup();
    const other = new AbortController();
    const bystander = (async () => { for await (const _ of client.watch(loopId, { signal: other.signal })) void _; })();
    await waitFor(() => sim.listeners(loopId) >= 1, 'the bystander watching');
    sim.scriptNextTurn(loopId, slowDeltas(120));
    sim.faults.cutStreamAfter(5, { path: /\/messages$/ });
    const evs = await collect(followTurn(client, loopId, { content: 'hi' }, { ...FOLLOW, idempotencyKey: 'k' }));
    other.abort();
    await bystander;
    expect(types(evs, 'gap')).toHaveLength(1);
    // Each yielded delta is a scripted one, in order, none twice: the doubled snapshot text was not used.
    const idx = evs.flatMap((e) => (e.type === 'assistant_delta' ? [WORDS.indexOf(e.text)] : []));
    expect(idx.length).toBeGreaterThan(3);
    for (let i = 0; i < idx.length; i++) expect(idx[i]).toBeGreaterThan(i === 0 ? -1 : idx[i - 1]);
    expectOneTerminalLast(evs);
  });

  it('survives repeated cuts of the POST stream and of every reattached watch', async () => {
    const { sim, client, loopId } = await setup(SPEC_TRACKER);
    sim.scriptNextTurn(loopId, slowDeltas(120));
    sim.faults.cutStreamAfter(3, { path: /\/messages$/ });
    for (let i = 0; i < 6; i++) sim.faults.cutStreamAfter(2, { path: /\/events$/ });
    const evs = await collect(followTurn(client, loopId, { content: 'hi' }, { ...SPEC_FOLLOW, idempotencyKey: 'k' }));
    expect(textOf(evs)).toBe(FULL);
    expect(types(evs, 'gap')).toEqual([]);
    expectOneTerminalLast(evs);
  });

  it('keeps following through server idle cuts while a permission choice waits ([IMPL]: no note, the tool step was still open)', async () => {
    const { sim, client: plain, loopId } = await setup({ idleCutMs: 150 });
    let cuts = 0;
    const logger = { debug: (_o: object, msg?: string) => void (msg?.includes('stream') && cuts++), warn() {} };
    const client = new LoopClient({ baseUrl: sim.url, token: sim.token, retry: FAST_RETRY, logger });
    setup.own(client);
    void plain;
    sim.scriptNextTurn(loopId, [{ delta: 'before ' }, { permission: { tool: 'Bash', input: { command: 'make' } } }, { delta: 'after' }]);
    let answered: Promise<void> | undefined;
    const evs = await collect(followTurn(client, loopId, { content: 'hi', permissionMode: 'default' }, { ...FOLLOW, idempotencyKey: 'k' }), (e) => {
      if (e.type === 'requires_choice') {
        // Answer once several ~150 ms idle cuts happened (without blocking the follow). Then stop the cuts
        // and wait until a watch of ours listens, so the rest cannot fall into a reconnect.
        answered = (async () => {
          await waitFor(() => cuts >= 3, 'three idle cuts');
          sim.faults.setIdleCut(null);
          await waitFor(() => sim.listeners(loopId) >= 1, 'a watch listening');
          await client.answerChoice(loopId, e.choiceId, { allow: true });
        })();
      }
    });
    await answered;
    expect(cuts).toBeGreaterThanOrEqual(3); // the POST stream and watches were idle-cut
    expect(types(evs, 'requires_choice')).toHaveLength(1);
    expect(types(evs, 'choice_resolved')).toHaveLength(1);
    expect(types(evs, 'tool_result')).toMatchObject([{ ok: true }]);
    expect(textOf(evs)).toBe('before after');
    expect(types(evs, 'gap')).toEqual([]);
    expectOneTerminalLast(evs);
  });

  it('yields gap + synthetic done when the turn ended while detached', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, [{ delta: 'one ' }, { delta: 'two ', delayMs: 100 }, { delta: 'three', delayMs: 100 }]);
    sim.faults.cutStreamAfter(3, { path: /\/messages$/ });
    sim.faults.failNext(1000, 503, { path: /\/events$/ }); // no watch at all: only GET polling works
    let started = '';
    const evs = await collect(followTurn(client, loopId, { content: 'hi' }, { ...FOLLOW, idempotencyKey: 'k' }), (e) => {
      if (e.type === 'started') started = e.turnId;
    });
    const gapAt = evs.findIndex((e) => e.type === 'gap');
    expect(gapAt).toBe(evs.length - 2);
    expect(evs.at(-1)).toEqual({ type: 'done', turnId: started });
    expect(textOf(evs)).not.toContain('three');
    expectOneTerminalLast(evs);
  });

  it('an idempotent repeat of the same key reaches the model once', async () => {
    const { sim, client, loopId } = await setup(SPEC_TRACKER);
    sim.scriptNextTurn(loopId, slowDeltas(100));
    sim.faults.cutStreamAfter(3, { path: /\/messages$/ });
    sim.faults.failNext(1, 502, { path: /\/messages$/ });
    const first = await collect(followTurn(client, loopId, { content: 'same' }, { ...SPEC_FOLLOW, idempotencyKey: 'dup' }));
    expect(textOf(first)).toBe(FULL);
    const again = await collect(followTurn(client, loopId, { content: 'same' }, { ...SPEC_FOLLOW, idempotencyKey: 'dup' }));
    expectOneTerminalLast(again);
    expect(sim.received(loopId)).toHaveLength(1);
  });

  it('a queued message: does not stop at the other turn’s done, ends when the loop is idle', async () => {
    const { sim, client, loopId } = await setup();
    // The gate holds the first turn (without a tool step, where 'two' would be injected) until 'two' is queued.
    sim.scriptNextTurn(loopId, [{ delta: 'first ' }, { gate: 'q' }, { delta: 'turn' }]);
    sim.scriptNextTurn(loopId, [{ delta: 'second ', delayMs: 100 }, { delta: 'reply', delayMs: 100 }]);
    const firstTurn = collect(followTurn(client, loopId, { content: 'one' }, { ...FOLLOW, idempotencyKey: 'q1' }));
    await waitFor(async () => (await client.getLoop(loopId)).busy, 'the first turn running');
    const second = await collect(followTurn(client, loopId, { content: 'two' }, { ...FOLLOW, idempotencyKey: 'q2' }), (e) => {
      if (e.type === 'queued') sim.release('q');
    });
    expect(second[0]).toMatchObject({ type: 'queued' });
    expectOneTerminalLast(second);
    expect(textOf(second)).toContain('second reply');
    expect((await client.getLoop(loopId)).busy).toBe(false);
    await firstTurn;
    expect(sim.received(loopId)).toEqual(['one', 'two']);
  });

  it('throws the POST’s own 4xx, and aborting throws aborted', async () => {
    const { sim, client, loopId } = await setup();
    await expect(collect(followTurn(client, 'loop_00000000-0000-4000-8000-000000000000', { content: 'x' }, { idempotencyKey: 'k' }))).rejects.toBeInstanceOf(LoopNotFoundError);
    sim.scriptNextTurn(loopId, slowDeltas(200));
    const ac = new AbortController();
    const err = await collect(followTurn(client, loopId, { content: 'x' }, { ...FOLLOW, idempotencyKey: 'k2', signal: ac.signal }), (e) => {
      if (e.type === 'assistant_delta') ac.abort();
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoopTransportError);
    expect((err as LoopTransportError).code).toBe('aborted');
  });
});

describe('detached windows ([IMPL]: nothing accumulates while no stream is attached)', () => {
  const NOTE = /^loopbridge was disconnected for \d+ s while the loop was writing/;
  /** The yielded deltas are scripted words in order, none twice; returns how many of WORDS are missing. */
  function expectOrderedSubset(evs: TurnEvent[]): number {
    const idx = evs.flatMap((e) => (e.type === 'assistant_delta' ? [WORDS.indexOf(e.text)] : []));
    expect(idx.every((i) => i >= 0)).toBe(true);
    for (let i = 1; i < idx.length; i++) expect(idx[i]).toBeGreaterThan(idx[i - 1]);
    return WORDS.length - idx.length;
  }

  it('text written while the POST stream was cut and the watch refused: one plain gap where the hole is', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, slowDeltas(60));
    sim.faults.cutStreamAfter(5, { path: /\/messages$/ }); // started + sdk init/user + the first delta's pair
    sim.faults.failNext(100_000, 503, { path: /\/events$/ });
    const lost = (async () => {
      await waitFor(() => sim.listeners(loopId) === 0 && sim.written(loopId).includes('gamma'), 'words written with nobody attached');
      sim.faults.clearFailures();
    })();
    const evs = await collect(followTurn(client, loopId, { content: 'hi' }, { ...FOLLOW, idempotencyKey: 'k' }));
    await lost;
    const gaps = types(evs, 'gap') as Array<{ reason: string }>;
    expect(gaps).toHaveLength(1);
    expect(gaps[0].reason).toMatch(NOTE);
    expect(expectOrderedSubset(evs)).toBeGreaterThan(0);
    // The gap sits in the hole: after 'Alpha', before whatever came after reattaching.
    const gapAt = evs.findIndex((e) => e.type === 'gap');
    expect(textOf(evs.slice(0, gapAt))).toBe('Alpha ');
    expect(textOf(evs.slice(gapAt))).not.toContain('gamma');
    expectOneTerminalLast(evs);
  });

  it('the same cut on a [SPEC] server: the snapshot fills the hole and nothing is noted', async () => {
    const { sim, client, loopId } = await setup({ quirks: { snapshotTextDuplicated: false } });
    sim.scriptNextTurn(loopId, slowDeltas(60));
    sim.faults.cutStreamAfter(5, { path: /\/messages$/ });
    sim.faults.failNext(100_000, 503, { path: /\/events$/ });
    const lost = (async () => {
      await waitFor(() => sim.listeners(loopId) === 0 && sim.written(loopId).includes('gamma'), 'words written with nobody attached');
      sim.faults.clearFailures();
    })();
    const evs = await collect(followTurn(client, loopId, { content: 'hi' }, { ...FOLLOW, snapshotComplete: true, idempotencyKey: 'k' }));
    await lost;
    expect(types(evs, 'gap')).toEqual([]);
    expect(textOf(evs)).toBe(FULL);
  });

  it('a choice answered while detached, the loop wrote on: the gap comes before the next thing seen', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, [
      { delta: 'before ' },
      { permission: { toolId: 'toolu_P1', tool: 'Bash', input: { command: 'make' } } },
      { delta: 'lost ' },
      { permission: { toolId: 'toolu_P2', tool: 'Bash', input: { command: 'make install' } } },
      { delta: 'end' },
    ]);
    let steered: Promise<void> | undefined;
    const evs = await collect(followTurn(client, loopId, { content: 'hi', permissionMode: 'default' }, { ...FOLLOW, idempotencyKey: 'k' }), (e) => {
      if (e.type !== 'requires_choice' || e.choiceId !== 'choice_toolu_P1') return;
      steered = (async () => {
        sim.faults.failNext(100_000, 503, { path: /\/events$/ });
        sim.faults.setIdleCut(100); // the quiet POST stream is cut; no watch can attach
        await waitFor(() => sim.listeners(loopId) === 0, 'nobody attached');
        await client.answerChoice(loopId, 'choice_toolu_P1', { allow: true });
        await waitFor(() => sim.written(loopId).includes('lost'), "'lost' written with nobody attached");
        sim.faults.setIdleCut(null);
        sim.faults.clearFailures();
        await waitFor(() => sim.listeners(loopId) >= 1, 'a watch attached again');
        // P2 was asked while detached: answer it now that we listen.
        await waitFor(async () => (await client.answerChoice(loopId, 'choice_toolu_P2', { allow: true }).then(() => true, () => false)), 'P2 answered');
      })();
    });
    await steered;
    const gaps = types(evs, 'gap') as Array<{ reason: string }>;
    expect(gaps).toHaveLength(1);
    expect(gaps[0].reason).toMatch(NOTE);
    expect(textOf(evs)).toBe('before end');
    const gapAt = evs.findIndex((e) => e.type === 'gap');
    expect(evs.slice(gapAt + 1).some((e) => e.type === 'assistant_delta' && e.text === 'end')).toBe(true);
    expectOneTerminalLast(evs);
  });

  it('after a restart (detachedSince) with the loop writing meanwhile: prefix, then one gap naming the downtime', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, slowDeltas(60));
    const ac = new AbortController();
    let held = 0;
    // The "old bridge" reads two deltas, then dies.
    for await (const e of client.sendMessage(loopId, { content: 'hi' }, { idempotencyKey: 'r', signal: ac.signal })) {
      if (e.type === 'assistant_delta' && ++held === 2) ac.abort();
    }
    const diedAt = Date.now();
    await waitFor(() => sim.listeners(loopId) === 0 && sim.written(loopId).includes('delta'), 'words written while down');
    const evs = await collect(followTurn(client, loopId, { content: 'hi' }, { ...FOLLOW, idempotencyKey: 'r', detachedSince: diedAt }));
    const gaps = types(evs, 'gap') as Array<{ reason: string }>;
    expect(gaps).toHaveLength(1);
    expect(gaps[0].reason).toMatch(NOTE);
    expect(textOf(evs.slice(0, evs.findIndex((e) => e.type === 'gap')))).toBe('Alpha beta ');
    expect(expectOrderedSubset(evs)).toBeGreaterThan(0);
    expect(sim.received(loopId)).toHaveLength(1);
    expectOneTerminalLast(evs);
  });

  it('after a restart while a choice waited and nothing moved: no note', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, [{ delta: 'before ' }, { permission: { toolId: 'toolu_W', tool: 'Bash' } }, { delta: 'after' }]);
    const ac = new AbortController();
    for await (const e of client.sendMessage(loopId, { content: 'hi', permissionMode: 'default' }, { idempotencyKey: 'w', signal: ac.signal })) {
      if (e.type === 'requires_choice') ac.abort();
    }
    const diedAt = Date.now();
    await waitFor(() => sim.listeners(loopId) === 0, 'the old stream gone');
    let answered: Promise<void> | undefined;
    const evs = await collect(followTurn(client, loopId, { content: 'hi', permissionMode: 'default' }, { ...FOLLOW, idempotencyKey: 'w', detachedSince: diedAt }), (e) => {
      if (e.type === 'requires_choice') {
        answered = (async () => {
          await waitFor(() => sim.listeners(loopId) >= 1, 'a watch attached');
          await client.answerChoice(loopId, 'choice_toolu_W', { allow: true });
        })();
      }
    });
    await answered;
    expect(types(evs, 'gap')).toEqual([]);
    expect(textOf(evs)).toBe('before after');
    expectOneTerminalLast(evs);
  });
});

describe('repeatsDeltas', () => {
  it('recognises per-listener duplication, also when the duplicated text starts with what we have', () => {
    expect(repeatsDeltas('Alpha Alpha ', ['Alpha '])).toBe(true);
    expect(repeatsDeltas('aabb', ['a', 'b'])).toBe(true);
    expect(repeatsDeltas('abbcc', ['a', 'b', 'c'])).toBe(true); // a second listener joined mid-turn
    expect(repeatsDeltas('abc more', ['a', 'b', 'c'])).toBe(false);
    expect(repeatsDeltas('aa more', ['a', 'a'])).toBe(false); // the model really said it twice
    expect(repeatsDeltas('xyz', ['a'])).toBe(false);
    expect(repeatsDeltas('', [])).toBe(false);
  });
});

describe('resumeTurn', () => {
  it('re-follows a turn after a restart without doubling the text already held', async () => {
    const { sim, client, loopId } = await setup({ quirks: { snapshotTextDuplicated: false } });
    sim.scriptNextTurn(loopId, slowDeltas(120));
    const ac = new AbortController();
    let held = '';
    // The "old bridge" reads a few deltas then dies (abort drops its stream).
    for await (const e of client.sendMessage(loopId, { content: 'hi' }, { idempotencyKey: 'r', signal: ac.signal })) {
      if (e.type === 'assistant_delta') held += e.text;
      if (held.split(' ').length > 3) ac.abort();
    }
    const evs = await collect(resumeTurn(client, loopId, { ...FOLLOW, snapshotComplete: true, textSoFar: held }));
    expect(held + textOf(evs)).toBe(FULL);
    expect(types(evs, 'gap')).toEqual([]);
    expectOneTerminalLast(evs);
  });

  it('reports gap + done when the turn already finished', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, [{ delta: 'x' }]);
    for await (const _ of client.sendMessage(loopId, { content: 'hi' })) void _;
    const evs = await collect(resumeTurn(client, loopId, { ...FOLLOW, textSoFar: '' }));
    expect(evs.map((e) => e.type)).toEqual(['gap', 'done']);
  });

  it('ends with the 4xx when the loop does not exist', async () => {
    const { client } = await setup();
    await expect(collect(resumeTurn(client, 'loop_00000000-0000-4000-8000-000000000000', { ...FOLLOW, textSoFar: '' }))).rejects.toMatchObject({ code: 'loop_not_found' });
  });

  it('gives up after giveUpAfterMs without contact', async () => {
    const { sim, client, loopId } = await setup();
    sim.scriptNextTurn(loopId, slowDeltas(5_000));
    for await (const e of client.sendMessage(loopId, { content: 'hi' }, { idempotencyKey: 'g' })) if (e.type === 'started') break;
    await sim.faults.down();
    const err = await collect(resumeTurn(client, loopId, { pollIntervalMs: 20, giveUpAfterMs: 300, textSoFar: '' })).catch((e: unknown) => e);
    await sim.faults.restore();
    expect(err).toBeInstanceOf(LoopTransportError);
    expect((err as LoopTransportError).code).toBe('timeout');
  });
});
