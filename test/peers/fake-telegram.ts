// A faithful Telegram Bot API fake on 127.0.0.1 for tests: real long polling and webhooks, Bot-API-shaped
// errors, message store with edits and parse checks, enforced flood limits and one-shot fault injection.
// Point grammy at it with `new Bot(fake.token, { client: { apiRoot: fake.apiRoot } })`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dropConnection, FaultQueue } from './fake-http.js';
import { ApiError } from './fake-telegram/api-error.js';
import { botMethods } from './fake-telegram/bot-methods.js';
import { autoEntities } from './fake-telegram/auto-entities.js';
import { ChatStore, photoSizes, toWire } from './fake-telegram/chat-store.js';
import type { FakeState, Handler } from './fake-telegram/context.js';
import { messageMethods } from './fake-telegram/message-methods.js';
import { parseRequest, type UploadedFile } from './fake-telegram/request-body.js';
import { RateLimits } from './fake-telegram/rate-limits.js';
import type { CallRecord, FakeFailure, FakeTelegram, FakeTelegramOptions, StoredMessage } from './fake-telegram/types.js';
import { UpdateQueue } from './fake-telegram/update-queue.js';
import { WebhookDelivery } from './fake-telegram/webhook-delivery.js';

export type * from './fake-telegram/types.js';

const DEFAULT_TOKEN = '123456789:AAFakeTokenForTestsOnly_abcdefghijklm';
const DEFAULT_BOT = { id: 123456789, username: 'loopbridge_bot', first_name: 'Loopbridge' };

/** Methods that read a chat: they carry a chat_id but are not flood-limited like sends and edits. */
const UNLIMITED_READS = new Set(['getchat', 'getchatmember', 'getchatadministrators', 'getchatmembercount']);

const METHODS = new Map<string, Handler>(
  Object.entries({ ...botMethods, ...messageMethods }).map(([name, h]) => [name.toLowerCase(), h]),
);

