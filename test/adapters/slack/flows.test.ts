// The Slack adapter with the core, over Socket Mode against the Slack fake (Slack's limits enforced) and the
// loop simulator: the gating matrix, Block Kit choices, long replies, 429 storms, reconnects, files.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ANN, ANN_DM, BOB, mention, seedWorkspace, slackVisible, TEAM_CHANNEL } from '../../helpers/slack.js';
import { waitFor } from '../../helpers/wait.js';
import { startFakeSlack, type FakeSlack, type StoredMessage } from '../../peers/fake-slack.js';
import { botMessage, startCore, type CoreRun } from './slack-kit.js';

let fake: FakeSlack;
let core: CoreRun;

beforeAll(async () => {
  fake = await startFakeSlack();
  seedWorkspace(fake);
  fake.addUser('UADM', 'ada');
  fake.addChannel({ id: TEAM_CHANNEL, kind: 'channel', members: ['UADM'] });
  core = await startCore(fake, { admins: ['slack:UADM'] });
});

afterAll(async () => {
  await core.close();
  await fake.close();
});

/** Nothing is queued or running: whatever was accepted before has been answered, and nothing else will be. */
// Generous: finals wait for chat.update's per-minute budget when earlier tests used it up.
const idle = () => waitFor(async () => ((await core.bridge.backlog()) === 0 && core.bridge.sessions.running.size === 0 ? true : undefined), 'idle', 90_000);
// Each test starts with nothing running: a turn the previous test stopped may still be winding down, and a
// message sent now would be queued behind it.
beforeEach(() => idle());

const count = async (text: string) => (await core.received()).filter((r) => r === text).length;

describe('gating', () => {
  it('a DM gets one streamed reply whose final text is exactly the loop text', async () => {
    const m = fake.userMessage({ channel: ANN_DM, user: ANN, text: 'slow 3' });
    const reply = await botMessage(fake, ANN_DM, /tick 3\/3/);
    expect(fake.visible(reply)).toBe('tick 1/3\ntick 2/3\ntick 3/3');
    expect(reply.thread_ts).toBeUndefined(); // DM replies go top-level
    expect(fake.botMessages(ANN_DM).filter((x) => fake.visible(x).includes('tick 1/3'))).toHaveLength(1);
    expect(await m.acked).toBe(true);
  });

  it('un-mentioned channel chatter gets nothing; a mention is answered in its thread; a follow-up there needs no mention', async () => {
    await idle();
    const chatter = fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: 'just chatting' });
    expect(await chatter.acked).toBe(true); // acknowledged only after the core decided
    expect(await core.bridge.backlog()).toBe(0);
    const m = fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: mention(fake, 'hello team') });
    expect(m.eventIds).toHaveLength(2); // message + app_mention, one ts
    await botMessage(fake, TEAM_CHANNEL, /Echo: hello team/, m.ts);
    fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: 'and a follow-up', threadTs: m.ts });
    await botMessage(fake, TEAM_CHANNEL, /Echo: and a follow-up/, m.ts);
    expect(await count('hello team')).toBe(1); // the twins made one turn
    // Both reached the same loop: the follow-up's loop also got the first message.
    let same = false;
    for await (const loop of core.client.listAllLoops()) {
      const r = core.sim.received(loop.id);
      if (r.includes('hello team') && r.includes('and a follow-up')) same = true;
    }
    expect(same).toBe(true);
    expect(fake.botMessages(TEAM_CHANNEL).every((x) => x.thread_ts !== undefined)).toBe(true);
  });

  it('a reply in a thread the bot was never in needs a mention; bots and the bot itself are ignored', async () => {
    await idle();
    const root = fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: 'a thread of people' });
    await root.acked;
    const reply = fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: 'people talking', threadTs: root.ts });
    const own = fake.echoBotMessage(TEAM_CHANNEL, 'the bot talking');
    expect(await reply.acked).toBe(true);
    expect(await own.acked).toBe(true);
    expect(await core.bridge.backlog()).toBe(0);
    fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: mention(fake, 'now you'), threadTs: root.ts });
    await botMessage(fake, TEAM_CHANNEL, /Echo: now you/, root.ts);
    expect(await count('people talking')).toBe(0);
  });

  it('a Slack retry of the same event makes one turn', async () => {
    const m = fake.userMessage({ channel: ANN_DM, user: ANN, text: 'only once please' });
    await m.acked;
    expect(await fake.redeliver(m.eventIds[0])).toBe(true);
    await botMessage(fake, ANN_DM, /Echo: only once please/);
    await idle();
    expect(fake.botMessages(ANN_DM).filter((x) => fake.visible(x).includes('Echo: only once please'))).toHaveLength(1);
    expect(await count('only once please')).toBe(1);
    expect(fake.deliveries.filter((d) => d.eventId === m.eventIds[0]).map((d) => d.attempt)).toEqual([0, 1]);
  });

  it('an unknown user gets no turn', async () => {
    fake.addChannel({ id: 'DBOB', kind: 'im', members: [BOB, fake.bot.userId] });
    fake.userMessage({ channel: 'DBOB', user: BOB, text: 'let me in' });
    await botMessage(fake, 'DBOB', /private/);
    expect(await count('let me in')).toBe(0);
  });
});

