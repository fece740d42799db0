// Steering through the core (Bridge + RecordingAdapter + the simulator): /steer, a reply to the live
// message and `whileBusy: steer` send a message into the running turn; the simulator holds turns at gates
// so whether the message lands at a tool step or after the last one never depends on speed.

import { describe, expect, it } from 'vitest';
import type { ConversationRef } from '../../src/core/adapter-types.js';
import { conversationKey } from '../../src/core/adapter-types.js';
import { keys } from '../../src/core/state.js';
import { STEER_ACK } from '../../src/core/steering.js';
import { LoopClient } from '../../src/loop-api/client.js';
import type { ScriptStep } from '../../src/sim/index.js';
import { dm, finalReply, group, harnessSuite, loopOf, message, person, press, texts, waitFor, type Harness } from './fixtures.js';

const suite = harnessSuite();
const u1 = person('u1');
const u2 = person('u2');
const admin = person('admin');

let gates = 0;
/** A fresh gate name (the simulator remembers released gates for its lifetime). */
const gate = () => `steer-gate-${++gates}`;

/** A running turn held at a gate before a tool step: a steer sent now lands at that step. */
function beforeTool(g: string): ScriptStep[] {
  return [{ delta: 'Looking around. ' }, { gate: g }, { tool: { name: 'Bash', input: { command: 'ls' } } }, { delta: 'Never written: the steer took over here.' }];
}

/** A running turn held after its last tool step: a steer sent now runs as a turn of its own. */
function afterLastTool(g: string): ScriptStep[] {
  return [{ delta: 'Almost done. ' }, { tool: { name: 'Read', input: { file_path: '/x' } } }, { delta: 'Wrapping up. ' }, { gate: g }, { delta: 'Done.' }];
}

/** Starts a turn on a fresh loop and waits until it holds (the loop wrote `shown` and the turn is running). */
async function startHeld(h: Harness, conv: ConversationRef, text: string, steps: ScriptStep[], shown: string, steered: ScriptStep[], extra = {}): Promise<string> {
  suite.sim.scriptNextTurn('*', steps);
  suite.sim.scriptNextTurn('*', steered);
  await h.adapter.inject(message(conv, u1, text, extra));
  const loopId = await waitFor(() => loopOf(h.store, conv), 'the loop');
  await waitFor(() => suite.sim.written(loopId).includes(shown) && h.bridge.sessions.running.size > 0, 'the turn to hold');
  return loopId;
}

const withText = (h: Harness, chatId: string, s: string) => h.adapter.chat(chatId).filter((m) => m.text.includes(s));

