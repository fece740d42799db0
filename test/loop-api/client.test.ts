import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopClient } from '../../src/loop-api/client.js';
import {
  LoopArchivedError, LoopAuthError, LoopConflictError, LoopNotFoundError, LoopPermissionError, LoopServerError,
  LoopTransportError, LoopValidationError,
} from '../../src/loop-api/errors.js';
import type { LoopEvent } from '../../src/loop-api/types.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';

const ALICE = `la_${'a'.repeat(48)}`;
const BOB = `la_${'b'.repeat(48)}`;
const FAST_RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };

async function collect(it: AsyncIterable<LoopEvent>, onEvent?: (e: LoopEvent) => void | Promise<void>): Promise<LoopEvent[]> {
  const out: LoopEvent[] = [];
  for await (const e of it) {
    out.push(e);
    await onEvent?.(e);
  }
  return out;
}
const textOf = (evs: LoopEvent[]) => evs.map((e) => (e.type === 'assistant_delta' ? e.text : '')).join('');
const withoutNoise = (evs: LoopEvent[]) => evs.filter((e) => e.type !== 'sdk_message' && e.type !== 'ping');

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('LoopClient against the simulator', () => {
  let sim: Simulator;
  let alice: LoopClient;
  let bob: LoopClient;
  beforeAll(async () => {
    sim = await startSimulator({ tokens: { [ALICE]: 'alice', [BOB]: 'bob' }, idleCutMs: null, deltaDelayMs: 1, permissionTimeoutMs: 400, questionTimeoutMs: 400 });
    alice = new LoopClient({ baseUrl: sim.url, token: ALICE, retry: FAST_RETRY, timeoutMs: 5_000 });
    bob = new LoopClient({ baseUrl: `${sim.url}/api/v1/`, token: BOB, retry: FAST_RETRY });
  });
  afterAll(async () => {
    await alice.close();
    await bob.close();
    await sim.close();
  });

  it('creates, gets, lists and archives loops', async () => {
    const loop = await alice.createLoop({ title: 'demo', metadata: { tg_chat: '123' } });
    expect(loop.id).toMatch(/^loop_/);
    expect(loop.title).toBe('demo');
    expect(loop.metadata).toEqual({ tg_chat: '123' });
    const got = await alice.getLoop(loop.id);
    expect(got.busy).toBe(false);
    expect(got.current_turn ?? null).toBeNull();
    const page = await alice.listLoops({ limit: 100 });
    expect(page.data.map((l) => l.id)).toContain(loop.id);
    await alice.archiveLoop(loop.id);
    await alice.archiveLoop(loop.id); // idempotent
    expect((await alice.getLoop(loop.id)).archived).toBe(true);
    expect((await alice.listLoops({ limit: 100 })).data.map((l) => l.id)).not.toContain(loop.id);
    expect((await alice.listLoops({ limit: 100, archived: true })).data.map((l) => l.id)).toContain(loop.id);
    const err = await collect(alice.sendMessage(loop.id, { content: 'hi' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoopArchivedError);
    expect((err as LoopArchivedError).code).toBe('loop_archived');
  });

  it('maps every error code the server sends', async () => {
    const loop = await alice.createLoop({});
    const bad = new LoopClient({ baseUrl: sim.url, token: `la_${'0'.repeat(48)}`, retry: FAST_RETRY });
    await expect(bad.getLoop(loop.id)).rejects.toMatchObject({ constructor: LoopAuthError, code: 'missing_credentials', status: 401 });
    await bad.close();
    await expect(bob.getLoop(loop.id)).rejects.toMatchObject({ constructor: LoopPermissionError, code: 'not_loop_owner' });
    await expect(alice.getLoop('loop_00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ constructor: LoopNotFoundError, code: 'loop_not_found' });
    await expect(alice.createLoop({ title: 'x'.repeat(201) })).rejects.toMatchObject({ constructor: LoopValidationError, code: 'title_too_long' });
    await expect(collect(alice.sendMessage(loop.id, { content: '' }))).rejects.toMatchObject({ constructor: LoopValidationError, code: 'missing_content' });
    await expect(alice.answerChoice(loop.id, 'choice_nope', { allow: true })).rejects.toMatchObject({ constructor: LoopNotFoundError, code: 'choice_not_found' });
    await expect(alice.answerChoice(loop.id, 'choice_nope', {} as never)).rejects.toMatchObject({ constructor: LoopValidationError, code: 'invalid_choice_payload' });
    // Same key, different content → 409 before any stream.
    await collect(alice.sendMessage(loop.id, { content: 'first' }, { idempotencyKey: 'k-409' }));
    await expect(collect(alice.sendMessage(loop.id, { content: 'second' }, { idempotencyKey: 'k-409' }))).rejects.toMatchObject({
      constructor: LoopConflictError, code: 'idempotency_key_reused',
    });
    await expect(collect(bob.watch(loop.id))).rejects.toBeInstanceOf(LoopPermissionError);
  });

  it('streams a turn and closes at done; an idempotent repeat replays without re-sending', async () => {
    const loop = await alice.createLoop({});
    sim.scriptNextTurn(loop.id, [{ delta: 'Hello ' }, { tool: { name: 'Bash', input: { command: 'ls' }, ok: true } }, { delta: 'world' }]);
    const evs = withoutNoise(await collect(alice.sendMessage(loop.id, { content: 'hi' }, { idempotencyKey: 'k1' })));
    expect(evs[0]).toMatchObject({ type: 'started' });
    expect(evs.map((e) => e.type)).toEqual(['started', 'assistant_delta', 'tool_call', 'tool_result', 'assistant_delta', 'done']);
    expect(evs[2]).toMatchObject({ tool: 'Bash', inputSummary: 'ls' });
    expect(textOf(evs)).toBe('Hello world');
    const replay = withoutNoise(await collect(alice.sendMessage(loop.id, { content: 'hi' }, { idempotencyKey: 'k1' })));
    expect(textOf(replay)).toBe('Hello world');
    expect(sim.received(loop.id)).toEqual(['hi']);
  });

  it('retries 5xx (non-JSON bodies too) on safe calls, then succeeds', async () => {
    const loop = await alice.createLoop({});
    sim.faults.failNext(3, 500, { path: /\/loops\/[^/]+$/ });
    expect((await alice.getLoop(loop.id)).id).toBe(loop.id);
    sim.faults.failNext(2, 503, { path: /\/messages$/ });
    const evs = await collect(alice.sendMessage(loop.id, { content: 'retry me' }, { idempotencyKey: 'k-retry' }));
    expect(evs.at(-1)?.type).toBe('done');
    expect(sim.received(loop.id)).toEqual(['retry me']);
    sim.faults.failNext(1, 429, { path: /\/interrupt$/ });
    await alice.interrupt(loop.id);
  });

  it('gives up with LoopServerError (code http_error) on a persistent non-JSON 500', async () => {
    const loop = await alice.createLoop({});
    sim.faults.failNext(4, 500, { path: /\/loops\/[^/]+$/ });
    const err = await alice.getLoop(loop.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoopServerError);
    expect((err as LoopServerError).code).toBe('http_error');
    expect((err as LoopServerError).status).toBe(500);
    expect((await alice.getLoop(loop.id)).id).toBe(loop.id); // all 4 failures were used by the 4 attempts
  });

  it('does not retry createLoop or a send without idempotency key', async () => {
    sim.faults.failNext(1, 500, { path: /\/loops$/ });
    await expect(alice.createLoop({})).rejects.toBeInstanceOf(LoopServerError);
    const loop = await alice.createLoop({}); // the single failure was consumed by one attempt
    sim.faults.failNext(1, 502, { path: /\/messages$/ });
    await expect(collect(alice.sendMessage(loop.id, { content: 'x' }))).rejects.toBeInstanceOf(LoopServerError);
    expect(sim.received(loop.id)).toEqual([]);
    sim.faults.failNext(1, 500, { path: /\/loops$/ });
    expect((await alice.createLoop({}, { retryUnsafe: true })).id).toMatch(/^loop_/);
  });

  it('throws LoopTransportError after retries when the server is down', async () => {
    const loop = await alice.createLoop({});
    await sim.faults.down();
    try {
      const err = await alice.getLoop(loop.id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LoopTransportError);
      expect((err as LoopTransportError).code).toBe('network_error');
    } finally {
      await sim.faults.restore();
    }
    expect((await alice.getLoop(loop.id)).id).toBe(loop.id);
  });

  it('treats a stalled stream as cut after the idle-read timeout', async () => {
    const c = new LoopClient({ baseUrl: sim.url, token: ALICE, streamIdleTimeoutMs: 200, retry: FAST_RETRY });
    const loop = await c.createLoop({});
    sim.faults.stallNext({ path: /\/events$/ });
    const evs = await collect(c.watch(loop.id)); // ends (no throw) once the read times out
    expect(evs).toEqual([]);
    await c.close();
  });

  it('answers a permission choice (allow) and a question choice', async () => {
    const loop = await alice.createLoop({});
    sim.scriptNextTurn(loop.id, [{ permission: { tool: 'Bash', input: { command: 'rm x' } } }, { delta: 'removed' }]);
    const evs = withoutNoise(await collect(alice.sendMessage(loop.id, { content: 'go', permissionMode: 'default' }, { idempotencyKey: 'kp' }), async (e) => {
      if (e.type === 'requires_choice') await alice.answerChoice(loop.id, e.choiceId, { allow: true });
    }));
    const choice = evs.find((e) => e.type === 'requires_choice');
    expect(choice).toMatchObject({ kind: 'permission', payload: { tool: 'Bash' } });
    expect(evs).toContainEqual({ type: 'choice_resolved', choiceId: (choice as { choiceId: string }).choiceId, source: 'api' });
    expect(evs.filter((e) => e.type === 'tool_result')).toMatchObject([{ ok: true }]);
    expect(textOf(evs)).toBe('removed');

    sim.scriptNextTurn(loop.id, [{ question: { questions: [{ question: 'Colour?', header: 'C', options: [{ label: 'Red' }, { label: 'Blue' }] }] } }, { delta: 'ok' }]);
    const q = withoutNoise(await collect(alice.sendMessage(loop.id, { content: 'ask' }, { idempotencyKey: 'kq' }), async (e) => {
      if (e.type === 'requires_choice' && e.kind === 'question') await alice.answerChoice(loop.id, e.choiceId, { answers: { [e.payload.questions[0].question]: 'Red' } });
    }));
    expect(q.find((e) => e.type === 'requires_choice')).toMatchObject({ kind: 'question', payload: { questions: [{ question: 'Colour?', multiSelect: false, options: [{ label: 'Red' }, { label: 'Blue' }] }] } });
    expect(q.some((e) => e.type === 'choice_resolved')).toBe(true);
    expect(q.at(-1)?.type).toBe('done');
  });

  it('a timed-out choice is auto-denied and answering it later gives choice_not_found', async () => {
    const loop = await alice.createLoop({});
    sim.scriptNextTurn(loop.id, [{ permission: { tool: 'Bash' } }, { delta: 'after' }]);
    const evs = withoutNoise(await collect(alice.sendMessage(loop.id, { content: 'x', permissionMode: 'default' }, { idempotencyKey: 'kt' })));
    const choice = evs.find((e) => e.type === 'requires_choice') as { choiceId: string };
    expect(evs.filter((e) => e.type === 'tool_result')).toMatchObject([{ ok: false }]);
    expect(evs.some((e) => e.type === 'choice_resolved')).toBe(false);
    const err = await alice.answerChoice(loop.id, choice.choiceId, { allow: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoopNotFoundError);
    expect((err as LoopNotFoundError).code).toBe('choice_not_found');

    sim.scriptNextTurn(loop.id, [{ question: { questions: [{ question: 'Q?', options: [{ label: 'A' }] }] } }, { delta: 'after' }]);
    const qe = withoutNoise(await collect(alice.sendMessage(loop.id, { content: 'y' }, { idempotencyKey: 'kt2' })));
    const qc = qe.find((e) => e.type === 'requires_choice') as { choiceId: string };
    await expect(alice.answerChoice(loop.id, qc.choiceId, { answers: { 'Q?': 'A' } })).rejects.toMatchObject({ code: 'choice_not_found' });
  });

  it('answerChoice: a 404 choice_not_found after a retried attempt counts as success', async () => {
    // A peer whose first answer "lands" but the response is lost (503), so the retry sees 404.
    let calls = 0;
    const peer = createServer((req, res) => {
      req.resume();
      calls++;
      if (calls === 1) {
        res.writeHead(503).end('Service Unavailable');
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'not_found_error', code: 'choice_not_found', message: 'gone' } }));
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    const c = new LoopClient({ baseUrl: `http://127.0.0.1:${(peer.address() as AddressInfo).port}`, token: ALICE, retry: FAST_RETRY });
    await c.answerChoice('loop_x', 'choice_y', { allow: true });
    expect(calls).toBe(2);
    calls = 1; // a first-attempt 404 is a real error
    await expect(c.answerChoice('loop_x', 'choice_y', { allow: true })).rejects.toBeInstanceOf(LoopNotFoundError);
    await c.close();
    await new Promise<void>((r) => peer.close(() => r()));
  });

  it('interrupts a running turn; interrupt when idle is fine too', async () => {
    const loop = await alice.createLoop({});
    await alice.interrupt(loop.id);
    sim.scriptNextTurn(loop.id, [{ delta: 'a' }, { delta: 'b', delayMs: 60_000 }]);
    const evs = withoutNoise(await collect(alice.sendMessage(loop.id, { content: 'x' }, { idempotencyKey: 'ki' }), async (e) => {
      if (e.type === 'assistant_delta') await alice.interrupt(loop.id);
    }));
    expect(evs.at(-1)?.type).toBe('interrupted');
  });

  it('watch sees live events of a turn sent elsewhere and ends quietly on abort', async () => {
    const loop = await alice.createLoop({});
    const ac = new AbortController();
    const seen: LoopEvent[] = [];
    const watching = collect(alice.watch(loop.id, { signal: ac.signal }), (e) => void seen.push(e));
    await until(() => sim.openStreams() > 0, 'watch attached');
    sim.scriptNextTurn(loop.id, [{ delta: 'one ' }, { delta: 'two' }]);
    await collect(alice.sendMessage(loop.id, { content: 'x' }, { idempotencyKey: 'kw' }));
    await until(() => seen.some((e) => e.type === 'done'), 'done on watch');
    ac.abort();
    const all = await watching;
    expect(textOf(all)).toBe('one two');
  });

  it('pages over 250 loops: listAllLoops yields each once, newest first', async () => {
    const c = new LoopClient({ baseUrl: sim.url, token: BOB, retry: FAST_RETRY });
    const created: string[] = [];
    for (let i = 0; i < 250; i++) created.push((await c.createLoop({ title: `n${i}` })).id);
    const firstPage = await c.listLoops({ limit: 100 });
    expect(firstPage.data).toHaveLength(100);
    expect(firstPage.has_more).toBe(true);
    const all: string[] = [];
    const stamps: string[] = [];
    for await (const l of c.listAllLoops({ limit: 100 })) {
      all.push(l.id);
      stamps.push(l.created_at);
    }
    expect(all).toHaveLength(250);
    expect(new Set(all)).toEqual(new Set(created));
    for (let i = 1; i < stamps.length; i++) expect(stamps[i - 1] >= stamps[i]).toBe(true);
    expect(all[0]).toBe(created[249]);
    expect(all[249]).toBe(created[0]);
    await c.close();
  });
});
