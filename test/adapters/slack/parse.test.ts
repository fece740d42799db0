// Slack events → InboundEvents: gating facts, conversation keys, subtypes, presses.
import { describe, expect, it } from 'vitest';
import { parseBlockActions, parseMessageEvent, slackToPlain, slackTsOrder } from '../../../adapters/slack/parse.js';

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
    // Followed, but the thread hangs under a person's message: it replies to no message of the bot's.
    expect((await parseMessageEvent(reply, self, follow(['C1/100.1'])))!.replyToMessageId).toBeUndefined();
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

  it('orders a message by its ts in integer microseconds, shared by an app_mention and its twin', async () => {
    const m = await parseMessageEvent(ev({ ts: '1712345678.123456', text: '<@UBOT> x' }), self, follow());
    expect(m).toMatchObject({ messageId: '1712345678.123456', order: 1712345678123456 });
    const twin = await parseMessageEvent(ev({ type: 'app_mention', channel_type: undefined, ts: '1712345678.123456', text: '<@UBOT> x' }), self, follow());
    expect(twin?.order).toBe(1712345678123456);
    // A thread reply is ordered in its channel's sequence, like every other message there.
    const reply = await parseMessageEvent(ev({ ts: '1712345679.000001', thread_ts: '1712345678.123456', parent_user_id: 'UBOT' }), self, follow());
    expect(reply?.order).toBe(1712345679000001);
  });

  it('reads the ts as two integers: neighbouring ts stay distinct and in order; junk and unsafe values have none', () => {
    const ts = ['1712345678.000001', '1712345678.000002', '1712345678.999999', '1712345679.000000'];
    const orders = ts.map(slackTsOrder);
    expect(orders).toEqual([1712345678000001, 1712345678000002, 1712345678999999, 1712345679000000]);
    expect(orders.every((o) => Number.isSafeInteger(o))).toBe(true);
    for (const bad of ['', 'abc', '1712345678', '1712345678.', '1712345678.1234567', '-1.5', '9999999999.999999']) expect(slackTsOrder(bad), bad).toBeUndefined();
  });

  it('a message whose ts is not shaped like one has no order (the store keeps its mark for the window)', async () => {
    const m = await parseMessageEvent(ev({ ts: 'x.y' }), self, follow());
    expect(m?.messageId).toBe('x.y');
    expect(m).not.toHaveProperty('order');
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
