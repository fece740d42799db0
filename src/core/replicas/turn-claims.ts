// What the session manager asks before it runs a conversation's turns: may this process run that chat,
// and the conversation's lease while it does. One process (memory, lowdb) answers "yes, always" with a
// lease that cannot be lost; replicas on PostgreSQL answer with real leases (replica-coordinator.ts).

import type { Store, StoreOp } from '../../store/store.js';
import type { QueuedMessage } from '../state.js';

/** The right to run one conversation's turns, until released or lost. */
export interface TurnClaim {
  /** Aborts when the claim is lost (the lease expired or was taken over): stop the turn, write nothing more. */
  readonly signal: AbortSignal;
  /** The store as the conversation's work writes it: with replicas every write is fenced by the lease. */
  readonly store: Store;
  /** Guards to put first in a batch that must commit only while the claim holds (empty for one process). */
  readonly guards: readonly StoreOp[];
  /** Gives the claim back; whoever should go on with the conversation is woken. */
  release(): Promise<void>;
}

/** How the session manager learns which conversations it runs. */
export interface TurnClaims {
  /** True when several replicas share the store (leases in force). */
  readonly replicated: boolean;
  /** Whether this process should run the conversations of chat `chatKey` (`platform:chatId`) now. */
  runsHere(chatKey: string): boolean;
  /** Takes the conversation's claim; undefined when another replica holds it (this one is woken when that may change). */
  claim(convKey: string): Promise<TurnClaim | undefined>;
  /** Ops committed in the batch that accepts `item` (the wake-up of the replica that runs its chat). */
  acceptOps(item: QueuedMessage): StoreOp[];
}

const NEVER = new AbortController().signal;

/** One process: every conversation is ours, claims are never lost, nothing to wake elsewhere. */
export function soloClaims(store: Store): TurnClaims {
  const claim: TurnClaim = { signal: NEVER, store, guards: [], release: async () => {} };
  return {
    replicated: false,
    runsHere: () => true,
    claim: async () => claim,
    acceptOps: () => [],
  };
}