describe('steering', () => {
  it('/steer at a tool step: the loop receives it during the same turn, one live reply continues after it, the steer is acknowledged', async () => {
    const h = await suite.harness();
    const g = gate();
    const loopId = await startHeld(h, dm('u1'), 'tools please', beforeTool(g), 'Looking around.', [{ delta: 'Using the other folder.' }]);
    await h.adapter.inject(message(dm('u1'), u1, '/steer use the other folder'));
    await waitFor(() => texts(h.adapter, 'u1').includes(STEER_ACK), 'the acknowledgement');
    expect(suite.sim.received(loopId)).toEqual(['tools please']); // held by the server until the tool step
    suite.sim.release(g);
    const r = await finalReply(h, 'u1', /Using the other folder/);
    expect(suite.sim.received(loopId)).toEqual(['tools please', 'use the other folder']);
    // One turn at the server, one reply here: what the loop wrote before the steer and after it.
    expect(suite.sim.written(loopId)).toBe('Looking around. Using the other folder.');
    expect(r.text).toMatch(/Looking around\.[\s\S]*Bash[\s\S]*Using the other folder\./);
    expect(withText(h, 'u1', 'Using the other folder')).toHaveLength(1);
    expect(withText(h, 'u1', 'Looking around')).toHaveLength(1);
    expect(texts(h.adapter, 'u1').some((t) => t.startsWith('📥'))).toBe(false);
    await waitFor(async () => (await h.bridge.backlog()) === 0, 'nothing left waiting');
  });

  it('a steer after the last tool step runs as its own turn with its own reply; neither text is doubled', async () => {
    const h = await suite.harness();
    const g = gate();
    const loopId = await startHeld(h, dm('u1'), 'finish it', afterLastTool(g), 'Wrapping up.', [{ delta: 'Own turn: ' }, { delta: 'noted for next time.' }]);
    await h.adapter.inject(message(dm('u1'), u1, '/steer also mention the tests'));
    await waitFor(() => texts(h.adapter, 'u1').includes(STEER_ACK), 'the acknowledgement');
    suite.sim.release(g);
    const own = await finalReply(h, 'u1', /noted for next time/);
    const first = await finalReply(h, 'u1', /Wrapping up\. Done\./);
    expect(own.id).not.toBe(first.id);
    expect(own.text).toBe('Own turn: noted for next time.');
    expect(first.text).not.toContain('noted for next time');
    expect(suite.sim.received(loopId)).toEqual(['finish it', 'also mention the tests']);
    expect(withText(h, 'u1', 'noted for next time')).toHaveLength(1);
    expect(withText(h, 'u1', 'Wrapping up')).toHaveLength(1);
    await waitFor(async () => (await h.bridge.backlog()) === 0, 'nothing left waiting');
  });

  it('/steer with no turn running is a plain message: its own turn and reply, no acknowledgement', async () => {
    const h = await suite.harness();
    await h.adapter.inject(message(dm('u1'), u1, '/steer nothing is running'));
    await finalReply(h, 'u1', /Echo:\*\* nothing is running/);
    expect(texts(h.adapter, 'u1').includes(STEER_ACK)).toBe(false);
    const loopId = (await loopOf(h.store, dm('u1')))!;
    expect(suite.sim.received(loopId)).toEqual(['nothing is running']);
  });

  it('/steer alone says how to use it and sends nothing', async () => {
    const h = await suite.harness();
    await h.adapter.inject(message(dm('u1'), u1, '/steer'));
    await waitFor(() => texts(h.adapter, 'u1').find((t) => t.includes('Usage: `/steer <text>`')));
    expect(await loopOf(h.store, dm('u1'))).toBeUndefined();
  });

  it('a plain message at the same moment is queued and answered after the turn (whileBusy: queue)', async () => {
    const h = await suite.harness();
    const g = gate();
    const loopId = await startHeld(h, dm('u1'), 'tools please', beforeTool(g), 'Looking around.', [{ delta: 'Second turn reply.' }]);
    await h.adapter.inject(message(dm('u1'), u1, 'and then this'));
    await waitFor(() => texts(h.adapter, 'u1').find((t) => t.startsWith('📥 Queued (1 ahead)')), 'the queued notice');
    suite.sim.release(g);
    await finalReply(h, 'u1', /Second turn reply/);
    expect(suite.sim.received(loopId)).toEqual(['tools please', 'and then this']);
    expect(texts(h.adapter, 'u1').includes(STEER_ACK)).toBe(false);
    // The first turn ran to its end untouched: its text after the tool step is there.
    await finalReply(h, 'u1', /Never written: the steer took over here/);
  });

  it('whileBusy: steer makes the plain message steer', async () => {
    const h = await suite.harness({ routing: { whileBusy: 'steer' } });
    const g = gate();
    const loopId = await startHeld(h, dm('u1'), 'tools please', beforeTool(g), 'Looking around.', [{ delta: 'Steered by a plain message.' }]);
    await h.adapter.inject(message(dm('u1'), u1, 'use the other folder'));
    await waitFor(() => texts(h.adapter, 'u1').includes(STEER_ACK), 'the acknowledgement');
    suite.sim.release(g);
    const r = await finalReply(h, 'u1', /Steered by a plain message/);
    expect(r.text).toMatch(/Looking around\.[\s\S]*Steered by a plain message\./);
    expect(suite.sim.received(loopId)).toEqual(['tools please', 'use the other folder']);
  });

  it("a binding's whileBusy: steer applies in its chats only, and /whilebusy names it", async () => {
    const h = await suite.harness({ access: { users: ['test:u1', 'test:u2'] }, bridge: { bindings: [{ platform: 'test', chat: 'u2', whileBusy: 'steer' }] } });
    await h.adapter.inject(message(dm('u2'), u2, '/whilebusy'));
    await waitFor(() => texts(h.adapter, 'u2').find((t) => t.includes("While busy: `steer` (this binding's)")), 'the bound value shown');
    const g = gate();
    suite.sim.scriptNextTurn('*', beforeTool(g));
    suite.sim.scriptNextTurn('*', [{ delta: 'Steered by the binding.' }]);
    await h.adapter.inject(message(dm('u2'), u2, 'tools please'));
    const loopId = await waitFor(() => loopOf(h.store, dm('u2')), 'the loop');
    await waitFor(() => suite.sim.written(loopId).includes('Looking around.') && h.bridge.sessions.running.size > 0, 'the turn to hold');
    await h.adapter.inject(message(dm('u2'), u2, 'use the other folder'));
    await waitFor(() => texts(h.adapter, 'u2').includes(STEER_ACK), 'the acknowledgement');
    suite.sim.release(g);
    await finalReply(h, 'u2', /Steered by the binding/);
    expect(suite.sim.received(loopId)).toEqual(['tools please', 'use the other folder']);
    // Another chat, no binding: the routing default (queue) holds.
    await h.adapter.inject(message(dm('u1'), u1, '/whilebusy'));
    await waitFor(() => texts(h.adapter, 'u1').find((t) => t.includes('While busy: `queue` (the default)')), 'the default shown');
  });

  it('a steer that found the loop idle runs as its own turn; a steer sent during that turn waits for it, and nothing is lost', async () => {
    const h = await suite.harness({ routing: { whileBusy: 'steer' } });
    const client = new LoopClient({ baseUrl: suite.sim.url, token: suite.sim.token });
    try {
      // The first turn ends at the server while its reply is still being finished here (edits held).
      suite.sim.scriptNextTurn('*', [{ delta: 'First part. ' }, { delta: 'First done.' }]);
      const release = h.adapter.hold('edit');
      await h.adapter.inject(message(dm('u1'), u1, 'first'));
      const loopId = await waitFor(() => loopOf(h.store, dm('u1')), 'the loop');
      await waitFor(async () => suite.sim.written(loopId).includes('First done.') && !(await client.getLoop(loopId)).busy && h.bridge.sessions.running.size > 0, 'the loop idle, the turn still finishing here');
      // A steer now finds no turn at the server: it runs as a turn of its own, held before its tool step.
      const g = gate();
      suite.sim.scriptNextTurn('*', beforeTool(g));
      suite.sim.scriptNextTurn('*', [{ delta: 'Third answered.' }]);
      await h.adapter.inject(message(dm('u1'), u1, 'second'));
      release();
      await waitFor(() => suite.sim.received(loopId).includes('second') && h.bridge.sessions.running.size > 0, 'the steer running as its own turn');
      await waitFor(() => suite.sim.written(loopId).includes('Looking around.'), 'that turn to hold');
      await h.adapter.inject(message(dm('u1'), u1, 'third'));
      await waitFor(async () => (await h.store.items(keys.steer(conversationKey(dm('u1'))))).length === 2, 'the third message accepted behind it');
      suite.sim.release(g);
      await finalReply(h, 'u1', /Third answered/);
      expect(suite.sim.received(loopId)).toEqual(['first', 'second', 'third']);
      await waitFor(async () => (await h.bridge.backlog()) === 0, 'nothing left waiting');
    } finally {
      await client.close();
    }
  });

  it('a reply to the live message steers; a reply to an older, finished reply does not', async () => {
    const h = await suite.harness();
    await h.adapter.inject(message(dm('u1'), u1, 'an earlier message'));
    const old = await finalReply(h, 'u1', /Echo:\*\* an earlier message/);
    const loopId = (await loopOf(h.store, dm('u1')))!;
    const g = gate();
    suite.sim.scriptNextTurn(loopId, beforeTool(g));
    suite.sim.scriptNextTurn(loopId, [{ delta: 'Took the reply in.' }]);
    await h.adapter.inject(message(dm('u1'), u1, 'tools please'));
    const live = await waitFor(() => h.adapter.chat('u1').find((m) => m.text.includes('Looking around')), 'the live message');
    await h.adapter.inject(message(dm('u1'), u1, 'not that one', { replyToBot: true, replyToMessageId: old.id }));
    await waitFor(() => texts(h.adapter, 'u1').find((t) => t.startsWith('📥 Queued')), 'the reply to the old message queued');
    await h.adapter.inject(message(dm('u1'), u1, 'this one instead', { replyToBot: true, replyToMessageId: live.id }));
    await waitFor(() => texts(h.adapter, 'u1').includes(STEER_ACK), 'the acknowledgement');
    suite.sim.release(g);
    await finalReply(h, 'u1', /Took the reply in/);
    await finalReply(h, 'u1', /Echo:\*\* not that one/);
    expect(suite.sim.received(loopId)).toEqual(['an earlier message', 'tools please', 'this one instead', 'not that one']);
  });

  it('a steer during a pending choice waits for the answer; only the requester or an admin answers it, as before', async () => {
    const h = await suite.harness({ access: { groups: ['test:g1'] } });
    const g1 = group('g1');
    suite.sim.scriptNextTurn('*', [{ delta: 'Need to run something. ' }, { permission: { tool: 'Bash', input: { command: 'rm -rf build' } } }, { delta: 'Never written.' }]);
    suite.sim.scriptNextTurn('*', [{ delta: 'Steered past the choice.' }]);
    await h.adapter.inject(message(g1, u1, '@testbot clean up', { mentionsBot: true }));
    const prompt = await waitFor(() => h.adapter.chat('g1').find((m) => m.buttons?.length && /Permission/.test(m.text)), 'the permission prompt');
    const loopId = (await loopOf(h.store, g1))!;
    // Another member (allowed to talk here) steers: the loop takes it in once the choice is answered.
    await h.adapter.inject(message(g1, u2, '/steer keep the cache folder'));
    await waitFor(() => texts(h.adapter, 'g1').find((t) => t.startsWith(STEER_ACK) && t.includes('pending choice')), 'the acknowledgement');
    expect(suite.sim.received(loopId)).toEqual(['clean up']);
    // Steering does not make u2 an answerer of u1's choice.
    const allow = prompt.buttons![0][0].token;
    await h.adapter.inject(press(g1, u2, allow));
    await waitFor(() => h.adapter.pressAnswers.find((a) => /Only U1 or an admin/.test(a.notice ?? '')), 'u2 refused');
    await h.adapter.inject(press(g1, u1, allow));
    const r = await finalReply(h, 'g1', /Steered past the choice/);
    expect(r.text).toMatch(/Need to run something\.[\s\S]*Steered past the choice\./);
    expect(suite.sim.received(loopId)).toEqual(['clean up', 'keep the cache folder']);
    expect(h.adapter.chat('g1').find((m) => m.id === prompt.id)!.text).toMatch(/Allowed by U1/);
  });

  it('a stranger cannot steer: refused like any message, the loop never sees it', async () => {
    const h = await suite.harness({ access: { groups: [] } }); // any group where an allowed user speaks; s1 is not one
    const g = gate();
    const g2 = group('g2');
    suite.sim.scriptNextTurn('*', beforeTool(g));
    await h.adapter.inject(message(g2, u1, '@testbot tools please', { mentionsBot: true }));
    const loopId = await waitFor(() => loopOf(h.store, g2), 'the loop');
    await waitFor(() => suite.sim.written(loopId).includes('Looking around') && h.bridge.sessions.running.size > 0, 'the turn to hold');
    await h.adapter.inject(message(g2, person('s1', 'Stranger'), '/steer delete everything'));
    await waitFor(() => texts(h.adapter, 'g2').find((t) => /not allowed to use this bot here/.test(t)), 'the refusal');
    suite.sim.release(g);
    await finalReply(h, 'g2', /Never written: the steer took over here/); // nothing steered it
    expect(suite.sim.received(loopId)).toEqual(['tools please']);
    expect(texts(h.adapter, 'g2').includes(STEER_ACK)).toBe(false);
  });

  it('/whilebusy: admins choose per group, the person in their own DM; the effective value is shown', async () => {
    const h = await suite.harness({ access: { groups: ['test:g3'] } });
    const g3 = group('g3');
    await h.adapter.inject(message(g3, u2, '/whilebusy steer'));
    await waitFor(() => texts(h.adapter, 'g3').find((t) => t.includes('Only admins can change')));
    await h.adapter.inject(message(g3, admin, '/whilebusy steer'));
    await waitFor(() => texts(h.adapter, 'g3').find((t) => t.includes('While busy: `steer`')));
    await h.adapter.inject(message(dm('u1'), u1, '/whilebusy'));
    await waitFor(() => texts(h.adapter, 'u1').find((t) => t.includes('While busy: `queue`') && t.includes('wait for it to end')));
    await h.adapter.inject(message(dm('u1'), u1, '/whilebusy steer'));
    await waitFor(() => texts(h.adapter, 'u1').find((t) => t.includes('While busy: `steer`')));
    await h.adapter.inject(message(dm('u1'), u1, '/whilebusy default'));
    await waitFor(() => texts(h.adapter, 'u1').find((t) => t.includes('While busy: `queue` (the default)')));
    await h.adapter.inject(message(dm('u1'), u1, '/whilebusy sometimes'));
    await waitFor(() => texts(h.adapter, 'u1').find((t) => t.includes('Usage: /whilebusy queue|steer|default')));

    // The group's choice is in effect: a plain (mentioned) message while a turn runs steers it.
    const g = gate();
    suite.sim.scriptNextTurn('*', beforeTool(g));
    suite.sim.scriptNextTurn('*', [{ delta: 'Group steered.' }]);
    await h.adapter.inject(message(g3, u1, '@testbot tools please', { mentionsBot: true }));
    const loopId = await waitFor(() => loopOf(h.store, g3), 'the loop');
    await waitFor(() => suite.sim.written(loopId).includes('Looking around') && h.bridge.sessions.running.size > 0, 'the turn to hold');
    await h.adapter.inject(message(g3, u1, '@testbot skip the tests', { mentionsBot: true }));
    await waitFor(() => texts(h.adapter, 'g3').includes(STEER_ACK), 'the acknowledgement');
    suite.sim.release(g);
    await finalReply(h, 'g3', /Group steered/);
    expect(suite.sim.received(loopId)).toEqual(['tools please', 'skip the tests']);
  });

  it('two steers in a row land at successive tool steps of the same turn, in order (one sent after the other was taken in)', async () => {
    const h = await suite.harness();
    const g = gate();
    const g2 = gate();
    const loopId = await startHeld(h, dm('u1'), 'tools please', beforeTool(g), 'Looking around.', [
      { delta: 'First steer in. ' },
      { gate: g2 },
      { tool: { name: 'Read', input: { file_path: '/y' } } },
      { delta: 'Not written.' },
    ]);
    suite.sim.scriptNextTurn('*', [{ delta: 'Second steer in.' }]);
    await h.adapter.inject(message(dm('u1'), u1, '/steer first'));
    await h.adapter.inject(message(dm('u1'), u1, '/steer second'));
    await waitFor(() => texts(h.adapter, 'u1').includes(STEER_ACK), 'the first acknowledgement');
    suite.sim.release(g);
    // The second is sent once the first was taken in (the loop waits at g2, before its next tool step).
    await waitFor(() => texts(h.adapter, 'u1').filter((t) => t === STEER_ACK).length === 2, 'the second acknowledgement');
    expect(suite.sim.received(loopId)).toEqual(['tools please', 'first']);
    suite.sim.release(g2);
    const r = await finalReply(h, 'u1', /Second steer in/);
    expect(r.text).toMatch(/Looking around\.[\s\S]*First steer in\.[\s\S]*Second steer in\./);
    expect(suite.sim.received(loopId)).toEqual(['tools please', 'first', 'second']);
    expect(texts(h.adapter, 'u1').filter((t) => t === STEER_ACK)).toHaveLength(2);
    expect(withText(h, 'u1', 'Second steer in')).toHaveLength(1);
  });
});
