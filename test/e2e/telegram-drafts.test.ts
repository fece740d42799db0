// telegram.drafts: in private chats the growing reply is a sendMessageDraft preview, and one real message
// with the exact final text is sent at the end (a draft is ephemeral).

import { afterAll, beforeAll, expect, it } from 'vitest';
import { TelegramAdapter } from '../../adapters/telegram/index.js';
import { Bridge } from '../../src/core/bridge.js';
import { LoopClient } from '../../src/loop-api/client.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { startFakeTelegram, type FakeTelegram } from '../peers/fake-telegram.js';
import { ann, annDm } from '../helpers/telegram.js';
import { silentLog, waitFor } from '../helpers/wait.js';

let sim: Simulator;
let fake: FakeTelegram;
let bridge: Bridge;
let client: LoopClient;
const dm = annDm;

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5 });
  fake = await startFakeTelegram();
  fake.addChat(dm);
  client = new LoopClient({ baseUrl: sim.url, token: sim.token });
  bridge = new Bridge({
    client,
    store: createMemoryStore(),
    adapters: [new TelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot, drafts: true, pollTimeoutSec: 1 })],
    access: { dm: 'allowlist', users: [`telegram:${ann.id}`], admins: [], groups: [], pairingCodeTtlMs: 3_600_000 },
    routing: { requireMention: true, mentionPatterns: [], maxQueuedPerLoop: 20, maxMessageChars: 100_000 },
    replies: { editIntervalMs: { direct: 1000, group: 3000 }, showTools: true, showUsage: false },
    defaultPermissionMode: 'default',
    log: silentLog,
  });
  await bridge.start();
});

afterAll(async () => {
  await bridge.stop();
  await client.close();
  await fake.close();
  await sim.close();
});

it('streams as drafts and sends the final once, without edits', async () => {
  fake.userMessage({ chat: dm, from: ann, text: 'slow 3' });
  const final = await waitFor(() => fake.botMessages(dm.id).find((m) => m.text?.includes('tick 3/3')), 20_000);
  expect(final.text).toBe('tick 1/3\ntick 2/3\ntick 3/3');
  expect(fake.botMessages(dm.id)).toHaveLength(1);
  expect(fake.drafts.length).toBeGreaterThanOrEqual(2);
  expect(new Set(fake.drafts.map((d) => d.draft_id)).size).toBe(1);
  expect(fake.drafts.map((d) => d.text)).toContain('tick 1/3');
  expect(fake.calls.filter((c) => c.method === 'editMessageText')).toEqual([]);
  expect(fake.rateLimited()).toBe(0);
});
