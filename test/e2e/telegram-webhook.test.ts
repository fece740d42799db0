// telegram.mode: webhook through the daemon: the bot registers its URL and secret, Telegram (the fake)
// posts updates to it, forged posts without the secret are refused, and replies flow as in polling mode.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { startFakeTelegram, type FakeTelegram } from '../peers/fake-telegram.js';
import { freePort } from '../helpers/net.js';
import { ann, annDm } from '../helpers/telegram.js';
import { silentLog, waitFor } from '../helpers/wait.js';

let sim: Simulator;
let fake: FakeTelegram;
let daemon: Daemon;
let dir: string;
let port: number;
const secret = 'webhook-secret_123';
const dm = annDm;

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5 });
  fake = await startFakeTelegram();
  fake.addChat(dm);
  dir = mkdtempSync(join(tmpdir(), 'lb-webhook-'));
  port = await freePort();
  const { config } = resolveConfig({
    loop: { baseUrl: sim.url, token: sim.token },
    store: { path: join(dir, 'store.json') },
    access: { users: [`telegram:${ann.id}`] },
    telegram: {
      token: fake.token,
      apiRoot: fake.apiRoot,
      mode: 'webhook',
      webhook: { url: `http://127.0.0.1:${port}/telegram`, secretToken: secret, port, host: '127.0.0.1', path: '/telegram' },
    },
  });
  daemon = await startDaemon(config, { log: silentLog });
});

afterAll(async () => {
  await daemon.stop();
  await fake.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

it('registers the webhook with its secret and answers updates Telegram posts to it', async () => {
  const set = fake.calls.find((c) => c.method === 'setWebhook');
  expect(set?.params).toMatchObject({ url: `http://127.0.0.1:${port}/telegram`, secret_token: secret });
  fake.userMessage({ chat: dm, from: ann, text: 'over the webhook' });
  const reply = await waitFor(() => fake.botMessages(dm.id).find((m) => m.text?.includes('Echo: over the webhook')), 20_000);
  expect(reply.text).toContain('Echo: over the webhook');
});

it('refuses a post without the secret and runs nothing for it', async () => {
  const forged = await fetch(`http://127.0.0.1:${port}/telegram`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ update_id: 999999, message: { message_id: 999, date: 0, chat: dm, from: { ...ann, is_bot: false }, text: 'forged update' } }),
  });
  expect(forged.status).toBe(401);
  fake.userMessage({ chat: dm, from: ann, text: 'after the forgery' });
  await waitFor(() => fake.botMessages(dm.id).find((m) => m.text?.includes('Echo: after the forgery')), 20_000);
  expect(fake.botMessages(dm.id).some((m) => m.text?.includes('forged update'))).toBe(false);
});
