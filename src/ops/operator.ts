// How an operator command reaches the state it changes: through the running daemon's control socket when a
// daemon runs (so the change takes effect at once and the daemon's next write cannot undo it), else on the
// store file itself under the store lock (so a daemon starting at that moment waits until it is done).

import type { Config } from '../config/index.js';
import type { PairingRecord } from '../core/state.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { callControl, daemonListening } from './control-client.js';
import { ControlError, runOperation, type Operations } from './control-protocol.js';
import { pairingOperations } from './pairing-operations.js';
import { withStoreLock } from './store-guard.js';

/** The operations that need only the store (the daemon serves them too, plus those that need it running). */
export function storeOperations(
  config: Config,
  store: Store,
  hooks: { approved?(rec: PairingRecord): Promise<void>; log?: { info(obj: object, msg?: string): void } } = {},
): Operations {
  return { ...pairingOperations({ store, deniedQuietMs: config.access.pairingCodeTtlMs, ...hooks }) };
}

/** Where an operation ran. */
export type OperatedVia = 'daemon' | 'store';

/**
 * Runs `op` with `args`: on the running daemon if one answers on `ops.controlSocket`, else on the store file.
 * Waits up to `waitMs` (default 15 s) for a daemon that is still starting. Throws ControlError.
 */
export async function operate(config: Config, op: string, args: Record<string, unknown>, waitMs = 15_000): Promise<{ result: unknown; via: OperatedVia }> {
  if (config.store.url) {
    // PostgreSQL is shared: every replica reads it, so a change written there takes effect at once.
    const store = await openStore(config.store);
    try {
      return { result: await runOperation(storeOperations(config, store), op, args), via: 'store' };
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
        return { result: await runOperation(storeOperations(config, store), op, args) };
      } finally {
        await store.close();
      }
    });
    if (direct) return { result: direct.result, via: 'store' };
  }
}
