// Slack events → the core's InboundEvents. Pure but for one question the caller answers (is the bot part of
// this thread?). Conversations: a DM (`im`) is one conversation, replies go top-level; in a channel each
// thread is one conversation, keyed by its root ts (a top-level mention starts one keyed by its own ts), and
// replies go into that thread. Gating facts come from Slack's markup: a mention is `<@BOTID>`, not a name.
import type { ConversationRef, InboundFile, InboundMessage, InboundPress, Sender } from '../../src/core/adapter-types.js';

/** Platform name in conversation keys and qualified user ids. */
export const SLACK_PLATFORM = 'slack';

export interface SlackSelf {
  userId: string;
  botId?: string;
}

/** The fields of a `message` / `app_mention` event this adapter reads. */
export interface MessageEvent {
  type: string;
  subtype?: string;
  channel?: string;
  channel_type?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts?: string;
  thread_ts?: string;
  parent_user_id?: string;
  files?: Array<{ id?: string; name?: string; mimetype?: string; size?: number; url_private?: string; url_private_download?: string; mode?: string }>;
  user_profile?: { display_name?: string; real_name?: string; name?: string };
}

/**
 * Subtypes that are new words from a person: a plain message has none; `file_share` carries files;
 * `thread_broadcast` is a thread reply also shown in the channel. Everything else (edits, deletions,
 * joins, topics, bot messages, /me …) is not a new message to act on.
 */
export const TAKEN_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);

export interface ParseOptions {
  /** `slack.threadFollow`: later messages in a thread the bot is part of need no mention. */
  threadFollow: boolean;
  /** Whether the bot has posted in this channel thread. */
  botInThread(channel: string, threadTs: string): boolean | Promise<boolean>;
}

const isDm = (channelType: string | undefined, channel: string) => channelType === 'im' || (channelType === undefined && channel.startsWith('D'));

