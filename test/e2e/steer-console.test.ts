// Issue 12 on the console, through the daemon (`loopbridge start --config` as a child process reading its
// stdin, printing replies with markers) against the loop simulator, with `routing.whileBusy: steer` in the
// config: /steer and a plain message both go into the running turn. The simulator holds turns at gates.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STEER_ACK } from '../../src/core/steering.js';
import { startSimulator, type ScriptStep, type Simulator } from '../../src/sim/index.js';
import { writeDaemonConfig } from '../helpers/daemon-config.js';
import { killDaemons, startDaemon, type DaemonProcess } from '../helpers/daemon-process.js';
import { firstLoopId } from '../helpers/sim-loops.js';
import { waitFor } from '../helpers/wait.js';

let sim: Simulator;
let dir: string;
let daemon: DaemonProcess;
let loopId = '';

/** The replies printed so far, by message id (a reprint of an id is the same message, re-rendered). */
function replies(): Map<string, string> {
  const byId = new Map<string, string>();
  for (const m of daemon.output().matchAll(/^--- reply (\S+)(?: to \S+)? ---\n([\s\S]*?)\n\n(?=--- reply |$)/gm)) byId.set(m[1], m[2]);
  return byId;
}
const texts = () => [...replies().values()];
const type = (line: string) => daemon.child.stdin!.write(`${line}\n`);
const acks = () => texts().filter((t) => t.startsWith(STEER_ACK)).length;
const reply = (re: RegExp) => waitFor(() => texts().find((t) => re.test(t)), `a reply matching ${re}`, 20_000);

const theLoop = () => firstLoopId(sim);

/** Waits until nothing is queued or running here (asked with /status, which never steers). */
async function idle(): Promise<void> {
  await waitFor(
    async () => {
      const before = texts().length;
      type('/status');
      const status = await waitFor(() => texts().slice(before).find((t) => /Queued(?: here)?: \d+/.test(t)), 'a /status reply', 20_000);
      return /Queued(?: here)?: 0\b/.test(status) || undefined;
    },
    'nothing queued or running',
    20_000,
  );
}

let gates = 0;
/** Starts a turn held before its tool step; resolves once the loop wrote its first words. */
async function heldTurn(tag: string, steered: ScriptStep[]): Promise<string> {
  // With whileBusy: steer, a message typed while the last turn still winds down would steer that one.
  await idle();
  const gate = `console-steer-${++gates}`;
  sim.scriptNextTurn('*', [{ delta: `Looking around ${tag}. ` }, { gate }, { tool: { name: 'Bash', input: { command: 'ls -la' } } }, { delta: `Never written ${tag}.` }]);
  sim.scriptNextTurn('*', steered);
  type(`tools please ${tag}`);
  loopId ||= await waitFor(theLoop, 'the loop', 20_000);
  await waitFor(() => sim.written(loopId).includes(`Looking around ${tag}.`) || undefined, 'the turn to hold', 20_000);
  return gate;
}

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5, idleCutMs: null });
  dir = mkdtempSync(join(tmpdir(), 'lb-steer-console-'));
  const config = writeDaemonConfig(
    dir,
    sim,
    `access: { users: ["console:you"] }
console: { user: you }
routing: { whileBusy: steer }
ops: { logLevel: warn, logFormat: json }
`,
  );
  daemon = startDaemon(config, { stdin: '', env: { LOOPBRIDGE_CONSOLE_SESSION: 'steer', LOOPBRIDGE_CONSOLE_MARKERS: '1' } });
});

afterAll(async () => {
  await daemon.stop();
  await killDaemons();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('steering through the daemon on the console (routing.whileBusy: steer)', () => {
  it('/steer with no turn running is a plain message', async () => {
    type('/steer nothing runs yet');
    await reply(/Echo:\*\* nothing runs yet/);
    loopId ||= (await theLoop())!;
    expect(sim.received(loopId)).toEqual(['nothing runs yet']);
    expect(acks()).toBe(0);
  });

  it('while a tools turn runs, /steer reaches the loop in the same turn; the one reply continues after it', async () => {
    const gate = await heldTurn('A', [{ delta: 'Using the other folder A.' }]);
    type('/steer use the other folder');
    await waitFor(() => acks() === 1 || undefined, 'the acknowledgement', 20_000);
    sim.release(gate);
    const r = await reply(/Using the other folder A\./);
    expect(r).toMatch(/Looking around A\.[\s\S]*Bash[\s\S]*Using the other folder A\./);
    expect(sim.received(loopId).slice(-2)).toEqual(['tools please A', 'use the other folder']);
    expect(texts().filter((t) => t.includes('Looking around A'))).toHaveLength(1);
    expect(texts().some((t) => t.includes('Never written A') || t.startsWith('📥'))).toBe(false);
  });

  it('a plain message steers too, as the config says', async () => {
    const gate = await heldTurn('B', [{ delta: 'Skipping the tests B.' }]);
    type('skip the tests');
    await waitFor(() => acks() === 2 || undefined, 'the acknowledgement', 20_000);
    sim.release(gate);
    const r = await reply(/Skipping the tests B\./);
    expect(r).toMatch(/Looking around B\.[\s\S]*Skipping the tests B\./);
    expect(sim.received(loopId).slice(-2)).toEqual(['tools please B', 'skip the tests']);
    expect(texts().some((t) => t.startsWith('📥'))).toBe(false);
  });
});