export async function startFakeTelegram(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const token = options.token ?? DEFAULT_TOKEN;
  const clock = options.clock ?? Date.now;
  const jitterMs = options.networkJitterMs ?? 0;
  const nowSeconds = () => Math.floor(clock() / 1000);
  const store = new ChatStore();
  const queue = new UpdateQueue();
  const state: FakeState = {
    bot: { ...(options.bot ?? DEFAULT_BOT), is_bot: true },
    store,
    queue,
    webhook: new WebhookDelivery(queue, nowSeconds),
    nowSeconds,
    openCallbacks: new Set(),
    callbackAnswers: new Map(),
    drafts: [],
    commands: new Map(),
  };
  const limits = options.limits === false ? undefined : new RateLimits(options.limits ?? {}, clock);
  const calls: CallRecord[] = [];
  const faults = new FaultQueue<FakeFailure>();
  let tooMany = 0;
  let callbackSeq = 0;
  let closing: Promise<void> | undefined;

  function reply(res: ServerResponse, record: CallRecord | undefined, status: number, body: Record<string, unknown>): void {
    if (record) {
      record.status = status;
      if (body.ok === false) record.error = String(body.description);
    }
    if (status === 429) tooMany++;
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  function serveFile(res: ServerResponse, fileToken: string, path: string): void {
    const file = fileToken === token ? store.fileByPath(decodeURIComponent(path)) : undefined;
    if (fileToken !== token) return reply(res, undefined, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    if (!file) return reply(res, undefined, 404, { ok: false, error_code: 404, description: 'Not Found' });
    res.writeHead(200, { 'content-type': file.mime, 'content-length': file.bytes.length });
    res.end(file.bytes);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const fileRoute = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (fileRoute) return serveFile(res, fileRoute[1], fileRoute[2]);
    const route = /^\/bot([^/]*)\/([A-Za-z0-9_]+)$/.exec(url.pathname);
    if (!route) return reply(res, undefined, 404, { ok: false, error_code: 404, description: 'Not Found' });
    const [, callToken, method] = route;

    if (jitterMs > 0 && method.toLowerCase() !== 'getupdates') await new Promise((r) => setTimeout(r, Math.random() * jitterMs));
    let parsed: Awaited<ReturnType<typeof parseRequest>>;
    const record: CallRecord = { method, params: {}, at: clock(), status: 0 };
    calls.push(record);
    try {
      parsed = await parseRequest(req, url.searchParams);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(400, 'Bad Request: invalid request body');
      return reply(res, record, e.errorCode, e.toBody());
    }
    record.params = { ...parsed.params, ...describeFiles(parsed.files) };
    if (callToken !== token) return reply(res, record, 401, { ok: false, error_code: 401, description: 'Unauthorized' });

    const key = method.toLowerCase();
    const failure = faults.take(key);
    if (failure) {
      if ('network' in failure) return dropConnection(req, record);
      if ('hang' in failure) {
        // Never answered: the socket stays open until the client gives up or the fake closes.
        record.error = 'hang';
        return;
      }
      const e = new ApiError(failure.error_code, failure.description, failure.retry_after !== undefined ? { retry_after: failure.retry_after } : undefined);
      return reply(res, record, e.errorCode, e.toBody());
    }

    const handler = METHODS.get(key);
    if (!handler) return reply(res, record, 404, { ok: false, error_code: 404, description: 'Not Found' });

    if (limits && parsed.params.chat_id !== undefined && !UNLIMITED_READS.has(key)) {
      const chatId = limitedChatId(parsed.params.chat_id);
      const rejected = chatId === undefined ? undefined : limits.admit(chatId);
      if (rejected) return reply(res, record, 429, rejected.toBody());
    }

    // Aborted when the client goes away before we answered (ends a long poll early).
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    if (req.socket.destroyed) gone.abort();
    try {
      const result = await handler(state, { params: parsed.params, files: parsed.files, signal: gone.signal });
      reply(res, record, 200, { ok: true, result });
    } catch (err) {
      if (err instanceof ApiError) return reply(res, record, err.errorCode, err.toBody());
      reply(res, record, 500, { ok: false, error_code: 500, description: `Internal Server Error: ${(err as Error).message}` });
    }
  }

  /** The chat a flood limit applies to; '@username' resolves through the store, unknown ones are not limited. */
  function limitedChatId(raw: unknown): number | undefined {
    try {
      return store.chat(raw as number | string).chat.id;
    } catch {
      return undefined;
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) reply(res, undefined, 500, { ok: false, error_code: 500, description: `Internal Server Error: ${(err as Error).message}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  function chatMessages(chatId: number, threadId?: number): StoredMessage[] {
    const all = store.find(chatId)?.messages ?? [];
    return threadId === undefined ? [...all] : all.filter((m) => m.message_thread_id === threadId);
  }

  const fake: FakeTelegram = {
    apiRoot: `http://127.0.0.1:${port}`,
    token,
    bot: state.bot,
    calls,
    callbackAnswers: state.callbackAnswers,
    drafts: state.drafts,

    userMessage(input) {
      const chat = store.addChat(input.chat);
      if (input.threadId !== undefined) chat.topics.add(input.threadId);
      let reply: StoredMessage | undefined;
      if (input.replyToMessageId !== undefined) {
        reply = chat.byId.get(input.replyToMessageId);
        if (!reply) throw new Error(`fake-telegram: no message ${input.replyToMessageId} in chat ${chat.chat.id} to reply to`);
      }
      const m: Omit<StoredMessage, 'message_id' | 'chat' | 'editCount'> = {
        from: { is_bot: false, ...input.from },
        date: nowSeconds(),
        ...(input.threadId !== undefined ? { message_thread_id: input.threadId } : {}),
        ...(reply ? { reply_to_message: reply } : {}),
      };
      if (input.photo) m.photo = photoSizes(store, input.photo.bytes, input.photo.mime ?? 'image/jpeg');
      if (input.document) {
        const ext = /\.([A-Za-z0-9]+)$/.exec(input.document.fileName)?.[1] ?? 'dat';
        const f = store.addFile(input.document.bytes, input.document.mime, 'documents', ext);
        m.document = { file_name: input.document.fileName, mime_type: input.document.mime, file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.bytes.length };
      }
      const body = input.photo || input.document ? input.caption : input.text;
      if (body !== undefined) {
        const entities = input.entities ?? autoEntities(body);
        if (input.photo || input.document) m.caption = body;
        else m.text = body;
        if (entities.length) m.entities = entities;
      }
      const stored = store.append(chat, m);
      queue.push({ message: toWire(stored) });
      return stored;
    },

    pressButton(input) {
      const chat = store.addChat(input.chat);
      const m = chat.byId.get(input.messageId);
      if (!m || m.deleted) throw new Error(`fake-telegram: no message ${input.messageId} in chat ${input.chat.id}`);
      const rows = (m.reply_markup as { inline_keyboard?: Array<Array<{ callback_data?: string }>> } | undefined)?.inline_keyboard ?? [];
      if (!rows.flat().some((b) => b.callback_data === input.data)) {
        throw new Error(`fake-telegram: message ${input.messageId} has no button with callback_data ${JSON.stringify(input.data)}`);
      }
      const id = `${BigInt(state.bot.id) * 1000000n + BigInt(++callbackSeq)}`;
      state.openCallbacks.add(id);
      queue.push({
        callback_query: { id, from: { is_bot: false, ...input.from }, message: toWire(m), chat_instance: `${-Math.abs(input.chat.id) * 7}`, data: input.data },
      });
      return id;
    },

    injectUpdate(update) {
      return queue.push(update);
    },

    addChat(chat) {
      store.addChat(chat);
    },

    redeliver(updateId) {
      queue.redeliver(updateId);
    },

    failNext(method, failure, times = 1) {
      faults.add((Array.isArray(method) ? method : [method]).map((m) => m.toLowerCase()), failure, times);
    },

    messages: chatMessages,

    botMessages(chatId, threadId) {
      return chatMessages(chatId, threadId).filter((m) => m.from?.id === state.bot.id);
    },

    rateLimited() {
      return tooMany;
    },

    close() {
      closing ??= (async () => {
        queue.closed = true;
        state.webhook.close();
        queue.changed.wake();
        // Let pending long polls answer their empty result before the sockets go.
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
  return fake;
}

function describeFiles(files: Map<string, UploadedFile>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of files) out[name] = { file: f.filename, size: f.bytes.length };
  return out;
}
