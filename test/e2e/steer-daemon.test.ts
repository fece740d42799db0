// Issue 12's acceptance, tried as a new user would on Telegram: `loopbridge start --config` as a child
// process, the loop simulator and the Telegram Bot API fake on 127.0.0.1. The simulator holds turns at
// gates, so whether a steer lands at a tool step or after the last one never depends on speed.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STEER_ACK } from '../../src/core/steering.js';
import { startSimulator, type ScriptStep, type Simulator } from '../../src/sim/index.js';
import { ann, annDm } from '../helpers/telegram.js';
import { startFakeTelegram, type FakeTelegram, type StoredMessage } from '../peers/fake-telegram.js';
import { writeDaemonConfig } from '../helpers/daemon-config.js';
import { DaemonRuns, killDaemons } from '../helpers/daemon-process.js';
import { firstLoopId } from '../helpers/sim-loops.js';
import { waitFor } from '../helpers/wait.js';

let sim: Simulator;
let fake: FakeTelegram;
let dir: string;
let daemon: DaemonRuns;
let loopId = '';

const botTexts = () => fake.botMessages(annDm.id).map((m) => m.text ?? '');
const say = (text: string, replyTo?: number) => fake.userMessage({ chat: annDm, from: ann, text, ...(replyTo !== undefined ? { replyToMessageId: replyTo } : {}) });
const withText = (s: string) => botTexts().filter((t) => t.includes(s));
/** The bot message whose text matches (a live message once it got that far). */
const settled = (re: RegExp): Promise<StoredMessage> => waitFor(() => fake.botMessages(annDm.id).find((x) => re.test(x.text ?? '')), `a bot message matching ${re}`, 20_000);

let gates = 0;
/** A turn held before its tool step (a steer sent now is taken in there). */
function beforeTool(tag: string): { gate: string; steps: ScriptStep[] } {
  const gate = `e2e-steer-${++gates}`;
  return { gate, steps: [{ delta: `Looking around ${tag}. ` }, { gate }, { tool: { name: 'Bash', input: { command: 'ls -la' } } }, { delta: `Never written ${tag}.` }] };
}

/** Sends `text` as a new turn and waits until the loop holds it (it wrote `shown` and the chat shows it). */
async function startHeld(text: string, steps: ScriptStep[], shown: string, steered: ScriptStep[]): Promise<StoredMessage> {
  sim.scriptNextTurn('*', steps);
  sim.scriptNextTurn('*', steered);
  say(text);
  if (!loopId) loopId = await waitFor(async () => firstLoop(), 'the loop', 20_000);
  await waitFor(() => sim.written(loopId).includes(shown) || undefined, 'the turn to hold', 20_000);
  return waitFor(() => fake.botMessages(annDm.id).find((m) => (m.text ?? '').includes(shown)), 'the live message', 20_000);
}

const firstLoop = () => firstLoopId(sim);

/** The store file holds this text in a steer queue (accepted durably, read as the daemon wrote it). */
function steerAccepted(text: string): boolean {
  try {
    const data = JSON.parse(readFileSync(join(dir, 'store.json'), 'utf8')) as { queues?: Record<string, unknown> };
    return Object.entries(data.queues ?? {}).some(([k, q]) => k.startsWith('steer/') && JSON.stringify(q).includes(text));
  } catch {
    return false; // mid-rename or not written yet
  }
}

const acks = () => botTexts().filter((t) => t.startsWith(STEER_ACK)).length;

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5, idleCutMs: null });
  fake = await startFakeTelegram();
  fake.addChat(annDm);
  dir = mkdtempSync(join(tmpdir(), 'lb-steer-'));
  const config = writeDaemonConfig(
    dir,
    sim,
    `access: { users: ["telegram:${ann.id}"] }
telegram: { token: "${fake.token}", apiRoot: "${fake.apiRoot}" }
replies: { editIntervalMs: { direct: 100, group: 100 } }
ops: { logLevel: warn, logFormat: json }
`,
  );
  daemon = new DaemonRuns(config);
  daemon.start();
  await waitFor(() => fake.calls.some((c) => c.method === 'getUpdates'), 20_000);
});

