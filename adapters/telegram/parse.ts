// Telegram Update → the core's InboundEvent. Pure: no I/O, no clock. Gating facts (mention, reply to the
// bot, command target) are computed from entities, never from substrings, so "@loopbridge_bot" typed
// inside a code span or a URL does not count, and the core decides what to do with them.
import type { CallbackQuery, Chat, Message, MessageEntity, Update, User } from 'grammy/types';
import type {
  ConversationRef,
  InboundEvent,
  InboundFile,
  InboundMessage,
  InboundPress,
  Sender,
} from '../../src/core/adapter-types.js';

/** Platform name in conversation keys and qualified user ids. */
export const TELEGRAM_PLATFORM = 'telegram';

/** What parsing needs to know about the bot itself. */
export interface BotSelf {
  id: number;
  /** Without the leading @. */
  username?: string;
}

/**
 * One update → one event, or undefined for updates the core does not act on: edited messages (a turn
 * belongs to the message as first sent; re-running it on every edit would answer twice), channel posts
 * and their automatic forwards into a discussion group, service messages without text or files, and every
 * other update type.
 */
export function parseUpdate(update: Update, bot: BotSelf): InboundEvent | undefined {
  if (update.message) return parseMessage(update.message, bot);
  if (update.callback_query) return parsePress(update.callback_query);
  return undefined;
}

/** The conversation a message lives in; undefined for channels. */
export function conversationOf(chat: Chat, message?: Pick<Message, 'message_thread_id' | 'is_topic_message'>): ConversationRef | undefined {
  if (chat.type !== 'private' && chat.type !== 'group' && chat.type !== 'supergroup') return undefined;
  const conversation: ConversationRef = { platform: TELEGRAM_PLATFORM, chatId: String(chat.id), isDirect: chat.type === 'private' };
  // Only forum topics get their own conversation: in a plain group message_thread_id marks a reply
  // thread, and the General topic carries no thread id at all.
  const isForum = chat.type === 'supergroup' && chat.is_forum === true;
  if (isForum && message?.is_topic_message && message.message_thread_id !== undefined) {
    conversation.threadId = String(message.message_thread_id);
  }
  return conversation;
}

function senderOf(user: User): Sender {
  const name = [user.first_name, user.last_name].filter(Boolean).join(' ') || user.username;
  return { id: String(user.id), ...(name ? { displayName: name } : {}), isBot: user.is_bot };
}

/**
 * The user id Telegram uses for automatic forwards of a linked channel's posts into its discussion group
 * (and for its own service notices). It is not flagged as a bot.
 */
export const TELEGRAM_SERVICE_USER_ID = 777000;

function parseMessage(m: Message, bot: BotSelf): InboundMessage | undefined {
  const conversation = conversationOf(m.chat, m);
  if (!conversation || !m.from) return undefined;
  // A channel post copied into the discussion group is nobody talking to the bot, even when it mentions
  // it (or the group has /activation always): never a turn.
  if (m.is_automatic_forward || m.from.id === TELEGRAM_SERVICE_USER_ID) return undefined;
  const text = m.text ?? m.caption ?? '';
  const entities = m.entities ?? m.caption_entities ?? [];
  const files = filesOf(m);
  if (!text && files.length === 0) return undefined; // service messages (joins, topic created, pins…)

  const gate = gating(text, entities, bot);
  const reply = m.reply_to_message;
  // In a forum topic every message "replies" to the topic's creation service message; that is not a
  // reply to the bot even when the bot created the topic.
  const replyToBot = !!reply && reply.from?.id === bot.id && !reply.forum_topic_created;
  return {
    kind: 'message',
    conversation,
    sender: senderOf(m.from),
    text,
    files,
    mentionsBot: gate.mentionsBot,
    replyToBot,
    ...(gate.addressedElsewhere ? { addressedElsewhere: true } : {}),
    messageId: String(m.message_id),
    order: m.message_id, // grows within a chat: lets the store forget old dedupe marks safely
    ...(replyToBot && reply ? { replyToMessageId: String(reply.message_id) } : {}),
    ...('title' in m.chat && m.chat.title ? { chatTitle: m.chat.title } : {}),
  };
}

