// Slack events → InboundEvents: gating facts, conversation keys, subtypes, presses.
import { describe, expect, it } from 'vitest';
import { parseBlockActions, parseMessageEvent, slackToPlain } from '../../../adapters/slack/parse.js';

const self = { userId: 'UBOT', botId: 'BBOT' };
const follow = (known: string[] = []) => ({ threadFollow: true, botInThread: (c: string, t: string) => known.includes(`${c}/${t}`) });
const ev = (e: Record<string, unknown>) => ({ type: 'message', channel: 'C1', channel_type: 'channel', user: 'UANN', ts: '100.1', text: 'hi', ...e });

describe('parseMessageEvent', () => {
  it('a top-level mention in a channel starts a conversation keyed by its own ts; the mention is stripped', async () => {
    const m = await parseMessageEvent(ev({ text: '<@UBOT> please *help*' }), self, follow());
    expect(m).toMatchObject({ conversation: { chatId: 'C1', threadId: '100.1', isDirect: false }, mentionsBot: true, replyToBot: false, text: 'please *help*', messageId: '100.1' });
  });

  it('app_mention and its message twin come out identical (same ts, same conversation)', async () => {
    const a = await parseMessageEvent(ev({ type: 'app_mention', channel_type: undefined, text: '<@UBOT> x' }), self, follow());
    const b = await parseMessageEvent(ev({ text: '<@UBOT> x' }), self, follow());
    expect(a).toEqual(b);
  });

  it('a thread reply follows without a mention only where the bot is in the thread and threadFollow is on', async () => {
    const reply = ev({ ts: '100.5', thread_ts: '100.1', text: 'more' });
    expect(await parseMessageEvent(reply, self, follow(['C1/100.1']))).toMatchObject({ conversation: { threadId: '100.1' }, replyToBot: true, mentionsBot: false });
    expect((await parseMessageEvent(reply, self, follow([])))!.replyToBot).toBe(false);
    expect((await parseMessageEvent(reply, self, { ...follow(['C1/100.1']), threadFollow: false }))!.replyToBot).toBe(false);
  });

  it('a DM is one conversation; a reply under a bot message there is a reply to the bot', async () => {
    const top = await parseMessageEvent(ev({ channel: 'D1', channel_type: 'im' }), self, follow());
    expect(top!.conversation).toEqual({ platform: 'slack', chatId: 'D1', isDirect: true });
    const inThread = await parseMessageEvent(ev({ channel: 'D1', channel_type: 'im', ts: '101.0', thread_ts: '99.0', parent_user_id: 'UBOT' }), self, follow());
    expect(inThread).toMatchObject({ conversation: { chatId: 'D1', isDirect: true }, replyToBot: true, replyToMessageId: '99.0' });
    expect(inThread!.conversation.threadId).toBeUndefined();
  });

  it('ignores the bot itself, other bots and subtypes that are not new words', async () => {
    expect(await parseMessageEvent(ev({ user: 'UBOT' }), self, follow())).toBeUndefined();
    expect(await parseMessageEvent(ev({ bot_id: 'B2', user: 'U9' }), self, follow())).toBeUndefined();
    for (const subtype of ['message_changed', 'message_deleted', 'bot_message', 'channel_join', 'me_message']) {
      expect(await parseMessageEvent(ev({ subtype }), self, follow()), subtype).toBeUndefined();
    }
    expect(await parseMessageEvent(ev({ subtype: 'thread_broadcast', thread_ts: '1.0', ts: '2.0' }), self, follow())).toBeDefined();
  });

  it('takes shared files with their type and size; unavailable ones get a type the core refuses', async () => {
    const m = await parseMessageEvent(
      ev({ subtype: 'file_share', files: [{ name: 'a.png', mimetype: 'image/png', size: 10, url_private: 'https://files.slack.com/a.png' }, { name: 'gone', mode: 'tombstone' }] }),
      self,
      follow(),
    );
    expect(m!.files).toEqual([
      { mimeType: 'image/png', filename: 'a.png', size: 10, ref: 'https://files.slack.com/a.png' },
      { mimeType: 'application/x-slack-unavailable', filename: 'gone', ref: '' },
    ]);
  });

  it('turns Slack markup into text a loop can read', () => {
    expect(slackToPlain('hi <@U1|ann> in <#C1|general> <!here> <https://a.b|docs> <https://c.d> &lt;x&gt; &amp;')).toBe('hi @ann in #general @here [docs](https://a.b) https://c.d <x> &');
  });
});

describe('parseBlockActions', () => {
  const base = { type: 'block_actions', user: { id: 'UANN', name: 'ann' }, channel: { id: 'C1' }, container: { message_ts: '200.0', thread_ts: '100.1' }, actions: [{ action_id: 'lb-0', value: 'tok.a', action_ts: '201.0' }] };

  it('a button press carries the core token, the presser and the thread conversation', () => {
    expect(parseBlockActions(base)).toMatchObject({ kind: 'press', token: 'tok.a', sender: { id: 'UANN', displayName: 'ann' }, conversation: { chatId: 'C1', threadId: '100.1' }, messageRef: { messageId: '200.0' } });
  });

  it('a select pick carries the option value; a DM press has no thread; junk yields nothing', () => {
    expect(parseBlockActions({ ...base, actions: [{ action_id: 'lb-select', selected_option: { value: 'tok.3' } }] })!.token).toBe('tok.3');
    expect(parseBlockActions({ ...base, channel: { id: 'D1' } })!.conversation).toEqual({ platform: 'slack', chatId: 'D1', isDirect: true });
    expect(parseBlockActions({ ...base, actions: [] })).toBeUndefined();
    expect(parseBlockActions({ ...base, type: 'view_submission' })).toBeUndefined();
  });
});
