// The Matrix adapter with the core against a real Synapse: DMs, mention gating in a three-member room,
// threads, history that is never answered, replayed syncs, invites, encrypted rooms, attachments and
// long replies. People act through their own clients; what they see is read back from the server.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MATRIX_MAX_CONTENT_BYTES, measureMatrix } from '../../../adapters/matrix/index.js';
import { renderTurnMarkdown } from '../../../src/core/render.js';
import { applyEvent, newProgress } from '../../../src/core/turn-view.js';
import { MatrixPerson, synapse } from '../../helpers/matrix.js';
import { startMatrixWorld, type MatrixWorld } from '../../helpers/matrix-bridge.js';
import { waitFor } from '../../helpers/wait.js';
import { registerUser, type SynapseAccount } from '../../peers/synapse/synapse.js';

let world: MatrixWorld;
let bot: SynapseAccount;
let alice: MatrixPerson;
let carol: MatrixPerson;
let dave: MatrixPerson;
let dm: string;
let group: string;
const BOT_NAME = 'Loop Bot';
const mentionBot = () => [{ userId: bot.userId, displayName: BOT_NAME }];

const botMessages = (room: string) => alice.messagesOf(room, bot.userId);
const answered = async (room: string, marker: string) => (await botMessages(room)).filter((m) => m.body.includes(marker));

/** Says `marker` with a mention and waits for its answer: everything said in the room before it was handled (FIFO). */
async function barrier(room: string, who = alice): Promise<void> {
  const marker = `barrier-${Math.random().toString(36).slice(2, 8)}`;
  await who.say(room, marker, room === dm ? {} : { mention: mentionBot() });
  await waitFor(async () => ((await answered(room, marker)).length ? true : undefined), `the answer to ${marker}`, 20_000);
}

async function botIsIn(room: string): Promise<void> {
  await waitFor(async () => ((await alice.joined(room)).includes(bot.userId) ? true : undefined), 'the bot to join', 20_000);
}

async function membershipOfBot(person: MatrixPerson, room: string): Promise<string | undefined> {
  try {
    const ev = await person.client.getRoomStateEvent(room, 'm.room.member', bot.userId);
    return ev.membership;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  const server = synapse();
  bot = await registerUser(server, `loopbot_conv_${Date.now().toString(36)}`, { displayName: BOT_NAME });
  alice = await MatrixPerson.register(server, 'alice', 'Alice');
  carol = await MatrixPerson.register(server, 'carol', 'Carol');
  dave = await MatrixPerson.register(server, 'dave', 'Dave');
  world = await startMatrixWorld({ server, bot, access: { users: [`matrix:${alice.userId}`] } });
  dm = await alice.createRoom({ invite: [bot.userId], direct: true });
  group = await alice.createRoom({ invite: [bot.userId, carol.userId], name: 'Team' });
  await carol.join(group);
  await botIsIn(dm);
  await botIsIn(group);
});

afterAll(async () => {
  await world?.close();
});

async function expectedRender(content: string): Promise<string> {
  const loop = await world.client.createLoop({ title: 'expected' });
  const p = newProgress();
  for await (const ev of world.client.sendMessage(loop.id, { content }, { idempotencyKey: `expected-${Math.random()}` })) applyEvent(p, ev);
  return renderTurnMarkdown(p.view, { showTools: true });
}

