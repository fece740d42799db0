// How an operator command reaches the state it changes: through the running daemon's control socket when a
// daemon runs (so the change takes effect at once and the daemon's next write cannot undo it), else on the
// store file itself under the store lock (so a daemon starting at that moment waits until it is done). On
// PostgreSQL the command writes the shared database directly and announces the change; daemons follow it.

import type { Config } from '../config/index.js';
import { Bindings } from '../core/bindings.js';
import { LoopClients } from '../core/loop-clients.js';
import type { PairingRecord } from '../core/state.js';
import { SECRET_KEY_ENV, TokenVault } from '../core/token-vault.js';
import { UsageLedger, usageStorePath } from '../core/usage-ledger.js';
import { LoopClient, type LoopClientLogger } from '../loop-api/client.js';
import { openStore } from '../store/open-store.js';
import { openLowdbStore } from '../store/lowdb-store.js';
import type { Store } from '../store/store.js';
import { callControl, daemonListening } from './control-client.js';
import { ControlError, runOperation, type Operations } from './control-protocol.js';
import { conversationOperations } from './conversation-operations.js';
import { pairingOperations } from './pairing-operations.js';
import { withStoreLock } from './store-guard.js';
import { usageOperations } from './usage-operations.js';

/** What the operator operations work on: the store, the usage ledger, the bindings and a way to the loop server. */
export interface OperationsContext {
  config: Config;
  store: Store;
  usage: UsageLedger;
  bindings: Bindings;
  clients: LoopClients;
  /** With access.loopTokens per-user, why this process cannot use people's tokens (no or a wrong key). */
  personalTokensUnavailable?: string;
  /** The daemon's knowledge of running turns; without it the store's turn records tell. */
  running?: (convKey: string) => boolean;
  /** Called after a pairing approval (the daemon tells the person). */
  approved?(rec: PairingRecord): Promise<void>;
  log?: { info(obj: object, msg?: string): void };
}

/** The whole operator table: pairing, conversations, usage. The daemon serves it; without one the CLI runs it. */
export function operatorOperations(ctx: OperationsContext): Operations {
  const { config, store } = ctx;
  return {
    ...pairingOperations({ store, deniedQuietMs: config.access.pairingCodeTtlMs, approved: ctx.approved, log: ctx.log }),
    ...conversationOperations({
      store,
      bindings: ctx.bindings,
      clients: ctx.clients,
      usage: ctx.usage,
      defaultMode: config.loop.permissionMode,
      perUser: config.access.loopTokens === 'per-user',
      personalTokensUnavailable: ctx.personalTokensUnavailable,
      running: ctx.running,
      log: ctx.log,
    }),
    ...usageOperations({ usage: ctx.usage, retentionDays: config.ops.usageRetentionDays }),
  };
}

/**
 * Where usage is kept: with the embedded store, a file of its own next to it (so the hot store file, rewritten
 * on every accepted message, does not grow with usage history); on PostgreSQL, the same database. Close the
 * returned store when it is not `main`.
 */
export async function openUsageStore(config: Config, main: Store, flushDelayMs = 1000): Promise<Store> {
  if (config.store.url) return main;
  return openLowdbStore({ path: usageStorePath(config.store.path), flushDelayMs });
}

/** A loop client for `token` on the configured server (demo configs have none: calls then fail as unreachable). */
export function loopClientFor(config: Config, token: string, logger?: LoopClientLogger): LoopClient {
  const baseUrl = config.loop.baseUrl ?? 'http://loop-baseurl-not-set.invalid';
  return new LoopClient({ baseUrl, token, timeoutMs: config.loop.timeoutMs, ...(logger ? { logger } : {}) });
}

/** Builds the context a CLI without a daemon works in; `close()` releases what it opened. */
async function cliContext(config: Config, store: Store): Promise<{ ctx: OperationsContext; close(): Promise<void> }> {
  const usageStore = await openUsageStore(config, store, 1);
  const shared = loopClientFor(config, config.loop.token);
  let vault: TokenVault | undefined;
  let unavailable: string | undefined;
  if (config.access.loopTokens === 'per-user') {
    try {
      vault = await TokenVault.open(store, process.env[SECRET_KEY_ENV], { recordKey: false });
    } catch (err) {
      unavailable = err instanceof Error ? err.message : String(err);
    }
  }
  const clients = new LoopClients({ shared, perUser: vault ? { vault, create: (t) => loopClientFor(config, t) } : undefined });
  const ctx: OperationsContext = {
    config,
    store,
    usage: new UsageLedger(usageStore, config.ops.usageRetentionDays),
    bindings: new Bindings(config.bindings),
    clients,
    ...(unavailable ? { personalTokensUnavailable: unavailable } : {}),
  };
  return {
    ctx,
    async close() {
      await clients.close();
      await shared.close();
      if (usageStore !== store) await usageStore.close();
    },
  };
}

/** Runs one operation on a store this process opened itself (no daemon, or PostgreSQL). */
async function runDirect(config: Config, store: Store, op: string, args: Record<string, unknown>): Promise<unknown> {
  const { ctx, close } = await cliContext(config, store);
  try {
    return await runOperation(operatorOperations(ctx), op, args);
  } finally {
    await close();
  }
}

/** Where an operation ran. */
export type OperatedVia = 'daemon' | 'store';

/**
 * Runs `op` with `args`: on the running daemon if one answers on `ops.controlSocket`, else on the store file.
 * Waits up to `waitMs` (default 15 s) for a daemon that is still starting. Throws ControlError.
 */
export async function operate(config: Config, op: string, args: Record<string, unknown>, waitMs = 15_000): Promise<{ result: unknown; via: OperatedVia }> {
  if (config.store.url) {
    // PostgreSQL is shared: every replica reads it, and follows the change announced on it.
    const store = await openStore(config.store);
    try {
      return { result: await runDirect(config, store, op, args), via: 'store' };
    } finally {
      await store.close();
    }
  }
  const socket = config.ops.controlSocket;
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return { result: await callControl(socket, op, args), via: 'daemon' };
    } catch (err) {
      if (!(err instanceof ControlError) || (err.code !== 'not_running' && err.code !== 'starting')) throw err;
      if (err.code === 'starting') {
        if (Date.now() > deadline) throw new ControlError('timeout', `the daemon on ${socket} is still starting; try again`);
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
    }
    const direct = await withStoreLock(config.store.path, async () => {
      // A daemon may have claimed the store between our first look and the lock: then it must do it.
      if (await daemonListening(socket)) return undefined;
      const store = await openStore(config.store, { flushDelayMs: 1 });
      try {
        return { result: await runDirect(config, store, op, args) };
      } finally {
        await store.close();
      }
    });
    if (direct) return { result: direct.result, via: 'store' };
  }
}
