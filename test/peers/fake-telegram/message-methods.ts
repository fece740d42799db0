// Methods that create, change or decorate messages in a chat.
import { badRequest, NOT_MODIFIED } from './api-error.js';
import { photoSizes, toWire, type ChatStore, type StoredFile } from './chat-store.js';
import type { FakeState, Handler, MethodCall } from './context.js';
import { visibleLength } from './html-entities.js';
import {
  editableMessage, MAX_TEXT, readCaption, readFormatted, readMarkup, readMessageText, readReplyTarget, readThread, sameJson,
} from './message-input.js';
import { optInt, optJson, optString } from './params.js';
import type { StoredMessage } from './types.js';

const CHAT_ACTIONS = new Set([
  'typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice',
  'upload_document', 'choose_sticker', 'find_location', 'record_video_note', 'upload_video_note',
]);

/** Common part of every send*: target chat, topic, reply target, keyboard. */
function sendCommon(s: FakeState, call: MethodCall) {
  const chat = s.store.chat(call.params.chat_id as number | string | undefined);
  const thread = readThread(chat, call.params);
  const reply = readReplyTarget(chat, call.params);
  const markup = readMarkup(call.params);
  const base: Omit<StoredMessage, 'message_id' | 'chat' | 'editCount'> = {
    from: s.bot,
    date: s.nowSeconds(),
    ...(thread ?? reply?.message_thread_id ? { message_thread_id: thread ?? reply?.message_thread_id } : {}),
    ...(reply ? { reply_to_message: reply } : {}),
    ...(markup ? { reply_markup: markup } : {}),
  };
  return { chat, base };
}

const sendMessage: Handler = (s, call) => {
  const ft = readMessageText(call.params);
  const { chat, base } = sendCommon(s, call);
  const m = s.store.append(chat, { ...base, text: ft.text, ...(ft.entities.length ? { entities: ft.entities } : {}), ...(ft.parseMode ? { parse_mode: ft.parseMode } : {}) });
  return toWire(m);
};

const editMessageText: Handler = (s, call) => {
  const chat = s.store.chat(call.params.chat_id as number | string | undefined);
  const m = editableMessage(chat, call.params, s.bot.id);
  if (m.text === undefined) throw badRequest('there is no text in the message to edit');
  const ft = readMessageText(call.params);
  // Omitting reply_markup in an edit removes the keyboard on the real server.
  const markup = readMarkup(call.params);
  if (m.text === ft.text && sameJson(m.entities ?? [], ft.entities) && sameJson(m.reply_markup, markup)) throw badRequest(NOT_MODIFIED);
  m.text = ft.text;
  m.entities = ft.entities.length ? ft.entities : undefined;
  m.parse_mode = ft.parseMode;
  m.reply_markup = markup;
  m.edit_date = s.nowSeconds();
  m.editCount++;
  return toWire(m);
};

const editMessageCaption: Handler = (s, call) => {
  const chat = s.store.chat(call.params.chat_id as number | string | undefined);
  const m = editableMessage(chat, call.params, s.bot.id);
  if (!m.photo && !m.document) throw badRequest('there is no caption in the message to edit');
  const ft = readCaption({ caption: '', ...call.params });
  const markup = readMarkup(call.params);
  const text = ft?.text;
  if (m.caption === text && sameJson(m.entities ?? [], ft?.entities ?? []) && sameJson(m.reply_markup, markup)) throw badRequest(NOT_MODIFIED);
  m.caption = text;
  m.entities = ft?.entities.length ? ft.entities : undefined;
  m.reply_markup = markup;
  m.edit_date = s.nowSeconds();
  m.editCount++;
  return toWire(m);
};

const editMessageReplyMarkup: Handler = (s, call) => {
  const chat = s.store.chat(call.params.chat_id as number | string | undefined);
  const m = editableMessage(chat, call.params, s.bot.id);
  const markup = readMarkup(call.params);
  if (sameJson(m.reply_markup, markup)) throw badRequest(NOT_MODIFIED);
  m.reply_markup = markup;
  m.editCount++;
  return toWire(m);
};

const deleteMessage: Handler = (s, call) => {
  const chat = s.store.chat(call.params.chat_id as number | string | undefined);
  const id = optInt(call.params, 'message_id');
  const m = id === undefined ? undefined : chat.byId.get(id);
  if (!m || m.deleted) throw badRequest('message to delete not found');
  m.deleted = true;
  return true;
};

const sendChatAction: Handler = (s, call) => {
  const chat = s.store.chat(call.params.chat_id as number | string | undefined);
  readThread(chat, call.params);
  if (!CHAT_ACTIONS.has(optString(call.params, 'action') ?? '')) throw badRequest('wrong parameter action in request');
  return true;
};

