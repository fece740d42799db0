// The public seam between the core and every chat adapter. Adapters import this file (and nothing
// else of src/core); the core never imports an adapter.

/** Where a conversation lives on its platform. `key` is stable and unique across platforms. */
export interface ConversationRef {
  platform: string;
  /** Platform chat/channel/room id, as a string. */
  chatId: string;
  /** Forum topic id (Telegram), thread ts (Slack), thread root event (Matrix); absent for the main chat. */
  threadId?: string;
  /** A direct/private conversation with one person (no mention needed). */
  isDirect: boolean;
}

/** `platform:chatId[:threadId]` — the key the store and session manager use. */
export function conversationKey(c: Pick<ConversationRef, 'platform' | 'chatId' | 'threadId'>): string {
  return c.threadId ? `${c.platform}:${c.chatId}:${c.threadId}` : `${c.platform}:${c.chatId}`;
}

export interface Sender {
  /** Platform user id as a string (e.g. Telegram numeric id, Slack U…, Matrix @user:server). */
  id: string;
  displayName?: string;
  isBot: boolean;
}

/** `platform:userId`, the form used in access.users / access.admins. */
export function qualifiedUserId(platform: string, userId: string): string {
  return `${platform}:${userId}`;
}

export interface InboundFile {
  /** Declared MIME type, e.g. image/png. */
  mimeType: string;
  filename?: string;
  /** Size in bytes if the platform said. */
  size?: number;
  /** Serialisable platform handle (e.g. a Telegram file_id); the core stores it and later asks `ChatAdapter.fetchFile`. */
  ref: string;
}

export interface InboundMessage {
  kind: 'message';
  conversation: ConversationRef;
  sender: Sender;
  text: string;
  files: InboundFile[];
  /** The message mentions this bot (an entity/pill, not a substring), or is a command addressed to it. */
  mentionsBot: boolean;
  /** The message replies to one of the bot's messages. */
  replyToBot: boolean;
  /** A command addressed to another bot (`/cmd@otherbot`): never ours. */
  addressedElsewhere?: boolean;
  /** The platform's own id of this message; stable across redelivery. Basis of dedupe and idempotency. */
  messageId: string;
  /**
   * The message's position in its chat, when the platform's positions only grow there: Telegram
   * `message_id`; Slack `ts` as integer microseconds (`"1712345678.123456"` → 1712345678123456, a safe
   * integer; an app_mention and its message share it, as they share the ts). Leave it out for opaque ids
   * (Matrix event ids; `origin_server_ts` is set by the sender's server and can arrive late) and where
   * positions restart (the console's line numbers). With it the store can forget old dedupe marks and
   * still drop every redelivery at or below the highest forgotten position; without it marks are kept for
   * the redelivery window (see `Store.markSeen`). Optional; default: none.
   */
  order?: number;
  /**
   * The bot's message this one replies to, when the person replied to that message on purpose (Telegram
   * reply; Slack thread under the bot's message; Matrix `m.in_reply_to` that is not a thread's fallback).
   * A reply to a running turn's live message steers that turn. Absent otherwise.
   */
  replyToMessageId?: string;
  /** The chat's display name when the event carries it (a Telegram group's title); a binding's `{chat}` title placeholder. Optional. */
  chatTitle?: string;
}

export interface InboundPress {
  kind: 'press';
  conversation: ConversationRef;
  sender: Sender;
  /** Opaque token from the button (core-issued). Untrusted: may be forged or stale. */
  token: string;
  /** Platform id of the press (e.g. Telegram callback_query id) to acknowledge it. */
  pressId: string;
  /** The message the button sat on. */
  messageRef?: MessageRef;
}

export type InboundEvent = InboundMessage | InboundPress;

/**
 * A small durable key/value space of one adapter's own (sync position, login, what its reactions mean),
 * kept in the core's store under the adapter's platform name. Values are plain JSON.
 */
export interface AdapterState {
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** `ttlMs`: forget the value after this many milliseconds (absent = keep). */
  set(key: string, value: unknown, options?: { ttlMs?: number }): Promise<void>;
  /** Sets only if absent (or expired); true if it set it. */
  setIfAbsent(key: string, value: unknown, options?: { ttlMs?: number }): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Resolves once every change made before the call is durable. */
  flush(): Promise<void>;
}

/** The only thing an adapter sees of the core. */
export interface InboundSink {
  /**
   * Hands one event to the core. Resolves once the event is durably accepted (or deliberately
   * ignored); the adapter acknowledges the platform only after that (e.g. confirms the update offset).
   */
  accept(event: InboundEvent): Promise<void>;
  /** The adapter's durable state (the bridge always gives one; adapters that keep nothing ignore it). */
  state?: AdapterState;
}

/** A message the bot posted, as the platform identifies it. */
export interface MessageRef {
  conversation: ConversationRef;
  messageId: string;
}

export interface Button {
  label: string;
  /** Opaque short token the core maps to an action. ≤ 32 ASCII chars. */
  token: string;
  /** The reaction that stands for this button where choices are answered by reacting (capabilities.buttons 'reactions'), e.g. ✅ or 1️⃣; absent = no reaction for it. */
  key?: string;
}

/** What the core asks an adapter to show. `text` is markdown; the adapter formats it. */
export interface OutboundMessage {
  text: string;
  /** Rows of buttons (capabilities.buttons 'native'; with 'reactions', buttons that carry a `key`). */
  buttons?: Button[][];
  /** Send without formatting (the text is shown literally). */
  plain?: boolean;
  /** Post as a reply to this platform message (in groups, to keep context). */
  replyTo?: string;
  /** Part of a live reply that will still change; `finalized` follows once it is final. */
  live?: boolean;
}

