// Outbound Web API calls. No throttling or retrying here: the core's scheduler owns the rate budget (the
// WebClient is built with retries off and 429s rejected at once) and retries what classifySlackError marks
// retryable.
import type { webApi } from '@slack/bolt';
import { PlatformError, type ConversationRef, type InboundPress, type MessageRef, type OutboundMessage } from '../../src/core/adapter-types.js';
import { toSlackPayload } from './blocks.js';
import { classifySlackError } from './errors.js';
import { escapeMrkdwn } from './format.js';

/** Remembers the channel threads the bot has posted in (for slack.threadFollow). */
export interface ThreadMemory {
  has(channel: string, threadTs: string): boolean | Promise<boolean>;
  remember(channel: string, threadTs: string): void | Promise<void>;
}

/** What every outbound call needs. */
export interface SendContext {
  client: webApi.WebClient;
  /** Scrubbed from every error. */
  secrets: readonly string[];
  threads: ThreadMemory;
}

/** Runs one Web API call; a failure comes back as the core's PlatformError / PlatformRateLimitError. */
export async function call<T>(ctx: SendContext, method: string, signal: AbortSignal, run: () => Promise<T>): Promise<T> {
  signal.throwIfAborted();
  try {
    return await run();
  } catch (err) {
    signal.throwIfAborted();
    throw classifySlackError(err, method, ctx.secrets);
  }
}

/** chat.postMessage, in the conversation's thread. */
export async function postMessage(ctx: SendContext, conversation: ConversationRef, message: OutboundMessage, signal: AbortSignal): Promise<MessageRef> {
  const { text, blocks } = toSlackPayload(message);
  const res = await call(ctx, 'chat.postMessage', signal, () =>
    ctx.client.chat.postMessage({
      channel: conversation.chatId,
      text,
      blocks,
      ...(conversation.threadId ? { thread_ts: conversation.threadId } : {}),
      unfurl_links: false,
      unfurl_media: false,
    }),
  );
  if (conversation.threadId) await ctx.threads.remember(conversation.chatId, conversation.threadId);
  return { conversation, messageId: String(res.ts) };
}

/** chat.update with text and blocks both given, so buttons that are gone are taken away. */
export async function updateMessage(ctx: SendContext, ref: MessageRef, message: OutboundMessage, signal: AbortSignal): Promise<void> {
  const { text, blocks } = toSlackPayload(message);
  await call(ctx, 'chat.update', signal, () => ctx.client.chat.update({ channel: ref.conversation.chatId, ts: ref.messageId, text, blocks }));
}

/** chat.delete; a message already gone counts as deleted. */
export async function deleteMessage(ctx: SendContext, ref: MessageRef, signal: AbortSignal): Promise<void> {
  try {
    await call(ctx, 'chat.delete', signal, () => ctx.client.chat.delete({ channel: ref.conversation.chatId, ts: ref.messageId }));
  } catch (err) {
    if (err instanceof PlatformError && err.platformCode === 'message_not_found') return;
    throw err;
  }
}

/**
 * The answer to a press: Slack has no toast, so a notice is an ephemeral message that only the presser sees,
 * in the thread of the button. No notice, no call (the press was acknowledged on receipt).
 */
export async function answerPress(ctx: SendContext, press: InboundPress, notice: string | undefined, signal: AbortSignal): Promise<void> {
  if (!notice) return;
  const conv = press.conversation;
  try {
    await call(ctx, 'chat.postEphemeral', signal, () =>
      ctx.client.chat.postEphemeral({ channel: conv.chatId, user: press.sender.id, text: escapeMrkdwn(notice), ...(conv.threadId ? { thread_ts: conv.threadId } : {}) }),
    );
  } catch (err) {
    // A presser who is not a member of the channel cannot see ephemeral messages there; nothing to add.
    if (err instanceof PlatformError && err.platformCode === 'user_not_in_channel') return;
    throw err;
  }
}
