// The composition root: config → store, loop client, adapters, bridge, ops server. Used by `start` and
// `demo` (and by tests that run the daemon in-process).

import type { Readable, Writable } from 'node:stream';
import { ConsoleAdapter } from '../adapters/console/console-adapter.js';
import { TelegramAdapter } from '../adapters/telegram/index.js';
import { COMMANDS } from './core/commands.js';
import type { Config } from './config/index.js';
import type { ChatAdapter } from './core/adapter-types.js';
import { Bridge } from './core/bridge.js';
import { SECRET_KEY_ENV, TokenVault } from './core/token-vault.js';
import { UsageLedger } from './core/usage-ledger.js';
import { Metrics } from './core/metrics.js';
import { LoopClient } from './loop-api/client.js';
import type { Logger } from './ops/logging.js';
import { runOperation } from './ops/control-protocol.js';
import { startOpsServer, type OpsServer } from './ops/ops-server.js';
import { loopClientFor, openUsageStore, operatorOperations } from './ops/operator.js';
import { claimStore } from './ops/store-guard.js';
import type { ControlServer } from './ops/control-server.js';
import { openStore } from './store/open-store.js';
import { openPgStore } from './store/pg/pg-store.js';
import type { ReplicaOptions } from './core/replicas/replica-coordinator.js';
import type { Store } from './store/store.js';

export interface DaemonOptions {
  log: Logger;
  /** Console adapter streams (when config.console is set). */
  console?: { input: Readable; output: Writable; markers?: boolean; session?: string; onInputEnd?: () => void; interactive?: boolean };
  /** Extra adapters (tests). */
  adapters?: ChatAdapter[];
  /** A store to use instead of opening the one config.store names (tests). */
  store?: Store;
  /** LOOPBRIDGE_SECRET_KEY (access.loopTokens per-user). Default: the environment's. */
  secretKey?: string;
}

