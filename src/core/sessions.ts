// The session manager: conversation → loop, one worker per conversation draining its durable FIFO one
// turn at a time (the server would otherwise inject a second message into the running turn), one turn at a
// time per loop, and the clear answers for a loop that is archived, missing or unreachable.

import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { LoopClient } from '../loop-api/client.js';
import { LoopApiError } from '../loop-api/errors.js';
import type { PermissionMode } from '../loop-api/types.js';
import type { Store, StoreOp } from '../store/store.js';
import type { ConversationRef } from './adapter-types.js';
import { conversationKey, qualifiedUserId } from './adapter-types.js';
import { Bindings, effectiveLoopId, loopCreation, loopDriver, type ResolvedBinding } from './bindings.js';
import { classifyTurnFailure, type TurnFailure } from './failure-kind.js';
import { LoopClients, type WithClient } from './loop-clients.js';
import type { LoopHealth } from './loop-health.js';
import type { Metrics } from './metrics.js';
import type { Outlet } from './outlet.js';
import { soloClaims, type TurnClaim, type TurnClaims } from './replicas/turn-claims.js';
import { announceConversationChange, keys, type ConversationRecord, type QueuedMessage, type StopRecord, type TurnRecord } from './state.js';
import { Steering, type SteerTurn } from './steering.js';
import type { TurnRunner } from './turn-runner.js';
import type { UsageLedger } from './usage-ledger.js';
import { pause } from './pause.js';

export interface SessionDeps {
  client: LoopClient;
  store: Store;
  runner: TurnRunner;
  metrics: Metrics;
  /** Where loop-server outages are recorded (for /healthz, metrics, one notice per conversation). */
  health: LoopHealth;
  defaultPermissionMode: PermissionMode;
  outletFor: (platform: string) => Outlet | undefined;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** Backoff while the loop server is unreachable, ms. Defaults 1000 → 30000. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Configured bindings (how loops are made per chat). Default none. */
  bindings?: Bindings;
  /** Which token drives which conversation's loop. Default: `client` for everything (access.loopTokens shared). */
  clients?: LoopClients;
  /** Where finished turns' usage is counted. Default nowhere. */
  usage?: UsageLedger;
  /** Told when a conversation gets (or is found on) a loop at the start of a turn (the bridge starts a binding's mirror). */
  onBound?: (conv: ConversationRecord, binding: ResolvedBinding | undefined) => void;
  /** Which conversations this process runs, under which lease (replicas). Default: all of them, one process. */
  claims?: TurnClaims;
}

/** The turn a conversation is running now. */
export interface RunningTurn {
  loopId: string;
  /** Id of the queued message the turn answers (the idempotency key). */
  itemId: string;
  /** Token of the Stop button shown on this turn's live reply. */
  stopToken: string;
}

/** Attempts at a message whose failure nobody understands before it is skipped with a notice. */
const MAX_UNKNOWN_ATTEMPTS = 5;

export class Sessions {
  private readonly draining = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly loopLocks = new Map<string, Promise<unknown>>();
  /** convKey → the running turn: its loop, its queued message's id and its Stop-button token. */
  readonly running = new Map<string, RunningTurn>();
  private readonly abort = new AbortController();
  private stopping = false;
  /** Accepted messages not yet done (queued or in their turn), for the queue-depth gauge. */
  queued = 0;
  /** Queued message id → failures no classification explains, so far (a poison message is skipped after a few). */
  private readonly unknownFailures = new Map<string, number>();
  /** Messages sent into running turns (steering.ts). */
  readonly steering: Steering;

  /** The configured bindings (first match wins). */
  readonly bindings: Bindings;
  /** Which token drives which conversation's loop. */
  readonly clients: LoopClients;
  private readonly claims: TurnClaims;

  constructor(private readonly deps: SessionDeps) {
    // Every in-flight platform and loop call listens on this one shutdown signal; many at once is normal.
    setMaxListeners(0, this.abort.signal);
    this.bindings = deps.bindings ?? new Bindings();
    this.clients = deps.clients ?? new LoopClients({ shared: deps.client });
    this.claims = deps.claims ?? soloClaims(deps.store);
    this.steering = new Steering({
      store: deps.store,
      log: deps.log,
      notify: (outlet, item, text) => outlet.send(item.conversation, { text, replyTo: item.messageId }).then(
        () => {},
        (err) => deps.log.warn({ err: String(err) }, 'could not send a notice'),
      ),
      firstNotice: (what, ttlMs) => this.firstNotice(what, ttlMs),
      retryMinMs: deps.retryMinMs,
    });
  }

