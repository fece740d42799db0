import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TelegramAdapter } from '../../../adapters/telegram/index.js';
import { fetchTelegramFile } from '../../../adapters/telegram/files.js';
import { Api } from 'grammy';
import { PlatformError, PlatformRateLimitError, type ConversationRef } from '../../../src/core/adapter-types.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram } from '../../peers/fake-telegram.js';
import { adapterFor, errorText, rejection } from './tg-test-kit.js';

const alice = { id: 1001, first_name: 'Alice' };
const dmChat: FakeChat = { id: 1001, type: 'private', first_name: 'Alice' };
const forumChat: FakeChat = { id: -100888, type: 'supergroup', title: 'Forum', is_forum: true };
const dm: ConversationRef = { platform: 'telegram', chatId: '1001', isDirect: true };
const signal = new AbortController().signal;

let fake: FakeTelegram;
let adapter: TelegramAdapter;
/** Every error provoked in this file; none may contain the token. */
const provoked: unknown[] = [];
const fail = async (p: Promise<unknown>) => {
  const e = await rejection(p);
  provoked.push(e);
  return e;
};

beforeAll(async () => {
  fake = await startFakeTelegram({ limits: false });
  adapter = adapterFor(fake);
  fake.addChat(dmChat);
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => {
  fake.calls.length = 0;
});

const lastCall = (method: string) => fake.calls.filter((c) => c.method === method).at(-1)!;
const stored = (chatId: number, messageId: string) => fake.messages(chatId).find((m) => m.message_id === Number(messageId))!;

describe('send', () => {
  it('sends markdown as Telegram HTML without link previews', async () => {
    const ref = await adapter.send(dm, { text: 'a **bold** `x<y` https://example.org' }, signal);
    const m = stored(1001, ref.messageId);
    expect(m.text).toBe('a bold x<y https://example.org');
    expect(m.entities).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'bold' }), expect.objectContaining({ type: 'code' })]));
    const call = lastCall('sendMessage');
    expect(call.params.parse_mode).toBe('HTML');
    const preview = call.params.link_preview_options;
    expect(typeof preview === 'string' ? JSON.parse(preview) : preview).toEqual({ is_disabled: true });
  });

  it('plain sends the text literally, without parse_mode', async () => {
    const ref = await adapter.send(dm, { text: '**not bold** <b>', plain: true }, signal);
    expect(stored(1001, ref.messageId).text).toBe('**not bold** <b>');
    expect(lastCall('sendMessage').params.parse_mode).toBeUndefined();
  });

  it('posts into the forum topic and as a reply', async () => {
    const user = fake.userMessage({ chat: forumChat, from: alice, text: 'hi', threadId: 7 });
    const topic: ConversationRef = { platform: 'telegram', chatId: String(forumChat.id), threadId: '7', isDirect: false };
    const ref = await adapter.send(topic, { text: 'answer', replyTo: String(user.message_id) }, signal);
    const m = stored(forumChat.id, ref.messageId);
    expect(m.message_thread_id).toBe(7);
    expect(m.reply_to_message?.message_id).toBe(user.message_id);
  });

  it("falls back to plain text once on \"can't parse entities\"", async () => {
    fake.failNext('sendMessage', { error_code: 400, description: "Bad Request: can't parse entities: Unsupported start tag \"foo\" at byte offset 0" });
    const ref = await adapter.send(dm, { text: 'some *markdown*' }, signal);
    expect(stored(1001, ref.messageId).text).toBe('some *markdown*');
    const sends = fake.calls.filter((c) => c.method === 'sendMessage');
    expect(sends.map((c) => c.params.parse_mode)).toEqual(['HTML', undefined]);
  });

  it('refuses a button token over 64 bytes without calling Telegram', async () => {
    const e = await fail(adapter.send(dm, { text: 'x', buttons: [[{ label: 'A', token: 'x'.repeat(65) }]] }, signal));
    expect(e).toBeInstanceOf(PlatformError);
    expect((e as PlatformError).permanent).toBe(true);
    expect(fake.calls.filter((c) => c.method === 'sendMessage')).toHaveLength(0);
  });
});

