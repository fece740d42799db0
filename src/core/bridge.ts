// Composition of the core: adapters with their schedulers, the router, the session manager, the turn
// runner and the choice registry. `start` resumes what a previous run left in the store; `stop` stops
// intake first, then lets workers persist their turns.

import { setMaxListeners } from 'node:events';
import type { LoopClient } from '../loop-api/client.js';
import type { PermissionMode } from '../loop-api/types.js';
import type { Store } from '../store/store.js';
import { Access, type AccessConfig } from './access.js';
import { adapterState } from './adapter-state.js';
import { conversationKey, type ChatAdapter, type InboundEvent } from './adapter-types.js';
import { Bindings, effectiveLoopId, type BindingRule, type ResolvedBinding } from './bindings.js';
import { ChoiceRegistry } from './choices.js';
import { Intake, type RoutingConfig } from './intake.js';
import { LoopClients, type PerUserTokens } from './loop-clients.js';
import { LoopHealth, type LoopOutage } from './loop-health.js';
import { Metrics } from './metrics.js';
import { Mirrors } from './mirror.js';
import { Outlet } from './outlet.js';
import { ReplicaCoordinator, type ReplicaHealth, type ReplicaOptions } from './replicas/replica-coordinator.js';
import { Sessions } from './sessions.js';
import { CONVERSATION_CHANGED, keys, migrateLegacySeen, type ConversationRecord, type PairingRecord } from './state.js';
import { TurnRunner } from './turn-runner.js';
import type { UsageLedger } from './usage-ledger.js';

export interface BridgeLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface BridgeOptions {
  client: LoopClient;
  store: Store;
  adapters: ChatAdapter[];
  access: AccessConfig;
  routing: RoutingConfig;
  /** `maxTextChars`: most assistant text a reply holds (default 1,048,576; see RepliesConfig). */
  replies: { editIntervalMs: { direct: number; group: number }; showTools: boolean; showUsage: boolean; maxTextChars?: number };
  defaultPermissionMode: PermissionMode;
  log: BridgeLogger;
  metrics?: Metrics;
  /** Configured bindings, first match wins (config `bindings:`). Default none. */
  bindings?: readonly BindingRule[];
  /** Set ⇒ access.loopTokens per-user: people's linked tokens and a client factory. Default: the shared client for all. */
  perUserTokens?: PerUserTokens;
  /** Where finished turns' usage is counted (`loopbridge usage`). Default nowhere. */
  usage?: UsageLedger;
  /** Backoff while the loop server is unreachable, ms (tests shorten it). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How long a final reply is retried through a platform outage before its turn ends without it, ms. Default 60000. */
  deliveryTimeoutMs?: number;
  /** First pause between those retries, ms. Default 1000. */
  deliveryRetryMs?: number;
  /**
   * Longest wait in stop() for adapters, intake and turns to wind down, ms; past it stop() returns anyway
   * (turns stay recorded and resume on the next start). Default 5000.
   */
  shutdownGraceMs?: number;
  /**
   * Run as one of several replicas sharing the store (PostgreSQL): turn leases, single-owner intake,
   * split platform budgets. Default: absent, this process is the only one.
   */
  replica?: ReplicaOptions;
}

export class Bridge {
  readonly metrics: Metrics;
  readonly sessions: Sessions;
  /** Outages of the loop server as the bridge sees them (our token refused, unreachable). */
  readonly loopHealth: LoopHealth;
  private readonly outlets = new Map<string, Outlet>();
  private readonly intake: Intake;
  private readonly mirrors: Mirrors;
  private readonly intakeAbort = new AbortController();
  /** Present when this process is one of several replicas. */
  private readonly replica: ReplicaCoordinator | undefined;
  /** Adapters are started: replica wake-ups may run turns. */
  private started = false;
  private accepting = false;
  private inflightAccepts = 0;
  private unsubscribe?: () => Promise<void>;
  /** The configured bindings; `bindings.resolve(ref)` is the rule that applies to a conversation (or undefined). */
  readonly bindings: Bindings;
  /** Which token drives which conversation's loop (the shared client, or per-user clients). */
  readonly clients: LoopClients;

