import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/core/commands.js';
import { startSimulator } from '../../src/sim/index.js';
import { dm, loopOf, message, messageMatching, person, harnessSuite, finalReply, texts, waitFor, type Harness } from './fixtures.js';

const suite = harnessSuite();
// u1 is an admin here: these tests are about what each command does (who may use them: privilege.test.ts).
const harness = (o: Parameters<typeof suite.harness>[0] = {}) => suite.harness({ ...o, access: { admins: ['test:u1', 'test:admin'], ...o.access } });

const u1 = person('u1');
const conv = dm('u1');

const reply = (h: Harness, re: RegExp) => finalReply(h, 'u1', re);

/** Sends a chat line and resolves with the first new bot message matching `re`. */
async function say(h: Harness, text: string, re: RegExp): Promise<string> {
  const before = h.adapter.chat('u1').length;
  await h.adapter.inject(message(conv, u1, text));
  return waitFor(() => h.adapter.chat('u1').slice(before).find((m) => re.test(m.text))?.text, `an answer to ${text} matching ${re}`);
}

describe('parseCommand', () => {
  it('parses name, bot target and args; plain text is not a command', () => {
    expect(parseCommand('/Mode@TestBot  plan ')).toEqual({ name: 'mode', target: 'TestBot', args: 'plan' });
    expect(parseCommand('/attach loop_1\nmore')).toEqual({ name: 'attach', target: undefined, args: 'loop_1\nmore' });
    expect(parseCommand('hello /help')).toBeUndefined();
    expect(parseCommand('/ nope')).toBeUndefined();
  });
});

