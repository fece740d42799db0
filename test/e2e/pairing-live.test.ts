// `loopbridge pairing approve` while the daemon runs, as an operator does it: the daemon and the CLI are real
// child processes, Telegram is the Bot API fake and the loop server the simulator, all on 127.0.0.1.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { startFakeTelegram, type FakeTelegram } from '../peers/fake-telegram.js';
import { killDaemons, runCli, startDaemon, type DaemonProcess } from '../helpers/daemon-process.js';
import { writeDaemonConfig } from '../helpers/daemon-config.js';
import { waitFor } from '../helpers/wait.js';

const zoe = { id: 5151, first_name: 'Zoe' };
const zoeDm = { id: zoe.id, type: 'private' as const, first_name: 'Zoe' };
const yan = { id: 6262, first_name: 'Yan' };
const yanDm = { id: yan.id, type: 'private' as const, first_name: 'Yan' };

let sim: Simulator;
let fake: FakeTelegram;
let dir: string;
let config: string;
let daemon: DaemonProcess;

/** The CLI against this daemon's config (asynchronously: the fake and the simulator live in this process). */
const cli = (args: string[]) => runCli([...args, '--config', config]);

const texts = (chatId: number) => fake.botMessages(chatId).map((m) => m.text ?? '');
const botSays = (chatId: number, re: RegExp) => waitFor(() => texts(chatId).find((t) => re.test(t)), `a bot message matching ${re}`, 20_000);

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5 });
  fake = await startFakeTelegram();
  fake.addChat(zoeDm);
  fake.addChat(yanDm);
  dir = mkdtempSync(join(tmpdir(), 'lb-pair-'));
  config = writeDaemonConfig(
    dir,
    sim,
    `access: { dm: pairing }
telegram: { token: "${fake.token}", apiRoot: "${fake.apiRoot}" }
ops: { logLevel: info, logFormat: json }`,
  );
  daemon = startDaemon(config);
  await waitFor(() => fake.calls.some((c) => c.method === 'getUpdates'), 20_000);
});

afterAll(async () => {
  await killDaemons();
  await fake.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

it('pairing approve while the daemon runs lets that person in at once; deny keeps the other out', async () => {
  fake.userMessage({ chat: zoeDm, from: zoe, text: 'hi, may I?' });
  const offer = await botSays(zoeDm.id, /pairing code is/);
  const code = /pairing code is (\w{8})/.exec(offer)![1];

  const listed = await cli(['pairing', 'list']);
  expect(listed.status).toBe(0);
  expect(listed.stdout).toMatch(new RegExp(`pending requests:\\n  CODE +USER +NAME +REQUESTED\\n  ${code}  telegram:${zoe.id}  Zoe +\\d{4}-`));
  const json = JSON.parse((await cli(['pairing', 'list', '--json'])).stdout) as { pending: Array<{ code: string; user: string }> };
  expect(json.pending).toEqual([expect.objectContaining({ code, user: `telegram:${zoe.id}`, displayName: 'Zoe' })]);

  const approved = await cli(['pairing', 'approve', code]);
  expect(approved.stderr).toBe('');
  expect(approved.stdout).toBe(`approved telegram:${zoe.id} (Zoe)\n`);
  await botSays(zoeDm.id, /approved your request/);
  fake.userMessage({ chat: zoeDm, from: zoe, text: 'now answer me' });
  await botSays(zoeDm.id, /Echo: now answer me/);

  fake.userMessage({ chat: yanDm, from: yan, text: 'me too?' });
  const yanCode = /pairing code is (\w{8})/.exec(await botSays(yanDm.id, /pairing code is/))![1];
  const denied = await cli(['pairing', 'deny', yanCode]);
  expect(denied.stdout).toBe(`denied telegram:${yan.id} (Yan)\n`);
  expect((await cli(['pairing', 'approve', yanCode])).stderr).toContain(`no pending pairing code ${yanCode}`);
  fake.userMessage({ chat: yanDm, from: yan, text: 'please?' });
  await botSays(yanDm.id, /this bot is private/);
  expect(texts(yanDm.id).filter((t) => /pairing code is/.test(t))).toHaveLength(1); // no new code after a denial
  expect(texts(yanDm.id).some((t) => /Echo/.test(t))).toBe(false);

  // The approval is the daemon's own state: it survives its shutdown, and no pairing code was ever logged.
  expect(await daemon.stop('SIGTERM')).toBe(0);
  const saved = readFileSync(join(dir, 'store.json'), 'utf8');
  expect(saved).toContain(`paired/telegram:${zoe.id}`);
  expect(saved).not.toContain(`paired/telegram:${yan.id}`);
  expect(daemon.output()).toContain('pairing approved');
  expect(daemon.output()).not.toContain(code);
  expect(daemon.output()).not.toContain(yanCode);
  const listedAfter = await cli(['pairing', 'list']);
  expect(listedAfter.stdout).toMatch(new RegExp(`approved users:\\n  USER\\n  telegram:${zoe.id}\\n`));
});
