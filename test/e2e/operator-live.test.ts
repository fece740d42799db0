// Issue 11 tried as a new user would: a config binding one Telegram group to a repository and a permission
// mode, the daemon and the operator CLI as real child processes (lowdb store), the Telegram Bot API fake and
// the loop simulator on 127.0.0.1. The group's loop is made with the bound parameters while the DM gets the
// defaults; `conversations list` shows both with their state while a turn runs; `conversations bind` moves
// the group to another loop without a restart; reset, stop and usage work; the admin API needs its token.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopClient } from '../../src/loop-api/client.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { ann, annDm } from '../helpers/telegram.js';
import { freePort } from '../helpers/net.js';
import { writeDaemonConfig } from '../helpers/daemon-config.js';
import { killDaemons, runCli, startDaemon, type DaemonProcess } from '../helpers/daemon-process.js';
import { waitFor } from '../helpers/wait.js';
import { startFakeTelegram, type FakeTelegram } from '../peers/fake-telegram.js';

const ADMIN_TOKEN = 'adm_0123456789abcdef0123456789abcdef';
const team = { id: -100555, type: 'supergroup' as const, title: 'API team' };
const GROUP_KEY = `telegram:${team.id}`;
const DM_KEY = `telegram:${ann.id}`;

let sim: Simulator;
let fake: FakeTelegram;
let client: LoopClient;
let dir: string;
let config: string;
let daemon: DaemonProcess;
let opsUrl: string;

const cli = (args: string[]) => runCli([...args, '--config', config]);

async function cliJson<T>(args: string[]): Promise<T> {
  const r = await cli([...args, '--json']);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as T;
}

const texts = (chatId: number) => fake.botMessages(chatId).map((m) => m.text ?? '');
const botSays = (chatId: number, re: RegExp) => waitFor(() => texts(chatId).find((t) => re.test(t)), `a bot message matching ${re}`, 20_000);
const mention = (text: string) => fake.userMessage({ chat: team, from: ann, text: `@${fake.bot.username} ${text}` });

interface Row {
  key: string;
  loopId: string | null;
  binding: string | null;
  state: string;
  running: boolean;
  queued: number;
  startedBy?: { user: string; name?: string };
}
const rows = async () => (await cliJson<{ conversations: Row[] }>(['conversations', 'list'])).conversations;
const row = async (key: string) => (await rows()).find((r) => r.key === key);

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5 });
  client = new LoopClient({ baseUrl: sim.url, token: sim.token });
  fake = await startFakeTelegram();
  fake.addChat(annDm);
  fake.addChat(team);
  dir = mkdtempSync(join(tmpdir(), 'lb-ops-'));
  const port = await freePort();
  opsUrl = `http://127.0.0.1:${port}`;
  config = writeDaemonConfig(
    dir,
    sim,
    `access: { users: ["telegram:${ann.id}"] }
telegram: { token: "${fake.token}", apiRoot: "${fake.apiRoot}" }
ops: { httpPort: ${port}, adminToken: "${ADMIN_TOKEN}", logLevel: info, logFormat: json }
bindings:
  - platform: telegram
    chat: "${team.id}"
    repo: acme/api
    permissionMode: acceptEdits
    title: "{chat}: {message}"`,
  );
  daemon = startDaemon(config);
  await waitFor(() => fake.calls.some((c) => c.method === 'getUpdates'), 20_000);
});

