// Issue 8's acceptance, tried as a new user would: `loopbridge start --config` as a child process in Socket
// Mode, with the loop simulator and the Slack fake (Slack's limits enforced) on 127.0.0.1.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { ANN, ANN_DM, BOB, mention, seedWorkspace, slackVisible, TEAM_CHANNEL } from '../helpers/slack.js';
import { DaemonRuns } from '../helpers/daemon-process.js';
import { writeDaemonConfig } from '../helpers/daemon-config.js';
import { receivedByLoops } from '../helpers/sim-loops.js';
import { waitFor } from '../helpers/wait.js';
import { startFakeSlack, type FakeSlack, type StoredMessage } from '../peers/fake-slack.js';

let sim: Simulator;
let fake: FakeSlack;
let dir: string;
let config: string;
/** The daemon's runs in this file (restarts included). */
let daemon: DaemonRuns;

const visible = (channel: string, thread?: string) => fake.botMessages(channel, thread).map((m) => fake.visible(m));
function botMessage(channel: string, re: RegExp, thread?: string): Promise<StoredMessage> {
  return waitFor(() => fake.botMessages(channel, thread).find((m) => re.test(fake.visible(m))), `bot message ${re}`, 60_000);
}

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 30 });
  fake = await startFakeSlack(); // Slack's published limits enforced
  seedWorkspace(fake);
  dir = mkdtempSync(join(tmpdir(), 'lb-slack-'));
  config = writeDaemonConfig(
    dir,
    sim,
    `access: { users: ["slack:${ANN}"] }
slack: { botToken: "${fake.botToken}", appToken: "${fake.appToken}", apiUrl: "${fake.url}" }
ops: { logLevel: warn, logFormat: json }`,
  );
  daemon = new DaemonRuns(config);
  daemon.start();
  await waitFor(() => fake.socketsOpen() > 0, 'socket', 30_000);
});