describe('commands', () => {
  it('/help lists the commands', async () => {
    const h = await harness();
    const t = await say(h, '/help', /loopbridge/);
    for (const c of ['/new', '/stop', '/status', '/mode', '/attach', '/detach']) expect(t).toContain(c);
    // Commands are answered by the bridge, never sent to a loop.
    expect(await loopOf(h.store, conv)).toBeUndefined();
  });

  it('/status without and with a loop', async () => {
    const h = await harness();
    expect(await say(h, '/status', /No loop yet/)).toMatch(/Mode: `default`. Queued: 0/);
    await h.adapter.inject(message(conv, u1, 'hello'));
    await reply(h, /Echo:\*\* hello/);
    const loopId = (await loopOf(h.store, conv))!;
    const t = await say(h, '/status', /^Loop:/);
    expect(t).toContain(`Loop: \`${loopId}\` — hello`);
    expect(t).toContain('Busy: no');
    expect(t).toContain('Queued here: 0');
  });

  it('/mode sets a valid mode (shown by /status, sent with the next turn) and refuses an invalid one', async () => {
    const h = await harness();
    expect(await say(h, '/mode bogus', /Unknown mode `bogus`/)).toContain('`acceptEdits`');
    expect(await say(h, '/mode PLAN', /Mode set to `plan`/)).toBeTruthy();
    expect(await say(h, '/status', /No loop yet/)).toContain('Mode: `plan`');
    expect(await say(h, '/mode', /^Mode: `plan`/)).toBeTruthy();
  });

  it('/new: the next message starts a new loop', async () => {
    const h = await harness();
    await h.adapter.inject(message(conv, u1, 'in the first loop'));
    await reply(h, /Echo:\*\* in the first loop/);
    const first = (await loopOf(h.store, conv))!;
    expect(await say(h, '/new', /Fresh start/)).toContain(first);
    await h.adapter.inject(message(conv, u1, 'in the second loop'));
    await reply(h, /Echo:\*\* in the second loop/);
    const second = (await loopOf(h.store, conv))!;
    expect(second).not.toBe(first);
    expect(suite.sim.received(first)).toEqual(['in the first loop']);
    expect(suite.sim.received(second)).toEqual(['in the second loop']);
  });

  it('/stop during a slow turn ends the reply with "Stopped"', async () => {
    const h = await harness();
    await h.adapter.inject(message(conv, u1, 'slow 30'));
    await waitFor(() => messageMatching(h.adapter, 'u1', /tick 1\/30/), 'the first tick');
    await say(h, '/stop', /Stopping the running turn/);
    const r = await reply(h, /tick 1\/30/);
    expect(r.text.endsWith('⏹ Stopped.')).toBe(true);
    expect(r.text).not.toContain('tick 30/30');
    expect(await say(h, '/stop', /Sent a stop|Nothing is running/)).toBeTruthy();
  });

  it('/attach mirrors a turn run by another client on that loop; /detach stops it', async () => {
    const h = await harness();
    const loop = await h.client.createLoop({ title: 'made elsewhere' });
    const streams = suite.sim.openStreams();
    expect(await say(h, `/attach ${loop.id}`, /Attached to/)).toContain('made elsewhere');
    await waitFor(() => suite.sim.openStreams() > streams, 'the mirror to watch the loop');
    for await (const ev of h.client.sendMessage(loop.id, { content: 'from another client' }, { idempotencyKey: 'ext-1' })) void ev;
    await reply(h, /Echo:\*\* from another client/);
    // Our own messages now go to the attached loop.
    await h.adapter.inject(message(conv, u1, 'from chat'));
    await reply(h, /Echo:\*\* from chat/);
    expect(suite.sim.received(loop.id)).toEqual(['from another client', 'from chat']);
    // Our own turn is shown once, not mirrored a second time.
    expect(h.adapter.chat('u1').filter((m) => /Echo:\*\* from chat/.test(m.text))).toHaveLength(1);

    expect(await say(h, '/detach', /Detached from/)).toContain(loop.id);
    await waitFor(() => suite.sim.openStreams() <= streams, 'the mirror to stop watching');
    await h.adapter.inject(message(conv, u1, 'after detach'));
    await reply(h, /Echo:\*\* after detach/);
    expect(await loopOf(h.store, conv)).not.toBe(loop.id);
    expect(await say(h, '/attach', /Usage/)).toBeTruthy();
    expect(await say(h, '/attach loop_does_not_exist', /attach failed/)).toBeTruthy();
  });

  // BUG (intake.ts): only known commands reach runCommand, so `/frobnicate` in a DM is sent to the loop as
  // a message and runCommand's "Unknown command … Send /help" branch is dead code. Proposed fix: in
  // Intake.message, when `command` is set, not addressed elsewhere, and the conversation is direct (or the
  // command names this bot), call runCommand for unknown names too (or decide that unknown slash commands
  // are the agent's and delete the dead branch).
  it('an unknown /cmd@thisbot gets "Unknown command"; a plain unknown /cmd goes to the loop (agents have slash commands)', async () => {
    const h = await harness();
    expect(await say(h, `/frobnicate@${h.adapter.bot.username}`, /Unknown command|Echo/)).toMatch(/Unknown command \/frobnicate/);
    expect(await loopOf(h.store, conv)).toBeUndefined();
    expect(await say(h, '/compact now', /Unknown command|Echo/)).toMatch(/Echo:\*\* \/compact now/);
  });

  it('an archived loop: the message is kept with a notice; /new answers it in a new loop', async () => {
    const h = await harness();
    await h.adapter.inject(message(conv, u1, 'before archiving'));
    await reply(h, /Echo:\*\* before archiving/);
    const old = (await loopOf(h.store, conv))!;
    await h.client.archiveLoop(old);
    await h.adapter.inject(message(conv, u1, 'keep me'));
    const notice = await waitFor(() => texts(h.adapter, 'u1').find((t) => /archived/.test(t)), 'the archived notice');
    expect(notice).toContain(old);
    expect(notice).toMatch(/message is kept/);
    expect(await h.bridge.backlog()).toBe(1);
    await say(h, '/new', /Fresh start/);
    await reply(h, /Echo:\*\* keep me/);
    const fresh = (await loopOf(h.store, conv))!;
    expect(fresh).not.toBe(old);
    expect(suite.sim.received(fresh)).toEqual(['keep me']);
    expect(suite.sim.received(old)).toEqual(['before archiving']);
  });

  it('loop server down: one notice, and the messages are delivered after restore', async () => {
    const own = await startSimulator({ deltaDelayMs: 1, idleCutMs: null });
    const h = await harness({ simulator: own });
    try {
      await h.adapter.inject(message(conv, u1, 'while up'));
      await reply(h, /Echo:\*\* while up/);
      await own.faults.down();
      await h.adapter.inject(message(conv, u1, 'while down 1'));
      await h.adapter.inject(message(conv, u1, 'while down 2'));
      await waitFor(() => texts(h.adapter, 'u1').some((t) => /unreachable/.test(t)), 'the outage notice');
      // Let the worker retry a few times (backoff 50–200 ms in the fixture) before restoring.
      await waitFor(() => h.bridge.metrics.get('loop_errors_total', { kind: 'unreachable' }) >= 3, 'several retries');
      await own.faults.restore();
      await reply(h, /Echo:\*\* while down 2/);
      const loopId = (await loopOf(h.store, conv))!;
      expect(own.received(loopId)).toEqual(['while up', 'while down 1', 'while down 2']);
      expect(texts(h.adapter, 'u1').filter((t) => /unreachable/.test(t))).toHaveLength(1);
      expect(h.adapter.chat('u1').filter((m) => /Echo:\*\* while down 1/.test(m.text))).toHaveLength(1);
    } finally {
      await h.close();
      await own.close();
    }
  });
});
