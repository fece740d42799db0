// The Slack ChatAdapter: identity at start (auth.test), intake over Socket Mode or HTTP (events acknowledged
// only once the core accepted them), and the outbound calls. It never throttles or retries: the core's
// scheduler, built from `capabilities.rate` (Slack's per-channel and per-workspace method limits), paces
// every Web API call and retries what the error mapping marks retryable.
import { LogLevel, webApi } from '@slack/bolt';
import type {
  AdapterCapabilities,
  BotIdentity,
  ChatAdapter,
  ConversationRef,
  InboundPress,
  InboundSink,
  MessageRef,
  OutboundMessage,
  RateBudget,
} from '../../src/core/adapter-types.js';
import { SILENT_LOG, type AdapterLog } from '../shared/adapter-log.js';
import { RunningTransport } from '../shared/running-transport.js';
import { AUTH_ERRORS, scrub, SlackStartupError, slackErrorCode } from './errors.js';
import { fetchSlackFile } from './files.js';
import { measureSlack, SLACK_MAX_TEXT } from './format.js';
import { parseBlockActions, parseMessageEvent, SLACK_PLATFORM, type BlockActionsPayload, type MessageEvent, type SlackSelf } from './parse.js';
import { RecentIds } from './recent-ids.js';
import { answerPress, deleteMessage, postMessage, updateMessage, type SendContext, type ThreadMemory } from './send.js';
import { InMemoryThreads, StateThreads } from './thread-memory.js';
import { HttpTransport, SocketTransport } from './transport.js';

/** The logger the adapter writes to (pino-compatible). Tokens never appear in what it logs. */
export type SlackLog = AdapterLog;

export interface SlackAdapterOptions {
  /** Bot User OAuth Token (xoxb-…). Never logged, never in an error message. */
  botToken: string;
  /** App-level token (xapp-…) with connections:write; required in socket mode. */
  appToken?: string;
  /** Signing secret; required in http mode. */
  signingSecret?: string;
  /** How events arrive; default 'socket'. */
  mode?: 'socket' | 'http';
  /** HTTP listener port (http mode); default 3000; 0 = any free port. */
  port?: number;
  /** HTTP listener address (http mode); default '0.0.0.0'. */
  host?: string;
  /** Web API base URL; default 'https://slack.com/api/' (tests: the fake's url). */
  apiUrl?: string;
  /** Later messages in a thread the bot is part of need no mention; default true. */
  threadFollow?: boolean;
  /** Where the threads the bot posted in are remembered; default the core's adapter state (durable), else this process. */
  threads?: ThreadMemory;
  /** Pace of intermediate edits of one live message, ms; default { direct: 1000, group: 1000 }. */
  editIntervalMs?: { direct: number; group: number };
  /** The call budget; default DEFAULT_SLACK_RATE. */
  rate?: RateBudget;
  /** Default: silent. */
  log?: SlackLog;
  /** Pause before a Socket Mode reconnect, ms; default 5000 (tests shorten it). */
  reconnectDelayMs?: number;
  /** Timeout of one Web API request, ms; default 30000. */
  requestTimeoutMs?: number;
}

/**
 * Slack's published limits as the core's budget: chat.postMessage about 1 per second per channel (DMs are
 * channels too), chat.update and chat.delete Tier 3 (50 per minute per workspace), chat.postEphemeral
 * Tier 4 (100 per minute). Slack publishes no bot-wide per-second limit; 50/s only keeps bursts sane.
 */
export const DEFAULT_SLACK_RATE: RateBudget = {
  globalPerSecond: 50,
  privateChatIntervalMs: 1000,
  groupChatIntervalMs: 1000,
  groupPerMinute: 0,
  perMinute: { edit: 50, delete: 50, press: 100 },
};

export const DEFAULT_API_URL = 'https://slack.com/api/';

export class SlackAdapter implements ChatAdapter {
  readonly platform = SLACK_PLATFORM;
  readonly capabilities: AdapterCapabilities;
  private readonly client: webApi.WebClient;
  private readonly apiUrl: string;
  private readonly log: SlackLog;
  private readonly secrets: string[];
  private threads: ThreadMemory;
  /** Events accepted in this process (Slack retries carry the same event_id): skipped before parsing. */
  private readonly accepted = new RecentIds(10 * 60_000, 20_000);
  private readonly transport = new RunningTransport<SocketTransport | HttpTransport>();
  private self: SlackSelf | undefined;

  constructor(private readonly options: SlackAdapterOptions) {
    this.apiUrl = options.apiUrl ?? DEFAULT_API_URL;
    this.log = options.log ?? SILENT_LOG;
    this.secrets = [options.botToken, options.appToken ?? '', options.signingSecret ?? ''];
    this.threads = options.threads ?? new InMemoryThreads();
    const mode = options.mode ?? 'socket';
    if (mode === 'socket' && !options.appToken) throw new SlackStartupError('app_token', 'slack.appToken is required in socket mode: create an app-level token (xapp-…) with connections:write under Basic Information');
    if (mode === 'http' && !options.signingSecret) throw new SlackStartupError('signing_secret', 'slack.signingSecret is required in http mode: copy the Signing Secret from Basic Information');
    // Retries off and 429s rejected at once: the core's scheduler owns the budget and the waiting.
    this.client = new webApi.WebClient(options.botToken, {
      slackApiUrl: this.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: options.requestTimeoutMs ?? 30_000,
      logLevel: LogLevel.ERROR,
    });
    this.capabilities = {
      edit: true,
      maxTextLength: SLACK_MAX_TEXT,
      measure: measureSlack,
      buttons: 'native',
      threads: true,
      drafts: false,
      editIntervalMs: options.editIntervalMs ?? { direct: 1000, group: 1000 },
      rate: options.rate ?? DEFAULT_SLACK_RATE,
    };
  }