  constructor(private readonly options: BridgeOptions) {
    const { client, store, log } = options;
    this.metrics = options.metrics ?? new Metrics();
    this.bindings = new Bindings(options.bindings ?? []);
    this.clients = new LoopClients({ shared: client, perUser: options.perUserTokens });
    const access = new Access(options.access, store);
    const withClient = <T>(convKey: string, fn: (c: LoopClient) => Promise<T>) => this.sessions.withClient(convKey, fn);
    const choices = new ChoiceRegistry({ store, client, withClient, isAdmin: (u) => access.isAdmin(u), log });
    const runner = new TurnRunner({
      client,
      store,
      choices,
      metrics: this.metrics,
      replies: options.replies,
      log,
      deliveryTimeoutMs: options.deliveryTimeoutMs,
      deliveryRetryMs: options.deliveryRetryMs,
    });
    this.loopHealth = new LoopHealth({ metrics: this.metrics, log });
    this.replica = options.replica ? new ReplicaCoordinator({ ...options.replica, store, log, metrics: this.metrics }) : undefined;
    this.sessions = new Sessions({
      client,
      store,
      runner,
      metrics: this.metrics,
      health: this.loopHealth,
      defaultPermissionMode: options.defaultPermissionMode,
      outletFor: (p) => this.outlets.get(p),
      log,
      retryMinMs: options.retryMinMs,
      retryMaxMs: options.retryMaxMs,
      bindings: this.bindings,
      clients: this.clients,
      usage: options.usage,
      onBound: (conv, binding) => this.mirrorIfBound(conv, binding),
      claims: this.replica,
    });
    this.mirrors = new Mirrors({
      client,
      withClient,
      choices,
      ownTurnRunning: (loopId) => this.sessions.ownsLoop(loopId),
      editIntervalMs: options.replies.editIntervalMs,
      showTools: options.replies.showTools,
      log,
    });
    this.intake = new Intake({
      store,
      access,
      sessions: this.sessions,
      choices,
      mirrors: this.mirrors,
      client,
      metrics: this.metrics,
      routing: options.routing,
      defaultMode: options.defaultPermissionMode,
      pairingCodeTtlMs: options.access.pairingCodeTtlMs,
      log,
    });
    setMaxListeners(0, this.intakeAbort.signal); // adapters hang each pending intake call on it
    for (const a of options.adapters) {
      const outlet = new Outlet(a, this.sessions.signal, this.metrics);
      this.outlets.set(a.platform, outlet);
      this.replica?.shareBudget({ platform: a.platform, budget: a.capabilities.rate, scheduler: outlet.scheduler });
    }
    this.metrics.gauge('turns_running', () => this.sessions.running.size, 'turns in flight');
    this.metrics.gauge('loop_clients_personal', () => this.clients.openClients, 'clients open for people\'s linked loop tokens (access.loopTokens per-user)');
    this.metrics.gauge('inbound_queue_depth', () => this.sessions.queued, 'accepted messages waiting for or in their turn');
    this.metrics.gauge('platform_calls_queued', () => [...this.outlets.values()].reduce((n, o) => n + o.scheduler.pending(), 0));
    this.metrics.gauge('platform_calls_total', () => [...this.outlets.values()].reduce((n, o) => n + o.scheduler.stats.calls, 0));
    this.metrics.gauge('platform_rate_limit_wait_ms_total', () => [...this.outlets.values()].reduce((n, o) => n + o.scheduler.stats.rateLimitWaitMs, 0));
  }

  outlet(platform: string): Outlet | undefined {
    return this.outlets.get(platform);
  }

  async start(): Promise<void> {
    const migrated = await migrateLegacySeen(this.options.store);
    if (migrated) this.options.log.info({ marks: migrated }, 'moved dedupe marks to the compact layout');
    this.accepting = true;
    // Replicas: join first (a budget share, the roster), so intake and turns start under leases.
    await this.replica?.start({
      wake: (convKey) => this.started && this.sessions.wake(convKey),
      rescan: async () => {
        if (!this.started) return;
        await this.sessions.resumeAll();
        await this.placeMirrors();
      },
    });
    const led: Outlet[] = [];
    for (const outlet of this.outlets.values()) {
      const sink = { accept: (ev: InboundEvent) => this.accept(outlet, ev), state: adapterState(this.options.store, outlet.adapter.platform) };
      // Intake that must have one owner (Telegram polling, Matrix sync) waits for this replica to lead it.
      const single = this.replica !== undefined && outlet.adapter.capabilities.intake === 'single';
      outlet.bot = await outlet.adapter.start(sink, this.intakeAbort.signal, single ? { intake: false } : undefined);
      if (single) led.push(outlet);
      this.options.log.info({ platform: outlet.adapter.platform, bot: outlet.bot.username ?? outlet.bot.id }, 'adapter started');
    }
    this.started = true;
    for (const outlet of led) await this.replica!.lead(outlet.adapter, this.intakeAbort.signal);
    const resumed = await this.sessions.resumeAll();
    if (resumed) this.options.log.info({ conversations: resumed }, 'resuming queued and in-flight turns');
    await this.placeMirrors();
    this.unsubscribe = await this.options.store.subscribe?.(CONVERSATION_CHANGED, (notice) => {
      if (notice.kind !== 'message') return;
      void this.conversationChanged(notice.payload).catch((err) => this.options.log.warn({ err: String(err) }, 'could not apply a conversation change'));
    });
  }

  /** An operator changed a conversation (maybe on another process): its worker and mirror follow the record. */
  private async conversationChanged(payload: string): Promise<void> {
    const key = (JSON.parse(payload) as { key?: unknown }).key;
    if (typeof key !== 'string') return;
    const conv = await this.options.store.get<ConversationRecord>(keys.conv(key));
    if (!conv) return this.mirrors.stop(key);
    this.refreshMirror(conv, true);
    this.sessions.wake(key);
  }