describe('matrix: direct room', () => {
  it('one reply whose final text is exactly the loop\'s; HTML alongside; typing while it runs', async () => {
    const expected = await expectedRender('tools');
    const before = (await botMessages(dm)).length;
    await alice.say(dm, 'tools');
    const reply = await waitFor(async () => (await botMessages(dm)).slice(before).find((m) => m.body === expected), 'the final reply', 20_000);
    expect((await botMessages(dm)).length).toBe(before + 1);
    expect(reply.html).toMatch(/<(p|pre|code|strong)\b/);
    expect(reply.replyTo).toBeUndefined(); // no reply quote in a DM
    expect(world.proxy.calls().some((c) => c.method === 'PUT' && /\/typing\//.test(c.path))).toBe(true);
  });

  it('a send whose answer was lost is retried with the same transaction: one message, not two', async () => {
    const before = (await botMessages(dm)).length;
    world.proxy.loseNextResponses(1); // Synapse makes the event, the bot never hears back
    await alice.say(dm, 'lost-answer hello');
    await waitFor(async () => ((await answered(dm, 'lost-answer')).length ? true : undefined), 'the answer', 20_000);
    await barrier(dm);
    expect(await answered(dm, 'lost-answer')).toHaveLength(1);
    // The reply and the barrier's answer (a "📥 Queued" notice may sit between them), nothing doubled.
    expect((await botMessages(dm)).slice(before).filter((m) => !m.body.startsWith('📥'))).toHaveLength(2);
  });

  it('a transient outage of outbound calls (502s) is retried: the reply still arrives once', async () => {
    world.proxy.failNext(2);
    await alice.say(dm, 'outage hello');
    await waitFor(async () => ((await answered(dm, 'outage hello')).length ? true : undefined), 'the answer', 20_000);
    await barrier(dm);
    expect(await answered(dm, 'outage hello')).toHaveLength(1);
  });

  it('markup in a reply is escaped: the HTML never carries a tag the agent wrote', async () => {
    const before = (await botMessages(dm)).length;
    await alice.say(dm, 'markdown');
    const expected = await expectedRender('markdown');
    const reply = await waitFor(async () => (await botMessages(dm)).slice(before).find((m) => m.body === expected), 'the markdown reply', 20_000);
    expect(reply.html).toContain('&lt;tag&gt;');
    expect(reply.html).not.toMatch(/<tag>/);
  });

  it('a 20,000-character reply arrives complete, rolled over into messages that each fit the event size', async () => {
    await alice.say(dm, 'make the loop');
    const loopId = await waitFor(() => world.loopOf({ chatId: dm }));
    const unit = 'Row **bold** with `code`, <angle> & "quotes" — and more words here. ';
    const text = unit.repeat(Math.ceil(20_000 / unit.length)).slice(0, 20_000);
    const deltas = Array.from({ length: 40 }, (_, i) => ({ delta: text.slice(i * 500, (i + 1) * 500) }));
    await barrier(dm);
    world.sim.scriptNextTurn(loopId, deltas);
    const before = (await botMessages(dm)).length;
    await alice.say(dm, 'the big one');
    const parts = await waitFor(async () => {
      const ms = (await botMessages(dm)).slice(before);
      return ms.map((m) => m.body).join('').replace(/\s+/g, '') === text.replace(/\s+/g, '') ? ms : undefined;
    }, 'the whole reply', 30_000);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(measureMatrix(p.body)).toBeLessThanOrEqual(MATRIX_MAX_CONTENT_BYTES);
  });

  it('an image goes to the loop; another file gets "not supported yet"', async () => {
    // A 1×1 PNG.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
    const mxc = await alice.client.uploadContent(png, 'image/png', 'dot.png');
    await alice.client.sendMessage(dm, { msgtype: 'm.image', body: 'dot.png', url: mxc, info: { mimetype: 'image/png', size: png.length } });
    const loopId = await waitFor(() => world.loopOf({ chatId: dm }));
    await waitFor(() => (world.sim.receivedImages(loopId).includes(1) ? true : undefined), 'the image at the loop', 20_000);
    const pdf = await alice.client.uploadContent(Buffer.from('%PDF-1.4'), 'application/pdf', 'doc.pdf');
    await alice.client.sendMessage(dm, { msgtype: 'm.file', body: 'doc.pdf', url: pdf, info: { mimetype: 'application/pdf', size: 8 } });
    await waitFor(async () => ((await botMessages(dm)).some((m) => /doc\.pdf.*not supported yet/.test(m.body)) ? true : undefined), 'the refusal', 20_000);
  });

  it('the live reply grows by edits; !stop interrupts the running turn', async () => {
    const before = (await botMessages(dm)).length;
    await alice.say(dm, 'slow 30');
    const live = await waitFor(async () => (await botMessages(dm)).slice(before).find((m) => m.body.includes('tick 3/30')), 'the slow turn', 20_000);
    // One delta a second: the live message grew by edits (m.replace) at the core's pace.
    expect(live.edits).toBeGreaterThan(0);
    await alice.say(dm, '!stop');
    await waitFor(async () => ((await botMessages(dm)).slice(before).some((m) => m.body.includes('Stopping')) ? true : undefined), 'the stop notice', 20_000);
    await barrier(dm);
    expect((await botMessages(dm)).some((m) => m.body.includes('tick 30/30'))).toBe(false);
  });
});

describe('matrix: a three-member room', () => {
  it('answers m.mentions, a pill, the display name and a reply to the bot; not plain chatter nor a notice', async () => {
    await alice.say(group, 'gate-plain just chatting');
    await alice.client.sendMessage(group, { msgtype: 'm.text', body: 'gate-mmentions hello', 'm.mentions': { user_ids: [bot.userId] } });
    await alice.client.sendMessage(group, {
      msgtype: 'm.text',
      body: 'see: gate-pill hello',
      format: 'org.matrix.custom.html',
      formatted_body: `see <a href="https://matrix.to/#/${encodeURIComponent(bot.userId)}">the bot</a>: gate-pill hello`,
    });
    await alice.say(group, `${BOT_NAME}, gate-name what is up`);
    // Another bot's notice, mentioning ours in every way: bots talk to people with notices, never to each other.
    await carol.client.sendMessage(group, { msgtype: 'm.notice', body: `${BOT_NAME}: gate-notice`, 'm.mentions': { user_ids: [bot.userId] } });
    const first = await waitFor(async () => (await answered(group, 'gate-mmentions'))[0], 'the m.mentions answer', 20_000);
    await alice.say(group, 'gate-reply tell me more', { replyTo: first.eventId });
    for (const marker of ['gate-pill', 'gate-name', 'gate-reply']) {
      await waitFor(async () => ((await answered(group, marker)).length ? true : undefined), `the answer to ${marker}`, 20_000);
    }
    await barrier(group);
    expect(await answered(group, 'gate-plain')).toEqual([]);
    expect(await answered(group, 'gate-notice')).toEqual([]);
    // In a group the answer quotes the message it answers.
    expect(first.replyTo).toBeDefined();
  });

  it('a thread is its own loop and its replies stay in it; a reply in the thread needs no mention', async () => {
    const root = await alice.say(group, 'thread-root topic for later');
    await alice.say(group, 'thread-first in the thread', { thread: root, mention: mentionBot() });
    const inThread = await waitFor(async () => (await answered(group, 'thread-first'))[0], 'the thread answer', 20_000);
    expect(inThread.threadId).toBe(root);
    await alice.say(group, 'thread-second no mention', { thread: root, replyTo: inThread.eventId });
    const second = await waitFor(async () => (await answered(group, 'thread-second'))[0], 'the second thread answer', 20_000);
    expect(second.threadId).toBe(root);
    const threadLoop = await world.loopOf({ chatId: group, threadId: root });
    const roomLoop = await world.loopOf({ chatId: group });
    expect(threadLoop).toBeDefined();
    expect(threadLoop).not.toBe(roomLoop);
  });

  it('a member who is not an allowed user gets no turn; typed answers from them never reach the loop', async () => {
    await carol.say(group, 'carol-asks something', { mention: mentionBot() });
    await barrier(group);
    expect(await answered(group, 'carol-asks')).toEqual([]);
  });
});

describe('matrix: what is never answered', () => {
  it('history from before the bot joined, and edits of old messages', async () => {
    const room = await alice.createRoom({ name: 'history' });
    await alice.say(room, 'hist-before said before the bot came');
    await alice.invite(room, bot.userId);
    await botIsIn(room);
    const after = await alice.say(room, 'hist-after hello');
    await waitFor(async () => ((await answered(room, 'hist-after')).length ? true : undefined), 'the answer after joining', 20_000);
    await alice.client.sendMessage(room, {
      msgtype: 'm.text',
      body: '* hist-edit changed',
      'm.new_content': { msgtype: 'm.text', body: 'hist-edit changed' },
      'm.relates_to': { rel_type: 'm.replace', event_id: after },
    });
    await barrier(room);
    expect(await answered(room, 'hist-before')).toEqual([]);
    expect(await answered(room, 'hist-edit')).toEqual([]);
  });

  it('a restart that repeats an old sync (as within Synapse\'s 2-minute cache) makes no second turn', async () => {
    const sinceKey = 'adapter/matrix/sync/since';
    await barrier(dm);
    const oldSince = await world.store.get<string>(sinceKey);
    expect(oldSince).toBeDefined();
    const msgId = await alice.say(dm, 'replay-me once');
    await waitFor(async () => ((await answered(dm, 'replay-me')).length ? true : undefined), 'the first answer', 20_000);
    // As if the bridge died before it stored the newer position: it reads from the old one again.
    await world.stop();
    await world.store.set(sinceKey, oldSince);
    await world.store.flush();
    await world.restart();
    await barrier(dm);
    expect(await answered(dm, 'replay-me')).toHaveLength(1);
    expect(world.bridge.metrics.get('inbound_duplicates_total', { platform: 'matrix' })).toBeGreaterThan(0);
    expect(msgId).toMatch(/^\$/);
  });
});

describe('matrix: invites and strangers', () => {
  it('an invite from a stranger is refused; their DM gets no turn', async () => {
    const room = await dave.createRoom({ invite: [bot.userId], direct: true });
    await waitFor(async () => ((await membershipOfBot(dave, room)) === 'leave' ? true : undefined), 'the refusal', 20_000);
    expect(await dave.joined(room)).not.toContain(bot.userId);
  });

  it('a stranger alone with the bot in a room is refused and starts no loop', async () => {
    const room = await alice.createRoom({ invite: [bot.userId, dave.userId] });
    await dave.join(room);
    await botIsIn(room);
    await alice.client.leaveRoom(room);
    await dave.say(room, 'stranger-hello');
    await waitFor(async () => ((await dave.messagesOf(room, bot.userId)).some((m) => m.body.includes('this bot is private')) ? true : undefined), 'the refusal', 20_000);
    expect(await world.loopOf({ chatId: room })).toBeUndefined();
  });

  it('an encrypted room is refused, and the allowed inviter is told why in an unencrypted DM', async () => {
    const room = await alice.createRoom({ invite: [bot.userId], encrypted: true, name: 'secret' });
    await waitFor(async () => ((await membershipOfBot(alice, room)) === 'leave' ? true : undefined), 'the refusal', 20_000);
    const joined = new Set<string>();
    const explained = await waitFor(async () => {
      for (const r of await alice.invitedRooms()) {
        await alice.join(r);
        joined.add(r);
      }
      for (const r of joined) {
        const said = (await botMessages(r)).find((m) => m.body.includes('end-to-end encrypted'));
        if (said) return { room: r, said };
      }
      return undefined;
    }, 'the explanation', 20_000);
    expect(explained.said.body).toContain(room);
    const state = await alice.client.getRoomState(explained.room);
    expect(state.some((e: { type: string }) => e.type === 'm.room.encryption')).toBe(false);
  });

  it('a room that turns encrypted is left, and nothing more is sent into it', async () => {
    const room = await alice.createRoom({ invite: [bot.userId], name: 'later secret' });
    await botIsIn(room);
    await alice.client.sendStateEvent(room, 'm.room.encryption', '', { algorithm: 'm.megolm.v1.aes-sha2' });
    await waitFor(async () => ((await membershipOfBot(alice, room)) === 'leave' ? true : undefined), 'the bot to leave', 20_000);
    expect(await botMessages(room)).toEqual([]);
  });
});
