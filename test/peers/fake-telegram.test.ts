import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Api, Bot, GrammyError, HttpError, InputFile, webhookCallback } from 'grammy';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeTelegram, type FakeChat, type FakeTelegram, type FakeTelegramOptions, type FakeUser } from './fake-telegram.js';
import { waitFor } from '../helpers/wait.js';
import { rejection } from '../helpers/rejection.js';

const alice: FakeUser = { id: 1001, first_name: 'Alice', username: 'alice_w' };
const dm: FakeChat = { id: 1001, type: 'private', first_name: 'Alice', username: 'alice_w' };
const group: FakeChat = { id: -100777, type: 'supergroup', title: 'Team' };
const forum: FakeChat = { id: -100888, type: 'supergroup', title: 'Forum', is_forum: true };
const NOT_MODIFIED =
  'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';

let fake: FakeTelegram;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await fake?.close();
});

async function start(options: FakeTelegramOptions = { limits: false }): Promise<FakeTelegram> {
  fake = await startFakeTelegram(options);
  return fake;
}

const api = () => new Api(fake.token, { apiRoot: fake.apiRoot });
const newBot = () => new Bot(fake.token, { client: { apiRoot: fake.apiRoot } });

/** Waits for a condition (never a duration); generous limit for noisy machines. */
async function until(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const pendingPolls = () => fake.calls.filter((c) => c.method === 'getUpdates' && c.status === 0).length;

async function raw(method: string, body: Record<string, unknown>, token = fake.token): Promise<{ status: number; json: any }> {
  const res = await fetch(`${fake.apiRoot}/bot${token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

const apiError = (p: Promise<unknown>) => rejection(p, GrammyError);

describe('routing', () => {
  it('answers 401 for a wrong token and 404 for an unknown method, Bot-API-shaped', async () => {
    await start();
    const wrong = await raw('getMe', {}, '1:wrong');
    expect(wrong).toEqual({ status: 401, json: { ok: false, error_code: 401, description: 'Unauthorized' } });
    const unknown = await raw('launchRockets', {});
    expect(unknown).toEqual({ status: 404, json: { ok: false, error_code: 404, description: 'Not Found' } });
    const me = await api().getMe();
    expect(me).toMatchObject({ id: 123456789, is_bot: true, username: 'loopbridge_bot', first_name: 'Loopbridge' });
  });

  it('takes urlencoded bodies with JSON-encoded fields', async () => {
    await start();
    fake.addChat(dm);
    const res = await fetch(`${fake.apiRoot}/bot${fake.token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ chat_id: String(dm.id), text: 'form', reply_markup: JSON.stringify({ inline_keyboard: [[{ text: 'A', callback_data: 'a' }]] }) }),
    });
    const json = (await res.json()) as any;
    expect(json.ok).toBe(true);
    expect(json.result.reply_markup.inline_keyboard[0][0].callback_data).toBe('a');
    expect(fake.botMessages(dm.id)[0].text).toBe('form');
  });
});