describe('edit and delete', () => {
  it('edits text and keyboard; an identical edit ("not modified") is success', async () => {
    const ref = await adapter.send(dm, { text: 'one', buttons: [[{ label: 'Stop', token: 'tok_stop' }]] }, signal);
    await adapter.edit(ref, { text: 'one **two**', buttons: [[{ label: 'Stop', token: 'tok_stop' }]] }, signal);
    let m = stored(1001, ref.messageId);
    expect(m.text).toBe('one two');
    expect(m.reply_markup).toEqual({ inline_keyboard: [[{ text: 'Stop', callback_data: 'tok_stop' }]] });
    await adapter.edit(ref, { text: 'one **two**', buttons: [[{ label: 'Stop', token: 'tok_stop' }]] }, signal);
    expect(lastCall('editMessageText').error).toMatch(/not modified/);
    // Without buttons the keyboard goes away.
    await adapter.edit(ref, { text: 'one **two**' }, signal);
    m = stored(1001, ref.messageId);
    expect(m.reply_markup).toEqual({ inline_keyboard: [] });
  });

  it('"message to edit not found" is a permanent PlatformError', async () => {
    const e = await fail(adapter.edit({ conversation: dm, messageId: '99999' }, { text: 'x' }, signal));
    expect(e).toBeInstanceOf(PlatformError);
    expect(e).toMatchObject({ permanent: true, platformCode: 400 });
    expect(e.message).toMatch(/message to edit not found/);
  });

  it('edit falls back to plain on a parse error', async () => {
    const ref = await adapter.send(dm, { text: 'start' }, signal);
    fake.failNext('editMessageText', { error_code: 400, description: "Bad Request: can't parse entities: Can't find end of the entity" });
    await adapter.edit(ref, { text: '**end**' }, signal);
    expect(stored(1001, ref.messageId).text).toBe('**end**');
  });

  it('deletes; deleting again is fine', async () => {
    const ref = await adapter.send(dm, { text: 'bye' }, signal);
    await adapter.delete(ref, signal);
    expect(stored(1001, ref.messageId).deleted).toBe(true);
    await adapter.delete(ref, signal);
  });
});

describe('error mapping', () => {
  it('429 → PlatformRateLimitError with retry_after in ms', async () => {
    fake.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 3', retry_after: 3 });
    const e = await fail(adapter.send(dm, { text: 'x' }, signal));
    expect(e).toBeInstanceOf(PlatformRateLimitError);
    expect((e as PlatformRateLimitError).retryAfterMs).toBe(3000);
  });

  it('5xx → non-permanent PlatformError', async () => {
    fake.failNext('editMessageText', { error_code: 502, description: 'Bad Gateway' });
    const ref = await adapter.send(dm, { text: 'x' }, signal);
    const e = await fail(adapter.edit(ref, { text: 'y' }, signal));
    expect(e).toBeInstanceOf(PlatformError);
    expect(e).toMatchObject({ permanent: false, platformCode: 502 });
  });

  it('a dropped connection → non-permanent PlatformError', async () => {
    fake.failNext('sendMessage', { network: true });
    const e = await fail(adapter.send(dm, { text: 'x' }, signal));
    expect(e).toBeInstanceOf(PlatformError);
    expect((e as PlatformError).permanent).toBe(false);
  });

  it('403 (bot blocked) → permanent', async () => {
    fake.failNext('sendChatAction', { error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    const e = await fail(adapter.typing(dm, signal));
    expect(e).toMatchObject({ permanent: true, platformCode: 403 });
  });

  it('an aborted signal rejects without calling Telegram', async () => {
    const ac = new AbortController();
    ac.abort();
    await fail(adapter.send(dm, { text: 'x' }, ac.signal));
    expect(fake.calls).toHaveLength(0);
  });
});

describe('typing, drafts, files', () => {
  it('typing goes to the topic', async () => {
    fake.userMessage({ chat: forumChat, from: alice, text: 'hi', threadId: 9 });
    await adapter.typing({ platform: 'telegram', chatId: String(forumChat.id), threadId: '9', isDirect: false }, signal);
    expect(lastCall('sendChatAction').params).toMatchObject({ action: 'typing', message_thread_id: 9 });
  });

  it('drafts go to private chats as formatted text; not to groups', async () => {
    await adapter.draft(dm, 5, 'thinking **hard**', signal);
    expect(fake.drafts.at(-1)).toEqual({ chat_id: 1001, draft_id: 5, text: 'thinking hard' });
    const e = await fail(adapter.draft({ platform: 'telegram', chatId: String(forumChat.id), isDirect: false }, 5, 'x', signal));
    expect((e as PlatformError).permanent).toBe(true);
  });

  it("fetchFile returns the photo's bytes", async () => {
    const bytes = Buffer.from('\xff\xd8\xff fake jpeg bytes', 'latin1');
    const m = fake.userMessage({ chat: dmChat, from: alice, photo: { bytes }, caption: 'see' });
    const largest = (m.photo as Array<{ file_id: string }>).at(-1)!.file_id;
    expect(Buffer.compare(await adapter.fetchFile(largest, signal), bytes)).toBe(0);
  });

  it('fetchFile refuses files over the limit and unknown ids', async () => {
    const m = fake.userMessage({ chat: dmChat, from: alice, document: { bytes: Buffer.alloc(2048), mime: 'image/png', fileName: 'a.png' } });
    const fileId = (m.document as { file_id: string }).file_id;
    const ctx = { api: new Api(fake.token, { apiRoot: fake.apiRoot }), token: fake.token, apiRoot: fake.apiRoot, maxBytes: 1024 };
    const big = await fail(fetchTelegramFile(ctx, fileId, signal));
    expect(big).toMatchObject({ permanent: true, platformCode: 'file_too_large' });
    const unknown = await fail(adapter.fetchFile('nope', signal));
    expect(unknown).toMatchObject({ permanent: true });
  });
});

describe('secrets', () => {
  it('no provoked error mentions the token', () => {
    expect(provoked.length).toBeGreaterThan(5);
    for (const e of provoked) {
      expect(errorText(e)).not.toContain(fake.token);
      expect(errorText(e)).not.toContain(fake.token.split(':')[1]);
    }
  });
});
