import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TelegramStartupError, type TelegramAdapter } from '../../../adapters/telegram/index.js';
import type { InboundMessage } from '../../../src/core/adapter-types.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram } from '../../peers/fake-telegram.js';
import { waitFor } from '../../helpers/wait.js';
import { adapterFor, RecordingSink, rejection } from './tg-test-kit.js';

const alice = { id: 1001, first_name: 'Alice' };
const dmChat: FakeChat = { id: 1001, type: 'private', first_name: 'Alice' };
const SECRET = 'wh_secret-123';
const ac = new AbortController();

let fake: FakeTelegram;
let adapter: TelegramAdapter | undefined;
afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
  await fake?.close();
});

/** A port that was free a moment ago (the webhook URL must be known before listening). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function startWebhook(sink: RecordingSink) {
  fake = await startFakeTelegram({ limits: false });
  const port = await freePort();
  adapter = adapterFor(fake, { mode: 'webhook', webhook: { url: `http://127.0.0.1:${port}/tg`, secretToken: SECRET, port, host: '127.0.0.1', path: '/tg' } });
  await adapter.start(sink, ac.signal);
  return `http://127.0.0.1:${port}/tg`;
}

const update = (id: number, text: string) => ({ update_id: id, message: { message_id: id, date: 1, chat: dmChat, from: { ...alice, is_bot: false }, text } });

describe('webhook', () => {
  it('registers the webhook with the secret', async () => {
    const url = await startWebhook(new RecordingSink());
    const call = fake.calls.find((c) => c.method === 'setWebhook')!;
    expect(call.params).toMatchObject({ url, secret_token: SECRET });
  });

  it('a missing or wrong secret → 401 and nothing accepted', async () => {
    const sink = new RecordingSink();
    const url = await startWebhook(sink);
    const post = (headers: Record<string, string>) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(update(500, 'forged')) });
    expect((await post({})).status).toBe(401);
    expect((await post({ 'X-Telegram-Bot-Api-Secret-Token': 'wrong' })).status).toBe(401);
    expect((await post({ 'X-Telegram-Bot-Api-Secret-Token': `${SECRET}x` })).status).toBe(401);
    expect(sink.offered).toHaveLength(0);
    const ok = await post({ 'X-Telegram-Bot-Api-Secret-Token': SECRET });
    expect(ok.status).toBe(200);
    expect(sink.texts()).toEqual(['forged']);
  });

  it("the right secret (the fake's own delivery) → accepted, answered 200", async () => {
    const sink = new RecordingSink();
    await startWebhook(sink);
    fake.userMessage({ chat: dmChat, from: alice, text: 'via webhook' });
    await waitFor(() => sink.events.length === 1);
    expect((sink.events[0] as InboundMessage).text).toBe('via webhook');
  });

  it('a refused update is answered non-2xx, so Telegram posts it again', async () => {
    let refuse = true;
    const sink = new RecordingSink(() => {
      if (refuse) throw new Error('shutting down');
    });
    await startWebhook(sink);
    fake.userMessage({ chat: dmChat, from: alice, text: 'retry me' });
    await waitFor(() => sink.offered.length >= 1);
    expect(sink.events).toHaveLength(0);
    refuse = false;
    await waitFor(() => sink.events.length === 1);
    expect(sink.texts()).toEqual(['retry me']);
  });

  it('setWebhook refused → webhook startup error', async () => {
    fake = await startFakeTelegram({ limits: false });
    const port = await freePort();
    adapter = adapterFor(fake, { mode: 'webhook', webhook: { url: 'ftp://nope', secretToken: SECRET, port, host: '127.0.0.1', path: '/tg' } });
    const e = await rejection(adapter.start(new RecordingSink(), ac.signal));
    expect(e).toBeInstanceOf(TelegramStartupError);
    expect(e).toMatchObject({ code: 'webhook' });
    expect(e.message).not.toContain(fake.token);
  });
});
