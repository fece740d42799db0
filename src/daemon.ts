// The composition root: config → store, loop client, adapters, bridge, ops server. Used by `start` and
// `demo` (and by tests that run the daemon in-process).

import type { Readable, Writable } from 'node:stream';
import { ConsoleAdapter } from '../adapters/console/console-adapter.js';
import { MatrixAdapter } from '../adapters/matrix/index.js';
import { TelegramAdapter } from '../adapters/telegram/index.js';
import { COMMANDS } from './core/commands.js';
import type { Config } from './config/index.js';
import type { ChatAdapter } from './core/adapter-types.js';
import { Bridge } from './core/bridge.js';
import { LoopClient } from './loop-api/client.js';
import type { Logger } from './ops/logging.js';
import { startOpsServer, type OpsServer } from './ops/ops-server.js';
import { openLowdbStore } from './store/lowdb-store.js';
import type { Store } from './store/store.js';

export interface DaemonOptions {
  log: Logger;
  /** Console adapter streams (when config.console is set). */
  console?: { input: Readable; output: Writable; markers?: boolean; session?: string; onInputEnd?: () => void; interactive?: boolean };
  /** Extra adapters (tests). */
  adapters?: ChatAdapter[];
  /** A store to use instead of opening config.store.path (tests). */
  store?: Store;
}

export interface Daemon {
  bridge: Bridge;
  store: Store;
  client: LoopClient;
  ops?: OpsServer;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, options: DaemonOptions): Promise<Daemon> {
  const { log } = options;
  if (!config.loop.baseUrl) throw new Error('loop.baseUrl is not set');
  const store =
    options.store ??
    (await openLowdbStore({ path: config.store.path, flushDelayMs: config.store.flushDelayMs, onWarning: (m) => log.warn({}, m) }));
  const client = new LoopClient({ baseUrl: config.loop.baseUrl, token: config.loop.token, timeoutMs: config.loop.timeoutMs, logger: log });
  const adapters: ChatAdapter[] = [...(options.adapters ?? [])];
  if (config.console && options.console) {
    adapters.push(new ConsoleAdapter({ ...options.console, user: config.console.user }));
  }
  if (config.telegram) {
    const t = config.telegram;
    adapters.push(
      new TelegramAdapter({
        token: t.token,
        apiRoot: t.apiRoot,
        mode: t.mode,
        webhook: t.webhook ?? undefined,
        drafts: t.drafts,
        rate: t.rate,
        editIntervalMs: config.replies.editIntervalMs,
        commands: Object.entries(COMMANDS).map(([command, description]) => ({ command, description: description.slice(0, 256) })),
        log: log.child({ adapter: 'telegram' }),
      }),
    );
  }
  if (config.matrix) {
    const m = config.matrix;
    const matrixIds = (ids: string[]) => new Set(ids.filter((id) => id.startsWith('matrix:')).map((id) => id.slice('matrix:'.length)));
    adapters.push(
      new MatrixAdapter({
        homeserverUrl: m.homeserverUrl,
        accessToken: m.accessToken ?? undefined,
        userId: m.userId ?? undefined,
        password: m.password ?? undefined,
        invites: {
          autoJoin: m.autoJoin,
          users: matrixIds(config.access.users),
          rooms: matrixIds(config.access.groups),
          // With pairing or an open door, a stranger must be able to open a DM to be answered at all.
          directFromAnyone: config.access.dm !== 'allowlist',
        },
        commands: Object.keys(COMMANDS),
        editIntervalMs: config.replies.editIntervalMs,
        log: log.child({ adapter: 'matrix' }),
      }),
    );
  }
  if (adapters.length === 0) throw new Error('no adapter is configured: add a `telegram:`, `matrix:` or `console:` section');
  const bridge = new Bridge({
    client,
    store,
    adapters,
    access: config.access,
    routing: config.routing,
    replies: config.replies,
    defaultPermissionMode: config.loop.permissionMode,
    log,
  });
  await bridge.start();
  let ops: OpsServer | undefined;
  if (config.ops.httpPort !== null) {
    ops = await startOpsServer(config.ops.httpHost, config.ops.httpPort, bridge.metrics, async () => ({
      backlog: await bridge.backlog(),
      running: bridge.sessions.running.size,
    }));
    log.info({ url: ops.url }, 'ops endpoints on /healthz and /metrics');
  }
  let stopped: Promise<void> | null = null;
  return {
    bridge,
    store,
    client,
    ops,
    stop() {
      stopped ??= (async () => {
        await bridge.stop();
        await ops?.close();
        await client.close();
        if (!options.store) await store.close();
      })();
      return stopped;
    },
  };
}
