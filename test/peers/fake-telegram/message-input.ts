// Reading what a bot sends: formatted text, inline keyboards, reply targets and topics, validated as the real server does.
import { badRequest } from './api-error.js';
import type { ChatStore } from './chat-store.js';
import { parseHtml, trimFormatted, visibleLength, type Entity, type FormattedText } from './html-entities.js';
import { optBool, optInt, optJson, optString, type Params } from './params.js';
import type { StoredMessage } from './types.js';

/** Message text limit, code points after entity parsing. */
export const MAX_TEXT = 4096;
/** Caption limit, code points after entity parsing. */
export const MAX_CAPTION = 1024;

export interface ReadText extends FormattedText {
  parseMode?: string;
}

/** Text (or caption) with its parse_mode/entities applied, trimmed like the server trims it. */
export function readFormatted(p: Params, textKey: string, entitiesKey: string): ReadText {
  const raw = optString(p, textKey) ?? '';
  const given = optJson<Entity[]>(p, entitiesKey);
  const parseMode = optString(p, 'parse_mode');
  let ft: FormattedText;
  if (given !== undefined) {
    if (!Array.isArray(given)) throw badRequest(`can't parse ${entitiesKey} JSON object`);
    ft = { text: raw, entities: [...given] }; // explicit entities win over parse_mode
  } else if (parseMode === undefined || parseMode === '') {
    ft = { text: raw, entities: [] };
  } else if (parseMode.toLowerCase() === 'html') {
    ft = parseHtml(raw);
  } else if (['markdown', 'markdownv2'].includes(parseMode.toLowerCase())) {
    ft = { text: raw, entities: [] }; // not parsed by this fake: stored as sent
  } else {
    throw badRequest('unsupported parse_mode');
  }
  return { ...trimFormatted(ft), parseMode: parseMode || undefined };
}

export function readMessageText(p: Params): ReadText {
  const ft = readFormatted(p, 'text', 'entities');
  if (ft.text.length === 0) throw badRequest('message text is empty');
  if (visibleLength(ft.text) > MAX_TEXT) throw badRequest('message is too long');
  return ft;
}

export function readCaption(p: Params): ReadText | undefined {
  if (p.caption === undefined) return undefined;
  const ft = readFormatted(p, 'caption', 'caption_entities');
  if (visibleLength(ft.text) > MAX_CAPTION) throw badRequest('message caption is too long');
  return ft.text ? ft : undefined;
}

interface InlineButton {
  text?: unknown;
  callback_data?: unknown;
  url?: unknown;
  [k: string]: unknown;
}

/** The inline keyboard the message will carry, or undefined (other keyboards are not part of a Message). */
export function readMarkup(p: Params): { inline_keyboard: InlineButton[][] } | undefined {
  const markup = optJson<Record<string, unknown>>(p, 'reply_markup');
  if (markup === undefined) return undefined;
  if (typeof markup !== 'object' || markup === null) throw badRequest("can't parse reply keyboard markup JSON object");
  if (!('inline_keyboard' in markup)) return undefined;
  const rows = markup.inline_keyboard;
  if (!Array.isArray(rows) || !rows.every(Array.isArray)) throw badRequest('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays');
  for (const row of rows as InlineButton[][]) {
    for (const b of row) {
      if (typeof b?.text !== 'string') throw badRequest(`can't parse inline keyboard button: Field "text" must be of type String`);
      const kinds = Object.keys(b).filter((k) => k !== 'text');
      if (kinds.length === 0) throw badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
      if ('callback_data' in b) {
        const bytes = typeof b.callback_data === 'string' ? Buffer.byteLength(b.callback_data, 'utf8') : 0;
        if (bytes < 1 || bytes > 64) throw badRequest('BUTTON_DATA_INVALID');
      }
    }
  }
  return { inline_keyboard: rows as InlineButton[][] };
}

type Chat = ReturnType<ChatStore['chat']>;

/** A topic the bot may post in: it must exist (topics come into being when a user posts in them). */
export function readThread(chat: Chat, p: Params): number | undefined {
  const id = optInt(p, 'message_thread_id');
  if (id === undefined || id === 0) return undefined;
  if (!chat.topics.has(id)) throw badRequest('message thread not found');
  return id;
}

/** reply_parameters (or the older reply_to_message_id). */
export function readReplyTarget(chat: Chat, p: Params): StoredMessage | undefined {
  const rp = optJson<Record<string, unknown>>(p, 'reply_parameters');
  const id = rp ? optInt(rp, 'message_id') : optInt(p, 'reply_to_message_id');
  if (id === undefined) return undefined;
  const target = chat.byId.get(id);
  if (target && !target.deleted) return target;
  const lenient = rp ? optBool(rp, 'allow_sending_without_reply') : optBool(p, 'allow_sending_without_reply');
  if (lenient) return undefined;
  throw badRequest('message to be replied not found');
}

/** A bot message the bot may edit. */
export function editableMessage(chat: Chat, p: Params, botId: number): StoredMessage {
  if (p.inline_message_id !== undefined) throw badRequest('MESSAGE_ID_INVALID');
  const id = optInt(p, 'message_id');
  if (id === undefined) throw badRequest('message identifier is not specified');
  const m = chat.byId.get(id);
  if (!m || m.deleted) throw badRequest('message to edit not found');
  if (m.from?.id !== botId) throw badRequest("message can't be edited");
  return m;
}

export const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