afterAll(async () => {
  await killDaemons();
  await client?.close();
  await fake?.close();
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('bindings, the operator CLI and the admin API against a running daemon', () => {
  let groupLoop: string;

  it('the bound group\'s loop has the binding\'s parameters; the DM gets the defaults', async () => {
    mention('fix the flaky test');
    await botSays(team.id, /Echo: fix the flaky test/);
    fake.userMessage({ chat: annDm, from: ann, text: 'hello from the dm' });
    await botSays(annDm.id, /Echo: hello from the dm/);
    const group = (await row(GROUP_KEY))!;
    groupLoop = group.loopId!;
    expect(group).toMatchObject({ binding: 'bindings[0]', startedBy: { user: `telegram:${ann.id}`, name: 'Ann' } });
    expect(sim.creation(groupLoop)).toMatchObject({ title: 'API team: fix the flaky test', repo: 'acme/api', permissionMode: 'acceptEdits' });
    const dmRow = (await row(DM_KEY))!;
    expect(dmRow.binding).toBeNull();
    expect(sim.creation(dmRow.loopId!)).toMatchObject({ title: 'hello from the dm', repo: null, permissionMode: 'default' });
  });

  it('`conversations list` shows both with their state while a turn runs (and what waits behind it)', async () => {
    sim.scriptNextTurn(groupLoop, [{ delta: 'working on it' }, { gate: 'hold' }, { delta: ' — done' }]);
    mention('long job');
    await botSays(team.id, /working on it/);
    await waitFor(async () => (await row(GROUP_KEY))?.running, 'the group to show running', 20_000);
    mention('next one');
    await waitFor(async () => (await row(GROUP_KEY))?.queued === 1, 'one message queued behind the turn', 20_000);
    const table = await cli(['conversations', 'list']);
    expect(table.status).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KEY +LOOP +BINDING +STATE +LAST ACTIVITY +STARTED BY$/);
    const col = lines[0].indexOf('STATE');
    const groupLine = lines.find((l) => l.startsWith(GROUP_KEY))!;
    const dmLine = lines.find((l) => l.startsWith(`${DM_KEY} `))!;
    expect(groupLine.slice(col)).toMatch(/^running, 1 queued +\d{4}-/);
    expect(dmLine.slice(col)).toMatch(/^idle +\d{4}-/);
    expect(groupLine).toContain(groupLoop);
    expect(groupLine).toContain('bindings[0]');
    expect(groupLine).toMatch(/Ann \(telegram:4242\)$/);
    const show = await cli(['conversations', 'show', GROUP_KEY]);
    expect(show.stdout).toMatch(/binding +bindings\[0\] \(telegram chat -100555\): repo acme\/api, mode acceptEdits/);
    expect(show.stdout).toMatch(/queue:\n +# +SENDER/);
    expect((await cli(['conversations', 'list', '--platform', 'slack'])).stdout).toBe('no conversations yet\n');
    sim.release('hold');
    await botSays(team.id, /Echo: next one/);
    await waitFor(async () => (await row(GROUP_KEY))?.state === 'idle', 'the group to be idle', 20_000);
  });

  it('`conversations bind` moves the group to another loop without a restart; reset starts a fresh one', async () => {
    const other = await client.createLoop({ title: 'the release loop' });
    const pid = daemon.child.pid;
    const bound = await cli(['conversations', 'bind', GROUP_KEY, other.id]);
    expect(bound.stderr).toBe('');
    expect(bound.stdout).toBe(`bound ${GROUP_KEY} to ${other.id} (the release loop); it was on ${groupLoop}. Its next message goes there.\n`);
    mention('to the release loop');
    await botSays(team.id, /Echo: to the release loop/);
    expect(sim.received(other.id)).toEqual(['to the release loop']);
    expect(sim.received(groupLoop)).not.toContain('to the release loop');
    expect(daemon.child.pid).toBe(pid);
    expect(daemon.child.exitCode).toBeNull();
    const bad = await cli(['conversations', 'bind', GROUP_KEY, 'loop_00000000-0000-4000-8000-000000000000']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('has no loop loop_00000000');
    expect((await cli(['conversations', 'bind', 'telegram:1', other.id])).stderr).toContain('no conversation telegram:1');

    const reset = await cli(['conversations', 'reset', GROUP_KEY]);
    expect(reset.stdout).toBe(`reset ${GROUP_KEY} (it was on ${other.id}): its next message starts a new loop.\n`);
    mention('fresh start');
    await botSays(team.id, /Echo: fresh start/);
    const fresh = (await row(GROUP_KEY))!.loopId!;
    expect([groupLoop, other.id]).not.toContain(fresh);
    expect(sim.creation(fresh)).toMatchObject({ repo: 'acme/api', title: 'API team: fresh start' });
  });

  it('`conversations stop` interrupts the running turn', async () => {
    fake.userMessage({ chat: annDm, from: ann, text: 'slow 30' });
    await botSays(annDm.id, /tick 1\/30/);
    const stopped = await cli(['conversations', 'stop', DM_KEY]);
    expect(stopped.stdout).toMatch(/^sent a stop to loop_\S+ \(the turn running for telegram:4242\)\n$/);
    await botSays(annDm.id, /⏹ Stopped/);
  });

  it('`usage` counts turns, tokens and cost per conversation and per person', async () => {
    const report = await cliJson<{ conversations: Array<{ key: string; turns: number; inputTokens: number; costUsd: number }>; users: Array<{ key: string; turns: number; count: number }>; total: { turns: number } }>(['usage']);
    const group = report.conversations.find((c) => c.key === GROUP_KEY)!;
    expect(group.turns).toBe(5);
    expect(group.inputTokens).toBeGreaterThan(0);
    expect(group.costUsd).toBeGreaterThan(0);
    expect(report.users).toEqual([expect.objectContaining({ key: `telegram:${ann.id}`, turns: report.total.turns, count: 2 })]);
    const text = await cli(['usage']);
    expect(text.stdout).toMatch(/CONVERSATION +TURNS +INPUT TOKENS +OUTPUT TOKENS +COST +PEOPLE +LAST/);
    expect(text.stdout).toMatch(new RegExp(`${GROUP_KEY} +5 +`));
    expect(text.stdout).toMatch(/^total: \d+ turns, /m);
    expect((await cli(['usage', '--since', '2999-01-01'])).stdout).toContain('no turns counted');
    const bad = await cli(['usage', '--since', 'yesterday']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('since must be a date');
    // Usage is kept out of the hot store file.
    expect(readFileSync(join(dir, 'store.json'), 'utf8')).not.toContain('usage/');
  });

  it('the admin API: 401 without or with a wrong token; with it the same operations as JSON, no secret in a response', async () => {
    const get = (path: string, token?: string) => fetch(`${opsUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    for (const token of [undefined, 'wrong', ADMIN_TOKEN.slice(0, -1), `${ADMIN_TOKEN}x`]) {
      const r = await get('/admin/conversations', token);
      expect(r.status, String(token)).toBe(401);
      const body = await r.text();
      expect(body).not.toContain(GROUP_KEY);
      expect(body).not.toContain(ADMIN_TOKEN);
    }
    expect((await get('/healthz')).status).toBe(200); // health stays open
    const list = await get('/admin/conversations', ADMIN_TOKEN);
    expect(list.status).toBe(200);
    const text = await list.text();
    const body = JSON.parse(text) as { conversations: Row[] };
    expect(body.conversations.map((c) => c.key).sort()).toEqual([DM_KEY, GROUP_KEY].sort());
    for (const secret of [ADMIN_TOKEN, sim.token, fake.token]) expect(text).not.toContain(secret);
    const one = await get(`/admin/conversations/${encodeURIComponent(GROUP_KEY)}`, ADMIN_TOKEN);
    expect(await one.json()).toMatchObject({ key: GROUP_KEY, binding: 'bindings[0]' });
    expect((await get('/admin/conversations/telegram%3A1', ADMIN_TOKEN)).status).toBe(404);
    expect((await get('/admin/usage?since=2000-01-01', ADMIN_TOKEN)).status).toBe(200);
    expect((await get('/admin/usage?since=nope', ADMIN_TOKEN)).status).toBe(400);
    expect((await get('/admin/nothing', ADMIN_TOKEN)).status).toBe(404);
    const post = (path: string, body?: unknown) =>
      fetch(`${opsUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const other = await client.createLoop({ title: 'bound over http' });
    const bound = await post(`/admin/conversations/${encodeURIComponent(GROUP_KEY)}/bind`, { loopId: other.id });
    expect(bound.status).toBe(200);
    expect(await bound.json()).toMatchObject({ key: GROUP_KEY, loopId: other.id, loopSource: 'operator' });
    expect((await post(`/admin/conversations/${encodeURIComponent(GROUP_KEY)}/bind`, { loopId: 'nope' })).status).toBe(400);
    expect((await fetch(`${opsUrl}/admin/conversations`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(405);
    mention('over http');
    await botSays(team.id, /Echo: over http/);
    expect(sim.received(other.id)).toEqual(['over http']);
  });

  it('no token or secret reached the logs', async () => {
    expect(await daemon.stop()).toBe(0);
    expect(daemon.output()).toContain('conversation bound by an operator');
    for (const secret of [ADMIN_TOKEN, sim.token, fake.token]) expect(daemon.output()).not.toContain(secret);
  });
});
