import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { approvePairing } from '../../src/core/access.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { SEEN_WINDOW_MS } from '../../src/store/seen-marks.js';
import { dm, group, loopOf, message, person, press, harnessSuite, finalReply, startHarness, texts, turnsReceived, waitFor, type Harness } from './fixtures.js';

const suite = harnessSuite();
const harness = suite.harness;

const u1 = person('u1');
const admin = person('admin');
const stranger = person('s1', 'Stranger');

const reply = finalReply;

/** A turn that waits on a permission prompt until answered: keeps the loop busy for as long as a test needs. */
const blockingTurn = [{ delta: 'Need to check.' }, { permission: { tool: 'Bash', input: { command: 'true' } } }, { delta: ' Finished the blocking turn.' }];

async function allowPending(h: Harness, chatId: string, who = u1) {
  const prompt = await waitFor(() => h.adapter.chat(chatId).find((m) => m.buttons?.length && /Permission/.test(m.text)), 'permission prompt');
  const allow = prompt.buttons![0][0].token;
  await h.adapter.inject(press(prompt.conversation, who, allow));
}

describe('intake: direct messages', () => {
  it('a DM from an allowed user runs exactly one turn and gets one final reply', async () => {
    const h = await harness();
    await h.adapter.inject(message(dm('u1'), u1, 'hello there'));
    const r = await reply(h, 'u1', /Echo:\*\* hello there/);
    const loopId = (await loopOf(h.store, dm('u1')))!;
    expect(suite.sim.received(loopId)).toEqual(['hello there']);
    expect(h.adapter.chat('u1').filter((m) => /Echo/.test(m.text))).toEqual([r]);
  });

  it('a stranger under allowlist is refused (once per hour) and nothing reaches a loop', async () => {
    const h = await harness();
    const before = (await h.client.listLoops({ limit: 100 })).data.length;
    await h.adapter.inject(message(dm('s1'), stranger, 'let me in'));
    await h.adapter.inject(message(dm('s1'), stranger, 'please'));
    // A later allowed message in another chat is processed, so the stranger's had every chance to run.
    await h.adapter.inject(message(dm('u1'), u1, 'marker'));
    await reply(h, 'u1', /Echo:\*\* marker/);
    expect(texts(h.adapter, 's1')).toEqual([expect.stringMatching(/private.*test:s1/s)]);
    expect(await loopOf(h.store, dm('s1'))).toBeUndefined();
    expect((await h.client.listLoops({ limit: 100 })).data.length).toBe(before + 1);
  });

  it('pairing mode offers a code once; after approval the user gets turns', async () => {
    const h = await harness({ access: { dm: 'pairing' } });
    await h.adapter.inject(message(dm('s1'), stranger, 'hi'));
    await h.adapter.inject(message(dm('s1'), stranger, 'hi again'));
    const [notice, ...rest] = texts(h.adapter, 's1');
    expect(rest).toEqual([]);
    const code = /\*\*([A-HJ-NP-Z2-9]{8})\*\*/.exec(notice)?.[1];
    expect(code).toBeDefined();
    expect(notice).toContain(`loopbridge pairing approve ${code}`);
    expect(await loopOf(h.store, dm('s1'))).toBeUndefined();
    expect(await approvePairing(h.store, code!)).toMatchObject({ user: 'test:s1' });
    await h.adapter.inject(message(dm('s1'), stranger, 'now paired'));
    await reply(h, 's1', /Echo:\*\* now paired/);
  });

  it('the pairing code goes to the person only, never to the log', async () => {
    const lines: string[] = [];
    const record = (obj: object, msg?: string) => void lines.push(JSON.stringify({ ...obj, msg }));
    const log = { info: record, warn: record, error: record, debug: record };
    const h = await harness({ access: { dm: 'pairing' }, bridge: { log } });
    await h.adapter.inject(message(dm('s1'), stranger, 'let me in'));
    const code = /\*\*([A-HJ-NP-Z2-9]{8})\*\*/.exec(texts(h.adapter, 's1')[0])![1];
    expect(lines.some((l) => l.includes('pairing requested'))).toBe(true);
    expect(lines.join('\n')).not.toContain(code);
  });

  it('an empty message, a too-long message and an unsupported file get notices and send nothing', async () => {
    const h = await harness({ routing: { maxMessageChars: 50 } });
    await h.adapter.inject(message(dm('u1'), u1, '   '));
    await h.adapter.inject(message(dm('u1'), u1, 'x'.repeat(51)));
    await h.adapter.inject(message(dm('u1'), u1, '', { files: [{ mimeType: 'application/pdf', filename: 'report.pdf', ref: 'f1' }] }));
    await h.adapter.inject(message(dm('u1'), u1, 'short one'));
    await reply(h, 'u1', /Echo:\*\* short one/);
    const loopId = (await loopOf(h.store, dm('u1')))!;
    expect(suite.sim.received(loopId)).toEqual(['short one']);
    const notices = texts(h.adapter, 'u1').filter((t) => !/Echo/.test(t));
    expect(notices).toHaveLength(3);
    expect(notices[0]).toMatch(/empty/);
    expect(notices[1]).toMatch(/51 characters; the limit is 50/);
    expect(notices[2]).toMatch(/report\.pdf \(application\/pdf is not supported/);
  });

  it('own messages and other bots are ignored', async () => {
    const h = await harness({ access: { dm: 'open' } });
    await h.adapter.inject(message(dm('u1'), { id: 'bot', isBot: false }, 'echo of myself'));
    await h.adapter.inject(message(dm('u1'), { id: 'otherbot', isBot: true }, 'beep'));
    await h.adapter.inject(message(group(), { id: 'otherbot', isBot: true }, '@testbot beep', { mentionsBot: true }));
    await h.adapter.inject(message(dm('u1'), u1, 'real'));
    await reply(h, 'u1', /Echo:\*\* real/);
    expect(suite.sim.received((await loopOf(h.store, dm('u1')))!)).toEqual(['real']);
    expect(h.adapter.chat('g1')).toEqual([]);
  });
});

describe('intake: groups', () => {
  it('needs a mention, a reply to the bot, a known command or a configured pattern', async () => {
    const h = await harness({ routing: { mentionPatterns: ['^hey bot\\b'] } });
    const g = group();
    await h.adapter.inject(message(g, u1, 'just chatting'));
    await h.adapter.inject(message(g, u1, '/help@otherbot', { addressedElsewhere: true, mentionsBot: false }));
    await h.adapter.inject(message(g, u1, '@testbot first', { mentionsBot: true }));
    await h.adapter.inject(message(g, u1, 'second as a reply', { replyToBot: true }));
    await h.adapter.inject(message(g, u1, 'Hey bot third'));
    await h.adapter.inject(message(g, u1, 'still chatting, hey bot'));
    await reply(h, 'g1', /Echo:\*\* Hey bot third/);
    const loopId = (await loopOf(h.store, g))!;
    // The mention is stripped from what the loop gets.
    expect(suite.sim.received(loopId)).toEqual(['first', 'second as a reply', 'Hey bot third']);
    expect(texts(h.adapter, 'g1').filter((t) => !/Echo|📥 Queued/.test(t))).toEqual([]);
  });

  it('a stranger mentioning the bot in a group is refused once and runs nothing', async () => {
    const h = await harness();
    await h.adapter.inject(message(group(), stranger, '@testbot do things', { mentionsBot: true }));
    await h.adapter.inject(message(group(), stranger, '@testbot do more', { mentionsBot: true }));
    await h.adapter.inject(message(group(), u1, '@testbot ok', { mentionsBot: true }));
    await reply(h, 'g1', /Echo:\*\* ok/);
    expect(suite.sim.received((await loopOf(h.store, group()))!)).toEqual(['ok']);
    expect(texts(h.adapter, 'g1').filter((t) => /not allowed/.test(t))).toHaveLength(1);
  });

  it('/activation always by an admin makes plain chatter a turn; a non-admin cannot change it', async () => {
    const h = await harness();
    const g = group('g2');
    await h.adapter.inject(message(g, u1, '/activation always'));
    await waitFor(() => texts(h.adapter, 'g2').some((t) => /Only admins/.test(t)), 'refusal');
    await h.adapter.inject(message(g, admin, '/activation always'));
    await waitFor(() => texts(h.adapter, 'g2').some((t) => /answer every message/.test(t)), 'activation notice');
    await h.adapter.inject(message(g, u1, 'plain chatter'));
    await reply(h, 'g2', /Echo:\*\* plain chatter/);
    await h.adapter.inject(message(g, admin, '/activation mention'));
    await waitFor(() => texts(h.adapter, 'g2').some((t) => /only when mentioned/.test(t)), 'mention notice');
    await h.adapter.inject(message(g, u1, 'ignored chatter'));
    await h.adapter.inject(message(g, u1, '@testbot addressed', { mentionsBot: true }));
    await reply(h, 'g2', /Echo:\*\* addressed/);
    expect(suite.sim.received((await loopOf(h.store, g))!)).toEqual(['plain chatter', 'addressed']);
  });
});

describe('intake: dedupe', () => {
  it('the same platform message delivered twice runs one turn', async () => {
    const h = await harness();
    const m = message(dm('u1'), u1, 'only once');
    await h.adapter.inject(m);
    await h.adapter.inject({ ...m });
    await h.adapter.inject(message(dm('u1'), u1, 'next'));
    await reply(h, 'u1', /Echo:\*\* next/);
    expect(suite.sim.received((await loopOf(h.store, dm('u1')))!)).toEqual(['only once', 'next']);
  });

  it('1,000 messages each delivered twice (interleaved) run exactly 1,000 turns', async () => {
    const h = await harness({ access: { dm: 'open' }, routing: { maxQueuedPerLoop: 100 } });
    const convs = Array.from({ length: 50 }, (_, i) => dm(`bulk${i}`));
    const all = convs.flatMap((c, i) => Array.from({ length: 20 }, (_, j) => message(c, person(`bulk${i}`), `m ${i}.${j}`)));
    // First deliveries per conversation in order; redeliveries of earlier messages interleaved.
    await Promise.all(
      convs.map(async (c, i) => {
        const mine = all.filter((m) => m.conversation === c);
        for (let j = 0; j < mine.length; j++) {
          await h.adapter.inject(mine[j]);
          if (j > 0) await h.adapter.inject({ ...mine[j - 1] });
        }
        await h.adapter.inject({ ...mine[mine.length - 1] });
        void i;
      }),
    );
    expect(h.bridge.metrics.get('inbound_duplicates_total', { platform: 'test' })).toBe(1000);
    await waitFor(async () => (await h.bridge.backlog()) === 0, 'every queued message to finish', 60_000);
    const loops = await Promise.all(convs.map((c) => loopOf(h.store, c)));
    expect(turnsReceived(suite.sim, loops.map((l) => l!))).toBe(1000);
    expect(loops.every((l, i) => suite.sim.received(l!).join('|') === Array.from({ length: 20 }, (_, j) => `m ${i}.${j}`).join('|'))).toBe(true);
  }, 60_000);

  it('dedupe is durable: a redelivery after reopening the lowdb store is still dropped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lb-intake-'));
    try {
      const path = join(dir, 'state.json');
      const store1 = await openLowdbStore({ path, flushDelayMs: 5 });
      const h1 = await startHarness({ simulator: suite.sim, store: store1 });
      const m = message(dm('u1'), u1, 'survive a restart');
      await h1.adapter.inject(m);
      await reply(h1, 'u1', /Echo:\*\* survive a restart/);
      await h1.close();
      await store1.close();

      const store2 = await openLowdbStore({ path, flushDelayMs: 5 });
      const h2 = await startHarness({ simulator: suite.sim, store: store2 });
      try {
        await h2.adapter.inject({ ...m }); // platform redelivery after our restart
        await h2.adapter.inject(message(dm('u1'), u1, 'after restart'));
        await reply(h2, 'u1', /Echo:\*\* after restart/);
        const loopId = (await loopOf(store2, dm('u1')))!;
        expect(suite.sim.received(loopId)).toEqual(['survive a restart', 'after restart']);
        expect(h2.adapter.chat('u1').filter((x) => /survive/.test(x.text))).toEqual([]);
      } finally {
        await h2.close();
        await store2.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('intake: dedupe marks stay small', () => {
  it('ordered ids: a redelivery long after its mark was forgotten is still dropped (the floor)', async () => {
    let clock = Date.now();
    const store = createMemoryStore({ now: () => clock });
    const h = await harness({ store });
    const first = message(dm('u1'), u1, 'ordered one', { messageId: '100', order: 100 });
    await h.adapter.inject(first);
    await reply(h, 'u1', /Echo:\*\* ordered one/);
    clock += SEEN_WINDOW_MS + 1;
    await h.adapter.inject(message(dm('u1'), u1, 'ordered two', { messageId: '101', order: 101 })); // prunes
    await reply(h, 'u1', /Echo:\*\* ordered two/);
    await h.adapter.inject({ ...first }); // e.g. a Telegram offset replay a day later
    await h.adapter.inject(message(dm('u1'), u1, 'ordered three', { messageId: '102', order: 102 }));
    await reply(h, 'u1', /Echo:\*\* ordered three/);
    expect(suite.sim.received((await loopOf(h.store, dm('u1')))!)).toEqual(['ordered one', 'ordered two', 'ordered three']);
    expect(h.bridge.metrics.get('inbound_duplicates_total', { platform: 'test' })).toBe(1);
  });

  it('an upgrade moves the old one-key-per-message marks: their redelivery is still dropped, and the keys are gone', async () => {
    const store = createMemoryStore();
    await store.set('seen/test/u1/legacy-1', 1, { ttlMs: 7 * 24 * 3600_000 });
    const h = await harness({ store });
    expect(await store.list('seen/')).toEqual([]);
    await h.adapter.inject(message(dm('u1'), u1, 'from before the upgrade', { messageId: 'legacy-1' }));
    await h.adapter.inject(message(dm('u1'), u1, 'after the upgrade'));
    await reply(h, 'u1', /Echo:\*\* after the upgrade/);
    expect(suite.sim.received((await loopOf(h.store, dm('u1')))!)).toEqual(['after the upgrade']);
  });
});

describe('intake: queueing', () => {
  it('messages sent while a turn runs are queued and run in order, each its own turn, one at a time', async () => {
    const h = await harness();
    suite.sim.scriptNextTurn('*', blockingTurn);
    await h.adapter.inject(message(dm('u1'), u1, 'first'));
    await waitFor(() => h.adapter.chat('u1').some((m) => /Permission/.test(m.text)), 'the first turn to block');
    await h.adapter.inject(message(dm('u1'), u1, 'second'));
    await h.adapter.inject(message(dm('u1'), u1, 'third'));
    // Notices are sent after the accept (they must not hold up the platform's acknowledgement).
    await waitFor(() => texts(h.adapter, 'u1').filter((t) => /Queued/.test(t)).length === 2, 'two queued notices');
    expect(texts(h.adapter, 'u1').filter((t) => /Queued/.test(t))).toEqual([
      expect.stringMatching(/Queued \(1 ahead\)/),
      expect.stringMatching(/Queued \(2 ahead\)/),
    ]);
    const loopId = (await loopOf(h.store, dm('u1')))!;
    // Had the bridge sent "second" while "first" ran, the server would have injected it into the turn.
    expect(suite.sim.received(loopId)).toEqual(['first']);
    expect((await h.client.getLoop(loopId)).queue_depth).toBe(0);
    await allowPending(h, 'u1');
    await reply(h, 'u1', /Echo:\*\* third/);
    expect(suite.sim.received(loopId)).toEqual(['first', 'second', 'third']);
    const replies = h.adapter.chat('u1').filter((m) => /Finished the blocking turn|Echo/.test(m.text));
    expect(replies.map((m) => m.text.split('\n')[0])).toEqual(['Need to check.', '**Echo:** second', '**Echo:** third']);
    expect(replies[0].text).toContain('Finished the blocking turn.');
    // In order: each reply was sent after the previous one was final.
    expect(replies.every((m) => m.finalized)).toBe(true);
    expect(replies[1].sentAt).toBeGreaterThanOrEqual(replies[0].history[replies[0].history.length - 1].at);
  });

  it('a burst sent before the first turn has started: each queued message is told exactly how many are ahead', async () => {
    const h = await harness();
    suite.sim.scriptNextTurn('*', blockingTurn);
    // Piped input: all three accepted while the first turn is still being set up (loop creation, POST).
    await Promise.all([h.adapter.inject(message(dm('u1'), u1, 'burst one')), h.adapter.inject(message(dm('u1'), u1, 'burst two')), h.adapter.inject(message(dm('u1'), u1, 'burst three'))]);
    await waitFor(() => texts(h.adapter, 'u1').filter((t) => /Queued/.test(t)).length >= 2, 'the queued notices');
    await waitFor(() => h.adapter.chat('u1').some((m) => /Permission/.test(m.text)), 'the first turn to block');
    expect(texts(h.adapter, 'u1').filter((t) => /Queued/.test(t)).sort()).toEqual([
      expect.stringMatching(/^📥 Queued \(1 ahead\)/),
      expect.stringMatching(/^📥 Queued \(2 ahead\)/),
    ]);
    await allowPending(h, 'u1');
    await reply(h, 'u1', /Echo:\*\* burst three/);
  });

  it('refuses a message beyond maxQueuedPerLoop with a notice naming the limit', async () => {
    const h = await harness({ routing: { maxQueuedPerLoop: 2 } });
    suite.sim.scriptNextTurn('*', blockingTurn);
    await h.adapter.inject(message(dm('u1'), u1, 'first'));
    await waitFor(() => h.adapter.chat('u1').some((m) => /Permission/.test(m.text)), 'the first turn to block');
    for (const t of ['q1', 'q2', 'q3']) await h.adapter.inject(message(dm('u1'), u1, t));
    await waitFor(() => texts(h.adapter, 'u1').some((t) => /2 messages are already waiting here; this one was not queued/.test(t)), 'the limit notice');
    await allowPending(h, 'u1');
    await reply(h, 'u1', /Echo:\*\* q1/);
    await waitFor(async () => (await h.bridge.backlog()) === 0, 'queue drained');
    const received = suite.sim.received((await loopOf(h.store, dm('u1')))!);
    expect(received[0]).toBe('first');
    expect(received).not.toContain('q3');
  });

  // BUG (intake.ts): the running message stays in the inbox until its turn ends, so queueLength() counts
  // it and only maxQueuedPerLoop - 1 messages may wait behind a running turn, although the config doc
  // ("Messages allowed to wait behind a running turn") and the notice ("N messages are already waiting")
  // promise N. Fix: compare `queueLength - (sessions.running.has(convKey) ? 1 : 0)` with the limit.
  it('lets maxQueuedPerLoop messages wait behind the running turn, and refuses the next', async () => {
    const h = await harness({ routing: { maxQueuedPerLoop: 2 } });
    suite.sim.scriptNextTurn('*', blockingTurn);
    await h.adapter.inject(message(dm('u1'), u1, 'first'));
    await waitFor(() => h.adapter.chat('u1').some((m) => /Permission/.test(m.text)), 'the first turn to block');
    await h.adapter.inject(message(dm('u1'), u1, 'q1'));
    await h.adapter.inject(message(dm('u1'), u1, 'q2'));
    expect(texts(h.adapter, 'u1').filter((t) => /not queued/.test(t))).toEqual([]);
    await h.adapter.inject(message(dm('u1'), u1, 'q3'));
    await waitFor(() => texts(h.adapter, 'u1').some((t) => /not queued/.test(t)), 'the refusal of q3');
    await allowPending(h, 'u1');
    await reply(h, 'u1', /Echo:\*\* q2/);
  });
});