export interface Daemon {
  bridge: Bridge;
  store: Store;
  client: LoopClient;
  ops?: OpsServer;
  /** The control socket operator commands talk to (absent on PostgreSQL, which the CLI writes directly). */
  control?: ControlServer;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, options: DaemonOptions): Promise<Daemon> {
  const { log } = options;
  if (!config.loop.baseUrl) throw new Error('loop.baseUrl is not set');
  // A store file has one daemon: claim it first (a CLI editing it meanwhile finishes first), then open it.
  // PostgreSQL is shared by design (replicas; operator commands write it directly): nothing to claim.
  const control = config.store.url ? undefined : await claimStore(config.store.path, config.ops.controlSocket, log);
  // What is opened from here is released again, newest first, if starting fails half-way.
  const opened: Array<() => Promise<unknown>> = control ? [() => control.close()] : [];
  try {
    const store = options.store ?? (await openStore(config.store, { onWarning: (m) => log.warn({}, m) }));
    if (!options.store) opened.unshift(() => store.close());
    const client = new LoopClient({ baseUrl: config.loop.baseUrl, token: config.loop.token, timeoutMs: config.loop.timeoutMs, logger: log });
    opened.unshift(() => client.close());
    // Per-user tokens: a missing, malformed or wrong key stops the start here, saying so (never plaintext, never silently without them).
    const vault = config.access.loopTokens === 'per-user' ? await TokenVault.open(store, options.secretKey ?? process.env[SECRET_KEY_ENV]) : undefined;
    const usageStore = await openUsageStore(config, store);
    if (usageStore !== store) opened.unshift(() => usageStore.close());
    const usage = new UsageLedger(usageStore, config.ops.usageRetentionDays);
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
    if (config.slack) {
      // Loaded only when configured: @slack/bolt takes ~0.6 s to import, which every other start would pay.
      const { SlackAdapter } = await import('../adapters/slack/index.js');
      const s = config.slack;
      adapters.push(
        new SlackAdapter({
          botToken: s.botToken,
          appToken: s.appToken ?? undefined,
          signingSecret: s.signingSecret ?? undefined,
          mode: s.mode,
          port: s.port,
          host: s.host,
          apiUrl: s.apiUrl,
          threadFollow: s.threadFollow,
          editIntervalMs: config.replies.editIntervalMs,
          log: log.child({ adapter: 'slack' }),
        }),
      );
    }
    if (config.matrix) {
      // Loaded only when configured, like Slack: matrix-bot-sdk is a large import.
      const { MatrixAdapter } = await import('../adapters/matrix/index.js');
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
    if (adapters.length === 0) throw new Error('no adapter is configured: add a `telegram:`, `slack:`, `matrix:` or `console:` section');
    // PostgreSQL is shared by design: every process on it is one replica of several (leases, one
    // poller, split budgets). With the file there is exactly one. Leases and heartbeats get connections
    // of their own, so a busy pool of turn writes never delays a renewal.
    let replica: ReplicaOptions | undefined;
    if (config.store.url) {
      const coordinationStore = await openPgStore({ url: config.store.url, poolSize: 3, onWarning: (m) => log.warn({}, m) });
      opened.unshift(() => coordinationStore.close());
      replica = { id: config.replica.id, leaseTtlMs: config.replica.leaseTtlMs, coordinationStore };
    }
    const bridge = new Bridge({
      client,
      store,
      adapters,
      access: config.access,
      routing: config.routing,
      replies: config.replies,
      defaultPermissionMode: config.loop.permissionMode,
      log,
      bindings: config.bindings,
      perUserTokens: vault ? { vault, create: (token) => loopClientFor(config, token, log) } : undefined,
      usage,
      replica,
      metrics: new Metrics(replica ? { labels: { replica: replica.id } } : {}),
    });
    opened.unshift(() => bridge.stop());
    await bridge.start();
    if (config.bindings.length) log.info({ bindings: config.bindings.length }, 'conversation bindings loaded');
    // One table for the control socket and the admin API: the CLI's operations, run on the daemon's own state.
    const operations = {
      async 'daemon.ping'() {
        return { pid: process.pid };
      },
      ...operatorOperations({
        config,
        store,
        usage,
        bindings: bridge.bindings,
        clients: bridge.clients,
        // With replicas a turn may run on another one: its turn record says so (the fallback).
        running: replica ? undefined : (key) => bridge.sessions.running.has(key),
        approved: (rec) => bridge.pairingApproved(rec),
        log,
      }),
    };
    control?.serve(operations);
    let ops: OpsServer | undefined;
    if (config.ops.httpPort !== null) {
      const admin = config.ops.adminToken ? { token: config.ops.adminToken, run: (op: string, args: Record<string, unknown>) => runOperation(operations, op, args) } : undefined;
      ops = await startOpsServer(
        config.ops.httpHost,
        config.ops.httpPort,
        bridge.metrics,
        async () => {
          const storeHealth = (await store.health?.()) ?? { ok: true };
          // An unreachable store answers 503 (and skips the backlog, which would need the store); so does
          // a replica that takes no work (cut off from the store).
          if (!storeHealth.ok) return { ...bridge.health(), ok: false, store: storeHealth };
          return { ...bridge.health(), store: storeHealth, backlog: await bridge.backlog(), running: bridge.sessions.running.size };
        },
        admin,
      );
      log.info({ url: ops.url }, admin ? 'ops endpoints on /healthz, /metrics and /admin/' : 'ops endpoints on /healthz and /metrics');
    }
    const coordinationStore = replica?.coordinationStore;
    let stopped: Promise<void> | null = null;
    return {
      bridge,
      store,
      client,
      ops,
      control,
      stop() {
        stopped ??= (async () => {
          await bridge.stop();
          await control?.close();
          await ops?.close();
          await client.close();
          if (usageStore !== store) await usageStore.close();
          if (!options.store) await store.close();
          await coordinationStore?.close();
        })();
        return stopped;
      },
    };
  } catch (err) {
    for (const close of opened) await close().catch(() => {});
    throw err;
  }
}
