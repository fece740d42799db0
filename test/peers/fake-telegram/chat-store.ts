// What the fake remembers: chats (with their topics and messages) and files; plus the wire form of a message.
import { randomBytes } from 'node:crypto';
import { badRequest } from './api-error.js';
import type { FakeChat, StoredMessage } from './types.js';

interface ChatState {
  chat: FakeChat;
  nextMessageId: number;
  messages: StoredMessage[];
  byId: Map<number, StoredMessage>;
  /** Forum topics (message_thread_id) known to exist. */
  topics: Set<number>;
}

export interface StoredFile {
  file_id: string;
  file_unique_id: string;
  file_path: string;
  bytes: Buffer;
  mime: string;
}

export class ChatStore {
  private readonly chats = new Map<number, ChatState>();
  private readonly files = new Map<string, StoredFile>();
  private readonly filesByPath = new Map<string, StoredFile>();
  private fileSeq = 0;

  /** Registers a chat or refreshes its fields (a later injection may e.g. make it a forum). */
  addChat(chat: FakeChat): ChatState {
    const known = this.chats.get(chat.id);
    if (known) {
      Object.assign(known.chat, chat);
      return known;
    }
    const state: ChatState = { chat: { ...chat }, nextMessageId: 1, messages: [], byId: new Map(), topics: new Set() };
    this.chats.set(chat.id, state);
    return state;
  }

  /** Resolves a chat_id (number or '@username'); unknown chats are 400 "chat not found" as on the real server. */
  chat(chatId: number | string | undefined): ChatState {
    if (chatId === undefined || chatId === '') throw badRequest('chat_id is empty');
    if (typeof chatId === 'string' && chatId.startsWith('@')) {
      const name = chatId.slice(1).toLowerCase();
      for (const s of this.chats.values()) if (s.chat.username?.toLowerCase() === name) return s;
      throw badRequest('chat not found');
    }
    const id = Number(chatId);
    const state = Number.isSafeInteger(id) ? this.chats.get(id) : undefined;
    if (!state) throw badRequest('chat not found');
    return state;
  }

  find(chatId: number): ChatState | undefined {
    return this.chats.get(chatId);
  }

  /** Appends a message with the chat's next message_id. */
  append(state: ChatState, m: Omit<StoredMessage, 'message_id' | 'chat' | 'editCount'>): StoredMessage {
    const message: StoredMessage = { message_id: state.nextMessageId++, chat: state.chat, editCount: 0, ...m };
    state.messages.push(message);
    state.byId.set(message.message_id, message);
    return message;
  }

  addFile(bytes: Buffer, mime: string, folder: string, ext: string): StoredFile {
    const n = ++this.fileSeq;
    const file: StoredFile = {
      file_id: `AgAC${randomBytes(12).toString('base64url')}${n}`,
      file_unique_id: `AQAD${n}${randomBytes(3).toString('hex')}`,
      file_path: `${folder}/file_${n}.${ext}`,
      bytes,
      mime,
    };
    this.files.set(file.file_id, file);
    this.filesByPath.set(file.file_path, file);
    return file;
  }

  file(fileId: string): StoredFile | undefined {
    return this.files.get(fileId);
  }

  fileByPath(path: string): StoredFile | undefined {
    return this.filesByPath.get(path);
  }
}

/** The Message object as the Bot API sends it (bookkeeping stripped; nested replies one level deep). */
export function toWire(m: StoredMessage, nested = false): Record<string, unknown> {
  const out: Record<string, unknown> = {
    message_id: m.message_id,
    ...(m.from ? { from: { is_bot: false, ...m.from } } : {}),
    chat: { ...m.chat },
    date: m.date,
  };
  if (m.message_thread_id !== undefined) {
    out.message_thread_id = m.message_thread_id;
    if (m.chat.is_forum) out.is_topic_message = true;
  }
  if (m.reply_to_message && !nested) out.reply_to_message = toWire(m.reply_to_message, true);
  if (m.edit_date !== undefined) out.edit_date = m.edit_date;
  if (m.text !== undefined) {
    out.text = m.text;
    if (m.entities?.length) out.entities = m.entities;
  }
  if (m.photo) out.photo = m.photo;
  if (m.document) out.document = m.document;
  if (m.caption !== undefined) {
    out.caption = m.caption;
    if (m.entities?.length) out.caption_entities = m.entities;
  }
  if (m.reply_markup) out.reply_markup = m.reply_markup;
  return structuredClone(out);
}

/** Photo sizes for one uploaded image: a thumbnail and the full size, both downloadable (same bytes). */
export function photoSizes(store: ChatStore, bytes: Buffer, mime: string): unknown[] {
  const ext = mime === 'image/png' ? 'png' : 'jpg';
  return [
    { w: 90, h: 90 },
    { w: 800, h: 800 },
  ].map(({ w, h }) => {
    const f = store.addFile(bytes, mime, 'photos', ext);
    return { file_id: f.file_id, file_unique_id: f.file_unique_id, width: w, height: h, file_size: bytes.length };
  });
}
