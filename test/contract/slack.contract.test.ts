// The Slack adapter runs the adapter contract against the Slack fake (Socket Mode, Slack's per-method limits
// enforced): the last case checks that the fake never had to answer 429.

import { SlackAdapter } from '../../adapters/slack/index.js';
import { ANN, ANN_DM, BOB, mention, seedWorkspace, slackVisible, TEAM_CHANNEL } from '../helpers/slack.js';
import { startFakeSlack, type FakeSlack } from '../peers/fake-slack.js';
import { describeAdapterContract, type PlatformRun } from './adapter-contract.js';

let fake: FakeSlack;

describeAdapterContract({
  name: 'slack',
  user: `slack:${ANN}`,
  group: `slack:${TEAM_CHANNEL}`,
  member: `slack:${BOB}`,
  skips: {},
  async setup() {
    fake = await startFakeSlack();
    seedWorkspace(fake);
  },
  async teardown() {
    await fake.close();
  },
  rateLimitViolations: () => fake.rateLimited(),
  shown: slackVisible,
  async open(): Promise<PlatformRun> {
    const adapter = new SlackAdapter({ botToken: fake.botToken, appToken: fake.appToken, apiUrl: fake.url, reconnectDelayMs: 200 });
    const eventOf = new Map<string, string>();
    const own = new Set<string>();
    const visible = (channel: string) =>
      fake
        .botMessages(channel)
        .filter((m) => !own.has(m.ts))
        .map((m) => fake.visible(m));
    return {
      adapter,
      async say(text, options) {
        if (options?.messageId) {
          // Slack's retry of the same event (same event_id, retry_attempt 1).
          await fake.redeliver(eventOf.get(options.messageId)!);
          return options.messageId;
        }
        const m = fake.userMessage({ channel: ANN_DM, user: ANN, text });
        eventOf.set(m.ts, m.eventIds[0]);
        return m.ts;
      },
      async sayInGroup(text, withMention) {
        fake.userMessage({ channel: TEAM_CHANNEL, user: ANN, text: withMention ? mention(fake, text) : text });
      },
      async sayInGroupAsMember(text, withMention) {
        fake.userMessage({ channel: TEAM_CHANNEL, user: BOB, text: withMention ? mention(fake, text) : text });
      },
      async ownMessage(text) {
        fake.echoBotMessage(ANN_DM, text);
        for (const m of fake.botMessages(ANN_DM)) if (m.text === text) own.add(m.ts);
      },
      async botTexts() {
        return visible(ANN_DM);
      },
      async groupTexts() {
        return visible(TEAM_CHANNEL);
      },
      async allow() {
        const m = fake.botMessages(ANN_DM).filter((x) => fake.buttons(x).some((b) => b.includes('Allow'))).at(-1)!;
        fake.press({ channel: ANN_DM, user: ANN, messageTs: m.ts, label: fake.buttons(m).find((b) => b.includes('Allow'))! });
      },
      async failNextCalls(n) {
        fake.failNext(['chat.postMessage', 'chat.update'], { status: 503, error: 'service_unavailable' }, n);
      },
      async replyToLastBotMessage(text) {
        const last = fake.botMessages(ANN_DM).filter((m) => !own.has(m.ts)).at(-1)!;
        fake.userMessage({ channel: ANN_DM, user: ANN, text, threadTs: last.ts });
      },
      async close() {},
    };
  },
});
