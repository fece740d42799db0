// Shared pieces of the Slack adapter tests: the core (a Bridge on a memory store) talking to the loop
// simulator and to the Slack fake through a real SlackAdapter, plus a recording sink for adapter-only tests.
import type { InboundEvent, InboundSink } from '../../../src/core/adapter-types.js';
import { Bridge } from '../../../src/core/bridge.js';
import { LoopClient } from '../../../src/loop-api/client.js';
import { startSimulator, type Simulator } from '../../../src/sim/index.js';
import { createMemoryStore } from '../../../src/store/memory-store.js';
import { SlackAdapter, type SlackAdapterOptions } from '../../../adapters/slack/index.js';
import type { FakeSlack, StoredMessage } from '../../peers/fake-slack.js';
import { silentLog, waitFor } from '../../helpers/wait.js';

export function adapterFor(fake: FakeSlack, extra: Partial<SlackAdapterOptions> = {}): SlackAdapter {
  return new SlackAdapter({ botToken: fake.botToken, appToken: fake.appToken, apiUrl: fake.url, reconnectDelayMs: 100, ...extra });
}

/** Records accepted events; `gate` may delay or refuse one (a rejecting promise refuses). */
export class RecordingSink implements InboundSink {
  readonly events: InboundEvent[] = [];
  readonly offered: InboundEvent[] = [];
  constructor(public gate?: (e: InboundEvent) => Promise<void> | void) {}
  async accept(event: InboundEvent): Promise<void> {
    this.offered.push(event);
    await this.gate?.(event);
    this.events.push(event);
  }
}

export interface CoreRun {
  sim: Simulator;
  bridge: Bridge;
  adapter: SlackAdapter;
  client: LoopClient;
  /** Everything the loops received, over all loops. */
  received(): Promise<string[]>;
  close(): Promise<void>;
}

/** The core with the Slack adapter against `fake` and a fresh simulator. Ann (UANN) is allowed; admins as given. */
export async function startCore(fake: FakeSlack, o: { adapter?: Partial<SlackAdapterOptions>; admins?: string[]; deltaDelayMs?: number } = {}): Promise<CoreRun> {
  const sim = await startSimulator({ deltaDelayMs: o.deltaDelayMs ?? 2 });
  const client = new LoopClient({ baseUrl: sim.url, token: sim.token });
  const adapter = adapterFor(fake, o.adapter);
  const bridge = new Bridge({
    client,
    store: createMemoryStore(),
    adapters: [adapter],
    access: { dm: 'allowlist', users: ['slack:UANN'], admins: o.admins ?? [], groups: [], pairingCodeTtlMs: 3_600_000 },
    routing: { requireMention: true, mentionPatterns: [], maxQueuedPerLoop: 50, maxMessageChars: 100_000 },
    replies: { editIntervalMs: { direct: 200, group: 200 }, showTools: true, showUsage: false },
    defaultPermissionMode: 'default',
    log: silentLog,
    retryMinMs: 100,
  });
  await bridge.start();
  return {
    sim,
    bridge,
    adapter,
    client,
    async received() {
      const out: string[] = [];
      for await (const loop of client.listAllLoops()) out.push(...sim.received(loop.id));
      return out;
    },
    async close() {
      await bridge.stop();
      await client.close();
      await sim.close();
    },
  };
}

/** Waits for a bot message in the channel (or thread) whose visible text matches. */
export function botMessage(fake: FakeSlack, channel: string, re: RegExp, threadTs?: string, timeoutMs = 20_000): Promise<StoredMessage> {
  return waitFor(() => fake.botMessages(channel, threadTs).find((m) => re.test(fake.visible(m))), `bot message ${re}`, timeoutMs);
}
