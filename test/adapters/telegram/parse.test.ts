import type { Message, MessageEntity, Update } from 'grammy/types';
import { describe, expect, it } from 'vitest';
import { parseUpdate, type BotSelf } from '../../../adapters/telegram/parse.js';
import type { InboundMessage, InboundPress } from '../../../src/core/adapter-types.js';

const bot: BotSelf = { id: 42, username: 'LoopBridge_bot' };
const alice = { id: 7, is_bot: false, first_name: 'Alice', last_name: 'W' };
const group = { id: -100123, type: 'supergroup' as const, title: 'Team' };
const forum = { id: -100456, type: 'supergroup' as const, title: 'Forum', is_forum: true as const };
const dm = { id: 7, type: 'private' as const, first_name: 'Alice' };

let nextId = 1;
function msg(fields: Partial<Message> & Record<string, unknown>): Update {
  return { update_id: nextId++, message: { message_id: 10, date: 1, chat: group, from: alice, ...fields } as never };
}
const message = (u: Update) => parseUpdate(u, bot) as InboundMessage;
const ent = (type: string, text: string, part: string, extra: Record<string, unknown> = {}) =>
  ({ type, offset: text.indexOf(part), length: part.length, ...extra }) as MessageEntity;

describe('conversation', () => {
  it('a private chat is direct; a group is not', () => {
    expect(message(msg({ chat: dm, text: 'hi' })).conversation).toEqual({ platform: 'telegram', chatId: '7', isDirect: true });
    expect(message(msg({ text: 'hi' })).conversation).toEqual({ platform: 'telegram', chatId: '-100123', isDirect: false });
  });

  it('a forum topic message gets its thread; the General topic and plain-group reply threads do not', () => {
    expect(message(msg({ chat: forum, text: 'x', message_thread_id: 5, is_topic_message: true })).conversation.threadId).toBe('5');
    expect(message(msg({ chat: forum, text: 'x' })).conversation.threadId).toBeUndefined();
    // In a non-forum group, message_thread_id only marks a reply chain.
    expect(message(msg({ text: 'x', message_thread_id: 9 })).conversation.threadId).toBeUndefined();
  });

  it('keeps the message id, the sender, text or caption', () => {
    const m = message(msg({ message_id: 77, text: 'hello' }));
    expect(m).toMatchObject({ kind: 'message', messageId: '77', text: 'hello', sender: { id: '7', displayName: 'Alice W', isBot: false }, files: [] });
    expect(message(msg({ caption: 'look', photo: [{ file_id: 'p', file_unique_id: 'u', width: 1, height: 1 }] })).text).toBe('look');
  });

  it('marks a message from another bot', () => {
    expect(message(msg({ text: 'beep', from: { id: 99, is_bot: true, first_name: 'Other' } })).sender.isBot).toBe(true);
  });

  it('ignores automatic forwards of a linked channel (user 777000, not flagged as a bot), even when they mention the bot', () => {
    const text = 'new post @LoopBridge_bot';
    const channelUser = { id: 777000, is_bot: false, first_name: 'Telegram' };
    const mention = [ent('mention', text, '@LoopBridge_bot')];
    expect(parseUpdate(msg({ text, entities: mention, from: channelUser, is_automatic_forward: true }), bot)).toBeUndefined();
    expect(parseUpdate(msg({ text, entities: mention, from: channelUser }), bot)).toBeUndefined();
    expect(parseUpdate(msg({ text, entities: mention, is_automatic_forward: true }), bot)).toBeUndefined();
    // A person commenting under the forwarded post is still a person.
    expect(message(msg({ text, entities: mention })).mentionsBot).toBe(true);
  });

  it('ignores edits, channel posts and service messages', () => {
    expect(parseUpdate({ update_id: 1, edited_message: { message_id: 1, date: 1, chat: group, from: alice, text: 'x', edit_date: 2 } } as Update, bot)).toBeUndefined();
    expect(parseUpdate(msg({ chat: { id: -1009, type: 'channel', title: 'c' } as never, text: 'x' }), bot)).toBeUndefined();
    expect(parseUpdate(msg({ new_chat_members: [alice] }), bot)).toBeUndefined();
  });
});

