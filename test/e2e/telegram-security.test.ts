// Issue 13's acceptance, tried as a new user would on Telegram: `loopbridge start` as a child process, the
// Bot API fake (limits enforced) and the loop simulator on 127.0.0.1.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { startFakeTelegram, type FakeTelegram } from '../peers/fake-telegram.js';
import { freePort } from '../helpers/net.js';
import { ann, annDm } from '../helpers/telegram.js';
import { killDaemons, startDaemon as startChild, type DaemonProcess } from '../helpers/daemon-process.js';
import { writeDaemonConfig } from '../helpers/daemon-config.js';
import { waitFor } from '../helpers/wait.js';

const group = { id: -100909, type: 'supergroup' as const, title: 'Team' };
const mallory = { id: 3131, first_name: 'Mallory' };

let sim: Simulator;
let fake: FakeTelegram;
let dir: string;
function startDaemon(name: string, o: { loopToken?: string; httpPort?: number } = {}): DaemonProcess {
  const config = writeDaemonConfig(
    dir,
    sim,
    `access: { users: ["telegram:${ann.id}"], groups: ["telegram:${group.id}"] }
telegram: { token: "${fake.token}", apiRoot: "${fake.apiRoot}" }
ops: { logLevel: info, logFormat: json${o.httpPort ? `, httpPort: ${o.httpPort}` : ''} }`,
    { file: `${name}.yaml`, store: `${name}.json`, loopToken: o.loopToken },
  );
  return startChild(config);
}

/** Waits until the daemon polls Telegram (it is up), counting from `since` calls. */
async function polling(since: number): Promise<void> {
  await waitFor(() => fake.calls.slice(since).some((c) => c.method === 'getUpdates'), 'the daemon to poll', 20_000);
}

/** The phase of the turn recorded in a daemon's store file (what it would resume after a restart). */
function turnPhase(name: string, convKey: string): string | undefined {
  try {
    const data = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { entries: Record<string, { v: { phase?: string } }> };
    return data.entries[`turn/${convKey}`]?.v.phase;
  } catch {
    return undefined; // not written yet, or being replaced
  }
}

const texts = (chatId: number) => fake.botMessages(chatId).map((m) => m.text ?? '');
const botSays = (chatId: number, re: RegExp, timeout = 20_000) => waitFor(() => texts(chatId).find((t) => re.test(t)), `a bot message matching ${re}`, timeout);

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5 });
  fake = await startFakeTelegram();
  fake.addChat(annDm);
  fake.addChat(group);
  dir = mkdtempSync(join(tmpdir(), 'lb-sec-'));
});

afterAll(async () => {
  await killDaemons();
  await fake.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tried as a new user would on Telegram', () => {
  it('a group member who is not an admin cannot change the mode or attach; after a burst of 5xx the next message is answered', async () => {
    const d = startDaemon('a');
    await polling(0);
    try {
      fake.userMessage({ chat: annDm, from: ann, text: 'my private notes' });
      await botSays(annDm.id, /Echo: my private notes/);

      fake.userMessage({ chat: group, from: mallory, text: `/mode@${fake.bot.username} bypassPermissions` });
      await botSays(group.id, /Only an admin can set bypassPermissions/);
      fake.userMessage({ chat: group, from: mallory, text: `/attach@${fake.bot.username} loop_anything` });
      await botSays(group.id, /Only admins can attach/);

      // Telegram has a bad moment: three posts/edits fail with 502 while a reply streams.
      fake.failNext(['sendMessage', 'editMessageText'], { error_code: 502, description: 'Bad Gateway' }, 3);
      fake.userMessage({ chat: annDm, from: ann, text: 'slow 3' });
      fake.userMessage({ chat: annDm, from: ann, text: 'are you still there?' });
      await botSays(annDm.id, /Echo: are you still there\?/, 30_000);
      expect(texts(annDm.id).filter((t) => t.startsWith('tick 1/3'))).toEqual(['tick 1/3\ntick 2/3\ntick 3/3']);
      expect(texts(annDm.id).some((t) => /loop server/.test(t))).toBe(false);
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });

  it('SIGTERM while a send to Telegram hangs: the daemon still exits (cleanly), and the reply comes after a restart', async () => {
    const since = fake.calls.length;
    const d = startDaemon('b');
    await polling(since);
    fake.failNext('sendMessage', { hang: true });
    fake.userMessage({ chat: annDm, from: ann, text: 'into the void' });
    await waitFor(() => fake.calls.slice(since).some((c) => c.error === 'hang'), 'a send that hangs', 20_000);
    // The loop's turn is over: only the reply's delivery is left, stuck in the hung send.
    await waitFor(() => turnPhase('b', `telegram:${annDm.id}`) === 'final', 'the turn to reach its end', 20_000);
    const t0 = Date.now();
    d.child.kill('SIGTERM');
    const code = await waitFor(async () => ({ code: await d.exited }), 'the daemon to exit after SIGTERM', 15_000);
    console.log(`telegram-security: exited ${Date.now() - t0} ms after SIGTERM with a send hanging`);
    expect(code.code).toBe(0);

    const again = startDaemon('b');
    await botSays(annDm.id, /Echo: into the void/);
    expect(await again.stop()).toBe(0);
  });

  it('a revoked loop token loses no message: people are told once, /healthz says degraded, and both are answered once the token works', async () => {
    const port = await freePort();
    const revoked = `la_${'0'.repeat(48)}`; // well-formed, unknown to the server: every request is 401
    const since = fake.calls.length;
    const d = startDaemon('c', { loopToken: revoked, httpPort: port });
    await polling(since);
    const before = texts(annDm.id).length;
    fake.userMessage({ chat: annDm, from: ann, text: 'kept while revoked 1' });
    fake.userMessage({ chat: annDm, from: ann, text: 'kept while revoked 2' });
    await botSays(annDm.id, /refusing this bridge's credentials/);
    const health = await waitFor(async () => {
      const h = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { status: string; backlog: number; problems: Array<{ kind: string; code: string }> };
      return h.backlog === 2 ? h : undefined;
    }, 'both messages kept');
    expect(health).toMatchObject({ status: 'degraded', problems: [{ kind: 'auth', code: 'missing_credentials' }] });
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(/^loop_auth_ok 0$/m);
    expect(d.output()).toContain('the loop server refuses our token');
    expect(d.output()).not.toContain(revoked);
    expect(await d.stop()).toBe(0);

    // The operator puts a working token in the config and restarts: the kept messages are answered, in order.
    const fixed = startDaemon('c', { httpPort: port });
    await botSays(annDm.id, /Echo: kept while revoked 2/);
    const after = texts(annDm.id).slice(before);
    expect(after.filter((t) => /refusing this bridge's credentials/.test(t))).toHaveLength(1);
    expect(after.some((t) => /refused this message/.test(t))).toBe(false);
    expect(after.findIndex((t) => /Echo: kept while revoked 1/.test(t))).toBeLessThan(after.findIndex((t) => /Echo: kept while revoked 2/.test(t)));
    expect(await fixed.stop()).toBe(0);
  });
});
