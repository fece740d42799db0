// Issue 4's acceptance, tried as a new user would: `loopbridge start --config` as a child process, with the
// loop simulator and the Telegram Bot API fake (limits enforced) on 127.0.0.1.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ann, annDm, telegramVisible } from '../helpers/telegram.js';
import { LoopClient } from '../../src/loop-api/client.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { startFakeTelegram, type FakeTelegram, type StoredMessage } from '../peers/fake-telegram.js';
import { checkReply, gatedSegments, MISSING_NOTE } from '../helpers/reply-check.js';
import { DaemonRuns } from '../helpers/daemon-process.js';
import { writeDaemonConfig } from '../helpers/daemon-config.js';
import { loopThatReceived, receivedByLoops } from '../helpers/sim-loops.js';
import { waitFor } from '../helpers/wait.js';

const bob = { id: 5151, first_name: 'Bob', username: 'bob' };
const group = { id: -100555, type: 'supergroup' as const, title: 'Team' };
const forum = { id: -100666, type: 'supergroup' as const, title: 'Forum', is_forum: true };

let sim: Simulator;
let fake: FakeTelegram;
let dir: string;
let config: string;
/** The daemon's runs in this file (restarts included). */
let daemon: DaemonRuns;

const bot = (chatId: number, threadId?: number) => fake.botMessages(chatId, threadId);
const botTexts = (chatId: number, threadId?: number) => bot(chatId, threadId).map((m) => m.text ?? '');

/** Waits for a bot message in the chat whose visible text matches. */
function botMessage(chatId: number, re: RegExp, threadId?: number): Promise<StoredMessage> {
  return waitFor(() => bot(chatId, threadId).find((m) => re.test(m.text ?? '')), 20_000);
}

/** The store file records a delivered live message with this platform id (read as the daemon wrote it). */
function storeHoldsRef(messageId: string): boolean {
  try {
    const data = JSON.parse(readFileSync(join(dir, 'store.json'), 'utf8')) as { entries: Record<string, { v: { chunks?: Array<{ ref: { messageId: string } }> } }> };
    return Object.entries(data.entries).some(([k, e]) => k.startsWith('turn/') && (e.v.chunks ?? []).some((c) => c.ref.messageId === messageId));
  } catch {
    return false; // mid-rename or not written yet
  }
}

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 30 });
  fake = await startFakeTelegram(); // Telegram's limits enforced: 30/s, ~1/s per chat, 20/min per group
  for (const c of [annDm, group, forum]) fake.addChat(c);
  dir = mkdtempSync(join(tmpdir(), 'lb-tg-'));
  config = writeDaemonConfig(
    dir,
    sim,
    `access: { users: ["telegram:${ann.id}"] }
telegram: { token: "${fake.token}", apiRoot: "${fake.apiRoot}" }
ops: { logLevel: warn, logFormat: json }`,
  );
  daemon = new DaemonRuns(config);
  daemon.start();
  await waitFor(() => fake.calls.some((c) => c.method === 'getUpdates'), 20_000);
});

