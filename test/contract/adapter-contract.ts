// The adapter contract: what every platform adapter must do together with the core, run against the
// loop simulator. Each platform supplies a small harness (how to speak as a user, how to read what the
// bot shows); a case a platform cannot run names why.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatAdapter } from '../../src/core/adapter-types.js';
import type { ConversationRecord } from '../../src/core/state.js';
import { Bridge } from '../../src/core/bridge.js';
import { renderTurnMarkdown } from '../../src/core/render.js';
import { STEER_ACK } from '../../src/core/steering.js';
import { applyEvent, newProgress } from '../../src/core/turn-view.js';
import { LoopClient } from '../../src/loop-api/client.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import type { Store } from '../../src/store/store.js';
import { silentLog, waitFor } from '../helpers/wait.js';

export type ContractCase =
  | 'own messages ignored'
  | 'mention gating'
  | 'dedupe on redelivery'
  | 'long message split, nothing lost'
  | 'edit convergence'
  | 'choice round-trip'
  | 'restart resume'
  | 'rate budget respected'
  | 'privilege in groups'
  | 'no freeze after platform failures'
  | 'steering'
  | 'steering by reply';

/** One running instance of a platform's adapter, and how a test talks through it. */
export interface PlatformRun {
  adapter: ChatAdapter;
  /** The allowed user writes in the direct chat. `messageId` repeats a platform message id (redelivery). */
  say(text: string, options?: { messageId?: string }): Promise<string>;
  /** A message in a group, with or without a mention of the bot. */
  sayInGroup?(text: string, mention: boolean): Promise<void>;
  /** A message that the platform reports as the bot's own. */
  ownMessage?(text: string): Promise<void>;
  /** Current texts of the bot's messages in the direct chat, oldest first. */
  botTexts(): Promise<string[]>;
  /** Current texts in the group. */
  groupTexts?(): Promise<string[]>;
  /** Answers the pending permission choice as the allowed user. */
  allow(): Promise<void>;
  /**
   * A second person in the group (`ContractPlatform.member`: the group is in access.groups, the person is in
   * neither access.users nor access.admins) writes there, with or without a mention of the bot.
   */
  sayInGroupAsMember?(text: string, mention: boolean): Promise<void>;
  /** The platform fails the bot's next `n` outbound calls (posts, edits) as a transient outage would (5xx). */
  failNextCalls?(n: number): Promise<void>;
  /** The allowed user replies, in the direct chat, to the bot's newest message there (a platform reply/quote). */
  replyToLastBotMessage?(text: string): Promise<void>;
  close(): Promise<void>;
}

export interface ContractPlatform {
  name: string;
  /** Qualified id of the allowed user (goes into access.users). */
  user: string;
  /** Qualified id of the group `sayInGroup` writes in (without a thread), for access.groups. */
  group?: string;
  /** Qualified id of the person `sayInGroupAsMember` speaks as. */
  member?: string;
  skips: Partial<Record<ContractCase, string>>;
  /** Starts the platform side (fakes) once. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** A fresh adapter instance (called again for a restart). */
  open(): Promise<PlatformRun>;
  /** 429s the platform had to answer (0 = budget kept). */
  rateLimitViolations?(): number;
  /** What a person sees for this markdown (default: the markdown itself, e.g. on a terminal). */
  shown?(markdown: string): string;
}