/** `<@U…>` `<#C…|name>` `<!here>` `<url|label>` and entities → plain text a loop can read. */
export function slackToPlain(text: string): string {
  return text
    .replace(/<@([A-Z0-9]+)(?:\|([^>]*))?>/g, (_, id: string, name?: string) => `@${name || id}`)
    .replace(/<#([A-Z0-9]+)(?:\|([^>]*))?>/g, (_, id: string, name?: string) => `#${name || id}`)
    .replace(/<!([a-z]+)(?:\^[^|>]*)?(?:\|([^>]*))?>/g, (_, what: string, label?: string) => label || `@${what}`)
    .replace(/<((?:https?:\/\/|mailto:)[^|>]*)\|([^>]*)>/g, (_, url: string, label: string) => `[${label}](${url})`)
    .replace(/<((?:https?:\/\/|mailto:)[^>]*)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function filesOf(ev: MessageEvent): InboundFile[] {
  return (ev.files ?? []).map((f) => ({
    // A file shared from elsewhere may have no content here ("tombstone", external): the core then says it is not supported.
    mimeType: f.mode === 'tombstone' || f.mode === 'external' ? 'application/x-slack-unavailable' : (f.mimetype ?? 'application/octet-stream'),
    ...(f.name ? { filename: f.name } : {}),
    ...(f.size !== undefined ? { size: f.size } : {}),
    ref: f.url_private_download ?? f.url_private ?? '',
  }));
}

function senderOf(ev: MessageEvent): Sender {
  const name = ev.user_profile?.display_name || ev.user_profile?.real_name || ev.user_profile?.name;
  return { id: ev.user!, ...(name ? { displayName: name } : {}), isBot: false };
}

/** Largest fraction a ts carries: Slack's ts is seconds with exactly six decimals (microseconds). */
const TS = /^(\d{1,10})\.(\d{1,6})$/;

/**
 * A message ts as its position in the channel, in integer microseconds ("1712345678.123456" →
 * 1712345678123456): both parts are read as integers, never through a float, so no two ts collide.
 * Undefined for anything not shaped like a ts (the store then keeps the mark for the window only).
 */
export function slackTsOrder(ts: string): number | undefined {
  const m = TS.exec(ts);
  if (!m) return undefined;
  const order = Number(m[1]) * 1_000_000 + Number(m[2]!.padEnd(6, '0'));
  return Number.isSafeInteger(order) ? order : undefined;
}

/**
 * One `message` or `app_mention` event → an InboundMessage, or undefined for what the core never acts on:
 * the bot's own and other bots' messages, subtypes that are not new words (see TAKEN_SUBTYPES), and events
 * without a channel, a person or a ts.
 */
export async function parseMessageEvent(ev: MessageEvent, self: SlackSelf, options: ParseOptions): Promise<InboundMessage | undefined> {
  if (ev.type !== 'message' && ev.type !== 'app_mention') return undefined;
  if (!TAKEN_SUBTYPES.has(ev.subtype)) return undefined;
  if (ev.bot_id || !ev.user || ev.user === self.userId) return undefined;
  if (!ev.channel || !ev.ts) return undefined;
  const raw = ev.text ?? '';
  const mention = new RegExp(`<@${self.userId}(?:\\|[^>]*)?>`, 'g');
  const mentionsBot = mention.test(raw);
  const text = slackToPlain(raw.replace(mention, ' ')).replace(/[ \t]{2,}/g, ' ').trim();
  const inThread = ev.thread_ts !== undefined && ev.thread_ts !== ev.ts;
  const direct = isDm(ev.channel_type, ev.channel);

  let conversation: ConversationRef;
  let replyToBot = false;
  if (direct) {
    // One DM, one conversation: a reply in a thread of the DM still talks to the same loop.
    conversation = { platform: SLACK_PLATFORM, chatId: ev.channel, isDirect: true };
    replyToBot = inThread && ev.parent_user_id === self.userId;
  } else {
    const root = inThread ? ev.thread_ts! : ev.ts;
    conversation = { platform: SLACK_PLATFORM, chatId: ev.channel, threadId: root, isDirect: false };
    replyToBot = inThread && (ev.parent_user_id === self.userId || (options.threadFollow && (await options.botInThread(ev.channel, root))));
  }
  return {
    kind: 'message',
    conversation,
    sender: senderOf(ev),
    text,
    files: filesOf(ev),
    mentionsBot,
    replyToBot,
    // The ts is the message's identity: an app_mention and its message twin share it, and so do retries.
    messageId: ev.ts,
    // ts only grow within a channel (the dedupe scope: threads share their channel's ts sequence), so
    // the store may forget old marks and keep a floor; Slack's retries stop after ~5 min, far inside it.
    ...orderOf(ev.ts),
    // Only where Slack says the thread hangs under the bot's message is the thread root the message replied to.
    ...(inThread && ev.parent_user_id === self.userId ? { replyToMessageId: ev.thread_ts } : {}),
  };
}

function orderOf(ts: string): { order?: number } {
  const order = slackTsOrder(ts);
  return order === undefined ? {} : { order };
}

/** The fields of a `block_actions` payload this adapter reads. */
export interface BlockActionsPayload {
  type: string;
  user?: { id?: string; username?: string; name?: string };
  channel?: { id?: string };
  container?: { message_ts?: string; channel_id?: string; thread_ts?: string };
  message?: { ts?: string; thread_ts?: string };
  actions?: Array<{ action_id?: string; value?: string; selected_option?: { value?: string }; action_ts?: string }>;
  trigger_id?: string;
}

/** A button press or select pick → an InboundPress carrying the element's value (the core's token). */
export function parseBlockActions(p: BlockActionsPayload): InboundPress | undefined {
  if (p.type !== 'block_actions') return undefined;
  const action = p.actions?.[0];
  const token = action?.value ?? action?.selected_option?.value;
  const channel = p.channel?.id ?? p.container?.channel_id;
  const messageTs = p.container?.message_ts ?? p.message?.ts;
  if (!action || !token || !channel || !messageTs || !p.user?.id) return undefined;
  const direct = channel.startsWith('D');
  const threadTs = p.container?.thread_ts ?? p.message?.thread_ts;
  const conversation: ConversationRef = direct || !threadTs ? { platform: SLACK_PLATFORM, chatId: channel, isDirect: direct } : { platform: SLACK_PLATFORM, chatId: channel, threadId: threadTs, isDirect: false };
  const name = p.user.name || p.user.username;
  return {
    kind: 'press',
    conversation,
    sender: { id: p.user.id, ...(name ? { displayName: name } : {}), isBot: false },
    token,
    pressId: action.action_ts ?? p.trigger_id ?? messageTs,
    messageRef: { conversation, messageId: messageTs },
  };
}