describe('gating', () => {
  it('an @mention entity of the bot counts (case-insensitive)', () => {
    const text = 'hey @loopbridge_BOT look';
    expect(message(msg({ text, entities: [ent('mention', text, '@loopbridge_BOT')] })).mentionsBot).toBe(true);
  });

  it('the same text without an entity (e.g. inside code) does not', () => {
    const text = 'hey @loopbridge_bot look';
    expect(message(msg({ text, entities: [ent('code', text, '@loopbridge_bot')] })).mentionsBot).toBe(false);
    expect(message(msg({ text })).mentionsBot).toBe(false);
  });

  it('offsets are UTF-16: a mention after an emoji is found', () => {
    const text = '😀 @loopbridge_bot hi';
    expect(message(msg({ text, entities: [{ type: 'mention', offset: 3, length: 15 }] })).mentionsBot).toBe(true);
  });

  it('a mention of someone else does not count', () => {
    const text = '@someone_else hi';
    expect(message(msg({ text, entities: [ent('mention', text, '@someone_else')] })).mentionsBot).toBe(false);
  });

  it('a text_mention of the bot id counts', () => {
    const text = 'Loop, hi';
    expect(message(msg({ text, entities: [ent('text_mention', text, 'Loop', { user: { id: 42, is_bot: true, first_name: 'Loop' } })] })).mentionsBot).toBe(true);
  });

  it('/cmd@thisbot addresses us; /cmd@otherbot is addressed elsewhere; plain /cmd is left to the core', () => {
    const ours = message(msg({ text: '/status@loopbridge_bot', entities: [{ type: 'bot_command', offset: 0, length: 22 }] }));
    expect(ours).toMatchObject({ mentionsBot: true });
    expect(ours.addressedElsewhere).toBeUndefined();
    const other = message(msg({ text: '/status@otherbot', entities: [{ type: 'bot_command', offset: 0, length: 16 }] }));
    expect(other).toMatchObject({ mentionsBot: false, addressedElsewhere: true });
    const plain = message(msg({ text: '/status', entities: [{ type: 'bot_command', offset: 0, length: 7 }] }));
    expect(plain.mentionsBot).toBe(false);
    expect(plain.addressedElsewhere).toBeUndefined();
  });

  it('plain chatter is neither a mention nor a reply', () => {
    expect(message(msg({ text: 'lunch?' }))).toMatchObject({ mentionsBot: false, replyToBot: false });
  });

  it('a reply to a bot message counts and names the message', () => {
    const reply = { message_id: 3, date: 1, chat: group, from: { id: 42, is_bot: true, first_name: 'Loop' }, text: 'q?' };
    expect(message(msg({ text: 'yes', reply_to_message: reply as never }))).toMatchObject({ replyToBot: true, replyToMessageId: '3' });
    const toAlice = { ...reply, from: alice };
    expect(message(msg({ text: 'yes', reply_to_message: toAlice as never }))).toMatchObject({ replyToBot: false });
  });

  it("a forum topic's root (topic created by the bot) is not a reply to the bot", () => {
    const root = { message_id: 5, date: 1, chat: forum, from: { id: 42, is_bot: true, first_name: 'Loop' }, message_thread_id: 5, forum_topic_created: { name: 't', icon_color: 1 } };
    const m = message(msg({ chat: forum, text: 'hi', message_thread_id: 5, is_topic_message: true, reply_to_message: root as never }));
    expect(m.replyToBot).toBe(false);
    expect(m.conversation.threadId).toBe('5');
  });
});

describe('files', () => {
  it('a photo becomes its largest size as image/jpeg', () => {
    const m = message(msg({ photo: [{ file_id: 'small', file_unique_id: 'a', width: 90, height: 90, file_size: 100 }, { file_id: 'big', file_unique_id: 'b', width: 800, height: 800, file_size: 9000 }] }));
    expect(m.files).toEqual([{ mimeType: 'image/jpeg', ref: 'big', size: 9000 }]);
  });

  it('a document keeps its type and name', () => {
    const m = message(msg({ document: { file_id: 'd', file_unique_id: 'u', mime_type: 'image/png', file_name: 'shot.png', file_size: 12 } }));
    expect(m.files).toEqual([{ mimeType: 'image/png', ref: 'd', size: 12, filename: 'shot.png' }]);
  });

  it('voice and stickers come through with their type (so the core can refuse them)', () => {
    expect(message(msg({ voice: { file_id: 'v', file_unique_id: 'u', duration: 2, mime_type: 'audio/ogg' } })).files[0].mimeType).toBe('audio/ogg');
    expect(message(msg({ sticker: { file_id: 's', file_unique_id: 'u', type: 'regular', width: 1, height: 1, is_animated: true, is_video: false } })).files[0].mimeType).toBe('application/x-tgsticker');
    expect(message(msg({ sticker: { file_id: 's', file_unique_id: 'u', type: 'regular', width: 1, height: 1, is_animated: false, is_video: false } })).files[0].mimeType).toBe('application/x-telegram-sticker');
  });
});

describe('button presses', () => {
  it('a callback_query becomes a press with the token, the query id and the message', () => {
    const u = { update_id: 1, callback_query: { id: 'q1', from: alice, chat_instance: 'x', data: 'tok123', message: { message_id: 8, date: 1, chat: forum, message_thread_id: 5, is_topic_message: true, text: 'pick' } } } as Update;
    const p = parseUpdate(u, bot) as InboundPress;
    const conversation = { platform: 'telegram', chatId: '-100456', threadId: '5', isDirect: false };
    expect(p).toEqual({ kind: 'press', conversation, sender: { id: '7', displayName: 'Alice W', isBot: false }, token: 'tok123', pressId: 'q1', messageRef: { conversation, messageId: '8' } });
  });

  it('a press without data or message is ignored', () => {
    expect(parseUpdate({ update_id: 1, callback_query: { id: 'q', from: alice, chat_instance: 'x', game_short_name: 'g' } } as Update, bot)).toBeUndefined();
  });
});