afterAll(async () => {
  await daemon?.stop();
  await fake.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('slack through the daemon (Socket Mode)', { timeout: 120_000 }, () => {
  it('a DM gets one streamed reply whose final text is exactly the loop text', async () => {
    fake.userMessage({ channel: ANN_DM, user: ANN, text: 'slow 3' });
    const reply = await botMessage(ANN_DM, /tick 3\/3/);
    expect(fake.visible(reply)).toBe('tick 1/3\ntick 2/3\ntick 3/3');
    expect(reply.editCount).toBeGreaterThan(0); // it grew in place
    expect(visible(ANN_DM).filter((t) => t.includes('tick 1/3'))).toHaveLength(1);
  });

  it('channel: chatter gets nothing, a mention is answered in its thread, a follow-up there reaches the same loop', async () => {
    const chatter = fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: 'nothing for the bot' });
    const m = fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: mention(fake, 'hello team') });
    await botMessage(TEAM_CHANNEL, /Echo: hello team/, m.ts);
    fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: 'follow-up without a mention', threadTs: m.ts });
    await botMessage(TEAM_CHANNEL, /Echo: follow-up without a mention/, m.ts);
    expect(await chatter.acked).toBe(true);
    const r = await receivedByLoops(sim);
    expect(r.filter((x) => x === 'hello team')).toHaveLength(1);
    expect(r).not.toContain('nothing for the bot');
    expect(fake.botMessages(TEAM_CHANNEL).every((x) => x.thread_ts === m.ts)).toBe(true);
  });

  it("a permission shows Allow/Deny; only the requester's press answers it", async () => {
    const m = fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: mention(fake, 'permission to clean') });
    const prompt = await botMessage(TEAM_CHANNEL, /Permission requested/, m.ts);
    expect(fake.buttons(prompt)).toEqual(['✅ Allow', '🚫 Deny']);
    fake.press({ channel: TEAM_CHANNEL, user: BOB, messageTs: prompt.ts, label: '✅ Allow' });
    await waitFor(() => fake.ephemerals.find((e) => e.user === BOB && /Only ann or an admin/.test(e.text)), 'notice to Bob', 30_000);
    expect(fake.visible(fake.message(TEAM_CHANNEL, prompt.ts)!)).not.toMatch(/Allowed/);
    fake.press({ channel: TEAM_CHANNEL, user: ANN, messageTs: prompt.ts, label: '✅ Allow' });
    await botMessage(TEAM_CHANNEL, /I ran/, m.ts);
    expect(fake.visible(fake.message(TEAM_CHANNEL, prompt.ts)!)).toMatch(/Allowed by ann/);
    expect(fake.buttons(fake.message(TEAM_CHANNEL, prompt.ts)!)).toEqual([]);
  });

  it('a 15,000-character reply arrives complete', async () => {
    const text = Array.from({ length: 60 }, (_, i) => `Paragraph ${i + 1}: ${'lorem ipsum dolor sit amet '.repeat(9).trim()}.`).join('\n\n');
    expect(text.length).toBeGreaterThan(15_000);
    sim.scriptNextTurn('*', [{ delta: text.slice(0, 5000) }, { delta: text.slice(5000, 10000) }, { delta: text.slice(10000) }]);
    const before = fake.botMessages(ANN_DM).length;
    fake.userMessage({ channel: ANN_DM, user: ANN, text: 'give me the long one' });
    await botMessage(ANN_DM, /Paragraph 60:.*amet\.$/s);
    const whole = () => fake.botMessages(ANN_DM).slice(before).map((m) => fake.visible(m)).join('\n\n').replace(/\s+/g, ' ');
    await waitFor(() => (whole() === slackVisible(text).replace(/\s+/g, ' ') ? true : undefined), 'complete reply', 60_000);
  });

  it('the same event redelivered as a Slack retry makes one turn; an unknown user gets no turn', async () => {
    const m = fake.userMessage({ channel: ANN_DM, user: ANN, text: 'only once please' });
    await m.acked;
    await fake.redeliver(m.eventIds[1] ?? m.eventIds[0]);
    await botMessage(ANN_DM, /Echo: only once please/);
    fake.addChannel({ id: 'DBOB', kind: 'im', members: [BOB, fake.bot.userId] });
    fake.userMessage({ channel: 'DBOB', user: BOB, text: 'let me in' });
    await botMessage('DBOB', /private/);
    fake.userMessage({ channel: ANN_DM, user: ANN, text: 'and then this' });
    await botMessage(ANN_DM, /Echo: and then this/);
    expect(visible(ANN_DM).filter((t) => t.includes('Echo: only once please'))).toHaveLength(1);
    const r = await receivedByLoops(sim);
    expect(r.filter((x) => x === 'only once please')).toHaveLength(1);
    expect(r).not.toContain('let me in');
  });

  it('the daemon killed mid-turn and restarted completes the reply once', async () => {
    fake.userMessage({ channel: ANN_DM, user: ANN, text: 'slow 5' });
    // Mid-turn, once the live message was edited: an edit follows only after the post's ref is durable (a kill
    // between Slack's answer to chat.postMessage and that write would post the chunk again: Slack posts have
    // no idempotency key). What the loop writes while no daemon listens is absent from the server's
    // snapshot, so the reply must end complete or say plainly what is missing.
    await botMessage(ANN_DM, /^tick 1\/5\ntick 2\/5/);
    await daemon.restart('SIGKILL');
    const reply = await waitFor(() => fake.botMessages(ANN_DM).find((m) => /^tick 1\/5/.test(fake.visible(m)) && /tick 5\/5|may be missing/.test(fake.visible(m))), 'finished reply', 60_000);
    expect(visible(ANN_DM).filter((t) => /^tick 1\/5/.test(t))).toHaveLength(1);
    const ticks = fake.visible(reply).match(/tick \d\/5/g)!;
    // In order and none doubled; a hole only with the plain note.
    expect(ticks).toEqual([...new Set(ticks)].sort());
    if (ticks.length < 5) expect(fake.visible(reply)).toMatch(/may be missing/);
    expect((await receivedByLoops(sim)).filter((x) => x === 'slow 5')).toHaveLength(1);
    expect(daemon.output()).not.toContain(fake.botToken);
    expect(daemon.output()).not.toContain(fake.appToken);
    expect(daemon.output()).not.toContain(sim.token);
  });

  it('after that restart, a follow-up in a thread the bot joined before still needs no mention', async () => {
    // The threads the bot posted in live in the core's adapter state (the store), not in the process.
    const root = fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: mention(fake, 'before the restart') });
    await botMessage(TEAM_CHANNEL, /Echo: before the restart/, root.ts);
    await daemon.restart('SIGTERM');
    fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: 'after the restart, no mention', threadTs: root.ts });
    await botMessage(TEAM_CHANNEL, /Echo: after the restart, no mention/, root.ts);
  });

  it('kept within Slack limits: the fake never had to answer 429', () => {
    expect(fake.rateLimited()).toBe(0);
  });
});
