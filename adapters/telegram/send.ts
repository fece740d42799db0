// Outbound Bot API calls. No throttling or retrying here: the core's scheduler owns the rate budget and
// retries what classifyTelegramError marks retryable. The only repeat made here is the one plain-text
// resend after "can't parse entities", which is a different request, not a retry.
import type { Api } from 'grammy';
import type { LinkPreviewOptions } from 'grammy/types';
import {
  PlatformError,
  type ConversationRef,
  type InboundPress,
  type MessageRef,
  type OutboundMessage,
} from '../../src/core/adapter-types.js';
import { toInlineKeyboard } from './buttons.js';
import { classifyTelegramError, forGrammy, toThrowable, type TelegramFailure } from './errors.js';
import { markdownToTelegramHtml } from './format.js';

/** What every outbound call needs: the API client and the token to scrub from errors. */
export interface SendContext {
  api: Api;
  token: string;
}

const NO_PREVIEW: LinkPreviewOptions = { is_disabled: true };

/** Runs one call; failures come back classified (and token-free). An aborted signal rethrows its reason. */
async function attempt<T>(ctx: SendContext, method: string, signal: AbortSignal, call: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; failure: TelegramFailure }> {
  signal.throwIfAborted();
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    signal.throwIfAborted();
    return { ok: false, failure: classifyTelegramError(err, method, ctx.token) };
  }
}

/** Runs a formatted call; on "can't parse entities" runs the plain variant once. "Not modified" is success when `notModifiedOk`. */
async function formattedCall<T>(
  ctx: SendContext,
  method: string,
  signal: AbortSignal,
  plain: boolean,
  call: (text: string, parseMode: 'HTML' | undefined) => Promise<T>,
  markdown: string,
  notModifiedOk: boolean,
): Promise<T | undefined> {
  const first = plain
    ? await attempt(ctx, method, signal, () => call(markdown, undefined))
    : await attempt(ctx, method, signal, () => call(markdownToTelegramHtml(markdown), 'HTML'));
  if (first.ok) return first.value;
  let failure = first.failure;
  if (failure.kind === 'parse-entities' && !plain) {
    // Our HTML should always parse; if Telegram disagrees, the reader still gets the words.
    const second = await attempt(ctx, method, signal, () => call(markdown, undefined));
    if (second.ok) return second.value;
    failure = second.failure;
  }
  if (failure.kind === 'not-modified' && notModifiedOk) return undefined;
  throw toThrowable(failure, method);
}

function chatIdOf(conversation: ConversationRef): number {
  const id = Number(conversation.chatId);
  if (!Number.isSafeInteger(id)) throw new PlatformError(`telegram: chat id ${JSON.stringify(conversation.chatId)} is not numeric`, 'bad_chat_id', true);
  return id;
}

function threadOf(conversation: ConversationRef): number | undefined {
  return conversation.threadId !== undefined ? Number(conversation.threadId) : undefined;
}

/** sendMessage: markdown → Telegram HTML (or plain), in the conversation's topic, optionally as a reply, with buttons. */
export async function sendMessage(ctx: SendContext, conversation: ConversationRef, message: OutboundMessage, signal: AbortSignal): Promise<MessageRef> {
  const chatId = chatIdOf(conversation);
  const thread = threadOf(conversation);
  const keyboard = message.buttons?.some((r) => r.length > 0) ? toInlineKeyboard(message.buttons) : undefined;
  const replyTo = message.replyTo !== undefined ? Number(message.replyTo) : undefined;
  const sent = await formattedCall(
    ctx,
    'sendMessage',
    signal,
    message.plain === true,
    (text, parseMode) =>
      ctx.api.sendMessage(
        chatId,
        text,
        {
          ...(parseMode ? { parse_mode: parseMode } : {}),
          ...(thread !== undefined ? { message_thread_id: thread } : {}),
          ...(keyboard ? { reply_markup: keyboard } : {}),
          link_preview_options: NO_PREVIEW,
          // The message replied to may be gone by now; the answer still matters more than the quote.
          ...(replyTo !== undefined && Number.isSafeInteger(replyTo) ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } } : {}),
        },
        forGrammy(signal),
      ),
    message.text,
    false,
  );
  return { conversation, messageId: String(sent!.message_id) };
}

