// Reading a Matrix event: what is never a prompt, the mention forms, reply fallbacks, threads, `!`
// commands, attachments. Pure: the events are shaped as /sync delivers them.
import { describe, expect, it } from 'vitest';
import { parseMessageEvent, stripReplyFallback, type RoomEvent } from '../../../adapters/matrix/parse.js';

const self = { userId: '@loopbot:example.org', displayName: 'Loop Bot' };
const options = { commands: new Set(['stop', 'new', 'help']) };
let n = 0;
const ev = (content: Record<string, unknown>, type = 'm.room.message'): RoomEvent => ({
  type,
  event_id: `$e${++n}`,
  sender: '@ann:example.org',
  origin_server_ts: 1,
  content,
});
const text = (body: string, extra: Record<string, unknown> = {}) => parseMessageEvent(ev({ msgtype: 'm.text', body, ...extra }), self, options);

describe('matrix parse', () => {
  it('skips what is never a prompt: notices (other bots), edits, redacted events', () => {
    expect(text('hi', { msgtype: 'm.notice' })).toBeUndefined();
    expect(text('* hi', { 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } })).toBeUndefined();
    expect(parseMessageEvent(ev({}), self, options)).toBeUndefined();
  });

  it('counts m.mentions, a matrix.to pill, the display name as a word, and the user id', () => {
    expect(text('hello', { 'm.mentions': { user_ids: [self.userId] } })!.mentionsBot).toBe(true);
    expect(text('hey you', { formatted_body: '<a href="https://matrix.to/#/%40loopbot%3Aexample.org">you</a>' })!.mentionsBot).toBe(true);
    expect(text('what do you think, loop bot?')!.mentionsBot).toBe(true);
    expect(text('ping @loopbot:example.org')!.mentionsBot).toBe(true);
    expect(text('Loop Botany is a field')!.mentionsBot).toBe(false);
    expect(text('hello', { 'm.mentions': { user_ids: ['@other:example.org'] } })!.mentionsBot).toBe(false);
    expect(text('see <a href="https://matrix.to/#/@other:example.org">x</a>', { formatted_body: '<a href="https://matrix.to/#/@other:example.org">x</a>' })!.mentionsBot).toBe(false);
  });

  it('drops a leading mention from the text and a reply fallback from body and HTML', () => {
    expect(text('Loop Bot: what is up')!.text).toBe('what is up');
    expect(text('@loopbot:example.org, status please')!.text).toBe('status please');
    const reply = text('> <@loopbot:example.org> Loop Bot said this\n> earlier\n\nthanks', {
      formatted_body: '<mx-reply><blockquote>Loop Bot said this</blockquote></mx-reply>thanks',
      'm.relates_to': { 'm.in_reply_to': { event_id: '$bot' } },
    })!;
    expect(reply.text).toBe('thanks');
    expect(reply.inReplyTo).toBe('$bot');
    // The quoted name in the fallback is not a mention.
    expect(reply.mentionsBot).toBe(false);
    expect(stripReplyFallback('no fallback here')).toBe('no fallback here');
  });

  it('reads threads: the root is the thread, the fallback reply is kept', () => {
    const m = text('in thread', { 'm.relates_to': { rel_type: 'm.thread', event_id: '$root', is_falling_back: true, 'm.in_reply_to': { event_id: '$last' } } })!;
    expect(m.threadId).toBe('$root');
    expect(m.inReplyTo).toBe('$last');
    // The fallback addresses the thread, not that message: it must not count as a reply to it (steering).
    expect(m.replyIsFallback).toBe(true);
    const chosen = text('in thread, replying', { 'm.relates_to': { rel_type: 'm.thread', event_id: '$root', is_falling_back: false, 'm.in_reply_to': { event_id: '$live' } } })!;
    expect(chosen.inReplyTo).toBe('$live');
    expect(chosen.replyIsFallback).toBeUndefined();
  });

  it('turns !command into /command for the core; !allow, !deny, !2, !1,3 are choice answers', () => {
    expect(text('!stop')!.text).toBe('/stop');
    expect(text('!New now')!.text).toBe('/new now');
    expect(text('!unknown')!.text).toBe('!unknown');
    for (const t of ['!allow', '!deny', '!2', '!1,3', '! 1, 3']) expect(text(t)!.choiceAnswer, t).toBe(true);
    for (const t of ['allow', '!allowance', '!1,x', 'please !allow']) expect(text(t)!.choiceAnswer, t).toBe(false);
  });

  it('attachments: images with their type and size, a caption only when given, other files, stickers', () => {
    const img = text('photo.png', { msgtype: 'm.image', url: 'mxc://example.org/abc', info: { mimetype: 'image/png', size: 1234 } })!;
    expect(img.files).toEqual([{ mimeType: 'image/png', ref: 'mxc://example.org/abc', size: 1234, filename: 'photo.png' }]);
    expect(img.text).toBe('');
    const captioned = text('look at this', { msgtype: 'm.image', filename: 'photo.png', url: 'mxc://example.org/abc', info: { mimetype: 'image/jpeg' } })!;
    expect(captioned.text).toBe('look at this');
    expect(text('doc.pdf', { msgtype: 'm.file', url: 'mxc://e/d', info: { mimetype: 'application/pdf' } })!.files[0].mimeType).toBe('application/pdf');
    expect(text('clip', { msgtype: 'm.video', url: 'mxc://e/v' })!.files[0].mimeType).toBe('video/unknown');
    expect(parseMessageEvent(ev({ body: 'wave', url: 'mxc://e/s' }, 'm.sticker'), self, options)!.files[0].mimeType).toBe('application/x-matrix-sticker');
  });

  it('an emote keeps its action form', () => {
    expect(text('waves', { msgtype: 'm.emote' })!.text).toBe('* waves');
  });
});