describe('choices', () => {
  let prompt: StoredMessage;
  let threadTs: string;

  it('a permission shows Allow/Deny; someone else, a forged and a stale press each get an ephemeral notice', async () => {
    const m = fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: mention(fake, 'permission to clean') });
    threadTs = m.ts;
    prompt = await botMessage(fake, TEAM_CHANNEL, /Permission requested/, threadTs);
    expect(fake.buttons(prompt)).toEqual(['✅ Allow', '🚫 Deny']);
    fake.press({ channel: TEAM_CHANNEL, user: BOB, messageTs: prompt.ts, label: '✅ Allow' });
    const toBob = await waitFor(() => fake.ephemerals.find((e) => e.user === BOB));
    expect(toBob.text).toMatch(/Only ann or an admin/);
    expect(toBob.thread_ts).toBe(threadTs);
    // A press carrying a token the bot never issued.
    const real = prompt.blocks!.find((b) => b.type === 'actions')! as { elements: Array<{ value: string }> };
    const payload = { type: 'block_actions', user: { id: ANN, name: 'ann' }, channel: { id: TEAM_CHANNEL }, container: { message_ts: prompt.ts, thread_ts: threadTs }, actions: [{ action_id: 'lb-0', value: 'forged-token.a', action_ts: '1.2' }] };
    fake.deliverInteractive(payload);
    await waitFor(() => fake.ephemerals.find((e) => e.user === ANN && /not valid/.test(e.text)));
    expect(fake.visible(fake.message(TEAM_CHANNEL, prompt.ts)!)).not.toMatch(/Allowed/);
    // The real token pressed by the admin answers it (admins may).
    fake.press({ channel: TEAM_CHANNEL, user: 'UADM', messageTs: prompt.ts, label: '✅ Allow' });
    await botMessage(fake, TEAM_CHANNEL, /I ran/, threadTs);
    const after = fake.message(TEAM_CHANNEL, prompt.ts)!;
    expect(fake.visible(after)).toMatch(/Allowed by ada/);
    expect(fake.buttons(after)).toEqual([]); // buttons replaced by the outcome
    // Pressing the old button again (Slack clients may show a stale copy) is answered, not acted on.
    fake.deliverInteractive({ ...payload, user: { id: ANN, name: 'ann' }, actions: [{ action_id: 'lb-0', value: real.elements[0].value, action_ts: '1.3' }] });
    await waitFor(() => fake.ephemerals.find((e) => e.user === ANN && /Already answered/.test(e.text)));
  });

  it('the Stop button on the live message interrupts the turn', async () => {
    fake.userMessage({ channel: ANN_DM, user: ANN, text: 'slow 30' });
    const live = await botMessage(fake, ANN_DM, /tick 1\/30/);
    await waitFor(() => fake.buttons(fake.message(ANN_DM, live.ts)!).includes('⏹ Stop'));
    fake.press({ channel: ANN_DM, user: ANN, messageTs: live.ts, label: '⏹ Stop' });
    const stopped = await botMessage(fake, ANN_DM, /Stopped\./);
    expect(stopped.ts).toBe(live.ts);
    expect(fake.visible(stopped)).not.toContain('tick 30/30');
    expect(fake.buttons(stopped)).toEqual([]);
  });
});

