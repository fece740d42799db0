// A room event → what the core needs to know about it. Pure: no I/O, no clock. What needs the server (is
// the replied-to event the bot's? how many people are in the room?) is asked by the caller and passed in.
import type { InboundFile } from '../../src/core/adapter-types.js';

/** Platform name in conversation keys and qualified ids. */
export const MATRIX_PLATFORM = 'matrix';

/** A client-server room event as /sync delivers it (only the fields we read). */
export interface RoomEvent {
  type: string;
  event_id: string;
  sender: string;
  origin_server_ts: number;
  state_key?: string;
  content: Record<string, unknown>;
  unsigned?: Record<string, unknown>;
  redacts?: string;
}

/** The bot as parsing needs it. */
export interface MatrixSelf {
  userId: string;
  displayName?: string;
}

/** What a message event says, before the adapter adds what needs the server. */
export interface ParsedMessage {
  /** The text for the loop: reply fallback and a leading mention of the bot removed, `!cmd` → `/cmd`. */
  text: string;
  files: InboundFile[];
  mentionsBot: boolean;
  /** `m.in_reply_to` target (a thread's fallback included): the adapter checks whether it is the bot's. */
  inReplyTo?: string;
  /** The `m.in_reply_to` is only a thread's fallback (`is_falling_back`), not a reply the person chose. */
  replyIsFallback?: boolean;
  /** Thread root when the event is in an `m.thread`. */
  threadId?: string;
  /** The text is `!allow`, `!deny`, `!2`, `!1,3`: an answer to a choice. */
  choiceAnswer: boolean;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Options that shape how a message is read. */
export interface ParseOptions {
  /** Core command names (`stop`, `new`, …): `!name` is sent on as `/name`. */
  commands: ReadonlySet<string>;
}

const CHOICE_ANSWER = /^!\s*(allow|deny|\d+(\s*,\s*\d+)*)$/i;

/**
 * An `m.room.message` or `m.sticker` → ParsedMessage, or undefined for what is never a prompt: notices
 * (other bots), edits (a turn belongs to the message as first sent), redacted events, unknown shapes.
 */
export function parseMessageEvent(ev: RoomEvent, self: MatrixSelf, options: ParseOptions): ParsedMessage | undefined {
  const content = ev.content ?? {};
  const relates = obj(content['m.relates_to']);
  if (str(relates?.rel_type) === 'm.replace') return undefined;
  const threadId = str(relates?.rel_type) === 'm.thread' ? str(relates?.event_id) : undefined;
  const inReplyTo = str(obj(relates?.['m.in_reply_to'])?.event_id);
  // In a thread every event carries the thread's latest event as a fallback reply; only a reply the person
  // made on purpose (is_falling_back false or absent) names the message it answers.
  const fallback = threadId !== undefined && relates?.is_falling_back === true ? { replyIsFallback: true } : {};

  if (ev.type === 'm.sticker') {
    // A sticker is decoration, not a picture for the agent: a type the core refuses ("not supported yet").
    return { text: '', files: [{ mimeType: 'application/x-matrix-sticker', ref: str(content.url) ?? '' }], mentionsBot: false, threadId, inReplyTo, ...fallback, choiceAnswer: false };
  }
  const msgtype = str(content.msgtype);
  const rawBody = str(content.body);
  if (!msgtype || rawBody === undefined || msgtype === 'm.notice') return undefined;

  const body = inReplyTo ? stripReplyFallback(rawBody) : rawBody;
  const html = stripMxReply(str(content.formatted_body) ?? '');
  const files = filesOf(msgtype, content);
  // With attachments, body is the file name unless a separate `filename` makes it a caption.
  let text = files.length ? (str(content.filename) !== undefined && content.filename !== rawBody ? body : '') : body;
  if (msgtype === 'm.emote') text = `* ${text}`;

  const mentionsBot = mentions(content, html, body, self);
  text = stripLeadingMention(text, self).trim();
  const command = /^!([A-Za-z][A-Za-z0-9_]*)(?=\s|$)/.exec(text);
  if (command && options.commands.has(command[1].toLowerCase())) text = `/${command[1].toLowerCase()}${text.slice(command[0].length)}`;
  return { text, files, mentionsBot, ...(inReplyTo ? { inReplyTo, ...fallback } : {}), ...(threadId ? { threadId } : {}), choiceAnswer: CHOICE_ANSWER.test(text) };
}

/** Does the message address the bot: `m.mentions`, a matrix.to pill, or its name / user id in the text? */
export function mentions(content: Json, html: string, body: string, self: MatrixSelf): boolean {
  const ids = obj(content['m.mentions'])?.user_ids;
  if (Array.isArray(ids) && ids.includes(self.userId)) return true;
  for (const m of html.matchAll(/href\s*=\s*["']https:\/\/matrix\.to\/#\/([^"'?]+)/gi)) {
    let target: string;
    try {
      target = decodeURIComponent(m[1]);
    } catch {
      continue;
    }
    if (target === self.userId) return true;
  }
  if (body.includes(self.userId)) return true;
  const name = self.displayName?.trim();
  return !!name && new RegExp(`(^|[^\\p{L}\\p{N}_])${escapeRegExp(name)}($|[^\\p{L}\\p{N}_])`, 'iu').test(body);
}

/** Removes a mention of the bot that opens the message ("Loop Bot: hi", "@bot:example.org hi"). */
export function stripLeadingMention(text: string, self: MatrixSelf): string {
  const names = [self.userId, self.displayName].filter((n): n is string => !!n && n.trim() !== '');
  for (const n of names) {
    const m = new RegExp(`^\\s*@?${escapeRegExp(n)}\\s*[:,]?(\\s+|$)`, 'iu').exec(text);
    if (m) return text.slice(m[0].length);
  }
  return text;
}

/** Drops the `> <@user> quoted` lines a reply carries in front of its text (clients before Matrix 1.13). */
export function stripReplyFallback(body: string): string {
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length && lines[i].startsWith('>')) i++;
  if (i === 0) return body;
  if (i < lines.length && lines[i].trim() === '') i++;
  return lines.slice(i).join('\n');
}

function stripMxReply(html: string): string {
  return html.replace(/<mx-reply>[\s\S]*?<\/mx-reply>/gi, '');
}

/** Attachments: images the loop can take, and everything else with its type so the core can refuse it. */
export function filesOf(msgtype: string, content: Json): InboundFile[] {
  if (!['m.image', 'm.file', 'm.audio', 'm.video'].includes(msgtype)) return [];
  const info = obj(content.info) ?? {};
  const fallback = msgtype === 'm.image' ? 'image/unknown' : msgtype === 'm.file' ? 'application/octet-stream' : `${msgtype.slice(2)}/unknown`;
  const size = typeof info.size === 'number' ? info.size : undefined;
  const filename = str(content.filename) ?? str(content.body);
  return [
    {
      mimeType: str(info.mimetype) ?? fallback,
      // An encrypted attachment has `file` instead of `url`; encrypted rooms are never read, but keep it safe.
      ref: str(content.url) ?? '',
      ...(size !== undefined ? { size } : {}),
      ...(filename ? { filename } : {}),
    },
  ];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
