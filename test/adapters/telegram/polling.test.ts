import { setMaxListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { TelegramStartupError, type TelegramAdapter } from '../../../adapters/telegram/index.js';
import type { InboundMessage, InboundPress } from '../../../src/core/adapter-types.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram } from '../../peers/fake-telegram.js';
import { waitFor } from '../../helpers/wait.js';
import { adapterFor, errorText, RecordingSink, rejection } from './tg-test-kit.js';

const alice = { id: 1001, first_name: 'Alice' };
const bob = { id: 1002, first_name: 'Bob' };
const dmChat: FakeChat = { id: 1001, type: 'private', first_name: 'Alice' };
const groupChat: FakeChat = { id: -100777, type: 'supergroup', title: 'Team' };
const forumChat: FakeChat = { id: -100888, type: 'supergroup', title: 'Forum', is_forum: true };

let fake: FakeTelegram;
const adapters: TelegramAdapter[] = [];
const ac = new AbortController();
// One shutdown signal serves every adapter this file starts (each in-flight API call listens on it).
setMaxListeners(0, ac.signal);

async function startFake() {
  fake = await startFakeTelegram({ limits: false });
  return fake;
}
function track(a: TelegramAdapter) {
  adapters.push(a);
  return a;
}
afterEach(async () => {
  for (const a of adapters.splice(0)) await a.stop();
  await fake?.close();
});

describe('startup', () => {
  it('returns the identity, registers commands, clears the webhook before polling', async () => {
    await startFake();
    const a = track(adapterFor(fake, { commands: [{ command: 'status', description: 'Show status' }] }));
    const me = await a.start(new RecordingSink(), ac.signal);
    expect(me).toEqual({ id: String(fake.bot.id), username: fake.bot.username, displayName: fake.bot.first_name });
    const methods = fake.calls.map((c) => c.method);
    expect(methods.slice(0, 4)).toEqual(['getMe', 'setMyCommands', 'deleteWebhook', 'getUpdates']);
    expect(fake.calls.find((c) => c.method === 'deleteWebhook')!.params.drop_pending_updates).not.toBe(true);
  });

  it('a wrong token → unauthorized, with the token nowhere in the error', async () => {
    await startFake();
    const token = '999:WrongTokenWrongTokenWrongTokenWrong';
    const e = await rejection(adapterFor(fake, { token }).start(new RecordingSink(), ac.signal));
    expect(e).toBeInstanceOf(TelegramStartupError);
    expect(e).toMatchObject({ code: 'unauthorized' });
    expect(e.message).toBe('telegram.token was refused by Telegram (401 Unauthorized): check the token from @BotFather');
    expect(errorText(e)).not.toContain('WrongToken');
  });

  it('another poller (409 on the first getUpdates) → conflict', async () => {
    await startFake();
    fake.failNext('getUpdates', { error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
    const e = await rejection(adapterFor(fake).start(new RecordingSink(), ac.signal));
    expect(e).toMatchObject({ code: 'conflict', message: 'another process is polling this bot token (409 Conflict); stop it or use webhook mode' });
  });

  it('an unreachable API → network, token-free', async () => {
    await startFake();
    const apiRoot = fake.apiRoot;
    await fake.close();
    const e = await rejection(adapterFor(fake, { apiRoot }).start(new RecordingSink(), ac.signal));
    expect(e).toMatchObject({ code: 'network' });
    expect(errorText(e)).not.toContain(fake.token);
  });

  it('a later 409 or network error is retried', async () => {
    await startFake();
    const sink = new RecordingSink();
    const a = track(adapterFor(fake));
    await a.start(sink, ac.signal);
    fake.failNext('getUpdates', { error_code: 409, description: 'Conflict: terminated by other getUpdates request' });
    fake.failNext('getUpdates', { network: true });
    fake.userMessage({ chat: dmChat, from: alice, text: 'still there?' });
    await waitFor(() => sink.events.length === 1);
    expect(sink.texts()).toEqual(['still there?']);
  });

  it('stop() ends a long poll without waiting it out', async () => {
    await startFake();
    const a = adapterFor(fake, { pollTimeoutSec: 25 });
    await a.start(new RecordingSink(), ac.signal);
    await waitFor(() => fake.calls.some((c) => c.method === 'getUpdates' && c.params.timeout !== undefined && Number(c.params.timeout) > 0));
    await a.stop(); // the test's own timeout (well under 25 s of poll) is the check
  }, 15_000);
});

describe('intake', () => {
  it('delivers messages with gating facts computed from entities', async () => {
    await startFake();
    const sink = new RecordingSink();
    await track(adapterFor(fake)).start(sink, ac.signal);
    fake.userMessage({ chat: groupChat, from: alice, text: 'hey @loopbridge_bot what is up' });
    fake.userMessage({ chat: groupChat, from: alice, text: 'the loopbridge_bot thing is cool' });
    fake.userMessage({ chat: groupChat, from: alice, text: '/status@loopbridge_bot' });
    fake.userMessage({ chat: groupChat, from: alice, text: '/status@other_bot' });
    fake.userMessage({ chat: forumChat, from: bob, text: 'in a topic', threadId: 42 });
    await waitFor(() => sink.events.length === 5);
    // Different chats run concurrently, so look events up by text.
    const by = new Map((sink.events as InboundMessage[]).map((e) => [e.text, e]));
    const facts = (t: string) => [by.get(t)!.mentionsBot, by.get(t)!.addressedElsewhere ?? false];
    expect(facts('hey @loopbridge_bot what is up')).toEqual([true, false]);
    expect(facts('the loopbridge_bot thing is cool')).toEqual([false, false]);
    expect(facts('/status@loopbridge_bot')).toEqual([true, false]);
    expect(facts('/status@other_bot')).toEqual([false, true]);
    expect(facts('in a topic')).toEqual([false, false]);
    expect(by.get('in a topic')!.conversation).toEqual({ platform: 'telegram', chatId: String(forumChat.id), threadId: '42', isDirect: false });
  });

  it('a reply to a bot message is marked replyToBot', async () => {
    await startFake();
    const sink = new RecordingSink();
    const a = track(adapterFor(fake));
    await a.start(sink, ac.signal);
    fake.addChat(groupChat);
    const ref = await a.send({ platform: 'telegram', chatId: String(groupChat.id), isDirect: false }, { text: 'question?' }, ac.signal);
    fake.userMessage({ chat: groupChat, from: alice, text: 'answer', replyToMessageId: Number(ref.messageId) });
    await waitFor(() => sink.events.length === 1);
    expect(sink.events[0]).toMatchObject({ replyToBot: true, replyToMessageId: ref.messageId });
  });

  it('buttons round trip: a press arrives with the same token, and answerPress is recorded', async () => {
    await startFake();
    const sink = new RecordingSink();
    const a = track(adapterFor(fake));
    await a.start(sink, ac.signal);
    fake.addChat(dmChat);
    const conv = { platform: 'telegram', chatId: String(dmChat.id), isDirect: true };
    const ref = await a.send(conv, { text: 'Allow?', buttons: [[{ label: 'Allow', token: 'c_7f3a' }, { label: 'Deny', token: 'c_9b21' }]] }, ac.signal);
    const queryId = fake.pressButton({ chat: dmChat, from: alice, messageId: Number(ref.messageId), data: 'c_9b21' });
    await waitFor(() => sink.events.length === 1);
    const press = sink.events[0] as InboundPress;
    expect(press).toMatchObject({ kind: 'press', token: 'c_9b21', pressId: queryId, sender: { id: String(alice.id) }, messageRef: { messageId: ref.messageId } });
    await a.answerPress(press, 'Denied', ac.signal);
    expect(fake.callbackAnswers.get(queryId)).toEqual({ text: 'Denied' });
    await a.answerPress(press, 'again', ac.signal); // already answered: not an error
  });

  it('updates of one chat in order, different chats concurrently, with a slow sink', async () => {
    await startFake();
    for (const t of ['a1', 'a2', 'a3']) fake.userMessage({ chat: dmChat, from: alice, text: t });
    for (const t of ['b1', 'b2']) fake.userMessage({ chat: groupChat, from: bob, text: `@loopbridge_bot ${t}` });
    const text = (e: { kind: string }) => (e as InboundMessage).text.replace('@loopbridge_bot ', '');
    let overtaken = false;
    const sink: RecordingSink = new RecordingSink(async (e) => {
      const t = text(e);
      // Each later update of a chat must come only after the earlier one was accepted.
      const prev = { a2: 'a1', a3: 'a2', b2: 'b1' }[t];
      if (prev && !sink.events.some((x) => text(x) === prev)) overtaken = true;
      // a1 holds until chat b has been offered: impossible unless chats run concurrently.
      if (t === 'a1') await waitFor(() => sink.offered.some((x) => text(x) === 'b1'));
      await new Promise((r) => setTimeout(r, 20));
    });
    await track(adapterFor(fake)).start(sink, ac.signal);
    await waitFor(() => sink.events.length === 5);
    expect(overtaken).toBe(false);
    expect(sink.events.map(text).filter((t) => t.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(sink.events.map(text).filter((t) => t.startsWith('b'))).toEqual(['b1', 'b2']);
  });

  it('the offset moves only past accepted updates: a refused update comes back after a restart, an accepted one does not', async () => {
    await startFake();
    for (const t of ['first', 'second', 'third']) fake.userMessage({ chat: dmChat, from: alice, text: t });
    const refusing = new RecordingSink((e) => {
      if ((e as InboundMessage).text === 'second') throw new Error('shutting down');
    });
    const a = adapterFor(fake);
    await a.start(refusing, ac.signal);
    await waitFor(() => refusing.offered.some((e) => (e as InboundMessage).text === 'second'));
    await a.stop();
    expect(refusing.texts()).toEqual(['first']);

    const sink = new RecordingSink();
    await track(adapterFor(fake)).start(sink, ac.signal);
    await waitFor(() => sink.events.length >= 2);
    fake.userMessage({ chat: dmChat, from: alice, text: 'fourth' });
    await waitFor(() => sink.texts().includes('fourth'));
    expect(sink.texts()).toEqual(['second', 'third', 'fourth']);
  });
});