export function describeAdapterContract(platform: ContractPlatform): void {
  describe(`adapter contract: ${platform.name}`, () => {
    let sim: Simulator;
    let dir: string;
    let store: Store;
    let run: PlatformRun;
    let bridge: Bridge;
    let client: LoopClient;

    async function startBridge(): Promise<void> {
      run = await platform.open();
      bridge = new Bridge({
        client,
        store,
        adapters: [run.adapter],
        // The group is listed, so every member may talk there: what a member may *change* is then the question.
        access: { dm: 'allowlist', users: [platform.user], admins: [], groups: platform.group ? [platform.group] : [], pairingCodeTtlMs: 3_600_000 },
        routing: { requireMention: true, mentionPatterns: [], maxQueuedPerLoop: 50, maxMessageChars: 100_000 },
        replies: { editIntervalMs: { direct: 100, group: 100 }, showTools: true, showUsage: false },
        defaultPermissionMode: 'default',
        log: silentLog,
        retryMinMs: 100,
      });
      await bridge.start();
    }

    async function stopBridge(): Promise<void> {
      await bridge.stop();
      await run.close();
    }

    /** The exact markdown the core must converge to for this message on a fresh loop. */
    async function expectedRender(content: string): Promise<string> {
      const loop = await client.createLoop({ title: 'expected' });
      const p = newProgress();
      for await (const ev of client.sendMessage(loop.id, { content }, { idempotencyKey: `expected-${Math.random()}` })) applyEvent(p, ev);
      return renderTurnMarkdown(p.view, { showTools: true });
    }

    const shown = (md: string) => (platform.shown ? platform.shown(md) : md);
    const skip = (c: ContractCase) => platform.skips[c];
    const maybe = (c: ContractCase) => (skip(c) ? it.skip : it);
    const title = (c: ContractCase, what: string) => `${c}: ${what}${skip(c) ? ` — skipped: ${skip(c)}` : ''}`;
    /** A hook the case needs: a harness that lacks it must skip the case with a reason instead. */
    function hook<T>(value: T | undefined, name: string, c: ContractCase): T {
      if (value === undefined) throw new Error(`the ${platform.name} harness has no ${name}: implement it or skip '${c}' with a reason`);
      return value;
    }
    /** The loop of the allowed user's direct conversation, once a message there has made it. */
    async function directLoop(c: ContractCase): Promise<string> {
      const direct = (await store.list<ConversationRecord>('conv/')).find(([, conv]) => conv.ref.platform === run.adapter.platform && conv.ref.isDirect && conv.loopId);
      return hook(direct?.[1].loopId, 'direct conversation with a loop', c);
    }
    /** Waits for a bot message in the group that matches. */
    const inGroup = (re: RegExp) => waitFor(async () => (await hook(run.groupTexts, 'groupTexts', 'privilege in groups')()).find((t) => re.test(t)), `a group message matching ${re}`, 20_000);

    beforeAll(async () => {
      sim = await startSimulator({ deltaDelayMs: 2 });
      client = new LoopClient({ baseUrl: sim.url, token: sim.token });
      dir = mkdtempSync(join(tmpdir(), 'lb-contract-'));
      store = await openLowdbStore({ path: join(dir, 'store.json'), flushDelayMs: 5 });
      await platform.setup?.();
      await startBridge();
    });

    afterAll(async () => {
      await stopBridge();
      await store.close();
      await platform.teardown?.();
      await client.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Sends a marker message and waits for its reply; everything said before has been handled by then (FIFO). */
    async function barrier(): Promise<string[]> {
      const tag = `barrier ${Math.random().toString(36).slice(2, 8)}`;
      await run.say(tag);
      return waitFor(async () => {
        const texts = await run.botTexts();
        return texts.some((t) => t.includes(tag)) ? texts : undefined;
      });
    }

    it('answers a direct message with exactly one reply', async () => {
      const before = (await run.botTexts()).length;
      await run.say('hello contract');
      const texts = await waitFor(async () => {
        const t = await run.botTexts();
        return t.some((x) => x.includes('hello contract')) ? t : undefined;
      });
      expect(texts.filter((t) => t.includes('hello contract'))).toHaveLength(1);
      expect(texts.length).toBe(before + 1);
    });

    maybe('own messages ignored')(`own messages ignored${skip('own messages ignored') ? ` — skipped: ${skip('own messages ignored')}` : ''}`, async () => {
      await run.ownMessage!('own message should be ignored');
      const texts = await barrier();
      expect(texts.some((t) => t.includes('own message should be ignored'))).toBe(false);
    });

    maybe('mention gating')(`mention gating${skip('mention gating') ? ` — skipped: ${skip('mention gating')}` : ''}`, async () => {
      await run.sayInGroup!('unaddressed chatter here', false);
      await run.sayInGroup!('addressed hello here', true);
      const texts = await waitFor(async () => {
        const t = await run.groupTexts!();
        return t.some((x) => x.includes('addressed hello here')) ? t : undefined;
      });
      expect(texts.some((t) => t.includes('unaddressed chatter'))).toBe(false);
    });

    maybe('dedupe on redelivery')(`dedupe on redelivery${skip('dedupe on redelivery') ? ` — skipped: ${skip('dedupe on redelivery')}` : ''}`, async () => {
      const id = await run.say('deliver me twice');
      await run.say('deliver me twice', { messageId: id });
      const texts = await barrier();
      expect(texts.filter((t) => t.includes('deliver me twice'))).toHaveLength(1);
    });

    maybe('long message split, nothing lost')('long message split, nothing lost', async () => {
      const expected = await expectedRender('long');
      const before = (await run.botTexts()).length;
      await run.say('long');
      const texts = await barrier();
      // Notices (e.g. "📥 Queued") may sit between the request and its reply; they are not part of it.
      const reply = texts.slice(before, texts.length - 1).filter((t) => !t.startsWith('📥'));
      expect(normalise(reply.join('\n'))).toBe(normalise(shown(expected)));
      for (const chunk of reply) expect(run.adapter.capabilities.measure(chunk)).toBeLessThanOrEqual(run.adapter.capabilities.maxTextLength);
    });

    maybe('edit convergence')('edit convergence: the live message ends exactly at the final render', async () => {
      const expected = shown(await expectedRender('tools'));
      await run.say('tools');
      await waitFor(async () => ((await run.botTexts()).includes(expected) ? true : undefined));
    });

    maybe('choice round-trip')('choice round-trip: permission allowed by the user', async () => {
      await run.say('permission please');
      await waitFor(async () => ((await run.botTexts()).some((t) => t.includes('Permission requested')) ? true : undefined));
      await run.allow();
      const texts = await waitFor(async () => {
        const t = await run.botTexts();
        return t.some((x) => x.includes('I ran')) ? t : undefined;
      });
      expect(texts.some((t) => t.includes('Permission requested') && t.includes('Allowed'))).toBe(true);
    });

    maybe('restart resume')('restart resume: a turn cut by a restart completes once', async () => {
      await run.say('slow 3');
      await waitFor(async () => ((await bridge.backlog()) > 0 && bridge.sessions.running.size > 0 ? true : undefined));
      await stopBridge();
      await startBridge();
      const texts = await waitFor(async () => {
        const t = await run.botTexts();
        return t.some((x) => x.includes('tick 3/3')) && (await bridge.backlog()) === 0 ? t : undefined;
      }, 20_000);
      // One reply, complete (ticks in order, none doubled), however the restart cut it.
      const replies = texts.filter((t) => t.includes('tick 1/3') || t.includes('tick 3/3'));
      expect(replies).toHaveLength(1);
      expect(replies[0].match(/tick \d\/3/g)).toEqual(['tick 1/3', 'tick 2/3', 'tick 3/3']);
    });

    maybe('privilege in groups')(title('privilege in groups', 'a member who is not an admin cannot loosen the mode, nor attach the group to someone\'s private loop'), async () => {
      const asMember = hook(run.sayInGroupAsMember, 'sayInGroupAsMember', 'privilege in groups');
      hook(platform.member, 'ContractPlatform.member', 'privilege in groups');
      await run.say('a private matter');
      await waitFor(async () => ((await run.botTexts()).some((t) => t.includes('a private matter')) ? true : undefined), 20_000);
      const privateLoop = await directLoop('privilege in groups');

      await asMember('/mode bypassPermissions', true);
      // (Platforms show markdown formatted: code spans may lose their backticks.)
      await inGroup(/Only an admin can set `?bypassPermissions/);
      await asMember(`/attach ${privateLoop}`, true);
      await inGroup(/Only admins can attach/);
      await asMember('/status', true);
      expect(await inGroup(/Mode: /)).toMatch(/Mode: `?default\b/);
      await asMember('member asks here', true);
      await inGroup(/member asks here/);
      expect(sim.received(privateLoop)).not.toContain('member asks here');
      expect((await run.groupTexts!()).some((t) => t.includes('a private matter'))).toBe(false);
    });

    maybe('no freeze after platform failures')(
      title('no freeze after platform failures', 'posts and edits failing early in a turn: the reply still completes once, nobody blames the loop server, the next message is answered'),
      async () => {
        const fail = hook(run.failNextCalls, 'failNextCalls', 'no freeze after platform failures');
        await fail(3);
        // Long enough that the failures are over before the turn's end is known (a reply that failed while
        // streaming must not hold its turn forever).
        await run.say('slow 4');
        await run.say('after the outage');
        const texts = await waitFor(async () => {
          const t = await run.botTexts();
          return t.some((x) => x.includes('after the outage')) ? t : undefined;
        }, 30_000);
        // FIFO: the slow turn ended before the next one was answered; its reply is there once, complete.
        const slow = texts.filter((t) => t.includes('tick 1/4'));
        expect(slow).toHaveLength(1);
        expect(slow[0]).toContain('tick 4/4');
        expect(texts.some((t) => /loop server/i.test(t))).toBe(false);
      },
    );

    let steers = 0;
    /**
     * A `tools`-like turn held by the simulator before its tool step (a steer sent now is taken in there),
     * then `steer` sends a correction: it must reach the loop in the same turn, be acknowledged, and the one
     * live reply must continue with what the loop wrote after taking it in.
     */
    async function steerRunningTurn(steer: (text: string) => Promise<unknown>, waitForLiveMessage: boolean): Promise<void> {
      const n = ++steers;
      const gate = `contract-steer-${n}`;
      const [before, after, correction] = [`Looking around ${n}.`, `Using the other folder ${n}.`, `use the other folder ${n}`];
      await waitFor(async () => ((await bridge.backlog()) === 0 && bridge.sessions.running.size === 0 ? true : undefined), 'the conversation idle', 20_000);
      const loopId = await directLoop('steering');
      const earlier = (await run.botTexts()).length;
      /** The bot's messages since this case began (earlier cases left notices and acknowledgements). */
      const since = async () => (await run.botTexts()).slice(earlier);
      sim.scriptNextTurn(loopId, [{ delta: `${before} ` }, { gate }, { tool: { name: 'Bash', input: { command: 'ls' } } }, { delta: 'Never written: the steer took over.' }]);
      sim.scriptNextTurn(loopId, [{ delta: after }]);
      await run.say(`tools please ${n}`);
      await waitFor(() => (sim.written(loopId).includes(before) && bridge.sessions.running.size > 0 ? true : undefined), 'the turn to hold', 20_000);
      // (A terminal prints a reply once it is final; a platform shows the live message as it grows.)
      if (waitForLiveMessage) await waitFor(async () => ((await since()).some((t) => t.includes(before)) ? true : undefined), 'the live message', 20_000);
      await steer(correction);
      await waitFor(async () => ((await since()).some((t) => t.includes(STEER_ACK)) ? true : undefined), 'the acknowledgement', 20_000);
      sim.release(gate);
      const texts = await waitFor(async () => {
        const t = await since();
        return t.some((x) => x.includes(after)) && (await bridge.backlog()) === 0 ? t : undefined;
      }, 'the reply continued after the steer', 20_000);
      // Taken in at the tool step: the loop received it during the same turn, and wrote nothing else.
      expect(sim.received(loopId).slice(-2)).toEqual([`tools please ${n}`, correction]);
      expect(sim.written(loopId).slice(-`${before} ${after}`.length)).toBe(`${before} ${after}`);
      // One live reply, holding the text from before the steer and after it; neither doubled anywhere.
      const reply = texts.filter((t) => t.includes(before));
      expect(reply).toHaveLength(1);
      expect(reply[0].indexOf(after)).toBeGreaterThan(reply[0].indexOf(before));
      expect(texts.filter((t) => t.includes(after))).toHaveLength(1);
      expect(texts.filter((t) => t.includes(STEER_ACK))).toHaveLength(1);
      expect(texts.some((t) => t.includes('Never written') || t.startsWith('📥'))).toBe(false);
    }

    maybe('steering')(title('steering', '/steer during a running turn reaches the loop in the same turn; the live reply continues after it'), async () => {
      await steerRunningTurn((text) => run.say(`/steer ${text}`), false);
    });

    maybe('steering by reply')(title('steering by reply', 'a reply to the running turn\'s live message steers it like /steer'), async () => {
      const reply = hook(run.replyToLastBotMessage, 'replyToLastBotMessage', 'steering by reply');
      // The held turn's live message is the bot's newest message in the direct chat.
      await steerRunningTurn(reply, true);
    });

    maybe('rate budget respected')(`rate budget respected${skip('rate budget respected') ? ` — skipped: ${skip('rate budget respected')}` : ''}`, async () => {
      expect(platform.rateLimitViolations!()).toBe(0);
    });
  });
}

/** Chunks may re-open fences and break at whitespace; the words and their order must survive. */
function normalise(s: string): string {
  return s
    .split('\n')
    .filter((l) => !/^\s*(```|~~~)/.test(l))
    .join('')
    .replace(/\s+/g, '');
}
