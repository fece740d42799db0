// `pairing.list`, `pairing.approve`, `pairing.deny`: the operator's side of DM pairing, as control operations.
// A running daemon serves them over its control socket (so its in-memory state is the one changed and an
// approval takes effect at once); with no daemon the CLI runs the same table on the store file itself.

import { approvePairing, denyPairing, listPairings } from '../core/access.js';
import type { PairingRecord } from '../core/state.js';
import type { Store } from '../store/store.js';
import { ControlError, stringArg, type Operations } from './control-protocol.js';

/** A pairing request as operators see it (no conversation internals). */
export interface PairingView {
  /** The code the person was given; left out of approve/deny answers and where asked (`codes: false`, the admin HTTP API). */
  code?: string;
  user: string;
  displayName?: string;
  /** ms since the epoch */
  createdAt: number;
}

export interface PairingOperationsOptions {
  store: Store;
  /** How long a denied person gets no new code, ms (access.pairingCodeTtlMs). */
  deniedQuietMs: number;
  /** Called after an approval (the daemon tells the person). */
  approved?(rec: PairingRecord): Promise<void>;
  log?: { info(obj: object, msg?: string): void };
}

/** The request as shown; `withCode` false leaves the code out (approve/deny answers: the caller has it already). */
const view = (r: PairingRecord, withCode = true): PairingView => ({
  ...(withCode ? { code: r.code } : {}),
  user: r.user,
  ...(r.displayName ? { displayName: r.displayName } : {}),
  createdAt: r.createdAt,
});

function unknownCode(code: string): ControlError {
  return new ControlError('not_found', `no pending pairing code ${code.toUpperCase()} (codes expire after access.pairingCodeTtlMs; \`loopbridge pairing list\` shows the pending ones)`);
}

export function pairingOperations(o: PairingOperationsOptions): Operations {
  return {
    /** `codes: false` leaves the codes out: they are credentials the person hands the operator, not for every reader. */
    async 'pairing.list'(args) {
      const { pending, approved } = await listPairings(o.store);
      return { pending: pending.map((r) => view(r, args.codes !== false)), approved };
    },
    async 'pairing.approve'(args) {
      const code = stringArg(args, 'code');
      const rec = await approvePairing(o.store, code);
      if (!rec) throw unknownCode(code);
      await o.store.flush();
      o.log?.info({ user: rec.user }, 'pairing approved');
      await o.approved?.(rec);
      return view(rec, false);
    },
    async 'pairing.deny'(args) {
      const code = stringArg(args, 'code');
      const rec = await denyPairing(o.store, code, o.deniedQuietMs);
      if (!rec) throw unknownCode(code);
      await o.store.flush();
      o.log?.info({ user: rec.user }, 'pairing denied');
      return view(rec, false);
    },
  };
}
