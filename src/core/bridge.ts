// Composition of the core: adapters with their schedulers, the router, the session manager, the turn
// runner and the choice registry. `start` resumes what a previous run left in the store; `stop` stops
// intake first, then lets workers persist their turns.

import { setMaxListeners } from 'node:events';
import type { LoopClient } from '../loop-api/client.js';
import type { PermissionMode } from '../loop-api/types.js';
import type { Store } from '../store/store.js';
import { Access, type AccessConfig } from './access.js';
import type { ChatAdapter, InboundEvent } from './adapter-types.js';
import { ChoiceRegistry } from './choices.js';
import { Intake, type RoutingConfig } from './intake.js';
import { Metrics } from './metrics.js';
import { Mirrors } from './mirror.js';
import { Outlet } from './outlet.js';
import { Sessions } from './sessions.js';
import { keys, migrateLegacySeen, type ConversationRecord } from './state.js';
import { TurnRunner } from './turn-runner.js';

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
  /** Backoff while the loop server is unreachable, ms (tests shorten it). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export class Bridge {
  readonly metrics: Metrics;
  readonly sessions: Sessions;
  private readonly outlets = new Map<string, Outlet>();
  private readonly intake: Intake;
  private readonly mirrors: Mirrors;
  private readonly intakeAbort = new AbortController();
  private accepting = false;
  private inflightAccepts = 0;

  constructor(private readonly options: BridgeOptions) {
    const { client, store, log } = options;
    this.metrics = options.metrics ?? new Metrics();
    const access = new Access(options.access, store);
    const choices = new ChoiceRegistry({ store, client, isAdmin: (u) => access.isAdmin(u), log });
    const runner = new TurnRunner({ client, store, choices, metrics: this.metrics, replies: options.replies, log });
    this.sessions = new Sessions({
      client,
      store,
      runner,
      metrics: this.metrics,
      defaultPermissionMode: options.defaultPermissionMode,
      outletFor: (p) => this.outlets.get(p),
      log,
      retryMinMs: options.retryMinMs,
      retryMaxMs: options.retryMaxMs,
    });
    this.mirrors = new Mirrors({
      client,
      choices,
      ownTurnRunning: (loopId) => [...this.sessions.running.values()].some((r) => r.loopId === loopId),
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
    for (const a of options.adapters) this.outlets.set(a.platform, new Outlet(a, this.sessions.signal, this.metrics));
    this.metrics.gauge('turns_running', () => this.sessions.running.size, 'turns in flight');
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
    for (const outlet of this.outlets.values()) {
      const sink = { accept: (ev: InboundEvent) => this.accept(outlet, ev) };
      outlet.bot = await outlet.adapter.start(sink, this.intakeAbort.signal);
      this.options.log.info({ platform: outlet.adapter.platform, bot: outlet.bot.username ?? outlet.bot.id }, 'adapter started');
    }
    const resumed = await this.sessions.resumeAll();
    if (resumed) this.options.log.info({ conversations: resumed }, 'resuming queued and in-flight turns');
    for (const [, conv] of await this.options.store.list<ConversationRecord>('conv/')) {
      const outlet = this.outlets.get(conv.ref.platform);
      // Without a recorded owner only admins may answer a mirrored turn's choices.
      if (conv.mirror && conv.loopId && outlet) this.mirrors.start(outlet, conv, conv.mirrorOwner ?? { id: '', isBot: false });
    }
  }

  /** Messages queued or in flight across all conversations. */
  async backlog(): Promise<number> {
    let n = 0;
    for (const q of await this.options.store.queues(keys.inboxPrefix)) n += (await this.options.store.items(q)).length;
    return n;
  }

  /** Stops intake, then aborts streams; in-flight turns stay recorded and resume on the next start. */
  async stop(): Promise<void> {
    this.accepting = false;
    this.intakeAbort.abort();
    await Promise.allSettled([...this.outlets.values()].map((o) => o.adapter.stop()));
    while (this.inflightAccepts > 0) await new Promise((r) => setTimeout(r, 10));
    this.mirrors.stopAll();
    await this.sessions.stop();
    for (const o of this.outlets.values()) o.scheduler.close();
    await this.options.store.flush();
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
