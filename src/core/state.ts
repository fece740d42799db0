// The records the core keeps in the Store, and their keys. One place, so the layout is visible at a glance.

import type { PermissionMode, PermissionPayload, QuestionPayload } from '../loop-api/types.js';
import type { ConversationRef, InboundFile, MessageRef, Sender } from './adapter-types.js';
import type { DeliveredChunk } from './live-message.js';
import type { TurnProgress } from './turn-view.js';
import type { Store } from '../store/store.js';

export interface ConversationRecord {
  key: string;
  ref: ConversationRef;
  /** Bound loop; absent until the first turn creates one (or after /new). */
  loopId?: string;
  permissionMode?: PermissionMode;
  /** Group activation override (admins): 'always' answers without a mention. */
  activation?: 'always' | 'mention';
  /**
   * Set when the conversation cannot go on: the bound loop cannot take messages (archived elsewhere, deleted,
   * another user's; cleared by /new or /attach), or the loop owner's linked token is missing or refused
   * (`user` names them; cleared when they /link). Queued messages wait meanwhile.
   */
  blocked?: { reason: BlockedReason; loopId: string; user?: string };
  /** `conversations bind` set `loopId`: it wins over a binding's loopId until `conversations reset`. */
  boundBy?: 'operator';
  /** Who sent the message that created the loop (platform-qualified id and name). */
  startedBy?: { user: string; name?: string };
  /**
   * access.loopTokens per-user: the person whose linked token created and drives this loop (they own it on the
   * loop server). Absent: the bridge's shared token drives it (shared mode, a configured loopId, an operator bind).
   */
  tokenOwner?: string;
  /** /attach: mirror turns other clients run on the loop. */
  mirror?: boolean;
  /** Who ran /attach: may answer choices of mirrored turns (besides admins). */
  mirrorOwner?: Sender;
  /** /whilebusy: what a plain message does while a turn runs here; absent = the binding's or routing.whileBusy. */
  whileBusy?: 'queue' | 'steer';
}

/** Why a conversation is parked (see ConversationRecord.blocked). */
export type BlockedReason = 'loop_archived' | 'loop_not_found' | 'not_loop_owner' | 'token_missing' | 'token_refused';

/** A user message accepted durably and waiting for (or in) its turn. */
export interface QueuedMessage {
  /** Idempotency key, derived from the platform message id (stable across redelivery and restarts). */
  id: string;
  convKey: string;
  conversation: ConversationRef;
  sender: Sender;
  text: string;
  files: InboundFile[];
  messageId: string;
  acceptedAt: number;
  /**
   * Sent into the running turn (steering) rather than queued behind it: it waits in the conversation's
   * steer queue, not its inbox, and its progress is kept under `keys.steerState`. Absent = a plain message.
   */
  steer?: true;
  /** The chat's display name when the platform gave it (a binding's `{chat}` title placeholder). */
  chatTitle?: string;
}

/**
 * How far a steering message got. Absent: accepted, not sent yet. `sending`: handed to the loop server (it
 * may hold it; a repeat with the same key is replayed, never sent twice). `own-turn`: the running turn had
 * ended, so it runs as a turn of its own, which the conversation follows next.
 */
export type SteerPhase = 'sending' | 'own-turn';

/** The turn in flight for a conversation (at most one). Survives restarts. */
export interface TurnRecord {
  itemId: string;
  loopId: string;
  /** sending: the POST may not have reached the server; streaming: it did; final: the end is known. */
  phase: 'sending' | 'streaming' | 'final';
  progress: TurnProgress;
  chunks: DeliveredChunk[];
  startedAt: number;
  /** Epoch ms of the last persist while streaming: after a restart, when our stream was last known attached. */
  seenAt?: number;
  /**
   * Some process following this turn was detached from the server for a while (it was resumed after a
   * restart or a replica's death, or a cut left a gap): the server's snapshot may have holes since.
   */
  detachedBefore?: boolean;
}

export type ChoiceState = 'pending' | 'answered' | 'expired';

export interface ChoiceRecord {
  token: string;
  convKey: string;
  conversation: ConversationRef;
  loopId: string;
  choiceId: string;
  kind: 'permission' | 'question';
  permission?: PermissionPayload & { summary?: string };
  question?: QuestionPayload;
  /** Platform-qualified ids allowed to answer besides admins (the person whose message started the turn). */
  owners: string[];
  ownerName?: string;
  state: ChoiceState;
  outcome?: string;
  /** Question flow: index of the question being asked, answers so far, toggled options (multi-select). */
  step: number;
  answers: Record<string, string>;
  toggled: number[];
  message?: MessageRef;
  createdAt: number;
}