describe('long polling', () => {
  it('delivers injected updates in order to grammy and confirms them by offset', async () => {
    await start();
    fake.userMessage({ chat: dm, from: alice, text: 'one' });
    fake.userMessage({ chat: dm, from: alice, text: 'two' });
    const seen: string[] = [];
    const bot = newBot();
    bot.on('message:text', (ctx) => {
      seen.push(ctx.message.text);
    });
    const running = bot.start({ timeout: 30 });
    await until(() => seen.length === 2, 'first two updates');
    fake.userMessage({ chat: dm, from: alice, text: 'three' });
    await until(() => seen.length === 3, 'third update');
    await bot.stop();
    await running;
    expect(seen).toEqual(['one', 'two', 'three']);
    // Everything was confirmed: a fresh poller gets nothing.
    expect((await raw('getUpdates', { timeout: 0 })).json.result).toEqual([]);
  });

  it('redelivers an update that was not confirmed when the poller restarts', async () => {
    await start();
    const first = fake.userMessage({ chat: dm, from: alice, text: 'unconfirmed' });
    // A poller fetches it and "crashes" before confirming (no later call with a higher offset).
    const got = (await raw('getUpdates', { timeout: 0 })).json.result;
    expect(got).toHaveLength(1);
    const updateId = got[0].update_id as number;
    const seen: Array<[number, number]> = [];
    const bot = newBot();
    bot.on('message', (ctx) => {
      seen.push([ctx.update.update_id, ctx.message.message_id]);
    });
    const running = bot.start({ timeout: 30 });
    await until(() => seen.length === 1, 'redelivery');
    expect(seen[0]).toEqual([updateId, first.message_id]);
    await bot.stop();
    await running;
    // redeliver() puts a confirmed update back, same update_id.
    fake.redeliver(updateId);
    const again = (await raw('getUpdates', { timeout: 0 })).json.result;
    expect(again.map((u: any) => u.update_id)).toEqual([updateId]);
  });

  it('holds a long poll open until an update arrives, and honours limit and negative offset', async () => {
    await start();
    const poll = raw('getUpdates', { timeout: 20 });
    await until(() => pendingPolls() === 1, 'pending long poll');
    fake.userMessage({ chat: dm, from: alice, text: 'late' });
    const { json } = await poll;
    expect(json.result.map((u: any) => u.message.text)).toEqual(['late']);
    fake.userMessage({ chat: dm, from: alice, text: 'a' });
    fake.userMessage({ chat: dm, from: alice, text: 'b' });
    const limited = (await raw('getUpdates', { limit: 1 })).json.result;
    expect(limited.map((u: any) => u.message.text)).toEqual(['late']);
    const last = (await raw('getUpdates', { offset: -1 })).json.result;
    expect(last.map((u: any) => u.message.text)).toEqual(['b']);
  });

  it("feeds grammy's long polling: many updates across chats, each once, in order per chat", async () => {
    await start();
    const chats = [dm, group, forum];
    const bot = newBot();
    const seen = new Map<number, string[]>();
    bot.on('message:text', (ctx) => {
      seen.set(ctx.chat.id, [...(seen.get(ctx.chat.id) ?? []), ctx.message.text]);
    });
    const polling = bot.start({ timeout: 1 });
    for (let i = 0; i < 21; i++) fake.userMessage({ chat: chats[i % 3], from: alice, text: `m${i}` });
    await until(() => [...seen.values()].flat().length === 21, 'all 21 handled');
    await bot.stop();
    await polling;
    expect(seen.get(dm.id)).toEqual(Array.from({ length: 7 }, (_, k) => `m${k * 3}`));
    expect([...seen.values()].flat().sort()).toEqual(Array.from({ length: 21 }, (_, i) => `m${i}`).sort());
  });

  it('ends a long poll empty when its timeout passes, and on close', async () => {
    await start();
    expect((await raw('getUpdates', { timeout: 1 })).json).toEqual({ ok: true, result: [] });
    const poll = raw('getUpdates', { timeout: 30 }).then(
      (r) => r.json.result,
      () => 'connection closed',
    );
    await until(() => pendingPolls() === 1, 'pending long poll');
    await fake.close();
    expect([[], 'connection closed']).toContainEqual(await poll);
  });

  it('answers 409 to the older of two overlapping pollers', async () => {
    await start();
    const a = newBot();
    const aRun = a.start({ timeout: 30 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await until(() => pendingPolls() === 1, 'first poller waiting');
    const b = newBot();
    const seen: string[] = [];
    b.on('message:text', (ctx) => {
      seen.push(ctx.message.text);
    });
    const bRun = b.start({ timeout: 30 });
    const err = (await aRun) as GrammyError;
    expect(err).toBeInstanceOf(GrammyError);
    expect(err.error_code).toBe(409);
    expect(err.description).toBe('Conflict: terminated by other getUpdates request; make sure that only one bot instance is running');
    fake.userMessage({ chat: dm, from: alice, text: 'for b' });
    await until(() => seen.length === 1, 'second poller still served');
    await b.stop();
    await bRun;
  });
});

describe('sending and editing', () => {
  it('sends, edits, and rejects unchanged, unknown and too-long edits like the real server', async () => {
    await start();
    fake.addChat(dm);
    const tg = api();
    const sent = await tg.sendMessage(dm.id, 'hello');
    expect(sent).toMatchObject({ message_id: 1, text: 'hello', from: { id: 123456789, is_bot: true }, chat: { id: dm.id } });
    expect(Number.isInteger(sent.date) && sent.date < 1e11).toBe(true); // seconds, not ms
    const second = await tg.sendMessage(dm.id, 'again');
    expect(second.message_id).toBe(2);

    const edited = await tg.editMessageText(dm.id, sent.message_id, 'hello world');
    expect(edited).toMatchObject({ message_id: 1, text: 'hello world' });
    expect((edited as { edit_date?: number }).edit_date).toBeTypeOf('number');
    expect((await apiError(tg.editMessageText(dm.id, sent.message_id, 'hello world'))).description).toBe(NOT_MODIFIED);
    expect((await apiError(tg.editMessageText(dm.id, 999, 'x'))).description).toBe('Bad Request: message to edit not found');
    expect((await apiError(tg.editMessageText(dm.id, sent.message_id, 'y'.repeat(4097)))).description).toBe('Bad Request: message is too long');
    expect((await apiError(tg.sendMessage(dm.id, '   '))).description).toBe('Bad Request: message text is empty');
    expect(fake.botMessages(dm.id).map((m) => [m.text, m.editCount])).toEqual([['hello world', 1], ['again', 0]]);

    await tg.deleteMessage(dm.id, second.message_id);
    expect((await apiError(tg.deleteMessage(dm.id, second.message_id))).description).toBe('Bad Request: message to delete not found');
    expect(fake.messages(dm.id).find((m) => m.message_id === 2)?.deleted).toBe(true);
  });

  it('measures the 4096 limit after HTML parsing and stores visible text with UTF-16 entities', async () => {
    await start();
    fake.addChat(dm);
    const tg = api();
    const ok = await tg.sendMessage(dm.id, `<b>${'a'.repeat(4090)}</b>&lt;&amp;<i>xyzw</i>`, { parse_mode: 'HTML' });
    expect(ok.text).toHaveLength(4096);
    const tooLong = tg.sendMessage(dm.id, `<b>${'a'.repeat(4091)}</b>&lt;&amp;<i>xyzw</i>`, { parse_mode: 'HTML' });
    expect((await apiError(tooLong)).description).toBe('Bad Request: message is too long');

    const fmt = await tg.sendMessage(dm.id, '<b>hi</b> 😀 <a href="https://x.test/?a=1&amp;b=2&c=>">link</a> <pre><code class="language-ts">let x</code></pre>', {
      parse_mode: 'HTML',
    });
    expect(fmt.text).toBe('hi 😀 link let x');
    expect(fmt.entities).toEqual([
      { type: 'bold', offset: 0, length: 2 },
      { type: 'text_link', offset: 6, length: 4, url: 'https://x.test/?a=1&b=2&c=>' },
      { type: 'pre', offset: 11, length: 5, language: 'ts' },
    ]);
  });

  it("rejects bad HTML with \"can't parse entities\"", async () => {
    await start();
    fake.addChat(dm);
    const tg = api();
    for (const bad of ['<b>x</i>', '<foo>x</foo>', '<b>open', 'x</b>', 'fish &chips;', 'a < b']) {
      const err = await apiError(tg.sendMessage(dm.id, bad, { parse_mode: 'HTML' }));
      expect(err.error_code).toBe(400);
      expect(err.description).toMatch(/^Bad Request: can't parse entities: /);
    }
    expect(fake.botMessages(dm.id)).toHaveLength(0);
  });

  it('validates callback_data, reply targets and forum topics', async () => {
    await start();
    fake.addChat(dm);
    const tg = api();
    const tooBig = tg.sendMessage(dm.id, 'x', { reply_markup: { inline_keyboard: [[{ text: 'b', callback_data: 'z'.repeat(65) }]] } });
    expect((await apiError(tooBig)).description).toBe('Bad Request: BUTTON_DATA_INVALID');
    expect((await apiError(tg.sendMessage(dm.id, 'x', { reply_parameters: { message_id: 42 } }))).description).toBe(
      'Bad Request: message to be replied not found',
    );

    const user = fake.userMessage({ chat: forum, from: alice, text: 'in topic', threadId: 7 });
    const inTopic = await tg.sendMessage(forum.id, 'answer', { message_thread_id: 7, reply_parameters: { message_id: user.message_id } });
    expect(inTopic).toMatchObject({ message_thread_id: 7, is_topic_message: true, reply_to_message: { message_id: user.message_id } });
    expect((await apiError(tg.sendMessage(forum.id, 'x', { message_thread_id: 99 }))).description).toBe('Bad Request: message thread not found');
    expect(fake.messages(forum.id, 7).map((m) => m.text)).toEqual(['in topic', 'answer']);
    expect((await apiError(tg.sendMessage(555, 'x'))).description).toBe('Bad Request: chat not found');
  });

  it('records chat actions and drafts, with their rules', async () => {
    await start();
    fake.addChat(dm);
    fake.addChat(group);
    const tg = api();
    expect(await tg.sendChatAction(dm.id, 'typing')).toBe(true);
    expect((await apiError(tg.sendChatAction(dm.id, 'dancing' as 'typing'))).description).toBe('Bad Request: wrong parameter action in request');
    expect(await tg.sendMessageDraft(dm.id, 5, 'thinking')).toBe(true);
    expect(await tg.sendMessageDraft(dm.id, 5, '<b>thinking</b> more', { parse_mode: 'HTML' })).toBe(true);
    expect(fake.drafts).toEqual([
      { chat_id: dm.id, draft_id: 5, text: 'thinking' },
      { chat_id: dm.id, draft_id: 5, text: 'thinking more' },
    ]);
    expect((await apiError(tg.sendMessageDraft(dm.id, 0, 'x'))).error_code).toBe(400);
    expect((await apiError(tg.sendMessageDraft(group.id, 1, 'x'))).error_code).toBe(400);
    const m = await tg.sendMessage(dm.id, 'final');
    expect(await tg.setMessageReaction(dm.id, m.message_id, [{ type: 'emoji', emoji: '👍' }])).toBe(true);
    expect(fake.calls.filter((c) => c.status === 200).map((c) => c.method)).toEqual([
      'sendChatAction', 'sendMessageDraft', 'sendMessageDraft', 'sendMessage', 'setMessageReaction',
    ]);
  });
});

describe('users and buttons', () => {
  it('computes mention and bot_command entities at UTF-16 offsets', async () => {
    await start();
    const m = fake.userMessage({ chat: group, from: alice, text: '😀 /ask@loopbridge_bot hey @loopbridge_bot, /help me' });
    expect(m.entities).toEqual([
      { type: 'bot_command', offset: 3, length: 19 },
      { type: 'mention', offset: 27, length: 15 },
      { type: 'bot_command', offset: 44, length: 5 },
    ]);
    const upd = (await raw('getUpdates', {})).json.result[0];
    expect(upd.message.entities).toEqual(m.entities);
    expect(upd.message.from).toMatchObject({ id: alice.id, is_bot: false });
  });

  it('delivers a button press with the real message to grammy and records the answer', async () => {
    await start();
    fake.addChat(dm);
    const tg = api();
    const sent = await tg.sendMessage(dm.id, 'Allow?', { reply_markup: { inline_keyboard: [[{ text: 'Yes', callback_data: 'c:yes' }]] } });
    const bot = newBot();
    const pressed: Array<{ data?: string; messageId?: number; text?: string }> = [];
    bot.on('callback_query:data', async (ctx) => {
      pressed.push({ data: ctx.callbackQuery.data, messageId: ctx.callbackQuery.message?.message_id, text: (ctx.callbackQuery.message as { text?: string }).text });
      await ctx.answerCallbackQuery({ text: 'Allowed' });
    });
    const running = bot.start({ timeout: 30 });
    const id = fake.pressButton({ chat: dm, from: alice, messageId: sent.message_id, data: 'c:yes' });
    await until(() => fake.callbackAnswers.has(id), 'answerCallbackQuery');
    await bot.stop();
    await running;
    expect(pressed).toEqual([{ data: 'c:yes', messageId: sent.message_id, text: 'Allow?' }]);
    expect(fake.callbackAnswers.get(id)).toEqual({ text: 'Allowed' });
    const again = await raw('answerCallbackQuery', { callback_query_id: id });
    expect(again.json.description).toBe('Bad Request: query is too old and response timeout expired or query ID is invalid');
  });
});

describe('rate limits', () => {
  it('answers a 429 storm past the per-chat burst with the right retry_after, without charging rejected calls', async () => {
    let now = 1_700_000_000_000;
    await start({ limits: { chatBurst: 3, chatPerSecond: 0.5, globalPerSecond: 1000, groupPerMinute: 1000 }, clock: () => now });
    fake.addChat(dm);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => raw('sendMessage', { chat_id: dm.id, text: `m${i}` })));
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(3);
    expect(limited).toHaveLength(7);
    // Refill 0.5/s: one token takes 2 s.
    expect(limited[0].json).toEqual({ ok: false, error_code: 429, description: 'Too Many Requests: retry after 2', parameters: { retry_after: 2 } });
    expect(fake.rateLimited()).toBe(7);
    now += 1000;
    expect((await raw('sendMessage', { chat_id: dm.id, text: 'early' })).json.parameters.retry_after).toBe(1);
    now += 1000;
    expect((await raw('sendMessage', { chat_id: dm.id, text: 'in time' })).status).toBe(200);
    expect((await raw('sendMessage', { chat_id: dm.id, text: 'next' })).status).toBe(429);
    // Edits and chat actions are chat-bound too.
    expect((await raw('sendChatAction', { chat_id: dm.id, action: 'typing' })).status).toBe(429);
  });

  it('limits a group per minute and all chats per second', async () => {
    let now = 1_700_000_000_000;
    await start({ limits: { chatBurst: 100, chatPerSecond: 100, globalPerSecond: 5, groupPerMinute: 3 }, clock: () => now });
    fake.addChat(group);
    fake.addChat(dm);
    for (let i = 0; i < 3; i++) expect((await raw('sendMessage', { chat_id: group.id, text: `g${i}` })).status).toBe(200);
    expect((await raw('sendMessage', { chat_id: group.id, text: 'g3' })).json.parameters).toEqual({ retry_after: 60 });
    now += 30_000;
    expect((await raw('sendMessage', { chat_id: group.id, text: 'g3' })).json.parameters).toEqual({ retry_after: 30 });
    now += 30_000;
    expect((await raw('sendMessage', { chat_id: group.id, text: 'g3' })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await raw('sendMessage', { chat_id: dm.id, text: `d${i}` })).status).toBe(200);
    const global = await raw('sendMessage', { chat_id: dm.id, text: 'over' });
    expect(global.status).toBe(429);
    expect(global.json.parameters.retry_after).toBe(1);
    // Non-chat calls are not limited.
    expect((await raw('getMe', {})).status).toBe(200);
  });
});

describe('webhook mode', () => {
  it('POSTs updates with the secret header, retries non-2xx, and blocks getUpdates', async () => {
    await start();
    const received: Array<{ headers: IncomingHttpHeaders; body: any }> = [];
    const receiver = createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(data) });
        res.statusCode = received.length === 1 ? 500 : 200; // first delivery fails
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => receiver.close(r)));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const tg = api();
    expect(await tg.setWebhook(url, { secret_token: 'hook_Secret-1' })).toBe(true);
    const conflict = await raw('getUpdates', {});
    expect(conflict.status).toBe(409);
    expect(conflict.json.description).toMatch(/^Conflict: can't use getUpdates method while webhook is active/);

    fake.userMessage({ chat: dm, from: alice, text: 'via hook' });
    await until(() => received.length === 2, 'delivery retried');
    expect(received.map((r) => r.headers['x-telegram-bot-api-secret-token'])).toEqual(['hook_Secret-1', 'hook_Secret-1']);
    expect(received[1].body).toEqual(received[0].body);
    expect(received[1].body.message.text).toBe('via hook');
    const info = await tg.getWebhookInfo();
    expect(info.url).toBe(url);
    expect(await tg.deleteWebhook()).toBe(true);
    expect((await raw('getUpdates', {})).status).toBe(200);
  });

  it("is accepted by grammy's own webhook handler, which checks the secret", async () => {
    await start();
    const bot = newBot();
    bot.botInfo = { ...fake.bot, is_bot: true } as typeof bot.botInfo;
    const seen: string[] = [];
    bot.on('message:text', (ctx) => {
      seen.push(ctx.message.text);
    });
    const handler = webhookCallback(bot, 'http', { secretToken: 'right_secret' });
    const receiver = createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => receiver.close(r)));
    await api().setWebhook(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, { secret_token: 'right_secret' });
    fake.userMessage({ chat: dm, from: alice, text: 'hooked' });
    await until(() => seen.length === 1, 'grammy webhook handler ran');
    expect(seen).toEqual(['hooked']);
    await api().deleteWebhook();
  });
});