/** What a platform call does, for budgets that count one kind of call (see RateBudget.perMinute). */
export type CallKind = 'send' | 'edit' | 'delete' | 'typing' | 'press';

export interface RateBudget {
  /** Requests per second across the whole bot; default per platform. */
  globalPerSecond: number;
  /** Minimum milliseconds between calls in one private chat. */
  privateChatIntervalMs: number;
  /** Minimum milliseconds between calls in one group chat. */
  groupChatIntervalMs: number;
  /** Calls per minute per group chat (0 = no extra cap). */
  groupPerMinute: number;
  /**
   * Calls per sliding minute across the whole bot, by kind of call, for platforms that limit a method per
   * workspace rather than per chat (Slack's chat.update: 50/min). A kind not listed has no such cap.
   * Default: none.
   */
  perMinute?: Partial<Record<CallKind, number>>;
}

export interface AdapterCapabilities {
  /** Messages can be edited after sending (live replies). Fallback: send the final only. */
  edit: boolean;
  /** Maximum message length measured on the formatted text. */
  maxTextLength: number;
  /** Length of markdown once formatted for this platform (what counts against maxTextLength). */
  measure(markdown: string): number;
  /** How choices are shown. 'text' means numbered options answered by typing. */
  buttons: 'native' | 'reactions' | 'text';
  threads: boolean;
  /** Native ephemeral streaming preview (Telegram sendMessageDraft). */
  drafts: boolean;
  /** Pace of intermediate edits of one live message, in ms. */
  editIntervalMs: { direct: number; group: number };
  rate: RateBudget;
  /**
   * How many processes may receive this adapter's events at once when several replicas share a store.
   * `any`: every replica (webhooks behind a load balancer, Slack Socket Mode: dedupe makes redelivery
   * safe). `single`: one at a time (Telegram long polling: a second poller gets 409; Matrix /sync: one
   * position), so the core starts and stops intake with `startIntake`/`stopIntake` as a leader lease
   * moves between replicas; such an adapter must implement both. Default `any`.
   */
  intake?: 'any' | 'single';
}

/** Options of `ChatAdapter.start`. */
export interface AdapterStartOptions {
  /**
   * Start receiving events too. `false`: only the identity and the outbound calls are made ready;
   * intake waits for `startIntake` (adapters with `capabilities.intake` `single`). Default true.
   */
  intake?: boolean;
}

export interface BotIdentity {
  id: string;
  username?: string;
  displayName?: string;
}

export interface ChatAdapter {
  readonly platform: string;
  readonly capabilities: AdapterCapabilities;
  /**
   * Starts the adapter: resolves once the bot identity is known, outbound calls work and (unless
   * `options.intake` is false) intake runs.
   */
  start(sink: InboundSink, signal: AbortSignal, options?: AdapterStartOptions): Promise<BotIdentity>;
  /** Stops intake and releases connections. */
  stop(): Promise<void>;
  /**
   * Starts receiving after `start(…, { intake: false })` or `stopIntake()`; resolves once intake runs
   * (rejects if it cannot start, e.g. Telegram's 409 from another poller). Outbound calls are unaffected.
   * Required when `capabilities.intake` is `single`.
   */
  startIntake?(signal: AbortSignal): Promise<void>;
  /**
   * Stops receiving (confirming to the platform what was accepted) and resolves once no event is being
   * handed over any more; outbound calls keep working. Required when `capabilities.intake` is `single`.
   */
  stopIntake?(): Promise<void>;
  send(conversation: ConversationRef, message: OutboundMessage, signal: AbortSignal): Promise<MessageRef>;
  /** Replaces a message's text and buttons. "Not modified" is success. */
  edit(ref: MessageRef, message: OutboundMessage, signal: AbortSignal): Promise<void>;
  delete(ref: MessageRef, signal: AbortSignal): Promise<void>;
  /** Shows a typing/working indicator (best effort). */
  typing?(conversation: ConversationRef, signal: AbortSignal): Promise<void>;
  /** Acknowledges a button press, optionally with a short notice to the presser. */
  answerPress?(press: InboundPress, notice: string | undefined, signal: AbortSignal): Promise<void>;
  /** Downloads an inbound file by its `ref` (needed to relay images). */
  fetchFile?(ref: string, signal: AbortSignal): Promise<Buffer>;
  /**
   * Called once when a message's content is final (whether or not the last edit changed it). Adapters that
   * need no action omit it; the console prints finished replies here when it cannot redraw.
   */
  finalized?(ref: MessageRef, message: OutboundMessage): Promise<void>;
  /** Draft preview (only if capabilities.drafts). */
  draft?(conversation: ConversationRef, draftId: number, text: string, signal: AbortSignal): Promise<void>;
}

/** Adapters throw this for a platform 429 so the core's scheduler can wait and retry. */
export class PlatformRateLimitError extends Error {
  override readonly name = 'PlatformRateLimitError';
  /** The limit is the bot's as a whole (e.g. Matrix's per-account limit): every chat waits, not just this one. Default false. */
  readonly global: boolean;
  constructor(
    /** How long the platform asked us to wait, in milliseconds. */
    readonly retryAfterMs: number,
    message = `rate limited; retry after ${retryAfterMs} ms`,
    options?: { global?: boolean },
  ) {
    super(message);
    this.global = options?.global ?? false;
  }
}

/** Adapters throw this for any other platform refusal; `permanent` means retrying cannot help. */
export class PlatformError extends Error {
  override readonly name = 'PlatformError';
  constructor(
    message: string,
    readonly platformCode: string | number | undefined,
    /** True when retrying the same call cannot succeed (bad request, forbidden, not found). */
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