  /** True while one of our turns runs on this loop, or steering follows a turn of it the conversation will show. */
  ownsLoop(loopId: string): boolean {
    return [...this.running.values()].some((r) => r.loopId === loopId) || this.steering.ownsLoop(loopId);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  async conversation(ref: ConversationRef): Promise<ConversationRecord> {
    const key = conversationKey(ref);
    return (await this.deps.store.get<ConversationRecord>(keys.conv(key))) ?? { key, ref };
  }

  async saveConversation(rec: ConversationRecord): Promise<void> {
    await this.deps.store.set(keys.conv(rec.key), rec);
  }

  /** Keys of the other conversations bound to this loop (an /attach that would share it must say so). */
  async conversationsBoundTo(loopId: string, exceptKey: string): Promise<string[]> {
    const all = await this.deps.store.list<ConversationRecord>('conv/');
    return all.filter(([, c]) => c.loopId === loopId && c.key !== exceptKey).map(([, c]) => c.key);
  }

  async queueLength(convKey: string): Promise<number> {
    return (await this.deps.store.items(keys.inbox(convKey))).length;
  }

  /**
   * True while the turn answering queued message `itemId` (any, if absent) is running in this
   * conversation: here, or with replicas wherever its record says it is.
   */
  async turnRunning(convKey: string, itemId?: string): Promise<boolean> {
    const here = this.running.get(convKey);
    if (here && (itemId === undefined || here.itemId === itemId)) return true;
    if (!this.claims.replicated) return false;
    const record = await this.deps.store.get<TurnRecord>(keys.turn(convKey));
    return record !== undefined && (itemId === undefined || record.itemId === itemId);
  }

  /** Starts (or re-runs) the worker of a conversation. */
  wake(convKey: string): void {
    if (this.stopping) return;
    this.steering.poke(convKey); // a steer for the running turn is sent by that turn's slot
    if (this.draining.has(convKey)) {
      this.again.add(convKey);
      return;
    }
    const p = this.drain(convKey)
      .catch((err) => this.deps.log.error({ err: String(err), convKey }, 'conversation worker failed'))
      .finally(() => {
        this.draining.delete(convKey);
        if (this.again.delete(convKey)) this.wake(convKey);
      });
    this.draining.set(convKey, p);
  }

  /** Resumes every conversation with queued messages or a turn in flight (after a restart). */
  async resumeAll(): Promise<number> {
    const convs = new Set<string>();
    this.queued = 0;
    for (const prefix of [keys.inboxPrefix, keys.steerPrefix]) {
      for (const q of await this.deps.store.queues(prefix)) {
        convs.add(q.slice(prefix.length));
        this.queued += (await this.deps.store.items(q)).length;
      }
    }
    for (const [k] of await this.deps.store.list(keys.turnPrefix)) convs.add(k.slice(keys.turnPrefix.length));
    for (const c of convs) this.wake(c);
    return convs.size;
  }

  /** Stops taking new turns, aborts streams (their records stay for the next start) and waits for workers. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.steering.stop();
    await Promise.allSettled([...this.draining.values()]);
  }

  private async drain(convKey: string): Promise<void> {
    if (this.claims.replicated) {
      // Only the replica that runs the chat takes the conversation's lease (the others were not woken, or lost the race).
      const head = await this.deps.store.peek<QueuedMessage>(keys.inbox(convKey));
      if (!head || !this.claims.runsHere(conversationKey({ platform: head.conversation.platform, chatId: head.conversation.chatId }))) return;
    }
    const claim = await this.claims.claim(convKey);
    if (!claim) return;
    try {
      await this.drainClaimed(convKey, claim);
    } finally {
      await claim.release();
    }
  }

  /** The worker loop, while this process holds the conversation's claim. */
  private async drainClaimed(convKey: string, claim: TurnClaim): Promise<void> {
    const { log } = this.deps;
    const store = claim.store;
    const signal = AbortSignal.any([this.abort.signal, claim.signal]);
    let delay = this.deps.retryMinMs ?? 1000;
    while (!this.stopping && !claim.signal.aborted) {
      const next = await this.nextItem(convKey, store);
      const item = next?.item;
      if (!item) {
        await store.delete(keys.turn(convKey)); // a record without its message is stale
        return;
      }
      const conv = await this.conversation(item.conversation);
      if (conv.blocked) return; // kept until /new or /attach unblocks it
      const outlet = this.deps.outletFor(item.conversation.platform);
      if (!outlet) {
        log.warn({ convKey }, 'no adapter for this platform is running; message kept');
        return;
      }
      try {
        await this.runOne(outlet, conv, item, claim, signal, next.sent);
        await this.countUsage(item);
        this.deps.health.succeeded();
        this.unknownFailures.delete(item.id);
        delay = this.deps.retryMinMs ?? 1000;
        await this.finish(item, claim);
      } catch (err) {
        // Shutting down, or the lease went to another replica: the record stays for whoever goes on.
        if (this.stopping || claim.signal.aborted) return;
        const failure = classifyTurnFailure(err);
        if (failure.kind === 'loop-blocked') return this.blocked(outlet, conv, item, failure.reason, store);
        if (failure.kind === 'user-token') return this.tokenBlocked(outlet, conv, item, failure);
        if (await this.failed(outlet, item, err, failure)) {
          // Final for this message (said why): the conversation moves on to the next one.
          await this.finish(item, claim);
          continue;
        }
        const retryAfter = 'retryAfterMs' in failure ? (failure.retryAfterMs ?? 0) : 0;
        await pause(Math.max(delay, retryAfter), signal);
        delay = Math.min(delay * 2, this.deps.retryMaxMs ?? 30_000);
      }
    }
  }

  /**
   * Says what went wrong, to the log and (once) to the people. True when the message is dropped: refused for
   * its own content, a permanent platform refusal, or a failure nobody understands that kept repeating.
   * Otherwise it is kept and retried: the loop server or the platform is having trouble, or our token is refused.
   */
  private async failed(outlet: Outlet, item: QueuedMessage, err: unknown, failure: TurnFailure): Promise<boolean> {
    const { log } = this.deps;
    const convKey = item.convKey;
    const why = err instanceof Error ? err.message : String(err);
    const say = (text: string) => this.notify(outlet, item.conversation, text);
    switch (failure.kind) {
      case 'loop-blocked':
      case 'user-token':
        return false; // parked by the caller
      case 'loop-refused':
        log.warn({ convKey, code: failure.code }, 'loop refused the message');
        await say(`⚠️ The loop refused this message (${failure.code}): ${why}`);
        return true;
      case 'platform-permanent':
        log.warn({ convKey, err: why }, 'the platform refused something this message needs; skipping it');
        this.deps.metrics.inc('platform_errors_total', { platform: item.conversation.platform, kind: 'permanent' });
        await say(`⚠️ This message could not be sent to the loop: ${why}`);
        return true;
      case 'platform-transient':
        log.warn({ convKey, err: why }, 'the platform is having trouble; the message is kept and retried');
        this.deps.metrics.inc('platform_errors_total', { platform: item.conversation.platform, kind: 'transient' });
        if (await this.firstNotice(`platform-down/${convKey}`, 10 * 60_000)) {
          await say(`⏳ ${item.conversation.platform} is having trouble right now (${why}). Your message is kept and goes to the loop as soon as it recovers.`);
        }
        return false;
      case 'loop-auth':
        if (this.deps.health.failed('auth', failure.code, convKey)) {
          await say('⏳ The loop server is refusing this bridge\'s credentials right now. Your message is kept and will be sent once the operator fixes it.');
        }
        return false;
      case 'loop-unreachable':
        log.warn({ convKey, err: why }, 'loop server unreachable; will retry');
        if (this.deps.health.failed('unreachable', err instanceof LoopApiError ? err.code : 'error', convKey)) {
          await say('⏳ The loop server is unreachable right now. Your message is kept and will be sent as soon as it is back.');
        }
        return false;
      case 'unknown': {
        const attempts = (this.unknownFailures.get(item.id) ?? 0) + 1;
        this.unknownFailures.set(item.id, attempts);
        log.error({ convKey, err: why, attempts }, 'handling a message failed');
        if (attempts < MAX_UNKNOWN_ATTEMPTS) return false;
        this.unknownFailures.delete(item.id);
        await say(`⚠️ This message could not be handled (${why}); it was skipped after ${attempts} attempts so the conversation can go on.`);
        return true;
      }
    }
  }

  /**
   * Durably accepts a message into its conversation's FIFO, in one batch with `guard` (its dedupe claim)
   * and the conversation record if there is none yet: all commit together or none, so a crash can never
   * keep the mark and lose the message. False if the guard failed (a concurrent delivery got there first).
   * An existing record is left as it is (another worker may be saving a loop id into it). The caller flushes.
   */
  async accept(item: QueuedMessage, guard: StoreOp): Promise<boolean> {
    const fresh: ConversationRecord = { key: item.convKey, ref: item.conversation };
    const ok = await this.deps.store.batch([
      guard,
      { op: 'insert', key: keys.conv(item.convKey), value: fresh },
      { op: 'enqueue', queue: item.steer ? keys.steer(item.convKey) : keys.inbox(item.convKey), item },
      // With replicas: the one that runs this chat is woken when (and only if) the message is queued.
      ...this.claims.acceptOps(item),
    ]);
    if (ok) this.queued++;
    return ok;
  }

  /** The conversation's next turn: a steering message first (steering.ts), else the inbox's head. */
  private async nextItem(convKey: string, store: Store): Promise<SteerTurn | undefined> {
    const head = await store.peek<QueuedMessage>(keys.inbox(convKey));
    return (await this.steering.next(convKey, head)) ?? (head && { item: head });
  }

  /**
   * The message is done: it leaves its queue (the steer queue for a steering message) and its turn record
   * goes, together and only while the claim holds (a replica that lost the lease must not remove the
   * message the next owner is answering).
   */
  private async finish(item: QueuedMessage, claim: TurnClaim): Promise<void> {
    const convKey = item.convKey;
    const fenced: StoreOp[] = [...claim.guards, { op: 'delete', key: keys.turn(convKey) }];
    const done = item.steer
      ? await this.steering.dequeue(convKey, item.id, fenced)
      : await this.deps.store.batch([...fenced, { op: 'dequeue', queue: keys.inbox(convKey) }]);
    if (!done) return; // the lease was lost: the loop ends on the aborted claim
    this.queued = Math.max(0, this.queued - 1);
    await this.deps.store.flush();
  }

  private async runOne(outlet: Outlet, conv: ConversationRecord, item: QueuedMessage, claim: TurnClaim, signal: AbortSignal, sent?: SteerTurn['sent']): Promise<void> {
    const store = claim.store;
    const previous = await store.get<TurnRecord>(keys.turn(conv.key));
    const resume = previous && previous.itemId === item.id ? previous : undefined;
    const binding = this.bindings.resolve(conv.ref);
    const bound = effectiveLoopId(conv, binding);
    let loopId = resume?.loopId ?? bound;
    // A configured loop is the bridge's: driven with the shared token, whoever writes.
    const configured = loopId !== undefined && loopId === binding?.loopId && conv.boundBy !== 'operator';
    if (configured && conv.loopId !== loopId) conv = await this.adopt(conv, loopId!);
    if (!loopId) {
      conv = await this.createLoop(conv, item, binding, store, signal);
      loopId = conv.loopId!;
    }
    this.deps.onBound?.(conv, binding);
    const owner = this.driverOf(conv, binding);
    const turnLoop = loopId;
    await this.clients.with(owner, (client) =>
      this.withLoop(turnLoop, async () => {
        const stopToken = `${randomBytes(12).toString('base64url')}.stop`;
        const stopKey = keys.stop(stopToken.split('.')[0]);
        this.running.set(conv.key, { loopId: turnLoop, stopToken, itemId: item.id });
        // The button acts on this turn only: the record names the turn's message, checked when pressed.
        const stop: StopRecord = { convKey: conv.key, loopId: turnLoop, itemId: item.id };
        await store.set(stopKey, stop, { ttlMs: 24 * 3600_000 });
        const permissionMode = conv.permissionMode ?? binding?.permissionMode ?? this.deps.defaultPermissionMode;
        // Steering messages accepted while this turn runs are sent into it by its slot, with the same token.
        const steer = this.steering.slot({ outlet, client, itemId: item.id, convKey: conv.key, loopId: turnLoop, permissionMode, signal });
        try {
          await this.deps.runner.run({
            outlet,
            item,
            loopId: turnLoop,
            permissionMode,
            previous: resume,
            signal,
            stopToken,
            client,
            store,
            sent,
            onPhase: steer.onPhase,
            movedOn: steer.movedOn,
          });
        } finally {
          await steer.close();
          this.running.delete(conv.key);
          // The Stop button dies with its turn (a resumed turn gets a new one); the record is not history.
          await store.delete(stopKey).catch(() => {});
        }
      }),
    );
  }

  /**
   * Whose token drives a conversation's loop: a binding's configured loop is the bridge's (shared token);
   * otherwise the person who created it (access.loopTokens per-user). Undefined = the shared token.
   */
  driverOf(conv: ConversationRecord, binding = this.bindings.resolve(conv.ref)): string | undefined {
    return loopDriver(conv, binding, this.clients.perUser);
  }

  /** Runs `fn` with the client that drives this conversation's loop now (the record read from the store). */
  readonly withClient: WithClient = async (convKey, fn) => {
    const conv = this.clients.perUser ? await this.deps.store.get<ConversationRecord>(keys.conv(convKey)) : undefined;
    return this.clients.with(conv ? this.driverOf(conv) : undefined, fn);
  };

  /** Records a binding's configured loop on the conversation (so lists and /status name it). */
  private async adopt(conv: ConversationRecord, loopId: string): Promise<ConversationRecord> {
    const fresh = await this.conversation(conv.ref);
    fresh.loopId = loopId;
    delete fresh.tokenOwner;
    await this.saveConversation(fresh);
    return fresh;
  }

  /** Counts a finished turn's usage (from its final record) for `loopbridge usage`; never fails the turn. */
  private async countUsage(item: QueuedMessage): Promise<void> {
    if (!this.deps.usage) return;
    const rec = await this.deps.store.get<TurnRecord>(keys.turn(item.convKey));
    if (rec?.itemId !== item.id) return;
    await this.deps.usage
      .record({ convKey: item.convKey, user: qualifiedUserId(item.conversation.platform, item.sender.id), usage: rec.progress.usage })
      .catch((err) => this.deps.log.warn({ err: String(err), convKey: item.convKey }, 'could not count usage'));
  }

  /**
   * Creates the conversation's loop with what its binding says, owned (with access.loopTokens per-user) by the
   * person whose message creates it, and records it. Returns the updated record.
   */
  private async createLoop(conv: ConversationRecord, item: QueuedMessage, binding: ResolvedBinding | undefined, store: Store, signal: AbortSignal): Promise<ConversationRecord> {
    const starter = qualifiedUserId(conv.ref.platform, item.sender.id);
    const owner = this.clients.perUser ? starter : undefined;
    const params = loopCreation(binding, conv, { text: item.text, sender: item.sender, chatTitle: item.chatTitle }, starter);
    const loop = await this.clients.with(owner, (client) => client.createLoop(params, { signal }));
    const fresh = await this.conversation(conv.ref);
    fresh.loopId = loop.id;
    fresh.startedBy = { user: starter, ...(item.sender.displayName ? { name: item.sender.displayName } : {}) };
    if (owner) fresh.tokenOwner = owner;
    else delete fresh.tokenOwner;
    await store.set(keys.conv(fresh.key), fresh);
    await store.flush();
    this.deps.log.info({ convKey: conv.key, loopId: loop.id, ...(binding ? { binding: binding.path } : {}) }, 'created loop');
    return fresh;
  }

  /** Archived/missing/foreign loop: keep the message, block the conversation, tell the user what to do. */
  private async blocked(
    outlet: Outlet,
    conv: ConversationRecord,
    item: QueuedMessage,
    reason: NonNullable<ConversationRecord['blocked']>['reason'],
    store: Store,
  ): Promise<void> {
    const fresh = await this.conversation(conv.ref);
    const binding = this.bindings.resolve(conv.ref);
    const loopId = effectiveLoopId(fresh, binding) ?? '(unknown)';
    fresh.blocked = { reason, loopId };
    await store.set(keys.conv(fresh.key), fresh);
    await store.delete(keys.turn(conv.key));
    await store.flush();
    const why =
      reason === 'loop_archived'
        ? `was archived elsewhere`
        : reason === 'loop_not_found'
          ? `no longer exists on the loop server`
          : `belongs to another user of the loop server`;
    const configured = binding?.loopId === loopId && fresh.boundBy !== 'operator';
    const next = configured
      ? `This chat is bound to it by the bridge's configuration (${binding!.path}): an operator can bind it to another loop (\`loopbridge conversations bind ${conv.key} <loop_id>\`) or change the binding.`
      : 'send /new to start a fresh loop (it goes there), or /attach <loop_id> to use another.';
    await this.notify(outlet, item.conversation, `⚠️ This conversation's loop \`${loopId}\` ${why}. Your message is kept: ${next}`);
  }

  /**
   * The loop owner's personal token is missing or refused: park the conversation (its messages wait) until
   * they /link, and tell them once (a refused token once per token linked).
   */
  private async tokenBlocked(outlet: Outlet, conv: ConversationRecord, item: QueuedMessage, failure: Extract<TurnFailure, { kind: 'user-token' }>): Promise<void> {
    const { user, reason } = failure;
    const fresh = await this.conversation(conv.ref);
    fresh.blocked = { reason, loopId: fresh.loopId ?? '', user };
    await this.saveConversation(fresh);
    await this.deps.store.delete(keys.turn(conv.key));
    await this.deps.store.flush();
    this.deps.metrics.inc('loop_errors_total', { kind: 'user_token' });
    this.deps.log.warn({ convKey: conv.key, user, reason, code: failure.code }, 'a linked loop token is missing or refused; messages wait');
    const sender = user === qualifiedUserId(item.conversation.platform, item.sender.id) ? item.sender.displayName : undefined;
    const name = sender ?? (fresh.startedBy?.user === user ? fresh.startedBy.name : undefined) ?? user;
    if (reason === 'token_refused') {
      if (!(await this.clients.vault?.markRefused(user))) return;
      await this.notify(
        outlet,
        item.conversation,
        `⚠️ The loop server refused ${name}'s linked loop token (was it revoked?). Messages here are kept and wait: ${name}, link a new one in a direct chat with me — /link la_… — and they go on.`,
      );
    } else if (await this.firstNotice(`token-missing/${user}/${conv.key}`, 3600_000)) {
      await this.notify(outlet, item.conversation, `🔑 This conversation's loop runs with ${name}'s loop token, and none is linked now. Messages here are kept and wait: ${name}, link one in a direct chat with me — /link la_… — or send /new to start a loop of your own.`);
    }
  }

  /** /link: the conversations parked on this person's token go on (their blocks lifted, their workers woken). */
  async tokenLinked(user: string): Promise<number> {
    let n = 0;
    for (const [, conv] of await this.deps.store.list<ConversationRecord>('conv/')) {
      if (conv.blocked?.user !== user) continue;
      const fresh = await this.conversation(conv.ref);
      delete fresh.blocked;
      await this.saveConversation(fresh);
      await this.deps.store.flush();
      this.wake(fresh.key);
      await announceConversationChange(this.deps.store, fresh.key); // its worker may run on another replica
      n++;
    }
    return n;
  }

  /** Runs fn with the loop to ourselves (two conversations may share a loop after /attach). */
  private async withLoop<T>(loopId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.loopLocks.get(loopId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.loopLocks.set(loopId, tail);
    void tail.then(() => {
      if (this.loopLocks.get(loopId) === tail) this.loopLocks.delete(loopId);
    });
    return next;
  }

  /** True the first time in `ttlMs` (so outage notices don't repeat for every retry). */
  async firstNotice(what: string, ttlMs: number): Promise<boolean> {
    return this.deps.store.setIfAbsent(keys.noticed(what), 1, { ttlMs });
  }

  async notify(outlet: Outlet, conversation: ConversationRef, text: string): Promise<void> {
    await outlet.send(conversation, { text }).catch((err) => this.deps.log.warn({ err: String(err) }, 'could not send a notice'));
  }
}
