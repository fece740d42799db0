// The Matrix ChatAdapter on matrix-bot-sdk: the account at start (token, or a password login kept in the
// adapter's state), intake through our /sync loop, and the outbound calls. Like the other adapters it
// never throttles or retries: the core's scheduler (built from `capabilities.rate`) paces every call and
// retries what the error mapping marks transient; an M_LIMIT_EXCEEDED holds back every room, since the
// homeserver's limit is per account.
//
// Each room is a conversation, and each thread (`m.thread`) in it is a conversation of its own with its
// own loop, like a Slack thread or a Telegram topic: replies go into the thread they came from.
import { LogService, type MatrixClient } from 'matrix-bot-sdk';
import type {
  AdapterCapabilities,
  AdapterStartOptions,
  AdapterState,
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
import { call, MatrixStartupError } from './errors.js';
import { MATRIX_MAX_CONTENT_BYTES, measureMatrix } from './format.js';
import { Invites, type InvitePolicy } from './invites.js';
import { openSession, type MatrixSession } from './login.js';
import { downloadMedia } from './media.js';
import { MATRIX_PLATFORM } from './parse.js';
import { ChoiceReactions } from './reactions.js';
import { RoomEvents } from './room-events.js';
import { Rooms } from './rooms.js';
import { EventSenders } from './senders.js';
import { deleteMessage, editMessage, sendMessage, sendTyping, type SendContext } from './send.js';
import { SyncLoop } from './sync.js';

/** The logger the adapter writes to (pino-compatible). Tokens and passwords never appear in it. */
export type MatrixLog = AdapterLog;

export interface MatrixAdapterOptions {
  /** Client-server API origin, e.g. https://matrix.example.org. */
  homeserverUrl: string;
  /** The bot account's access token. Either this, or userId + password. Never logged. */
  accessToken?: string;
  /** The bot's user id (`@bot:example.org`), with `password`: logged in once, the token kept in the store. */
  userId?: string;
  /** Never logged. */
  password?: string;
  /** Who may bring the bot into rooms; default: autoJoin on, nobody allowed (every invite refused). */
  invites?: Partial<InvitePolicy>;
  /** Core command names also answered as `!name` (e.g. `!stop`); default none. */
  commands?: string[];
  /** Pace of intermediate edits of one live message, ms; default { direct: 1000, group: 3000 }. */
  editIntervalMs?: { direct: number; group: number };
  /** The bot's call budget; default { globalPerSecond: 20, privateChatIntervalMs: 500, groupChatIntervalMs: 1000, groupPerMinute: 0 }. */
  rate?: RateBudget;
  /** Default: silent. */
  log?: MatrixLog;
  /** /sync long-poll timeout, ms (default 30000; tests use less). */
  syncTimeoutMs?: number;
}

/**
 * A homeserver's own limit is per account (Synapse's default is 0.2 events/s with a burst of 10; operators
 * lift it for bots): the budget keeps well-behaved pacing and the scheduler waits out any M_LIMIT_EXCEEDED.
 */
const DEFAULT_RATE: RateBudget = { globalPerSecond: 20, privateChatIntervalMs: 500, groupChatIntervalMs: 1000, groupPerMinute: 0 };

export class MatrixAdapter implements ChatAdapter {
  readonly platform = MATRIX_PLATFORM;
  readonly capabilities: AdapterCapabilities;
  private readonly log: MatrixLog;
  private session: MatrixSession | undefined;
  private ctx: SendContext | undefined;
  private readonly sync = new RunningTransport<SyncLoop>();
  /** What a /sync loop needs, ready after start (intake may start later, when this replica leads). */
  private intake: { state: AdapterState; events: RoomEvents } | undefined;

  constructor(private readonly options: MatrixAdapterOptions) {
    this.log = options.log ?? SILENT_LOG;
    this.capabilities = {
      edit: true,
      maxTextLength: MATRIX_MAX_CONTENT_BYTES,
      measure: measureMatrix,
      buttons: 'reactions',
      threads: true,
      drafts: false,
      editIntervalMs: options.editIntervalMs ?? { direct: 1000, group: 3000 },
      rate: options.rate ?? DEFAULT_RATE,
      // One /sync position per account: two syncing replicas would hand every event over twice.
      intake: 'single',
    };
    quietSdkLogs(this.log);
  }

  /** The bot's Matrix user id (after start). */
  get userId(): string | undefined {
    return this.session?.userId;
  }

  async start(sink: InboundSink, signal: AbortSignal, options: AdapterStartOptions = {}): Promise<BotIdentity> {
    const state = sink.state;
    if (!state) throw new MatrixStartupError('no-state', 'matrix: the adapter needs the bridge store (no adapter state was given)');
    const session = await openSession(this.options, state);
    this.session = session;
    const client = session.client;
    const displayName = await this.ownDisplayName(client, session.userId);
    const rooms = new Rooms(client, state, session.userId);
    const reactions = new ChoiceReactions(state);
    const senders = new EventSenders();
    const secret = session.accessToken;
    this.ctx = { client, botId: session.userId, secret, rooms, reactions, senders };
    const policy: InvitePolicy = {
      autoJoin: this.options.invites?.autoJoin ?? true,
      users: this.options.invites?.users ?? new Set(),
      rooms: this.options.invites?.rooms ?? new Set(),
      directFromAnyone: this.options.invites?.directFromAnyone ?? false,
    };
    const invites = new Invites({ client, state, rooms, botId: session.userId, policy, log: this.log, secret });
    const events = new RoomEvents({
      client,
      state,
      sink,
      self: { userId: session.userId, displayName },
      rooms,
      invites,
      reactions,
      senders,
      commands: new Set((this.options.commands ?? []).map((c) => c.toLowerCase())),
      log: this.log,
      secret,
    });
    this.intake = { state, events };
    // The /sync loop stops on an abort of `signal` (RunningTransport); nothing else to listen for.
    if (options.intake !== false) await this.startIntake(signal);
    this.log.info({ userId: session.userId, deviceId: session.deviceId, intake: options.intake !== false }, 'matrix: started');
    return { id: session.userId, displayName };
  }

  /** Starts the /sync loop from the stored position (a refused token rejects). */
  async startIntake(signal: AbortSignal): Promise<void> {
    const intake = this.intake;
    const session = this.session;
    if (!intake || !session) throw new Error('matrix adapter: startIntake before start');
    if (this.sync.get()) return;
    const { state, events } = intake;
    const sync = new SyncLoop({ client: session.client, state, log: this.log, secret: session.accessToken, timeoutMs: this.options.syncTimeoutMs, handle: (r, initial) => events.handle(r, initial) });
    await sync.start(signal);
    this.sync.hold(sync, signal);
  }

  /** Ends the long poll and waits for the response in hand to be accepted (its position stored); sending still works. */
  stopIntake(): Promise<void> {
    return this.sync.stop();
  }

  stop(): Promise<void> {
    return this.stopIntake();
  }

  private async ownDisplayName(client: MatrixClient, userId: string): Promise<string | undefined> {
    try {
      const profile = await call('profile', undefined, () => client.getUserProfile(userId));
      return typeof profile?.displayname === 'string' && profile.displayname.trim() ? profile.displayname : undefined;
    } catch {
      return undefined; // no profile yet: mentions by user id and pills still work
    }
  }

  private get context(): SendContext {
    if (!this.ctx) throw new Error('matrix adapter: not started');
    return this.ctx;
  }

  send(conversation: ConversationRef, message: OutboundMessage, signal: AbortSignal): Promise<MessageRef> {
    return sendMessage(this.context, conversation, message, signal);
  }

  edit(ref: MessageRef, message: OutboundMessage, signal: AbortSignal): Promise<void> {
    return editMessage(this.context, ref, message, signal);
  }

  delete(ref: MessageRef, signal: AbortSignal): Promise<void> {
    return deleteMessage(this.context, ref, signal);
  }

  typing(conversation: ConversationRef, signal: AbortSignal): Promise<void> {
    return sendTyping(this.context, conversation, signal);
  }

  /**
   * Reactions get no answer: the choice message itself is edited to show the outcome, and a refused
   * reaction (someone else's, a late one) is just a reaction. Typed answers are answered in the room by the core.
   */
  async answerPress(_press: InboundPress, _notice: string | undefined, _signal: AbortSignal): Promise<void> {}

  fetchFile(ref: string, signal: AbortSignal): Promise<Buffer> {
    const s = this.session;
    if (!s) throw new Error('matrix adapter: not started');
    return downloadMedia({ homeserverUrl: this.options.homeserverUrl, accessToken: s.accessToken }, ref, signal);
  }
}

/** Routes the SDK's own logging (it logs every failed request as an error) to our debug level. */
function quietSdkLogs(log: MatrixLog): void {
  const line = (module: string, ...parts: unknown[]) => log.debug({ module }, parts.map((p) => (typeof p === 'string' ? p : p instanceof Error ? p.message : '')).join(' ').slice(0, 300));
  LogService.setLogger({ trace: () => {}, debug: () => {}, info: line, warn: line, error: line });
}
