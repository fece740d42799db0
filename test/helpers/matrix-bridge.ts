// A bridge with the Matrix adapter against the test Synapse and the loop simulator, for the Matrix
// behaviour tests: one store that survives restarts, and a fault proxy in front of Synapse for the bot.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MatrixAdapter, type InvitePolicy } from '../../adapters/matrix/index.js';
import type { AccessConfig } from '../../src/core/access.js';
import { conversationKey, type ConversationRef } from '../../src/core/adapter-types.js';
import { Bridge } from '../../src/core/bridge.js';
import { COMMANDS } from '../../src/core/commands.js';
import { keys, type ConversationRecord } from '../../src/core/state.js';
import { LoopClient } from '../../src/loop-api/client.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import type { Store } from '../../src/store/store.js';
import { startFaultProxy, type FaultProxy } from '../peers/synapse/fault-proxy.js';
import type { SynapseAccount, SynapseInfo } from '../peers/synapse/synapse.js';
import { silentLog } from './wait.js';

export interface MatrixWorld {
  sim: Simulator;
  client: LoopClient;
  store: Store;
  proxy: FaultProxy;
  bridge: Bridge;
  adapter: MatrixAdapter;
  /** Stops the bridge (adapter included); the store stays. */
  stop(): Promise<void>;
  /** Starts a fresh bridge and adapter on the same store (a restart). */
  restart(): Promise<void>;
  /** The loop bound to a conversation, if any. */
  loopOf(conversation: Pick<ConversationRef, 'chatId' | 'threadId'>): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface MatrixWorldOptions {
  server: SynapseInfo;
  bot: SynapseAccount;
  access: Partial<AccessConfig>;
  invites?: Partial<InvitePolicy>;
  /** Simulator delta gap, ms; default 2. */
  deltaDelayMs?: number;
}

export async function startMatrixWorld(options: MatrixWorldOptions): Promise<MatrixWorld> {
  const sim = await startSimulator({ deltaDelayMs: options.deltaDelayMs ?? 2 });
  const client = new LoopClient({ baseUrl: sim.url, token: sim.token });
  const dir = mkdtempSync(join(tmpdir(), 'lb-matrix-'));
  const store = await openLowdbStore({ path: join(dir, 'store.json'), flushDelayMs: 5 });
  const proxy = await startFaultProxy(options.server.url);
  const access: AccessConfig = { dm: 'allowlist', users: [], admins: [], groups: [], pairingCodeTtlMs: 3_600_000, ...options.access };
  const matrixIds = (ids: string[]) => new Set(ids.filter((i) => i.startsWith('matrix:')).map((i) => i.slice(7)));

  const world = { sim, client, store, proxy } as unknown as MatrixWorld;
  // LB_TEST_LOG=1 shows the adapter's log while debugging a test.
  const log = process.env.LB_TEST_LOG ? { info: console.log, warn: console.warn, debug: console.debug } : undefined;

  const start = async () => {
    world.adapter = new MatrixAdapter({
      homeserverUrl: proxy.url,
      accessToken: options.bot.accessToken,
      invites: { users: matrixIds([...access.users, ...access.admins]), rooms: matrixIds(access.groups), ...options.invites },
      commands: Object.keys(COMMANDS),
      syncTimeoutMs: 1000,
      editIntervalMs: { direct: 100, group: 100 },
      log,
    });
    world.bridge = new Bridge({
      client,
      store,
      adapters: [world.adapter],
      access,
      routing: { requireMention: true, mentionPatterns: [], maxQueuedPerLoop: 50, maxMessageChars: 100_000 },
      replies: { editIntervalMs: { direct: 100, group: 100 }, showTools: true, showUsage: false },
      defaultPermissionMode: 'default',
      log: log ? ({ ...log, error: console.error } as never) : silentLog,
      retryMinMs: 100,
    });
    await world.bridge.start();
  };
  await start();
  world.stop = () => world.bridge.stop();
  world.restart = async () => {
    await world.bridge.stop();
    await start();
  };
  world.loopOf = async (c) => (await store.get<ConversationRecord>(keys.conv(conversationKey({ platform: 'matrix', ...c }))))?.loopId;
  world.close = async () => {
    await world.bridge.stop();
    await store.close();
    await proxy.close();
    await client.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return world;
}
