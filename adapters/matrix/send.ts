// Outbound calls. No throttling or retrying here: the core's scheduler paces every call and retries what
// classifyMatrixError marks transient. A retried call reuses its transaction id (kept per outbound
// message object), so when a send whose answer was lost is retried, the homeserver returns the event it
// already made instead of posting the message twice.
import { randomBytes } from 'node:crypto';
import type { MatrixClient } from 'matrix-bot-sdk';
import { PlatformError, type ConversationRef, type MessageRef, type OutboundMessage } from '../../src/core/adapter-types.js';
import { call } from './errors.js';
import { editContent, textContent } from './format.js';
import type { ChoiceReactions } from './reactions.js';
import type { Rooms } from './rooms.js';
import type { EventSenders } from './senders.js';

/** How long a typing notice lasts without renewal, ms (the core renews it every ~4 s while a turn runs). */
const TYPING_TIMEOUT_MS = 6_000;

export interface SendContext {
  client: MatrixClient;
  botId: string;
  /** Only to scrub from error messages. */
  secret: string;
  rooms: Rooms;
  reactions: ChoiceReactions;
  /** Senders of recent events: a reply names whom it answers in `m.mentions`; the bot's own are recorded. */
  senders: EventSenders;
}

const txnIds = new WeakMap<object, string>();
function txnFor(key: object, suffix = ''): string {
  let id = txnIds.get(key);
  if (!id) {
    id = `lb${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
    txnIds.set(key, id);
  }
  return id + suffix;
}

const roomPath = (roomId: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;

/** Sends one event with a transaction id; returns its event id. */
async function put(ctx: SendContext, roomId: string, type: string, content: object, txn: string, signal: AbortSignal | undefined): Promise<string> {
  const r = await call(`send ${type}`, signal, () => ctx.client.doRequest('PUT', `${roomPath(roomId)}/send/${encodeURIComponent(type)}/${encodeURIComponent(txn)}`, null, content), ctx.secret);
  const eventId = (r as { event_id: string }).event_id;
  ctx.senders.remember(eventId, ctx.botId);
  return eventId;
}

async function refuseEncrypted(ctx: SendContext, conversation: ConversationRef): Promise<void> {
  // Never plaintext into an encrypted room: the people there chose encryption.
  if (await ctx.rooms.isEncrypted(conversation.chatId)) {
    throw new PlatformError('matrix: the room is end-to-end encrypted; loopbridge does not send into encrypted rooms', 'room_encrypted', true);
  }
}

/** Thread and reply relations of a new message. In a DM a reply quote is only noise, so none is made there. */
function relation(ctx: SendContext, conversation: ConversationRef, replyTo: string | undefined): Record<string, unknown> {
  if (conversation.threadId) {
    // is_falling_back: clients without threads show it as a reply to the latest message it answers.
    return { 'm.relates_to': { rel_type: 'm.thread', event_id: conversation.threadId, is_falling_back: true, 'm.in_reply_to': { event_id: replyTo ?? conversation.threadId } } };
  }
  if (replyTo && !conversation.isDirect) return { 'm.relates_to': { 'm.in_reply_to': { event_id: replyTo } } };
  return {};
}

/** Posts a message (markdown → body + HTML) in the conversation's room or thread; seeds the choice reactions it carries. */
export async function sendMessage(ctx: SendContext, conversation: ConversationRef, message: OutboundMessage, signal: AbortSignal): Promise<MessageRef> {
  await refuseEncrypted(ctx, conversation);
  const replySender = message.replyTo ? ctx.senders.get(message.replyTo) : undefined;
  const content = {
    ...textContent(message.text, message.plain === true),
    ...relation(ctx, conversation, message.replyTo),
    'm.mentions': replySender && !conversation.isDirect ? { user_ids: [replySender] } : {},
  };
  const eventId = await put(ctx, conversation.chatId, 'm.room.message', content, txnFor(message), signal);
  const ref = { conversation, messageId: eventId };
  await seedReactions(ctx, ref, message, signal);
  return ref;
}

/** Replaces a message's content (`m.replace`); keeps its choice reactions in step with its buttons. */
export async function editMessage(ctx: SendContext, ref: MessageRef, message: OutboundMessage, signal: AbortSignal): Promise<void> {
  await refuseEncrypted(ctx, ref.conversation);
  await put(ctx, ref.conversation.chatId, 'm.room.message', editContent(ref.messageId, message.text, message.plain === true), txnFor(message, `.e.${ref.messageId}`), signal);
  await seedReactions(ctx, ref, message, signal);
}

async function seedReactions(ctx: SendContext, ref: MessageRef, message: OutboundMessage, signal: AbortSignal): Promise<void> {
  const missing = await ctx.reactions.update(ref.conversation, ref.messageId, message.buttons);
  for (const key of missing) {
    const content = { 'm.relates_to': { rel_type: 'm.annotation', event_id: ref.messageId, key } };
    try {
      await put(ctx, ref.conversation.chatId, 'm.reaction', content, txnFor(message, `.r.${ref.messageId}.${key}`), signal);
    } catch (err) {
      // Synapse refuses a second identical annotation: it is there, which is what we wanted.
      if (!(err instanceof PlatformError && err.platformCode === 'M_DUPLICATE_ANNOTATION')) throw err;
    }
    await ctx.reactions.seeded(ref.messageId, key);
  }
}

/** Redacts a message; one already gone counts as deleted. */
export async function deleteMessage(ctx: SendContext, ref: MessageRef, signal: AbortSignal): Promise<void> {
  try {
    await call('redact', signal, () => ctx.client.redactEvent(ref.conversation.chatId, ref.messageId), ctx.secret);
  } catch (err) {
    if (err instanceof PlatformError && err.platformCode === 'M_NOT_FOUND') return;
    throw err;
  }
}

/** A typing notice that lapses on its own shortly after the core stops renewing it. */
export async function sendTyping(ctx: SendContext, conversation: ConversationRef, signal: AbortSignal): Promise<void> {
  if (await ctx.rooms.isEncrypted(conversation.chatId)) return;
  await call('typing', signal, () => ctx.client.setTyping(conversation.chatId, true, TYPING_TIMEOUT_MS), ctx.secret);
}