/**
 * editMessageText. The keyboard is always passed again: an edit without reply_markup removes the
 * keyboard, and an empty inline_keyboard is how the buttons are taken away once a choice is answered.
 */
export async function editMessage(ctx: SendContext, ref: MessageRef, message: OutboundMessage, signal: AbortSignal): Promise<void> {
  const chatId = chatIdOf(ref.conversation);
  const keyboard = toInlineKeyboard(message.buttons);
  await formattedCall(
    ctx,
    'editMessageText',
    signal,
    message.plain === true,
    (text, parseMode) =>
      ctx.api.editMessageText(
        chatId,
        Number(ref.messageId),
        text,
        { ...(parseMode ? { parse_mode: parseMode } : {}), reply_markup: keyboard, link_preview_options: NO_PREVIEW },
        forGrammy(signal),
      ),
    message.text,
    true,
  );
}

/** deleteMessage; a message already gone counts as deleted. */
export async function deleteMessage(ctx: SendContext, ref: MessageRef, signal: AbortSignal): Promise<void> {
  const chatId = chatIdOf(ref.conversation);
  const r = await attempt(ctx, 'deleteMessage', signal, () => ctx.api.deleteMessage(chatId, Number(ref.messageId), forGrammy(signal)));
  if (r.ok) return;
  const f = r.failure;
  if (f.kind === 'throw' && f.error instanceof PlatformError && /message to delete not found/i.test(f.error.message)) return;
  throw toThrowable(f, 'deleteMessage');
}

/** sendChatAction 'typing' in the conversation's topic (lasts ~5 s on the client). */
export async function sendTyping(ctx: SendContext, conversation: ConversationRef, signal: AbortSignal): Promise<void> {
  const chatId = chatIdOf(conversation);
  const thread = threadOf(conversation);
  const r = await attempt(ctx, 'sendChatAction', signal, () =>
    ctx.api.sendChatAction(chatId, 'typing', thread !== undefined ? { message_thread_id: thread } : {}, forGrammy(signal)),
  );
  if (!r.ok) throw toThrowable(r.failure, 'sendChatAction');
}

/** answerCallbackQuery with an optional toast. A query already answered or too old is not worth an error. */
export async function answerPress(ctx: SendContext, press: InboundPress, notice: string | undefined, signal: AbortSignal): Promise<void> {
  const r = await attempt(ctx, 'answerCallbackQuery', signal, () =>
    ctx.api.answerCallbackQuery(press.pressId, notice !== undefined ? { text: notice } : {}, forGrammy(signal)),
  );
  if (r.ok || r.failure.kind === 'query-expired') return;
  throw toThrowable(r.failure, 'answerCallbackQuery');
}

/** sendMessageDraft (private chats only): an ephemeral preview; the final text is still sent as a message. */
export async function sendDraft(ctx: SendContext, conversation: ConversationRef, draftId: number, text: string, signal: AbortSignal): Promise<void> {
  if (!conversation.isDirect) throw new PlatformError('telegram sendMessageDraft: drafts exist only in private chats', 'drafts_private_only', true);
  const chatId = chatIdOf(conversation);
  const thread = threadOf(conversation);
  await formattedCall(
    ctx,
    'sendMessageDraft',
    signal,
    false,
    (body, parseMode) =>
      ctx.api.sendMessageDraft(chatId, draftId, body, { ...(parseMode ? { parse_mode: parseMode } : {}), ...(thread !== undefined ? { message_thread_id: thread } : {}) }, forGrammy(signal)),
    text,
    false,
  );
}
