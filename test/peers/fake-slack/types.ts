// Public shapes of the Slack fake (Web API + Socket Mode + signed HTTP delivery). The Slack adapter's tests
// code against these.

/**
 * One enforced limit, counted per workspace or per channel: at most `limit` calls per sliding `windowMs`
 * (Slack's per-minute tiers), or a token bucket refilled at `perSecond` holding up to `burst` calls
 * (chat.postMessage's one per second per channel with short bursts).
 */
export type LimitRule =
  | { scope: 'workspace' | 'channel'; limit: number; windowMs: number }
  | { scope: 'workspace' | 'channel'; perSecond: number; burst: number };

export interface FakeSlackOptions {
  /** Bot token the Web API accepts; default 'xoxb-1-fake-bot-token-for-tests'. */
  botToken?: string;
  /** App-level token for apps.connections.open; default 'xapp-1-A0FAKE-1-fake-app-token'. */
  appToken?: string;
  /** Signs HTTP-mode deliveries; default 'fake-signing-secret'. */
  signingSecret?: string;
  /** The bot user; default { userId: 'UBOT', botId: 'BBOT', name: 'loopbridge' }. */
  bot?: { userId: string; botId: string; name: string };
  /** Workspace id; default 'T0FAKE'. */
  teamId?: string;
  /**
   * Per-method limits merged over Slack's published tiers (see DEFAULT_LIMITS in limits.ts); `false`
   * disables all of them.
   */
  limits?: false | Record<string, LimitRule | null>;
  /** How long an envelope or HTTP delivery may go unacknowledged before Slack retries it, ms; default 3000. */
  ackTimeoutMs?: number;
  /**
   * Pauses before each retry of an unacknowledged event, ms. Slack retries three times: at once, after about
   * 1 min and after about 5 min. Default [0, 60000, 300000].
   */
  retryDelaysMs?: number[];
  /** Server ping interval on Socket Mode connections, ms; default 10000. */
  pingIntervalMs?: number;
  /** A stream not stopped this long after chat.startStream expires, ms; default 300000 (~5 min). */
  streamExpiryMs?: number;
  /** After a `disconnect` message, the socket is closed by the server this much later, ms; default 2000. */
  disconnectGraceMs?: number;
  /** Clock, ms; default Date.now. Used for `ts`, rate windows and stream expiry. */
  clock?: () => number;
}

export type ChannelKind = 'channel' | 'group' | 'im' | 'mpim';

export interface FakeChannel {
  id: string;
  kind: ChannelKind;
  name?: string;
  /** Members (user ids). The bot must be a member to post in a channel or group. */
  members: Set<string>;
}

export interface FakeFile {
  id: string;
  name: string;
  mimetype: string;
  size: number;
  url_private: string;
  url_private_download: string;
  bytes: Buffer;
}

/** A message as the fake stores it. `blocks` as posted; `visible` via `FakeSlack.visible`. */
export interface StoredMessage {
  ts: string;
  channel: string;
  user?: string;
  bot_id?: string;
  text: string;
  blocks?: Array<Record<string, unknown>>;
  thread_ts?: string;
  subtype?: string;
  files?: FakeFile[];
  edited?: { user: string; ts: string };
  editCount: number;
  deleted?: boolean;
  /** Streamed message state (chat.startStream). */
  stream?: 'streaming' | 'completed' | 'expired';
  reactions: Map<string, Set<string>>;
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  text: string;
  blocks?: Array<Record<string, unknown>>;
  thread_ts?: string;
  at: number;
}

/** One Web API call as received. */
export interface CallRecord {
  method: string;
  args: Record<string, unknown>;
  at: number;
  /** HTTP status answered (200 also for ok:false). */
  status: number;
  /** `error` of an ok:false answer, or 'ratelimited' / 'network'. */
  error?: string;
}

/** A one-shot fault for the next call of a method. */
export type FakeFailure =
  | { status: 429; retryAfterSec: number }
  /** An HTTP error status (e.g. 500, 503) with Slack's ok:false body. */
  | { status: number; error: string }
  /** ok:false with HTTP 200 (e.g. 'internal_error', 'fatal_error', 'channel_not_found'). */
  | { error: string }
  /** The connection is dropped without an answer. */
  | { network: true };

/** One delivery attempt of an event (Socket Mode envelope or HTTP POST). */
export interface DeliveryRecord {
  eventId?: string;
  type: 'events_api' | 'interactive';
  via: 'socket' | 'http';
  attempt: number;
  reason?: string;
  sentAt: number;
  /** When the app acknowledged it (socket ack or 2xx answer); undefined while pending or failed. */
  ackedAt?: number;
  /** HTTP status (HTTP mode). */
  status?: number;
}

export interface UserMessageInput {
  channel: string;
  user: string;
  text: string;
  /** Reply in this thread (root ts). */
  threadTs?: string;
  files?: FakeFile[];
  subtype?: string;
  /** Also deliver `app_mention` when the text mentions the bot (Slack does); default true. */
  appMention?: boolean;
  /** Deliver no event at all (the message only exists, as for a bot that is not subscribed). */
  silent?: boolean;
}

export interface PressInput {
  channel: string;
  user: string;
  messageTs: string;
  /** Button text (exact) or, for a select, the option text. */
  label: string;
}