/** Mention and command-target facts from entities (offsets are UTF-16 units, as JS strings index). */
export function gating(text: string, entities: readonly MessageEntity[], bot: BotSelf): { mentionsBot: boolean; addressedElsewhere: boolean } {
  const me = bot.username?.toLowerCase();
  let mentionsBot = false;
  let addressedElsewhere = false;
  for (const e of entities) {
    const slice = text.slice(e.offset, e.offset + e.length);
    if (e.type === 'mention' && me && slice.toLowerCase() === `@${me}`) mentionsBot = true;
    else if (e.type === 'text_mention' && e.user.id === bot.id) mentionsBot = true;
    else if (e.type === 'bot_command') {
      const at = slice.indexOf('@');
      if (at < 0) continue; // plain /cmd: the core decides (known commands in groups)
      const target = slice.slice(at + 1).toLowerCase();
      if (me && target === me) mentionsBot = true;
      else if (e.offset === 0) addressedElsewhere = true;
    }
  }
  // A message that also names this bot explicitly is ours, whatever other command it starts with.
  return { mentionsBot, addressedElsewhere: addressedElsewhere && !mentionsBot };
}

/** Attachments as InboundFiles; media the loop cannot take still appear (with their type) so the core can say so. */
export function filesOf(m: Message): InboundFile[] {
  const files: InboundFile[] = [];
  const add = (mimeType: string, ref: string, size?: number, filename?: string) =>
    files.push({ mimeType, ref, ...(size !== undefined ? { size } : {}), ...(filename !== undefined ? { filename } : {}) });
  if (m.photo?.length) {
    // Telegram lists the sizes smallest first; take the largest by pixels.
    const best = m.photo.reduce((a, b) => (b.width * b.height >= a.width * a.height ? b : a));
    add('image/jpeg', best.file_id, best.file_size);
  }
  if (m.document) add(m.document.mime_type ?? 'application/octet-stream', m.document.file_id, m.document.file_size, m.document.file_name);
  if (m.sticker) {
    // A sticker is not a picture the person meant to show the agent: give it a type the core refuses
    // ("not supported yet"), even for static (webp) stickers.
    const mime = m.sticker.is_animated ? 'application/x-tgsticker' : m.sticker.is_video ? 'video/webm' : 'application/x-telegram-sticker';
    add(mime, m.sticker.file_id, m.sticker.file_size);
  }
  if (m.voice) add(m.voice.mime_type ?? 'audio/ogg', m.voice.file_id, m.voice.file_size);
  if (m.audio) add(m.audio.mime_type ?? 'audio/mpeg', m.audio.file_id, m.audio.file_size, m.audio.file_name);
  if (m.video) add(m.video.mime_type ?? 'video/mp4', m.video.file_id, m.video.file_size, m.video.file_name);
  if (m.video_note) add('video/mp4', m.video_note.file_id, m.video_note.file_size);
  if (m.animation && !m.document) add(m.animation.mime_type ?? 'video/mp4', m.animation.file_id, m.animation.file_size, m.animation.file_name);
  return files;
}

function parsePress(q: CallbackQuery): InboundPress | undefined {
  // Inline-mode messages and game buttons carry no chat or no data: nothing the core issued.
  if (!q.message || q.data === undefined) return undefined;
  const msg = q.message;
  const conversation = conversationOf(msg.chat, 'message_thread_id' in msg ? (msg as Message) : undefined);
  if (!conversation) return undefined;
  return {
    kind: 'press',
    conversation,
    sender: senderOf(q.from),
    token: q.data,
    pressId: q.id,
    messageRef: { conversation, messageId: String(msg.message_id) },
  };
}