afterAll(async () => {
  await daemon.stop();
  await killDaemons();
  await fake.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('steering through the daemon on Telegram', () => {
  it('/steer with no turn running is a plain message: its own turn and reply, no acknowledgement', async () => {
    say('/steer nothing runs yet');
    await settled(/Echo: nothing runs yet/);
    expect(sim.received(loopId ||= (await firstLoop())!)).toEqual(['nothing runs yet']);
    expect(acks()).toBe(0);
  });

  it('while a tools turn runs, /steer reaches the loop in the same turn and one live reply continues after it; a plain message is queued and answered after the turn', async () => {
    const t = beforeTool('A');
    await startHeld('tools please A', t.steps, 'Looking around A.', [{ delta: 'Using the other folder A.' }]);
    say('/steer use the other folder');
    say('and a plain one');
    await waitFor(() => acks() === 1 || undefined, 'the acknowledgement', 20_000);
    await waitFor(() => botTexts().find((x) => x.startsWith('📥 Queued')), 'the queued notice', 20_000);
    sim.release(t.gate);
    const reply = await settled(/Using the other folder A\./);
    await settled(/Echo: and a plain one/);
    expect(reply.text).toMatch(/Looking around A\.[\s\S]*Bash[\s\S]*Using the other folder A\./);
    expect(sim.received(loopId).slice(-3)).toEqual(['tools please A', 'use the other folder', 'and a plain one']);
    expect(withText('Using the other folder A')).toHaveLength(1);
    expect(withText('Looking around A')).toHaveLength(1);
    expect(withText('Never written A')).toHaveLength(0);
  });

  it('a steer after the last tool step runs as its own turn with its own reply; neither text is doubled', async () => {
    const gate = `e2e-steer-${++gates}`;
    const steps: ScriptStep[] = [{ delta: 'Almost done B. ' }, { tool: { name: 'Read', input: { file_path: '/x' } } }, { delta: 'Wrapping up B. ' }, { gate }, { delta: 'Done B.' }];
    await startHeld('finish it B', steps, 'Wrapping up B.', [{ delta: 'Own turn B: noted.' }]);
    const before = acks();
    say('/steer also mention the tests');
    await waitFor(() => acks() === before + 1 || undefined, 'the acknowledgement', 20_000);
    sim.release(gate);
    const own = await settled(/Own turn B: noted\./);
    const first = await settled(/Wrapping up B\. Done B\./);
    expect(own.message_id).not.toBe(first.message_id);
    expect(first.text).not.toContain('noted');
    expect(sim.received(loopId).slice(-2)).toEqual(['finish it B', 'also mention the tests']);
    expect(withText('Own turn B')).toHaveLength(1);
    expect(withText('Wrapping up B')).toHaveLength(1);
  });

  it('a reply to the live message steers; with /whilebusy steer a plain message steers too', async () => {
    const t = beforeTool('C');
    const live = await startHeld('tools please C', t.steps, 'Looking around C.', [{ delta: 'Replied in C. ' }, { gate: `${t.gate}-2` }, { tool: { name: 'Read', input: { file_path: '/y' } } }]);
    const before = acks();
    say('this one instead', live.message_id);
    await waitFor(() => acks() === before + 1 || undefined, 'the acknowledgement of the reply', 20_000);
    sim.release(t.gate);
    await waitFor(() => sim.written(loopId).includes('Replied in C.') || undefined, 'the reply taken in', 20_000);
    say('/whilebusy steer');
    await waitFor(() => botTexts().find((x) => x.includes('While busy: steer') || x.includes('While busy: `steer`')), 'the setting', 20_000);
    sim.scriptNextTurn('*', [{ delta: 'Plain steer in C.' }]);
    say('skip the tests');
    await waitFor(() => acks() === before + 2 || undefined, 'the acknowledgement of the plain message', 20_000);
    sim.release(`${t.gate}-2`);
    const reply = await settled(/Plain steer in C\./);
    expect(reply.text).toMatch(/Looking around C\.[\s\S]*Replied in C\.[\s\S]*Plain steer in C\./);
    expect(sim.received(loopId).slice(-3)).toEqual(['tools please C', 'this one instead', 'skip the tests']);
    say('/whilebusy default');
    await waitFor(() => botTexts().find((x) => /While busy: `?queue`? \(the default\)/.test(x)), 'the default back', 20_000);
  });

  it('a crash after accepting a steer sends it after the restart, once, into the same turn', async () => {
    const t = beforeTool('D');
    await startHeld('tools please D', t.steps, 'Looking around D.', [{ delta: 'After the crash D.' }]);
    const before = acks();
    // The loop server refuses every POST for now: the steer is accepted here but cannot be sent.
    sim.faults.failNext(10_000, 503, { path: /\/messages$/ });
    say('/steer survive the crash');
    await waitFor(() => steerAccepted('survive the crash') || undefined, 'the steer accepted durably', 20_000);
    await waitFor(() => daemon.output().includes('sending a steering message failed') || undefined, 'a send refused by the loop server', 30_000);
    await daemon.current.stop('SIGKILL');
    expect(sim.received(loopId)).not.toContain('survive the crash');
    sim.faults.clearFailures();
    daemon.start();
    await waitFor(() => acks() === before + 1 || undefined, 'the acknowledgement after the restart', 20_000);
    sim.release(t.gate);
    const reply = await settled(/After the crash D\./);
    expect(reply.text).toMatch(/Looking around D\.[\s\S]*After the crash D\./);
    expect(sim.received(loopId).filter((c) => c === 'survive the crash')).toHaveLength(1);
    expect(sim.received(loopId).slice(-2)).toEqual(['tools please D', 'survive the crash']);
    expect(withText('After the crash D')).toHaveLength(1);
    expect(acks()).toBe(before + 1);
  });
});
