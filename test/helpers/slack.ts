// Slack test helpers: the people and places of the Slack tests, and what a person sees of a markdown reply
// (the adapter's mrkdwn rendered the way the fake, like Slack's clients, renders it).

import { markdownToMrkdwn } from '../../adapters/slack/format.js';
import { renderMrkdwn } from '../peers/fake-slack/render.js';
import type { FakeSlack } from '../peers/fake-slack.js';

export const ANN = 'UANN';
export const BOB = 'UBOB';
export const ANN_DM = 'DANN';
export const TEAM_CHANNEL = 'CTEAM';

const names: Record<string, string> = { UANN: 'ann', UBOB: 'bob', UBOT: 'loopbridge' };

/** What a person sees of this markdown once the adapter formatted it. */
export function slackVisible(markdown: string): string {
  return renderMrkdwn(markdownToMrkdwn(markdown), { userName: (id) => names[id], channelName: () => undefined }).trim();
}

/** Ann (allowed), Bob (a member of the team channel only), Ann's DM with the bot, and #team with all three. */
export function seedWorkspace(fake: FakeSlack): void {
  fake.addUser(ANN, 'ann');
  fake.addUser(BOB, 'bob');
  fake.addChannel({ id: ANN_DM, kind: 'im', members: [ANN, fake.bot.userId] });
  fake.addChannel({ id: TEAM_CHANNEL, kind: 'channel', name: 'team', members: [ANN, BOB, fake.bot.userId] });
}

/** `<@BOT> text`, as a Slack client encodes a mention. */
export const mention = (fake: FakeSlack, text: string) => `<@${fake.bot.userId}> ${text}`;