/** What a Stop button stands for: one turn (the queued message it answers) in one conversation. */
export interface StopRecord {
  convKey: string;
  loopId: string;
  itemId: string;
}

export interface PairingRecord {
  code: string;
  user: string;
  displayName?: string;
  createdAt: number;
  /** The direct conversation the request came from (told there once approved). */
  conversation?: ConversationRef;
}

/**
 * Store notice channel of changes to a conversation made outside its worker (`conversations bind|reset`, a
 * /link that unparks it): payload `{"key": convKey}`. Every bridge on the store re-reads that conversation
 * (wakes its worker, restarts or stops its mirror), so an operator command written straight to PostgreSQL
 * takes effect without a restart.
 */
export const CONVERSATION_CHANGED = 'loopbridge_conversation';

/** Tells every bridge on the store that a conversation changed (see CONVERSATION_CHANGED); best effort. */
export async function announceConversationChange(store: Store, convKey: string): Promise<void> {
  await store.notify?.(CONVERSATION_CHANGED, JSON.stringify({ key: convKey })).catch(() => {});
}

export const keys = {
  conv: (convKey: string) => `conv/${convKey}`,
  inbox: (convKey: string) => `inbox/${convKey}`,
  inboxPrefix: 'inbox/',
  turn: (convKey: string) => `turn/${convKey}`,
  turnPrefix: 'turn/',
  /** Steering messages of a conversation, oldest first, waiting to be sent into its running turn. */
  steer: (convKey: string) => `steer/${convKey}`,
  steerPrefix: 'steer/',
  /** A steering message's SteerPhase (by its id, the idempotency key). */
  steerPhase: (itemId: string) => `steerphase/${itemId}`,
  /** Dedupe scope of a chat (`Store.markSeen`): the platform's message ids are unique per chat. */
  seenScope: (platform: string, chatId: string) => `${platform}/${chatId}`,
  /** Before the store had dedupe marks: one key per message (migrated at start, see `migrateLegacySeen`). */
  legacySeenPrefix: 'seen/',
  choice: (token: string) => `choice/${token}`,
  /** A Stop button's token → the turn it was shown with. */
  stop: (token: string) => `stop/${token}`,
  choiceIndex: (loopId: string, choiceId: string) => `choiceidx/${loopId}/${choiceId}`,
  /** Tokens of the choices still pending on a loop (so a turn's end need not scan the store). */
  openChoices: (loopId: string) => `openchoices/${loopId}`,
  /** The choice awaiting an answer in a conversation (for typed answers). */
  pendingChoice: (convKey: string) => `pendingchoice/${convKey}`,
  pairingCode: (code: string) => `pair/code/${code}`,
  pairingCodePrefix: 'pair/code/',
  pairingUser: (user: string) => `pair/user/${user}`,
  paired: (user: string) => `paired/${user}`,
  /** An operator denied this person's request: no new code until it expires. */
  pairingDenied: (user: string) => `pair/denied/${user}`,
  /** Rate limit for repeated notices to the same person (refusals, outage notices). */
  noticed: (what: string) => `noticed/${what}`,
  /** A person's linked Loop API token, encrypted (access.loopTokens per-user; see token-vault.ts). */
  userToken: (user: string) => `usertoken/${user}`,
  userTokenPrefix: 'usertoken/',
  /** Proves LOOPBRIDGE_SECRET_KEY is the key the linked tokens were encrypted with. */
  userTokenKeyCheck: 'usertokenkey/check',
} as const;

/**
 * Moves one-key-per-message dedupe marks (`seen/<platform>/<chat>/<id>`, written before `Store.markSeen`
 * existed) into the store's dedupe marks, so an upgrade does not answer a redelivered message twice.
 * Chat ids never contain '/', message ids may. Returns how many were moved.
 */
export async function migrateLegacySeen(store: Store): Promise<number> {
  const legacy = await store.list(keys.legacySeenPrefix);
  for (const [key] of legacy) {
    const [platform, chatId, ...rest] = key.slice(keys.legacySeenPrefix.length).split('/');
    if (platform && chatId && rest.length) await store.markSeen(keys.seenScope(platform, chatId), rest.join('/'));
    await store.delete(key);
  }
  if (legacy.length) await store.flush();
  return legacy.length;
}
