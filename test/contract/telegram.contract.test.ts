// The Telegram adapter runs the adapter contract against the faithful Bot API fake, with the fake's rate
// limits enforced: the contract's last case checks that the fake never had to answer 429.

import { TelegramAdapter } from '../../adapters/telegram/index.js';
import { ann, annDm, telegramVisible } from '../helpers/telegram.js';
import { startFakeTelegram, type FakeTelegram } from '../peers/fake-telegram.js';
import { describeAdapterContract, type PlatformRun } from './adapter-contract.js';

let fake: FakeTelegram;
const user = ann;
const dm = annDm;
const group = { id: -100777, type: 'supergroup' as const, title: 'Team' };
/** In the group (listed in access.groups), neither a user nor an admin. */
const member = { id: 3131, first_name: 'Mallory' };

describeAdapterContract({
  name: 'telegram',
  user: `telegram:${user.id}`,
  group: `telegram:${group.id}`,
  member: `telegram:${member.id}`,
  skips: {},
  async setup() {
    fake = await startFakeTelegram();
    fake.addChat(dm);
    fake.addChat(group);
  },
  async teardown() {
    await fake.close();
  },
  rateLimitViolations: () => fake.rateLimited(),
  shown: telegramVisible,
  async open(): Promise<PlatformRun> {
    const adapter = new TelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot, pollTimeoutSec: 1 });
    const sent = new Map<string, unknown>();
    const own = new Set<number>();
    return {
      adapter,
      async say(text, options) {
        if (options?.messageId) {
          // Redelivery: the same message (same message_id) arrives in a new update, as after an unconfirmed offset.
          fake.injectUpdate({ message: sent.get(options.messageId) });
          return options.messageId;
        }
        const m = fake.userMessage({ chat: dm, from: user, text });
        const id = String(m.message_id);
        sent.set(id, { message_id: m.message_id, from: { ...user, is_bot: false }, chat: dm, date: m.date, text });
        return id;
      },
      async sayInGroup(text, mention) {
        fake.userMessage({ chat: group, from: user, text: mention ? `@${fake.bot.username} ${text}` : text });
      },
      async sayInGroupAsMember(text, mention) {
        fake.userMessage({ chat: group, from: member, text: mention ? `@${fake.bot.username} ${text}` : text });
      },
      async failNextCalls(n) {
        fake.failNext(['sendMessage', 'editMessageText'], { error_code: 502, description: 'Bad Gateway' }, n);
      },
      async ownMessage(text) {
        // Telegram never delivers a bot its own messages; if a platform did, the core must ignore them.
        own.add(fake.userMessage({ chat: dm, from: { ...fake.bot, is_bot: true }, text }).message_id);
      },
      async botTexts() {
        return fake
          .botMessages(dm.id)
          .filter((m) => !own.has(m.message_id))
          .map((m) => m.text ?? '');
      },
      async groupTexts() {
        return fake.botMessages(group.id).map((m) => m.text ?? '');
      },
      async allow() {
        const withButtons = fake.botMessages(dm.id).filter((m) => JSON.stringify(m.reply_markup ?? {}).includes('Allow'));
        const m = withButtons.at(-1)!;
        const rows = (m.reply_markup as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> }).inline_keyboard;
        const button = rows.flat().find((b) => b.text.includes('Allow'))!;
        fake.pressButton({ chat: dm, from: user, messageId: m.message_id, data: button.callback_data });
      },
      async replyToLastBotMessage(text) {
        const last = fake.botMessages(dm.id).filter((m) => !own.has(m.message_id)).at(-1);
        if (!last) throw new Error('the bot has not written in the DM yet');
        fake.userMessage({ chat: dm, from: user, text, replyToMessageId: last.message_id });
      },
      async close() {},
    };
  },
});