  private get ctx(): SendContext {
    return { client: this.client, secrets: this.secrets, threads: this.threads };
  }

  /** The HTTP listener's bound address (http mode, after start). */
  httpAddress(): { address: string; port: number } | undefined {
    const t = this.transport.get();
    return t instanceof HttpTransport ? t.address() : undefined;
  }

  async start(sink: InboundSink, signal: AbortSignal): Promise<BotIdentity> {
    if (!this.options.threads && sink.state) this.threads = new StateThreads(sink.state);
    const me = await this.whoAmI();
    this.self = { userId: me.user_id, botId: me.bot_id };
    const handlers = {
      onEvent: (body: Record<string, unknown>) => this.onEvent(body, sink),
      onAction: (payload: Record<string, unknown>) => this.onAction(payload, sink),
    };
    const o = this.options;
    const transport =
      (o.mode ?? 'socket') === 'http'
        ? new HttpTransport({ signingSecret: o.signingSecret!, port: o.port ?? 3000, host: o.host ?? '0.0.0.0', log: this.log }, handlers)
        : new SocketTransport({ appToken: o.appToken!, apiUrl: this.apiUrl, log: this.log, reconnectDelayMs: o.reconnectDelayMs }, handlers);
    try {
      await transport.start();
    } catch (err) {
      await transport.stop().catch(() => undefined);
      throw this.transportError(err);
    }
    this.transport.hold(transport, signal);
    this.log.info({ bot: me.user, team: me.team_id, mode: o.mode ?? 'socket' }, 'slack: started');
    return { id: me.user_id, username: me.user, displayName: me.user };
  }

  stop(): Promise<void> {
    return this.transport.stop();
  }

  private async whoAmI(): Promise<{ user_id: string; user: string; bot_id?: string; team_id?: string }> {
    try {
      const r = await this.client.auth.test();
      return { user_id: String(r.user_id), user: String(r.user ?? 'bot'), bot_id: r.bot_id, team_id: r.team_id };
    } catch (err) {
      const code = slackErrorCode(err);
      if (code && AUTH_ERRORS.has(code)) {
        throw new SlackStartupError('bot_token', `slack.botToken was refused by Slack (${code}): use the Bot User OAuth Token (xoxb-…) from OAuth & Permissions, and reinstall the app if it was revoked`);
      }
      const why = code ?? (err instanceof Error ? err.message : String(err));
      throw new SlackStartupError('network', `cannot reach the Slack Web API at ${this.apiUrl} (slack.apiUrl): ${scrub(why, this.secrets)}`);
    }
  }

  private transportError(err: unknown): SlackStartupError {
    if (err instanceof SlackStartupError) return err;
    const code = slackErrorCode(err);
    if (code && AUTH_ERRORS.has(code)) {
      return new SlackStartupError('app_token', `slack.appToken was refused by Slack (${code}): use an app-level token (xapp-…) with the connections:write scope, and turn Socket Mode on for the app`);
    }
    const why = code ?? (err instanceof Error ? err.message : String(err));
    if ((this.options.mode ?? 'socket') === 'http') {
      return new SlackStartupError('listen', `cannot listen for Slack events on ${this.options.host ?? '0.0.0.0'}:${this.options.port ?? 3000} (slack.host, slack.port): ${scrub(why, this.secrets)}`);
    }
    return new SlackStartupError('network', `cannot open a Socket Mode connection through ${this.apiUrl} (slack.apiUrl): ${scrub(why, this.secrets)}`);
  }

  /** One event_callback: skip a retry of an accepted event, parse, hand over (throws to leave it unacknowledged). */
  private async onEvent(body: Record<string, unknown>, sink: InboundSink): Promise<void> {
    const eventId = typeof body.event_id === 'string' ? body.event_id : undefined;
    if (eventId && this.accepted.has(eventId)) return;
    const ev = body.event as MessageEvent | undefined;
    let msg;
    try {
      msg = ev ? await parseMessageEvent(ev, this.self!, { threadFollow: this.options.threadFollow ?? true, botInThread: (c, t) => this.threads.has(c, t) }) : undefined;
    } catch (err) {
      // A poison event must not be redelivered forever: drop it (acknowledged), and say so.
      this.log.warn({ eventId, err: String(err) }, 'slack: event could not be parsed; skipped');
      return;
    }
    if (msg) await sink.accept(msg);
    if (eventId) this.accepted.add(eventId);
  }

  private async onAction(payload: Record<string, unknown>, sink: InboundSink): Promise<void> {
    const press = parseBlockActions(payload as unknown as BlockActionsPayload);
    if (press) await sink.accept(press);
  }

  send(conversation: ConversationRef, message: OutboundMessage, signal: AbortSignal): Promise<MessageRef> {
    return postMessage(this.ctx, conversation, message, signal);
  }

  edit(ref: MessageRef, message: OutboundMessage, signal: AbortSignal): Promise<void> {
    return updateMessage(this.ctx, ref, message, signal);
  }

  delete(ref: MessageRef, signal: AbortSignal): Promise<void> {
    return deleteMessage(this.ctx, ref, signal);
  }

  answerPress(press: InboundPress, notice: string | undefined, signal: AbortSignal): Promise<void> {
    return answerPress(this.ctx, press, notice, signal);
  }

  fetchFile(ref: string, signal: AbortSignal): Promise<Buffer> {
    return fetchSlackFile({ token: this.options.botToken, apiUrl: this.apiUrl }, ref, signal);
  }
}

export { SlackStartupError };