  /** Follows the loops of /attach'ed and mirroring-bound conversations; with replicas, only those of chats this replica runs. */
  private async placeMirrors(): Promise<void> {
    for (const [, conv] of await this.options.store.list<ConversationRecord>('conv/')) this.refreshMirror(conv);
  }

  /**
   * Mirrors a conversation's loop when /attach or its binding asks for it and (with replicas) its chat runs
   * here; restarted when `restart` (e.g. its loop changed). Otherwise makes sure no mirror runs.
   */
  private refreshMirror(conv: ConversationRecord, restart = false): void {
    const binding = this.bindings.resolve(conv.ref);
    const loopId = effectiveLoopId(conv, binding);
    const outlet = this.outlets.get(conv.ref.platform);
    const here = !this.replica || this.replica.runsHere(conversationKey({ platform: conv.ref.platform, chatId: conv.ref.chatId }));
    if (!here || !(conv.mirror || binding?.mirror) || !loopId || !outlet) return this.mirrors.stop(conv.key);
    if (this.mirrors.has(conv.key) && !restart) return;
    // Without a recorded owner only admins may answer a mirrored turn's choices.
    this.mirrors.start(outlet, { ...conv, loopId }, conv.mirrorOwner ?? { id: '', isBot: false });
  }

  /** A turn found its conversation on a loop: a binding that mirrors starts showing other clients' turns. */
  private mirrorIfBound(conv: ConversationRecord, binding: ResolvedBinding | undefined): void {
    if (binding?.mirror && !this.mirrors.has(conv.key)) this.refreshMirror(conv);
  }

  /** Tells a person, where they asked, that an operator approved their pairing request. */
  async pairingApproved(rec: PairingRecord): Promise<void> {
    const outlet = rec.conversation && this.outlets.get(rec.conversation.platform);
    if (!outlet || !rec.conversation) return;
    await this.sessions.notify(outlet, rec.conversation, '✅ An operator approved your request: you can talk to me now. Please send your message again.');
  }

  /**
   * `ok`, or `degraded` with what is wrong (e.g. the loop server refuses our token), for /healthz. With
   * replicas also this replica's leases and whether it takes work (`ok: false` while it does not).
   */
  health(): { status: 'ok' | 'degraded'; problems: LoopOutage[]; ok?: false; replica?: ReplicaHealth } {
    const problems = this.loopHealth.problems();
    const replica = this.replica?.health();
    const status = problems.length || replica?.problem ? 'degraded' : 'ok';
    if (!replica) return { status, problems };
    return replica.takingWork ? { status, problems, replica } : { status, problems, ok: false, replica };
  }

  /** Messages queued or in flight across all conversations. */
  async backlog(): Promise<number> {
    let n = 0;
    for (const q of await this.options.store.queues(keys.inboxPrefix)) n += (await this.options.store.items(q)).length;
    return n;
  }

  /**
   * Stops intake, then aborts streams; in-flight turns stay recorded and resume on the next start. Bounded:
   * a platform or loop call that ignores the abort (a hung socket) cannot hold shutdown past shutdownGraceMs.
   */
  async stop(): Promise<void> {
    const { log } = this.options;
    const deadline = Date.now() + (this.options.shutdownGraceMs ?? 5000);
    const within = async (what: string, work: Promise<unknown>): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), Math.max(0, deadline - Date.now()))));
      const outcome = await Promise.race([work.then(() => 'done' as const, () => 'done' as const), late]);
      clearTimeout(timer);
      if (outcome === 'late') log.warn({ what }, 'shutdown: gave up waiting (it stays recorded and resumes on the next start)');
    };
    this.accepting = false;
    // Replicas: single-owner intake stops here first and its lease goes to another replica at once.
    if (this.replica) await within('intake leadership to be handed over', this.replica.stopIntake());
    this.intakeAbort.abort();
    await this.unsubscribe?.().catch(() => {});
    await within('adapters to stop', Promise.allSettled([...this.outlets.values()].map((o) => o.adapter.stop())));
    await within('messages being accepted', this.acceptsDone(deadline));
    // Out of the roster before the turn leases go back, so the others place those chats elsewhere.
    if (this.replica) await within('leaving the replicas', this.replica.leave());
    this.mirrors.stopAll();
    const workers = this.sessions.stop();
    // Calls still waiting for their turn at the platform will never be made: fail them now so nothing waits on them.
    for (const o of this.outlets.values()) o.scheduler.close();
    await within('turns to persist', workers);
    await this.clients.close();
    if (this.replica) await within('leases to be handed back', this.replica.close());
    await this.options.store.flush();
  }

  private async acceptsDone(deadline: number): Promise<void> {
    while (this.inflightAccepts > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  private async accept(outlet: Outlet, ev: InboundEvent): Promise<void> {
    if (!this.accepting) throw new Error('loopbridge is shutting down; not accepting');
    this.inflightAccepts++;
    try {
      await this.intake.accept(outlet, ev);
    } finally {
      this.inflightAccepts--;
    }
  }
}
