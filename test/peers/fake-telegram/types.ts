// Public shapes of the Telegram Bot API fake. The Telegram adapter's tests code against these.

/** Limits the fake enforces on chat-bound calls (any call carrying a `chat_id`, reads excepted). */
export interface FakeTelegramLimits {
  /** Chat-bound calls per sliding 1 s window across all chats; default 30. */
  globalPerSecond?: number;
  /** Per-chat token-bucket refill, tokens per second; default 1. */
  chatPerSecond?: number;
  /** Per-chat token-bucket capacity (calls); default 3. */
  chatBurst?: number;
  /** Calls per sliding 60 s window for a group (negative chat id); default 20. */
  groupPerMinute?: number;
}

export interface FakeTelegramOptions {
  /** Bot token; default '123456789:AAFakeTokenForTestsOnly_abcdefghijklm'. */
  token?: string;
  /** Bot identity; default { id: 123456789, username: 'loopbridge_bot', first_name: 'Loopbridge' }. */
  bot?: { id: number; username: string; first_name: string };
  /** Enforced limits; false disables. Defaults: { globalPerSecond: 30, chatPerSecond: 1, chatBurst: 3, groupPerMinute: 20 }. */
  limits?: false | FakeTelegramLimits;
  /**
   * Clock in milliseconds used for rate windows, `date` fields and `CallRecord.at`; default `Date.now`.
   * Lets a test advance time for rate limits without sleeping. Long-poll and webhook timers stay real.
   */
  clock?: () => number;
  /**
   * Network jitter before arrival, ms: each request waits a random 0…N ms before it arrives (its
   * `CallRecord.at`, the flood limits and its handling all happen then), so requests sent at an even pace
   * arrive unevenly and maybe out of order, as over a real network. Default 0.
   */
  networkJitterMs?: number;
}

export interface FakeUser {
  id: number;
  first_name: string;
  username?: string;
  is_bot?: boolean;
}

export interface FakeChat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
  is_forum?: boolean;
  username?: string;
  first_name?: string;
}

/**
 * A message as the fake stores it. The wire form (what getUpdates and send* return) drops the bookkeeping
 * fields (`editCount`, `deleted`, `parse_mode`) and sends `entities` as `caption_entities` on captioned media.
 */
export interface StoredMessage {
  message_id: number;
  chat: FakeChat;
  from?: FakeUser;
  /** Visible text (HTML already parsed away). */
  text?: string;
  caption?: string;
  /** Entities of `text`, or of `caption` for media; UTF-16 offsets. */
  entities?: unknown[];
  /** The parse_mode the bot sent with (bookkeeping; not on the wire). */
  parse_mode?: string;
  reply_markup?: unknown;
  message_thread_id?: number;
  reply_to_message?: StoredMessage;
  /** Unix seconds of the last edit. */
  edit_date?: number;
  /** Unix seconds. */
  date: number;
  /** Set once deleteMessage removed it; deleted messages stay listed so tests can see them. */
  deleted?: boolean;
  photo?: unknown[];
  document?: unknown;
  /** edits applied to this message */
  editCount: number;
}

/** One HTTP call to the Bot API surface, in arrival order. */
export interface CallRecord {
  /** Method name as sent in the URL. */
  method: string;
  /** Parsed parameters; uploaded files appear as `{ file: <filename>, size: <bytes> }`. */
  params: Record<string, unknown>;
  /** Arrival time, ms from the fake's clock. */
  at: number;
  /** HTTP status answered; 0 while pending or when the socket was dropped. */
  status: number;
  /** Error description, or 'network' for a dropped socket. */
  error?: string;
}

/**
 * A failure for `failNext`: a Bot API error, a dropped socket with no response at all, or a call that is
 * never answered (the connection stays open: a platform that hangs).
 */
export type FakeFailure = { error_code: number; description: string; retry_after?: number } | { network: true } | { hang: true };

export interface FakeTelegram {
  /** 'http://127.0.0.1:<port>' — pass to grammy as client.apiRoot */
  readonly apiRoot: string;
  readonly token: string;
  readonly bot: FakeUser;
  /** Injects a user message as an update; returns the stored message. `text` entities for @mentions and /commands are computed automatically unless given. */
  userMessage(input: {
    chat: FakeChat;
    from: FakeUser;
    text?: string;
    entities?: unknown[];
    replyToMessageId?: number;
    threadId?: number;
    photo?: { bytes: Buffer; mime?: string };
    document?: { bytes: Buffer; mime: string; fileName: string };
    caption?: string;
  }): StoredMessage;
  /** Injects a callback_query for a button on a bot message; returns the callback query id. */
  pressButton(input: { chat: FakeChat; from: FakeUser; messageId: number; data: string }): string;
  /** Injects any other update (edited_message, message_reaction, stopped_message_generation, …) verbatim; returns its update_id. */
  injectUpdate(update: Record<string, unknown>): number;
  /** Registers a chat without a message (the bot can then send to it). */
  addChat(chat: FakeChat): void;
  /** Re-queues an already delivered update (simulates redelivery after an unconfirmed offset / restart). */
  redeliver(updateId: number): void;
  /** Makes the next call(s) of a method (or of any of several: each failure is used by the first matching call) fail: { error_code, description, retry_after? } (429 gives parameters.retry_after), { network: true } (socket destroyed without a response) or { hang: true } (never answered). `times` default 1. */
  failNext(method: string | string[], failure: FakeFailure, times?: number): void;
  /** Every call in order. */
  readonly calls: CallRecord[];
  /** Messages in a chat (optionally a topic), in order, including the bot's (and deleted ones, flagged). */
  messages(chatId: number, threadId?: number): StoredMessage[];
  /** Bot messages only. */
  botMessages(chatId: number, threadId?: number): StoredMessage[];
  /** Answers given to callback queries: id → { text, show_alert }. */
  readonly callbackAnswers: Map<string, { text?: string; show_alert?: boolean }>;
  /** Drafts seen per chat (sendMessageDraft), visible text after parsing. */
  readonly drafts: Array<{ chat_id: number; draft_id: number; text: string }>;
  /** Number of 429s the fake has answered (limits and injected ones). */
  rateLimited(): number;
  close(): Promise<void>;
}