const setMessageReaction: Handler = (s, call) => {
  const chat = s.store.chat(call.params.chat_id as number | string | undefined);
  const id = optInt(call.params, 'message_id');
  const m = id === undefined ? undefined : chat.byId.get(id);
  if (!m || m.deleted) throw badRequest('message to react not found');
  const reaction = optJson<unknown[]>(call.params, 'reaction') ?? [];
  if (!Array.isArray(reaction)) throw badRequest("can't parse reaction types JSON object");
  for (const r of reaction as Array<Record<string, unknown>>) {
    const ok = (r?.type === 'emoji' && typeof r.emoji === 'string' && r.emoji !== '') || (r?.type === 'custom_emoji' && typeof r.custom_emoji_id === 'string') || r?.type === 'paid';
    if (!ok) throw badRequest('REACTION_INVALID');
  }
  return true;
};

const sendMessageDraft: Handler = (s, call) => {
  const chat = s.store.chat(call.params.chat_id as number | string | undefined);
  if (chat.chat.type !== 'private') throw badRequest('drafts can be sent only to private chats');
  const draftId = optInt(call.params, 'draft_id');
  if (!draftId) throw badRequest('draft_id must be non-zero');
  readThread(chat, call.params);
  const ft = readFormatted(call.params, 'text', 'entities'); // empty is allowed: shows a placeholder
  if (visibleLength(ft.text) > MAX_TEXT) throw badRequest('message is too long');
  s.drafts.push({ chat_id: chat.chat.id, draft_id: draftId, text: ft.text });
  return true;
};

const DOC_TYPES: Record<string, string> = {
  txt: 'text/plain', md: 'text/markdown', pdf: 'application/pdf', json: 'application/json', png: 'image/png',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', zip: 'application/zip', csv: 'text/csv', html: 'text/html',
};

/** An InputFile field: an upload (direct or attach://), or the file_id of a file the fake already has. */
function readInputFile(store: ChatStore, call: MethodCall, field: string): { upload?: { bytes: Buffer; name: string; type: string }; known?: StoredFile } {
  const value = optString(call.params, field);
  const attach = value?.startsWith('attach://') ? call.files.get(value.slice('attach://'.length)) : undefined;
  const file = attach ?? call.files.get(field);
  if (file) return { upload: { bytes: file.bytes, name: file.filename, type: file.contentType } };
  const known = value ? store.file(value) : undefined;
  if (known) return { known };
  if (!value) throw badRequest(`there is no ${field} in the request`);
  throw badRequest('wrong file identifier/HTTP URL specified');
}

const sendPhoto: Handler = (s, call) => {
  const input = readInputFile(s.store, call, 'photo');
  const caption = readCaption(call.params);
  const { chat, base } = sendCommon(s, call);
  let photo: unknown[];
  if (input.upload) {
    const mime = input.upload.name.toLowerCase().endsWith('.png') ? 'image/png' : 'image/jpeg';
    photo = photoSizes(s.store, input.upload.bytes, mime);
  } else {
    const f = input.known!;
    photo = [{ file_id: f.file_id, file_unique_id: f.file_unique_id, width: 800, height: 800, file_size: f.bytes.length }];
  }
  const m = s.store.append(chat, { ...base, photo, ...(caption ? { caption: caption.text, ...(caption.entities.length ? { entities: caption.entities } : {}) } : {}) });
  return toWire(m);
};

const sendDocument: Handler = (s, call) => {
  const input = readInputFile(s.store, call, 'document');
  const caption = readCaption(call.params);
  const { chat, base } = sendCommon(s, call);
  let document: Record<string, unknown>;
  if (input.upload) {
    const ext = /\.([A-Za-z0-9]+)$/.exec(input.upload.name)?.[1]?.toLowerCase() ?? 'dat';
    // The real server guesses the type from the name; grammy always uploads as application/octet-stream.
    const mime = DOC_TYPES[ext] ?? input.upload.type;
    const f = s.store.addFile(input.upload.bytes, mime, 'documents', ext);
    document = { file_name: input.upload.name, mime_type: mime, file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.bytes.length };
  } else {
    const f = input.known!;
    document = { file_name: f.file_path.split('/').pop(), mime_type: f.mime, file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.bytes.length };
  }
  const m = s.store.append(chat, { ...base, document, ...(caption ? { caption: caption.text, ...(caption.entities.length ? { entities: caption.entities } : {}) } : {}) });
  return toWire(m);
};

export const messageMethods: Record<string, Handler> = {
  sendMessage, editMessageText, editMessageCaption, editMessageReplyMarkup, deleteMessage, sendChatAction,
  setMessageReaction, sendMessageDraft, sendPhoto, sendDocument,
};
