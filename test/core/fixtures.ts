// Shared fixture for the core's integration tests: a Bridge wired to a RecordingAdapter, a store and a
// LoopClient talking to a real simulator on 127.0.0.1, plus helpers to inject events and wait for
// conditions (never for durations).

import { Bridge, type BridgeOptions } from '../../src/core/bridge.js';
import type { AccessConfig } from '../../src/core/access.js';
import type { RoutingConfig } from '../../src/core/intake.js';
import type { ConversationRef, InboundMessage, InboundPress, Sender } from '../../src/core/adapter-types.js';
import { conversationKey } from '../../src/core/adapter-types.js';
import { keys, type ConversationRecord } from '../../src/core/state.js';
import { LoopClient } from '../../src/loop-api/client.js';
import { startSimulator, type SimOptions, type Simulator } from '../../src/sim/index.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { RecordingAdapter, type RecordingOptions } from '../helpers/recording-adapter.js';
import { silentLog, waitFor } from '../helpers/wait.js';

export { silentLog, waitFor } from '../helpers/wait.js';

/** Lets pending work run for a short while (used only to give a wrong behaviour the chance to show). */
export function settle(ms = 150): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface HarnessOptions {
  sim?: SimOptions;
  /** An existing simulator (its lifetime is the caller's). */
  simulator?: Simulator;
  store?: Store;
  adapter?: RecordingOptions;
  access?: Partial<AccessConfig>;
  routing?: Partial<RoutingConfig>;
  replies?: Partial<BridgeOptions['replies']>;
  /** Other Bridge options (delivery and shutdown timing, …). */
  bridge?: Partial<BridgeOptions>;
}

export interface Harness {
  sim: Simulator;
  client: LoopClient;
  store: Store;
  adapter: RecordingAdapter;
  bridge: Bridge;
  /** Stops the bridge, the client and (if owned) the simulator. */
  close(): Promise<void>;
}

export const dm = (chatId = 'u1'): ConversationRef => ({ platform: 'test', chatId, isDirect: true });
export const group = (chatId = 'g1', threadId?: string): ConversationRef => ({ platform: 'test', chatId, threadId, isDirect: false });
export const person = (id: string, displayName = id.toUpperCase()): Sender => ({ id, displayName, isBot: false });

let msgSeq = 0;

/** A normalised inbound message with defaults (a fresh message id unless given). */
export function message(conversation: ConversationRef, sender: Sender, text: string, extra: Partial<InboundMessage> = {}): InboundMessage {
  return { kind: 'message', conversation, sender, text, files: [], mentionsBot: false, replyToBot: false, messageId: `pm${++msgSeq}`, ...extra };
}

let pressSeq = 0;

export function press(conversation: ConversationRef, sender: Sender, token: string): InboundPress {
  return { kind: 'press', conversation, sender, token, pressId: `press${++pressSeq}` };
}

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const sim = o.simulator ?? (await startSimulator({ deltaDelayMs: 1, idleCutMs: null, ...o.sim }));
  const client = new LoopClient({ baseUrl: sim.url, token: sim.token, timeoutMs: 5000, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } });
  const store = o.store ?? createMemoryStore();
  const adapter = new RecordingAdapter(o.adapter);
  const bridge = new Bridge({
    client,
    store,
    adapters: [adapter],
    access: { dm: 'allowlist', users: ['test:u1'], admins: ['test:admin'], groups: [], pairingCodeTtlMs: 3_600_000, ...o.access },
    routing: { requireMention: true, mentionPatterns: [], maxQueuedPerLoop: 20, maxMessageChars: 100_000, ...o.routing },
    replies: { editIntervalMs: { direct: 50, group: 50 }, showTools: true, showUsage: false, ...o.replies },
    defaultPermissionMode: 'default',
    log: silentLog,
    retryMinMs: 50,
    retryMaxMs: 200,
    ...o.bridge,
  });
  await bridge.start();
  let closed: Promise<void> | undefined;
  return {
    sim,
    client,
    store,
    adapter,
    bridge,
    close() {
      // Idempotent: a test may close early (to restart on the same store) and the suite closes again.
      closed ??= (async () => {
        await bridge.stop();
        await client.close();
        if (!o.simulator) await sim.close();
      })();
      return closed;
    },
  };
}

/** The loop bound to a conversation, once there is one. */
export async function loopOf(store: Store, conv: ConversationRef): Promise<string | undefined> {
  return (await store.get<ConversationRecord>(keys.conv(conversationKey(conv))))?.loopId;
}

/** Texts of the bot's (not deleted) messages in a chat, in send order. */
export function texts(adapter: RecordingAdapter, chatId: string): string[] {
  return adapter.chat(chatId).map((m) => m.text);
}

/** The first message in the chat whose text matches, once it exists. */
export function messageMatching(adapter: RecordingAdapter, chatId: string, re: RegExp) {
  return adapter.chat(chatId).find((m) => re.test(m.text));
}

/** Number of turns the simulator's "model" received across the given loops. */
export function turnsReceived(sim: Simulator, loopIds: Iterable<string>): number {
  let n = 0;
  for (const id of loopIds) n += sim.received(id).length;
  return n;
}

/**
 * Registers what every core test file needs: one fast simulator for the file, and harnesses that are
 * closed after each test. `harness(o)` starts a Bridge against that simulator (or `o.simulator`).
 */
export function harnessSuite(simOptions: SimOptions = {}) {
  let sim: Simulator | undefined;
  const open: Harness[] = [];
  beforeAll(async () => {
    sim = await startSimulator({ deltaDelayMs: 1, idleCutMs: null, ...simOptions });
  });
  afterAll(async () => {
    await sim?.close();
  });
  afterEach(async () => {
    for (const h of open.splice(0)) await h.close();
  });
  return {
    get sim(): Simulator {
      if (!sim) throw new Error('the suite simulator starts in beforeAll');
      return sim;
    },
    async harness(o: HarnessOptions = {}): Promise<Harness> {
      const h = await startHarness({ simulator: sim, ...o });
      open.push(h);
      return h;
    },
  };
}

/** Waits for the finished (finalised) reply in a chat whose text matches `re`. */
export function finalReply(h: Harness, chatId: string, re: RegExp) {
  return waitFor(() => {
    const m = messageMatching(h.adapter, chatId, re);
    return m?.finalized ? m : undefined;
  }, `a final reply matching ${re}`);
}

/** Sends a line in a chat as `from` and resolves with the first new bot message there matching `re`. */
export async function say(h: Harness, conv: ConversationRef, from: Sender, text: string, re: RegExp, extra: Partial<InboundMessage> = {}): Promise<string> {
  const before = h.adapter.chat(conv.chatId).length;
  await h.adapter.inject(message(conv, from, text, extra));
  return waitFor(() => h.adapter.chat(conv.chatId).slice(before).find((m) => re.test(m.text))?.text, `an answer to ${text} matching ${re}`);
}
