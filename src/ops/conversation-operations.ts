// `conversations.list|show|bind|reset|stop`: the operator's view of every conversation and the fixes /new
// and /stop make, as control operations. They read and write the store only (plus one loop-server call for
// bind and stop), so the same table runs in the daemon (control socket, admin API) and in the CLI on the
// store itself; every change is announced on the store so a daemon on PostgreSQL follows it at once.

import { describeBinding, effectiveLoopId, loopDriver, type Bindings, type ResolvedBinding } from '../core/bindings.js';
import { UserTokenError, type LoopClients } from '../core/loop-clients.js';
import { announceConversationChange, keys, type ConversationRecord, type QueuedMessage, type TurnRecord } from '../core/state.js';
import type { UsageLedger } from '../core/usage-ledger.js';
import { LoopApiError, LoopNotFoundError, LoopPermissionError } from '../loop-api/errors.js';
import type { LoopClient } from '../loop-api/client.js';
import type { Store } from '../store/store.js';
import { ControlError, stringArg, type Operations } from './control-protocol.js';

/** One conversation as operators see it (no message texts, no tokens). */
export interface ConversationView {
  key: string;
  platform: string;
  chatId: string;
  threadId?: string;
  direct: boolean;
  /** The loop its messages go to now; null = the next message creates one. */
  loopId: string | null;
  /** `bindings[i]` that applies, or null. */
  binding: string | null;
  /** Where the loop comes from: `created` (by the bridge), `binding` (a configured loopId), `operator` (conversations bind), `attach` (/attach), or null. */
  loopSource: 'created' | 'binding' | 'operator' | 'attach' | null;
  /** `idle`, `running`, `queued` (messages waiting, no turn), or `blocked` (parked; see `blocked`). */
  state: 'idle' | 'running' | 'queued' | 'blocked';
  running: boolean;
  /** Messages waiting behind the running turn (or for the first one). */
  queued: number;
  blocked?: { reason: string; loopId: string; user?: string };
  /** Last turn finished, message queued or turn started, ms since the epoch; null if none within the usage retention. */
  lastActivityAt: number | null;
  /** Who sent the message that created the loop. */
  startedBy?: { user: string; name?: string };
  /** Whose personal token drives the loop (access.loopTokens per-user); absent = the bridge's shared token. */
  tokenOwner?: string;
  /** Permission mode sent with its messages. */
  permissionMode: string;
  mirror: boolean;
}

/** `conversations.show`: the view plus what applies and what waits. */
export interface ConversationDetail extends ConversationView {
  /** The binding in words (`bindings[0] (telegram chat -100…): repo acme/api, mode acceptEdits`). */
  bindingDescription: string;
  activation?: 'always' | 'mention';
  /** The queued messages (no text: who, when, how long). */
  queue: Array<{ id: string; sender: string; acceptedAt: number; chars: number; files: number; running: boolean }>;
}

export interface ConversationOperationsOptions {
  store: Store;
  bindings: Bindings;
  clients: LoopClients;
  usage: UsageLedger;
  /** The bridge's default permission mode (loop.permissionMode). */
  defaultMode: string;
  /** With access.loopTokens per-user, why personal tokens cannot be used here (e.g. no key in this CLI's environment). */
  personalTokensUnavailable?: string;
  /** True with access.loopTokens per-user (even when personal tokens are unavailable to this process). */
  perUser: boolean;
  /** The daemon's own knowledge of running turns; without it the store's turn records tell. */
  running?: (convKey: string) => boolean;
  log?: { info(obj: object, msg?: string): void };
}