describe('long replies and faults', { timeout: 120_000 }, () => {
  it('a 20,000-character reply arrives complete across messages, each section within 3,000', async () => {
    const text = Array.from({ length: 80 }, (_, i) => `Paragraph ${i + 1}: a & b < c > d *not bold* ${'lorem ipsum dolor sit amet '.repeat(8).trim()}.`).join('\n\n');
    expect(text.length).toBeGreaterThan(20_000);
    core.sim.scriptNextTurn('*', [{ delta: text.slice(0, 7000) }, { delta: text.slice(7000, 14000) }, { delta: text.slice(14000) }]);
    const before = fake.botMessages(ANN_DM).length;
    fake.userMessage({ channel: ANN_DM, user: ANN, text: 'the long one' });
    await botMessage(fake, ANN_DM, /Paragraph 80:/, undefined, 60_000);
    await idle();
    const chunks = fake.botMessages(ANN_DM).slice(before);
    expect(chunks.length).toBeGreaterThanOrEqual(8);
    for (const c of chunks) {
      const section = (c.blocks!.find((b) => b.type === 'section') as { text: { text: string } }).text.text;
      expect(section.length).toBeLessThanOrEqual(3000);
    }
    expect(chunks.map((c) => fake.visible(c)).join('\n\n').replace(/\s+/g, ' ')).toBe(slackVisible(text).replace(/\s+/g, ' '));
    expect(fake.formatProblems).toEqual([]);
  });

  it('a 429 storm on posts and updates delays the reply, which converges once to the exact text', async () => {
    const injected = fake.rateLimited();
    fake.failNext('chat.postMessage', { status: 429, retryAfterSec: 1 }, 2);
    fake.failNext('chat.update', { status: 429, retryAfterSec: 1 }, 3);
    fake.userMessage({ channel: ANN_DM, user: ANN, text: 'slow 4 through a storm' });
    const reply = await botMessage(fake, ANN_DM, /tick 4\/4/);
    await waitFor(() => (fake.visible(fake.message(ANN_DM, reply.ts)!) === 'tick 1/4\ntick 2/4\ntick 3/4\ntick 4/4' ? true : undefined));
    expect(fake.botMessages(ANN_DM).filter((x) => fake.visible(x).includes('tick 1/4'))).toHaveLength(1);
    expect(fake.rateLimited() - injected).toBeGreaterThanOrEqual(5);
    const waits = core.bridge.outlet('slack')!.scheduler.stats.rateLimitWaitMs;
    expect(waits).toBeGreaterThanOrEqual(5000); // Retry-After (s) waited, in ms
  });

  it('a transient 5xx on a post is retried and the reply still arrives once', async () => {
    fake.failNext(['chat.postMessage', 'chat.update'], { status: 503, error: 'service_unavailable' }, 2);
    fake.userMessage({ channel: ANN_DM, user: ANN, text: 'after an outage' });
    await botMessage(fake, ANN_DM, /Echo: after an outage/, undefined, 90_000);
    await idle();
    expect(fake.botMessages(ANN_DM).filter((x) => fake.visible(x).includes('Echo: after an outage'))).toHaveLength(1);
  });

  it('Socket Mode: reconnects after a `disconnect` and after a dropped socket; events sent meanwhile arrive', async () => {
    const opened = fake.socketsOpened();
    fake.disconnectSockets();
    await waitFor(() => (fake.socketsOpened() > opened && fake.socketsOpen() >= 1 ? true : undefined));
    fake.dropSockets();
    const m = fake.userMessage({ channel: ANN_DM, user: ANN, text: 'after the reconnect' });
    await botMessage(fake, ANN_DM, /Echo: after the reconnect/);
    expect(await m.acked).toBe(true);
    expect(fake.socketsOpened()).toBeGreaterThanOrEqual(opened + 2);
  });

  it('an image shared with a message reaches the loop; other files get "not supported yet"', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d6d3e80000000049454e44ae426082', 'hex');
    const file = fake.uploadFile(png, 'image/png', 'dot.png');
    fake.userMessage({ channel: ANN_DM, user: ANN, text: 'what is in this picture', files: [file] });
    await botMessage(fake, ANN_DM, /Echo: what is in this picture/);
    let images: number | undefined;
    for await (const loop of core.client.listAllLoops()) {
      const i = core.sim.received(loop.id).indexOf('what is in this picture');
      if (i >= 0) images = core.sim.receivedImages(loop.id)[i];
    }
    expect(images).toBe(1);
    const pdf = fake.uploadFile(Buffer.from('%PDF-1.4'), 'application/pdf', 'report.pdf');
    fake.userMessage({ channel: ANN_DM, user: ANN, text: 'and this report', files: [pdf] });
    await botMessage(fake, ANN_DM, /report\.pdf \(application\/pdf is not supported yet\)/);
  });

  it('kept every call within Slack limits (only injected 429s)', () => {
    const injected = 5; // the storm above
    expect(fake.rateLimited()).toBe(injected);
  });
});
