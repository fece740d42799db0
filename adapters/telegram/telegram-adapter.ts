// The Telegram ChatAdapter: identity and commands at start, intake through polling or a webhook, and the
// outbound calls. It never throttles or retries: the core's scheduler (built from `capabilities.rate`)
// paces every call and retries what the error mapping marks retryable.
import { Api, GrammyError, HttpError } from 'grammy';
import type { Update } from 'grammy/types';
import type {
  AdapterCapabilities,
  AdapterStartOptions,
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
import { forGrammy, scrubToken, TelegramStartupError } from './errors.js';
import { fetchTelegramFile } from './files.js';
import { measureTelegram, TELEGRAM_MAX_TEXT } from './format.js';
import { parseUpdate, TELEGRAM_PLATFORM, type BotSelf } from './parse.js';
import { answerPress, deleteMessage, editMessage, sendDraft, sendMessage, sendTyping, type SendContext } from './send.js';
import { PollingTransport } from './transport-polling.js';
import { WebhookTransport, type TelegramWebhookOptions } from './transport-webhook.js';

/** The logger the adapter writes to (pino-compatible). The token never appears in what it logs. */
export type TelegramLog = AdapterLog;

export interface TelegramAdapterOptions {
  /** Bot token from @BotFather. Never logged, never in an error message. */
  token: string;
  /** Bot API origin; default https://api.telegram.org (tests: the fake's apiRoot). */
  apiRoot?: string;
  /** How updates arrive; default 'polling'. */
  mode?: 'polling' | 'webhook';
  /** Required when mode is 'webhook'. */
  webhook?: TelegramWebhookOptions;
  /** Offer sendMessageDraft previews in private chats (capabilities.drafts); default false. */
  drafts?: boolean;
  /** Pace of intermediate edits of one live message, ms; default { direct: 1000, group: 3000 }. */
  editIntervalMs?: { direct: number; group: number };
  /** The bot's call budget; default { globalPerSecond: 30, privateChatIntervalMs: 1000, groupChatIntervalMs: 3000, groupPerMinute: 20 }. */
  rate?: RateBudget;
  /** Registered with setMyCommands at start; default: none registered (left as they are). */
  commands?: Array<{ command: string; description: string }>;
  /** Default: silent. */
  log?: TelegramLog;
  /** Long-poll timeout, seconds (default 30; tests use 1). */
  pollTimeoutSec?: number;
}

const DEFAULT_API_ROOT = 'https://api.telegram.org';
const DEFAULT_RATE: RateBudget = { globalPerSecond: 30, privateChatIntervalMs: 1000, groupChatIntervalMs: 3000, groupPerMinute: 20 };

export class TelegramAdapter implements ChatAdapter {
  readonly platform = TELEGRAM_PLATFORM;
  readonly capabilities: AdapterCapabilities;
  private readonly api: Api;
  private readonly token: string;
  private readonly apiRoot: string;
  private readonly log: TelegramLog;
  private readonly transport = new RunningTransport<PollingTransport | WebhookTransport>();
  private self: BotSelf | undefined;
  private sink: InboundSink | undefined;

  constructor(private readonly options: TelegramAdapterOptions) {
    this.token = options.token;
    this.apiRoot = (options.apiRoot ?? DEFAULT_API_ROOT).replace(/\/+$/, '');
    this.log = options.log ?? SILENT_LOG;
    this.api = new Api(options.token, { apiRoot: this.apiRoot });
    if ((options.mode ?? 'polling') === 'webhook' && !options.webhook) {
      throw new Error('telegram.mode is webhook but telegram.webhook is missing: give url, secretToken, host, port and path');
    }
    this.capabilities = {
      edit: true,
      maxTextLength: TELEGRAM_MAX_TEXT,
      measure: measureTelegram,
      buttons: 'native',
      threads: true,
      drafts: options.drafts ?? false,
      editIntervalMs: options.editIntervalMs ?? { direct: 1000, group: 3000 },
      rate: options.rate ?? DEFAULT_RATE,
      // A second long poller would get 409 Conflict; webhooks may be answered by any replica.
      intake: (options.mode ?? 'polling') === 'polling' ? 'single' : 'any',
    };
  }

  private get ctx(): SendContext {
    return { api: this.api, token: this.token };
  }

  /** The webhook listener's bound address (webhook mode, after start). */
  webhookAddress(): { address: string; port: number } | undefined {
    const t = this.transport.get();
    return t instanceof WebhookTransport ? t.address() : undefined;
  }

  async start(sink: InboundSink, signal: AbortSignal, options: AdapterStartOptions = {}): Promise<BotIdentity> {
    let me;
    try {
      me = await this.api.getMe(forGrammy(signal));
    } catch (err) {
      throw this.getMeError(err);
    }
    this.self = { id: me.id, username: me.username };
    if (this.options.commands !== undefined) {
      try {
        await this.api.setMyCommands(this.options.commands, {}, forGrammy(signal));
      } catch (err) {
        // Commands only decorate the client's menu; a refusal must not keep the bot from running.
        const why = err instanceof GrammyError ? err.description : err instanceof Error ? err.message : String(err);
        this.log.warn({ err: scrubToken(why, this.token) }, 'telegram: setMyCommands failed; the command menu is unchanged');
      }
    }
    this.sink = sink;
    // The running transport stops on an abort of `signal` (RunningTransport); nothing else to listen for.
    if (options.intake !== false) await this.startIntake(signal);
    this.log.info({ bot: me.username, mode: this.options.mode ?? 'polling', intake: options.intake !== false }, 'telegram: started');
    return { id: String(me.id), username: me.username, displayName: me.first_name };
  }

  /** Starts polling (or the webhook listener); with polling, a 409 from another poller rejects. */
  async startIntake(signal: AbortSignal): Promise<void> {
    const sink = this.sink;
    if (!sink) throw new Error('telegram adapter: startIntake before start');
    if (this.transport.get()) return;
    const handle = (update: Update) => this.handleUpdate(update, sink);
    const transport =
      (this.options.mode ?? 'polling') === 'webhook'
        ? new WebhookTransport({ api: this.api, token: this.token, webhook: this.options.webhook!, log: this.log, handle })
        : new PollingTransport({ api: this.api, token: this.token, timeoutSec: this.options.pollTimeoutSec, log: this.log, handle });
    await transport.start(signal);
    this.transport.hold(transport, signal);
  }

  /** Ends the long poll (or closes the listener) after confirming what was accepted; sending still works. */
  stopIntake(): Promise<void> {
    return this.transport.stop();
  }

  stop(): Promise<void> {
    return this.stopIntake();
  }

  /** Parse, then accept. A parse failure is logged and the update dropped (a poison update must not block intake). */
  private async handleUpdate(update: Update, sink: InboundSink): Promise<void> {
    let event;
    try {
      event = parseUpdate(update, this.self!);
    } catch (err) {
      this.log.warn({ updateId: update.update_id, err: String(err) }, 'telegram: update could not be parsed; skipped');
      return;
    }
    if (event) await sink.accept(event);
  }

  private getMeError(err: unknown): Error {
    if (err instanceof GrammyError && err.error_code === 401) {
      return new TelegramStartupError('unauthorized', 'telegram.token was refused by Telegram (401 Unauthorized): check the token from @BotFather');
    }
    if (err instanceof GrammyError && err.error_code === 404) {
      // The Bot API answers 404 for a malformed token.
      return new TelegramStartupError('unauthorized', 'telegram.token was refused by Telegram (404 Not Found): check the token from @BotFather');
    }
    const why = err instanceof GrammyError ? `${err.error_code}: ${err.description}` : err instanceof HttpError ? err.message : err instanceof Error ? err.message : String(err);
    return new TelegramStartupError('network', `cannot reach the Telegram Bot API at ${this.apiRoot} (telegram.apiRoot): ${scrubToken(why, this.token)}`);
  }

  send(conversation: ConversationRef, message: OutboundMessage, signal: AbortSignal): Promise<MessageRef> {
    return sendMessage(this.ctx, conversation, message, signal);
  }

  edit(ref: MessageRef, message: OutboundMessage, signal: AbortSignal): Promise<void> {
    return editMessage(this.ctx, ref, message, signal);
  }

  delete(ref: MessageRef, signal: AbortSignal): Promise<void> {
    return deleteMessage(this.ctx, ref, signal);
  }

  typing(conversation: ConversationRef, signal: AbortSignal): Promise<void> {
    return sendTyping(this.ctx, conversation, signal);
  }

  answerPress(press: InboundPress, notice: string | undefined, signal: AbortSignal): Promise<void> {
    return answerPress(this.ctx, press, notice, signal);
  }

  fetchFile(ref: string, signal: AbortSignal): Promise<Buffer> {
    return fetchTelegramFile({ ...this.ctx, apiRoot: this.apiRoot }, ref, signal);
  }

  draft(conversation: ConversationRef, draftId: number, text: string, signal: AbortSignal): Promise<void> {
    return sendDraft(this.ctx, conversation, draftId, text, signal);
  }
}

export { TelegramStartupError };
