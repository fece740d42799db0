// access.loopTokens: per-user through the daemon as a child process, with the Telegram fake and a simulator
// that knows three users (the bridge, Ann, Bob): the start refuses a missing or wrong LOOPBRIDGE_SECRET_KEY;
// two people link their tokens in DMs (the messages are deleted at Telegram) and each one's loop is owned by
// them at the loop server; no token reaches the store file in clear, the logs, or a chat.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { ann, annDm } from '../helpers/telegram.js';
import { writeDaemonConfig } from '../helpers/daemon-config.js';
import { killDaemons, runCli, startDaemon, type DaemonProcess } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';
import { startFakeTelegram, type FakeTelegram } from '../peers/fake-telegram.js';

const BRIDGE = `la_${'0'.repeat(48)}`;
const ANN_TOKEN = `la_${'a1'.repeat(24)}`;
const BOB_TOKEN = `la_${'b2'.repeat(24)}`;
const KEY = randomBytes(32).toString('base64');
const bob = { id: 5151, first_name: 'Bob' };
const bobDm = { id: bob.id, type: 'private' as const, first_name: 'Bob' };

let sim: Simulator;
let fake: FakeTelegram;
let dir: string;
let config: string;
let daemon: DaemonProcess | undefined;

/** Starts the daemon; resolves with its exit code if it exits on its own first, else undefined once it polls. */
function start(env: Record<string, string | undefined>): Promise<number | null | undefined> {
  daemon = startDaemon(config, { env: { LOOPBRIDGE_SECRET_KEY: undefined, ...env } });
  const polls = fake.calls.length;
  return new Promise((resolve) => {
    void daemon!.exited.then(resolve);
    void waitFor(() => fake.calls.slice(polls).some((c) => c.method === 'getUpdates'), 20_000).then(() => resolve(undefined), () => {});
  });
}

async function stop(): Promise<void> {
  await daemon?.stop();
}

const texts = (chatId: number) => fake.botMessages(chatId).map((m) => m.text ?? '');
const botSays = (chatId: number, re: RegExp) => waitFor(() => texts(chatId).find((t) => re.test(t)), `a bot message matching ${re}`, 20_000);

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5, tokens: { [BRIDGE]: 'bridge', [ANN_TOKEN]: 'ann', [BOB_TOKEN]: 'bob' } });
  fake = await startFakeTelegram();
  fake.addChat(annDm);
  fake.addChat(bobDm);
  dir = mkdtempSync(join(tmpdir(), 'lb-peruser-'));
  config = writeDaemonConfig(
    dir,
    sim,
    `access: { users: ["telegram:${ann.id}", "telegram:${bob.id}"], loopTokens: per-user }
telegram: { token: "${fake.token}", apiRoot: "${fake.apiRoot}" }
ops: { logLevel: debug, logFormat: json }`,
    { loopToken: BRIDGE },
  );
});

afterAll(async () => {
  await killDaemons();
  await fake?.close();
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('refuses to start without LOOPBRIDGE_SECRET_KEY, saying what to do', async () => {
  expect(await start({})).toBe(1);
  expect(daemon!.output()).toContain('LOOPBRIDGE_SECRET_KEY is not set');
  expect(daemon!.output()).toContain('openssl rand -base64 32');
  expect(await start({ LOOPBRIDGE_SECRET_KEY: 'not-a-key' })).toBe(1);
  expect(daemon!.output()).toContain('LOOPBRIDGE_SECRET_KEY must be 32 random bytes');
});

it('two people link their own tokens in DMs; each one\'s loop is owned by them at the loop server', async () => {
  expect(await start({ LOOPBRIDGE_SECRET_KEY: KEY })).toBeUndefined();
  fake.userMessage({ chat: annDm, from: ann, text: 'hi' });
  expect(await botSays(annDm.id, /🔑/)).toContain('/link la_');

  const annLink = fake.userMessage({ chat: annDm, from: ann, text: `/link ${ANN_TOKEN}` });
  const bobLink = fake.userMessage({ chat: bobDm, from: bob, text: `/link ${BOB_TOKEN}` });
  await botSays(annDm.id, /Linked/);
  await botSays(bobDm.id, /Linked/);
  expect(annLink.deleted).toBe(true);
  expect(bobLink.deleted).toBe(true);

  fake.userMessage({ chat: annDm, from: ann, text: 'ann writes' });
  fake.userMessage({ chat: bobDm, from: bob, text: 'bob writes' });
  await botSays(annDm.id, /Echo: ann writes/);
  await botSays(bobDm.id, /Echo: bob writes/);
  const owners = sim.creations().map((c) => [c.title, c.createdBy]);
  expect(owners).toEqual(expect.arrayContaining([['ann writes', 'ann'], ['bob writes', 'bob']]));
  expect(owners.some(([, by]) => by === 'bridge')).toBe(false);
  for (const t of [...texts(annDm.id), ...texts(bobDm.id)]) {
    expect(t).not.toContain(ANN_TOKEN);
    expect(t).not.toContain(BOB_TOKEN);
  }
  await stop();
  const stored = readFileSync(join(dir, 'store.json'), 'utf8');
  expect(stored).toContain('usertoken/telegram:4242');
  for (const secret of [ANN_TOKEN, BOB_TOKEN, ANN_TOKEN.slice(3), BOB_TOKEN.slice(3)]) {
    expect(stored).not.toContain(secret);
    expect(daemon!.output()).not.toContain(secret);
  }
});

it('a wrong key is a clear startup error (the stored tokens stay sealed)', async () => {
  expect(await start({ LOOPBRIDGE_SECRET_KEY: randomBytes(32).toString('hex') })).toBe(1);
  expect(daemon!.output()).toContain('LOOPBRIDGE_SECRET_KEY is not the key the linked loop tokens in this store were encrypted with');
  // The right key still works, and Ann's loop goes on with her token.
  expect(await start({ LOOPBRIDGE_SECRET_KEY: KEY })).toBeUndefined();
  fake.userMessage({ chat: annDm, from: ann, text: 'after the restart' });
  await botSays(annDm.id, /Echo: after the restart/);
  expect(sim.creations().filter((c) => c.createdBy === 'ann')).toHaveLength(1);
  await stop();

  // With no daemon the CLI works on the store; acting with Ann's token needs the key in its environment too.
  const list = await runCli(['conversations', 'list', '--json', '--config', config], { LOOPBRIDGE_SECRET_KEY: undefined });
  expect(JSON.parse(list.stdout).conversations).toEqual(expect.arrayContaining([expect.objectContaining({ key: `telegram:${ann.id}`, tokenOwner: `telegram:${ann.id}` })]));
  const without = await runCli(['conversations', 'stop', `telegram:${ann.id}`, '--config', config], { LOOPBRIDGE_SECRET_KEY: undefined });
  expect(without.status).toBe(1);
  expect(without.stderr).toContain(`runs with telegram:${ann.id}'s linked token, which this process cannot use: LOOPBRIDGE_SECRET_KEY is not set`);
  const withKey = await runCli(['conversations', 'stop', `telegram:${ann.id}`, '--config', config], { LOOPBRIDGE_SECRET_KEY: KEY });
  expect(withKey.stdout).toMatch(/^sent a stop to loop_\S+ \(no turn of this conversation was running\)\n$/);
});