const LOOP_ID = /^(?:loop_)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function conversationOperations(o: ConversationOperationsOptions): Operations {
  const { store } = o;

  async function record(key: string): Promise<ConversationRecord> {
    const conv = await store.get<ConversationRecord>(keys.conv(key));
    if (!conv) throw new ControlError('not_found', `no conversation ${key} (\`loopbridge conversations list\` shows the keys)`);
    return conv;
  }

  async function view(conv: ConversationRecord, activity: Map<string, number>): Promise<{ view: ConversationView; items: QueuedMessage[]; binding: ResolvedBinding | undefined }> {
    const binding = o.bindings.resolve(conv.ref);
    const loopId = effectiveLoopId(conv, binding) ?? null;
    const turn = await store.get<TurnRecord>(keys.turn(conv.key));
    const items = await store.items<QueuedMessage>(keys.inbox(conv.key));
    const running = o.running ? o.running(conv.key) : !!turn && items[0]?.id === turn.itemId;
    const queued = Math.max(0, items.length - (running ? 1 : 0));
    const last = Math.max(activity.get(conv.key) ?? 0, turn?.startedAt ?? 0, items[items.length - 1]?.acceptedAt ?? 0);
    const source: ConversationView['loopSource'] = !loopId
      ? null
      : conv.boundBy === 'operator'
        ? 'operator'
        : binding?.loopId === loopId
          ? 'binding'
          : conv.mirrorOwner && conv.mirror
            ? 'attach'
            : 'created';
    const driver = loopDriver(conv, binding, o.perUser);
    return {
      binding,
      items,
      view: {
        key: conv.key,
        platform: conv.ref.platform,
        chatId: conv.ref.chatId,
        ...(conv.ref.threadId ? { threadId: conv.ref.threadId } : {}),
        direct: conv.ref.isDirect,
        loopId,
        binding: binding?.path ?? null,
        loopSource: source,
        state: conv.blocked ? 'blocked' : running ? 'running' : queued ? 'queued' : 'idle',
        running,
        queued,
        ...(conv.blocked ? { blocked: { ...conv.blocked } } : {}),
        lastActivityAt: last || null,
        ...(conv.startedBy ? { startedBy: { ...conv.startedBy } } : {}),
        ...(driver ? { tokenOwner: driver } : {}),
        permissionMode: conv.permissionMode ?? binding?.permissionMode ?? o.defaultMode,
        mirror: !!(conv.mirror || binding?.mirror),
      },
    };
  }

  /** Runs fn with the client that drives the conversation's loop; a personal token this process cannot use is a clear error. */
  async function withDriver<T>(conv: ConversationRecord, binding: ResolvedBinding | undefined, fn: (c: LoopClient) => Promise<T>): Promise<T> {
    const driver = loopDriver(conv, binding, o.perUser);
    if (driver && !o.clients.perUser) {
      throw new ControlError('failed', `${conv.key}'s loop runs with ${driver}'s linked token, which this process cannot use: ${o.personalTokensUnavailable ?? 'per-user tokens are unavailable'}`);
    }
    try {
      return await o.clients.with(driver, fn);
    } catch (err) {
      if (err instanceof UserTokenError) {
        throw new ControlError('failed', `${conv.key}'s loop runs with ${err.user}'s token, which ${err.code === 'token_missing' ? 'is not linked' : 'the loop server refuses'}`);
      }
      throw err;
    }
  }

  async function changed(conv: ConversationRecord, what: string): Promise<void> {
    await store.set(keys.conv(conv.key), conv);
    await store.flush();
    await announceConversationChange(store, conv.key);
    o.log?.info({ convKey: conv.key, loopId: conv.loopId }, what);
  }

  return {
    async 'conversations.list'(args) {
      const platform = typeof args.platform === 'string' && args.platform ? args.platform : undefined;
      const activity = await o.usage.lastActivity();
      const out: ConversationView[] = [];
      for (const [, conv] of await store.list<ConversationRecord>('conv/')) {
        if (platform && conv.ref.platform !== platform) continue;
        out.push((await view(conv, activity)).view);
      }
      out.sort((a, b) => (b.lastActivityAt ?? 0) - (a.lastActivityAt ?? 0) || a.key.localeCompare(b.key));
      return { conversations: out };
    },

    async 'conversations.show'(args) {
      const conv = await record(stringArg(args, 'key'));
      const { view: v, items, binding } = await view(conv, await o.usage.lastActivity());
      const detail: ConversationDetail = {
        ...v,
        bindingDescription: describeBinding(binding),
        ...(conv.activation ? { activation: conv.activation } : {}),
        queue: items.map((q, i) => ({
          id: q.id,
          sender: `${q.conversation.platform}:${q.sender.id}${q.sender.displayName ? ` (${q.sender.displayName})` : ''}`,
          acceptedAt: q.acceptedAt,
          chars: q.text.length,
          files: q.files.length,
          running: i === 0 && v.running,
        })),
      };
      return detail;
    },

    async 'conversations.bind'(args) {
      const conv = await record(stringArg(args, 'key'));
      const raw = stringArg(args, 'loopId');
      const m = LOOP_ID.exec(raw);
      if (!m) throw new ControlError('bad_request', `${raw} is not a loop id (loop_ followed by a UUID, as /status and the loop server show it)`);
      const wanted = `loop_${m[1]}`;
      const binding = o.bindings.resolve(conv.ref);
      // Bound by an operator, the loop keeps being driven by whoever drove the conversation (its owner, or the bridge).
      const pinned = { ...conv, boundBy: 'operator' as const };
      let loop;
      try {
        loop = await withDriver(pinned, binding, (c) => c.getLoop(wanted));
      } catch (err) {
        if (err instanceof LoopNotFoundError) throw new ControlError('not_found', `the loop server has no loop ${wanted}`);
        if (err instanceof LoopPermissionError && err.code === 'not_loop_owner') {
          const who = loopDriver(pinned, binding, o.perUser);
          throw new ControlError('bad_request', `loop ${wanted} belongs to another user of the loop server than ${who ? `${who} (whose token drives ${conv.key})` : 'the bridge (its shared token drives this conversation)'}`);
        }
        if (err instanceof LoopApiError) throw new ControlError('failed', `could not check loop ${wanted} with the loop server: ${err.code}`);
        throw err;
      }
      if (loop.archived) throw new ControlError('bad_request', `loop ${loop.id} is archived; it cannot take messages`);
      const previous = effectiveLoopId(conv, binding) ?? null;
      conv.loopId = loop.id;
      conv.boundBy = 'operator';
      delete conv.blocked;
      await changed(conv, 'conversation bound by an operator');
      return { ...(await view(conv, await o.usage.lastActivity())).view, previousLoopId: previous, title: loop.title };
    },

    async 'conversations.reset'(args) {
      const conv = await record(stringArg(args, 'key'));
      const binding = o.bindings.resolve(conv.ref);
      if (binding?.loopId && conv.boundBy !== 'operator') {
        throw new ControlError('bad_request', `${conv.key} follows ${binding.path} (loop ${binding.loopId}); reset has nothing to undo — \`conversations bind\` moves it, or change the binding`);
      }
      const previous = effectiveLoopId(conv, binding) ?? null;
      delete conv.loopId;
      delete conv.blocked;
      delete conv.boundBy;
      delete conv.tokenOwner;
      delete conv.startedBy;
      conv.mirror = false;
      await changed(conv, 'conversation reset by an operator');
      return { ...(await view(conv, await o.usage.lastActivity())).view, previousLoopId: previous };
    },

    async 'conversations.stop'(args) {
      const conv = await record(stringArg(args, 'key'));
      const binding = o.bindings.resolve(conv.ref);
      const turn = await store.get<TurnRecord>(keys.turn(conv.key));
      const { view: v } = await view(conv, new Map());
      const loopId = (v.running ? turn?.loopId : undefined) ?? v.loopId;
      if (!loopId) throw new ControlError('bad_request', `${conv.key} has no loop yet; nothing to stop`);
      await withDriver(conv, binding, (c) => c.interrupt(loopId));
      o.log?.info({ convKey: conv.key, loopId }, 'stop sent by an operator');
      return { key: conv.key, loopId, running: v.running };
    },
  };
}