afterAll(async () => {
  if (process.env.TG_E2E_DUMP) writeFileSync(process.env.TG_E2E_DUMP, daemon.output() + "\n" + JSON.stringify(fake.calls.slice(-25).map((c) => [c.method, c.at, c.status, c.error, c.method === "getUpdates" ? JSON.stringify(c.params) : ""]), null, 0));
  await daemon?.stop();
  await fake.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('telegram through the daemon', () => {
  it('registers the commands and answers a private message with one streamed reply, exactly the loop text', async () => {
    expect(fake.calls.some((c) => c.method === 'setMyCommands')).toBe(true);
    const client = new LoopClient({ baseUrl: sim.url, token: sim.token });
    fake.userMessage({ chat: annDm, from: ann, text: 'slow 3' });
    const reply = await botMessage(annDm.id, /tick 3\/3/);
    await client.close();
    expect(reply.text).toBe('tick 1/3\ntick 2/3\ntick 3/3');
    expect(reply.editCount).toBeGreaterThan(0); // it grew in place
    expect(botTexts(annDm.id).filter((t) => t.includes('tick 1/3'))).toHaveLength(1);
    expect(fake.calls.some((c) => c.method === 'sendChatAction')).toBe(true); // typing while it ran
  });

  it('ignores unaddressed group chatter and answers an @-mention (and /cmd@thisbot, not /cmd@otherbot)', async () => {
    fake.userMessage({ chat: group, from: ann, text: 'just chatting, nothing for the bot' });
    fake.userMessage({ chat: group, from: ann, text: '/status@otherbot' });
    fake.userMessage({ chat: group, from: ann, text: `@${fake.bot.username} hello team` });
    await botMessage(group.id, /Echo: hello team/);
    fake.userMessage({ chat: group, from: ann, text: `/help@${fake.bot.username}` });
    await botMessage(group.id, /\/new/);
    const texts = botTexts(group.id);
    expect(texts.some((t) => t.includes('just chatting'))).toBe(false);
    expect(texts.filter((t) => /Loop:|No loop yet/.test(t))).toHaveLength(0); // /status@otherbot was not ours
  });

  it('each forum topic is its own loop, replies in the topic', async () => {
    fake.userMessage({ chat: forum, from: ann, threadId: 11, text: `@${fake.bot.username} topic eleven` });
    fake.userMessage({ chat: forum, from: ann, threadId: 22, text: `@${fake.bot.username} topic twenty-two` });
    await botMessage(forum.id, /Echo: topic eleven/, 11);
    await botMessage(forum.id, /Echo: topic twenty-two/, 22);
    expect(botTexts(forum.id, 11).some((t) => t.includes('twenty-two'))).toBe(false);
  });

  it('permission: Allow/Deny buttons; a press by someone else does nothing, the allowed user answers', async () => {
    fake.userMessage({ chat: group, from: ann, text: `@${fake.bot.username} permission to clean` });
    const prompt = await botMessage(group.id, /Permission requested/);
    const buttons = (prompt.reply_markup as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> }).inline_keyboard.flat();
    expect(buttons.map((b) => b.text)).toEqual(['✅ Allow', '🚫 Deny']);
    const allow = buttons[0].callback_data;
    expect(Buffer.byteLength(allow)).toBeLessThanOrEqual(64);

    const bobPress = fake.pressButton({ chat: group, from: bob, messageId: prompt.message_id, data: allow });
    await waitFor(() => fake.callbackAnswers.get(bobPress), 20_000);
    expect(fake.callbackAnswers.get(bobPress)?.text).toMatch(/Only Ann or an admin/);

    // A forged press (data that was never on a button) is refused too.
    const forged = 'forged-token.a';
    fake.injectUpdate({ callback_query: { id: '999001', from: { ...ann, is_bot: false }, chat_instance: '1', data: forged, message: { message_id: prompt.message_id, chat: group, date: 0 } } });
    const forgedAnswer = await waitFor(() => fake.calls.find((c) => c.method === 'answerCallbackQuery' && c.params.callback_query_id === '999001'), 20_000);
    expect(String(forgedAnswer.params.text)).toMatch(/not valid/);

    const annPress = fake.pressButton({ chat: group, from: ann, messageId: prompt.message_id, data: allow });
    await botMessage(group.id, /I ran/);
    expect(fake.callbackAnswers.get(annPress)?.text).toMatch(/Allowed by Ann/);
    const after = bot(group.id).find((m) => m.message_id === prompt.message_id)!;
    expect(after.text).toContain('Allowed by Ann');
    expect(JSON.stringify(after.reply_markup ?? { inline_keyboard: [] })).not.toContain('callback_data'); // buttons replaced by the outcome
  });

  it('a 15,000-character reply arrives complete across several messages, each within 4096', async () => {
    const paragraphs = Array.from({ length: 60 }, (_, i) => `Paragraph ${i + 1}: ${'lorem ipsum dolor sit amet '.repeat(9).trim()}.`);
    const text = paragraphs.join('\n\n');
    expect(text.length).toBeGreaterThan(15_000);
    sim.scriptNextTurn('*', [{ delta: text.slice(0, 5000) }, { delta: text.slice(5000, 10000) }, { delta: text.slice(10000) }]);
    const before = bot(annDm.id).length;
    fake.userMessage({ chat: annDm, from: ann, text: 'give me the long one' });
    await botMessage(annDm.id, /Paragraph 60:.*amet\.$/s);
    await waitFor(() => (fake.calls.filter((c) => c.method === 'editMessageText' || c.method === 'sendMessage').at(-1)!.at < Date.now() - 3000 ? true : undefined), 30_000);
    const chunks = bot(annDm.id).slice(before).map((m) => m.text ?? '');
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(4096);
    expect(chunks.join('\n\n').replace(/\s+/g, ' ')).toBe(telegramVisible(text).replace(/\s+/g, ' '));
  });

  it('the same update delivered twice makes one turn', async () => {
    const m = fake.userMessage({ chat: annDm, from: ann, text: 'only once please' });
    fake.injectUpdate({ message: { message_id: m.message_id, from: { ...ann, is_bot: false }, chat: annDm, date: m.date, text: 'only once please' } });
    await botMessage(annDm.id, /Echo: only once please/);
    fake.userMessage({ chat: annDm, from: ann, text: 'and then this' });
    await botMessage(annDm.id, /Echo: and then this/);
    expect(botTexts(annDm.id).filter((t) => t.includes('Echo: only once please'))).toHaveLength(1);
    expect((await receivedByLoops(sim)).filter((r) => r === 'only once please')).toHaveLength(1);
  });

  it('a stranger in a private chat is refused, and nothing reaches a loop', async () => {
    const bobDm = { id: bob.id, type: 'private' as const, first_name: 'Bob' };
    fake.userMessage({ chat: bobDm, from: bob, text: 'let me in' });
    await botMessage(bobDm.id, /private/);
    expect((await receivedByLoops(sim)).includes('let me in')).toBe(false);
  });

  it('a 429 from Telegram is waited out and the reply still arrives once; the budget caused no other 429', async () => {
    const injected = fake.rateLimited();
    fake.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
    fake.userMessage({ chat: annDm, from: ann, text: 'after a rate limit' });
    await botMessage(annDm.id, /Echo: after a rate limit/);
    expect(botTexts(annDm.id).filter((t) => t.includes('Echo: after a rate limit'))).toHaveLength(1);
    expect(fake.rateLimited() - injected).toBeLessThanOrEqual(1); // only the injected one, none earned
  });

  it('a 429 storm on sends and edits delays the reply but it converges, once, to the exact text', async () => {
    fake.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 }, 2);
    fake.failNext('editMessageText', { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 }, 3);
    fake.userMessage({ chat: annDm, from: ann, text: 'slow 4 through a storm' });
    const reply = await botMessage(annDm.id, /tick 4\/4/);
    // The final edit (the Stop button gone): an intermediate edit can show all four ticks too, and the final
    // edit is the one that waits out whatever injected 429s the intermediate ones did not take.
    const isFinal = (m: StoredMessage | undefined) => m?.text === 'tick 1/4\ntick 2/4\ntick 3/4\ntick 4/4' && !JSON.stringify(m.reply_markup ?? {}).includes('callback_data');
    await waitFor(() => (isFinal(bot(annDm.id).find((m) => m.message_id === reply.message_id)) ? true : undefined), 30_000);
    expect(botTexts(annDm.id).filter((t) => t.includes('tick 1/4'))).toHaveLength(1);
    const storm = fake.calls.filter((c) => c.status === 429 && (c.method === 'sendMessage' || c.method === 'editMessageText'));
    expect(storm.length).toBeGreaterThanOrEqual(5);
  });

  it('the Stop button on the live message interrupts the turn', async () => {
    fake.userMessage({ chat: annDm, from: ann, text: 'slow 30' });
    const live = await botMessage(annDm.id, /tick 1\/30/);
    const stop = (live.reply_markup as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> }).inline_keyboard.flat().find((b) => b.text.includes('Stop'))!;
    const id = fake.pressButton({ chat: annDm, from: ann, messageId: live.message_id, data: stop.callback_data });
    const stopped = await botMessage(annDm.id, /Stopped\./);
    expect(stopped.message_id).toBe(live.message_id);
    expect(stopped.text).not.toContain('tick 30/30');
    expect(fake.callbackAnswers.get(id)?.text).toMatch(/Stopping/);
  });

  it('a photo with a caption reaches the loop as an image; other files get a clear "not supported"', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d6d3e80000000049454e44ae426082', 'hex');
    fake.userMessage({ chat: annDm, from: ann, photo: { bytes: png, mime: 'image/png' }, caption: 'what is in this picture' });
    await botMessage(annDm.id, /Echo: what is in this picture/);
    const client = new LoopClient({ baseUrl: sim.url, token: sim.token });
    let images: number | undefined;
    for await (const loop of client.listAllLoops()) {
      const i = sim.received(loop.id).indexOf('what is in this picture');
      if (i >= 0) images = sim.receivedImages(loop.id)[i];
    }
    await client.close();
    expect(images).toBe(1);

    fake.userMessage({ chat: annDm, from: ann, document: { bytes: Buffer.from('%PDF-1.4'), mime: 'application/pdf', fileName: 'report.pdf' }, caption: 'and this report' });
    await botMessage(annDm.id, /report\.pdf \(application\/pdf is not supported yet\)/);
    await botMessage(annDm.id, /Echo: and this report/); // the caption still goes through
  });

  it('the daemon killed mid-turn and restarted finishes the reply once', async () => {
    fake.userMessage({ chat: annDm, from: ann, text: 'slow 5' });
    const live = await waitFor(() => bot(annDm.id).find((m) => m.text === 'tick 1/5'), 20_000);
    // Mid-turn, once the store holds the live message's ref. (Killing within the few ms between Telegram
    // accepting a send and the store recording it could post that message twice: no Bot API call makes a
    // send idempotent.)
    await waitFor(() => storeHoldsRef(String(live.message_id)), 20_000);
    await daemon.restart('SIGKILL');
    // Final: the last tick shown, or the turn over with the note (Stop button gone) if it ended while down.
    const reply = await waitFor(
      () => bot(annDm.id).find((m) => /^tick 1\/5/.test(m.text ?? '') && (/tick 5\/5/.test(m.text ?? '') || (/may be missing/.test(m.text ?? '') && !JSON.stringify(m.reply_markup ?? {}).includes('callback_data')))),
      20_000,
    );
    expect(botTexts(annDm.id).filter((t) => /^tick 1\/5/.test(t))).toHaveLength(1);
    // Complete, or (when the restart took longer than a tick) saying so, with what it shows in order.
    const written = Array.from({ length: 5 }, (_, i) => `tick ${i + 1}/5\n`).join('');
    expect(checkReply(reply.text ?? '', written).problem).toBeUndefined();
    expect(daemon.output()).not.toContain(fake.token);
    expect(daemon.output()).not.toContain(sim.token);
  });

  it('killed while the loop writes, restarted after it wrote more: the final message says plainly that a part is missing', { timeout: 150_000 }, async () => {
    const turn = gatedSegments();
    sim.scriptNextTurn('*', turn.steps);
    fake.userMessage({ chat: annDm, from: ann, text: 'thirty segments please' });
    const client = new LoopClient({ baseUrl: sim.url, token: sim.token });
    try {
      const loopId = await waitFor(() => loopThatReceived(sim, 'thirty segments please', client), 30_000);
      const live = await waitFor(() => bot(annDm.id).find((m) => /^seg01 seg02/.test(m.text ?? '')), 30_000);
      // Once the store holds the live message (a kill between Telegram's answer and that write could post it twice).
      await waitFor(() => storeHoldsRef(String(live.message_id)), 30_000);
      await waitFor(() => sim.written(loopId).includes('seg03'), 30_000); // held there until released
      await daemon.current.stop('SIGKILL');
      await waitFor(() => sim.listeners(loopId) === 0, 30_000);
      // The loop writes on with nobody attached ([IMPL]: none of it reaches the snapshot), then waits at the prompt.
      sim.release(turn.downGate);
      await waitFor(() => sim.written(loopId).includes('seg12'), 30_000);
      daemon.start();
      await waitFor(() => sim.listeners(loopId) > 0, 60_000);
      await waitFor(() => client.answerChoice(loopId, turn.gateChoiceId, { allow: true }).then(() => true, () => false), 30_000);
      const reply = await waitFor(() => bot(annDm.id).find((m) => m.message_id === live.message_id && /seg30/.test(m.text ?? '') && !JSON.stringify(m.reply_markup ?? {}).includes('callback_data')), 60_000);
      expect(bot(annDm.id).filter((m) => /^seg01 seg02/.test(m.text ?? ''))).toHaveLength(1);
      const text = reply.text ?? '';
      expect(text).toMatch(new RegExp(`${MISSING_NOTE}: loopbridge was disconnected for \\d+ s while the loop was writing`));
      const verdict = checkReply(text, turn.written);
      expect(verdict.problem).toBeUndefined();
      expect(verdict.notes).toBe(1);
      for (const seg of turn.lost) expect(text).not.toContain(seg); // written while down: gone, and not pretended
    } finally {
      await client.close();
    }
  });
});
