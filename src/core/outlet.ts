// An adapter together with its scheduler: the one way the core talks to a platform, so every call counts
// against that platform's budget.

import type { BotIdentity, ChatAdapter, ConversationRef, InboundPress, MessageRef, OutboundMessage } from './adapter-types.js';
import { conversationKey } from './adapter-types.js';
import { Priority, RateScheduler, type SchedulerTarget } from './rate-scheduler.js';
import type { Metrics } from './metrics.js';

export class Outlet {
  readonly scheduler: RateScheduler;
  bot: BotIdentity = { id: '' };

  constructor(
    readonly adapter: ChatAdapter,
    private readonly signal: AbortSignal,
    metrics: Metrics,
  ) {
    this.scheduler = new RateScheduler(adapter.capabilities.rate, {
      onRateLimited: () => metrics.inc('platform_rate_limited_total', { platform: adapter.platform }),
    });
  }

  target(conversation: ConversationRef): SchedulerTarget {
    // The budget is per chat, not per thread: topics and threads share their chat's limits.
    return { chatKey: conversationKey({ platform: conversation.platform, chatId: conversation.chatId }), isGroup: !conversation.isDirect };
  }

  send(conversation: ConversationRef, message: OutboundMessage): Promise<MessageRef> {
    return this.scheduler.schedule(this.target(conversation), Priority.Send, () => this.adapter.send(conversation, message, this.signal), 'send').promise;
  }

  edit(ref: MessageRef, message: OutboundMessage): Promise<void> {
    return this.scheduler.schedule(this.target(ref.conversation), Priority.Send, () => this.adapter.edit(ref, message, this.signal), 'edit').promise;
  }

  /** Deletes a message; first in line (it is used to take a posted secret off the chat). */
  delete(ref: MessageRef): Promise<void> {
    return this.scheduler.schedule(this.target(ref.conversation), Priority.Send, () => this.adapter.delete(ref, this.signal), 'delete').promise;
  }

  answerPress(press: InboundPress, notice: string | undefined): Promise<void> {
    const answer = this.adapter.answerPress;
    if (!answer) return Promise.resolve();
    // A press answer goes to the presser (Telegram's callback answer, Slack's ephemeral notice), not into the
    // chat: it counts against the bot's budget but not the chat's pace, so a press in a busy group is
    // answered at once instead of waiting behind the group's 3 s interval.
    const target: SchedulerTarget = { chatKey: `press:${press.conversation.platform}:${press.pressId}`, isGroup: false };
    return this.scheduler.schedule(target, Priority.Send, () => answer.call(this.adapter, press, notice, this.signal), 'press').promise;
  }

  typing(conversation: ConversationRef): void {
    const typing = this.adapter.typing;
    if (!typing) return;
    this.scheduler
      .schedule(this.target(conversation), Priority.Typing, () => typing.call(this.adapter, conversation, this.signal), 'typing')
      .promise.catch(() => {}); // best effort by nature
  }
}