describe('files and faults', () => {
  it('serves an injected photo through getFile and stores uploaded photos and documents', async () => {
    await start();
    const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 0, 255]);
    const m = fake.userMessage({ chat: dm, from: alice, photo: { bytes }, caption: 'look @alice_w' });
    const sizes = m.photo as Array<{ file_id: string; width: number }>;
    expect(sizes.length).toBeGreaterThan(1);
    const file = await api().getFile(sizes[sizes.length - 1].file_id);
    const res = await fetch(`${fake.apiRoot}/file/bot${fake.token}/${file.file_path}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    const upd = (await raw('getUpdates', {})).json.result[0];
    expect(upd.message).toMatchObject({ caption: 'look @alice_w', caption_entities: [{ type: 'mention', offset: 5, length: 8 }] });
    expect((await apiError(api().getFile('nope'))).description).toBe('Bad Request: invalid file_id');

    // grammy uploads files as multipart/form-data.
    const tg = api();
    const photo = await tg.sendPhoto(dm.id, new InputFile(Buffer.from('png-bytes'), 'chart.png'), { caption: '<b>chart</b>', parse_mode: 'HTML' });
    expect(photo).toMatchObject({ caption: 'chart', caption_entities: [{ type: 'bold', offset: 0, length: 5 }] });
    const doc = await tg.sendDocument(dm.id, new InputFile(Buffer.from('hello doc'), 'notes.txt'));
    expect(doc.document).toMatchObject({ file_name: 'notes.txt', mime_type: 'text/plain', file_size: 9 });
    const docFile = await tg.getFile(doc.document.file_id);
    const docBytes = await (await fetch(`${fake.apiRoot}/file/bot${fake.token}/${docFile.file_path}`)).text();
    expect(docBytes).toBe('hello doc');
    expect(fake.botMessages(dm.id).map((b) => Boolean(b.photo || b.document))).toEqual([true, true]);
  });

  it('injects one-shot faults: network drop, 429 with retry_after, 502', async () => {
    await start();
    fake.addChat(dm);
    const tg = api();
    fake.failNext('sendMessage', { network: true });
    const dropped = await tg.sendMessage(dm.id, 'lost?').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(dropped).toBeInstanceOf(HttpError);
    expect(fake.calls.at(-1)).toMatchObject({ method: 'sendMessage', status: 0, error: 'network' });
    expect(fake.botMessages(dm.id)).toHaveLength(0);

    fake.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 3', retry_after: 3 });
    const limited = await apiError(tg.sendMessage(dm.id, 'x'));
    expect(limited.error_code).toBe(429);
    expect(limited.parameters.retry_after).toBe(3);
    expect(fake.rateLimited()).toBe(1);

    fake.failNext('editMessageText', { error_code: 502, description: 'Bad Gateway' }, 2);
    const m = await tg.sendMessage(dm.id, 'ok now');
    for (let i = 0; i < 2; i++) expect((await apiError(tg.editMessageText(dm.id, m.message_id, 'e'))).error_code).toBe(502);
    expect((await tg.editMessageText(dm.id, m.message_id, 'e')) as { text?: string }).toMatchObject({ text: 'e' });
  });

  it('a fault may name several methods (the first matching call takes it), or hang a call without answering', async () => {
    await start();
    fake.addChat(dm);
    const tg = api();
    fake.failNext(['sendMessage', 'editMessageText'], { error_code: 502, description: 'Bad Gateway' }, 2);
    expect((await apiError(tg.sendMessage(dm.id, 'a'))).error_code).toBe(502);
    expect(await tg.getMe()).toMatchObject({ is_bot: true }); // other methods are not affected
    expect((await apiError(tg.sendMessage(dm.id, 'b'))).error_code).toBe(502);
    const m = await tg.sendMessage(dm.id, 'c');
    await tg.editMessageText(dm.id, m.message_id, 'c2');

    fake.failNext('sendMessage', { hang: true });
    const ac = new AbortController();
    const hung = tg.sendMessage(dm.id, 'never answered', undefined, ac.signal as never).then(
      () => 'answered',
      () => 'aborted',
    );
    await waitFor(() => fake.calls.at(-1)?.error === 'hang');
    ac.abort();
    expect(await hung).toBe('aborted');
    expect(fake.botMessages(dm.id).map((b) => b.text)).toEqual(['c2']);
  });

  it('keeps commands per scope', async () => {
    await start();
    const tg = api();
    await tg.setMyCommands([{ command: 'stop', description: 'Stop the turn' }]);
    await tg.setMyCommands([{ command: 'admin', description: 'Admin' }], { scope: { type: 'all_group_chats' } });
    expect(await tg.getMyCommands()).toEqual([{ command: 'stop', description: 'Stop the turn' }]);
    expect(await tg.getMyCommands({ scope: { type: 'all_group_chats' } })).toEqual([{ command: 'admin', description: 'Admin' }]);
    expect((await apiError(tg.setMyCommands([{ command: 'Bad-Cmd', description: 'x' }]))).description).toBe('Bad Request: BOT_COMMAND_INVALID');
    await tg.deleteMyCommands();
    expect(await tg.getMyCommands()).toEqual([]);
  });
});
