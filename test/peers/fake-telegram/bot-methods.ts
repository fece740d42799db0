// Methods about the bot itself and its update stream: identity, commands, chats, files, callbacks, polling, webhook.
import { ApiError, badRequest } from './api-error.js';
import type { Handler } from './context.js';
import { optBool, optInt, optJson, optString } from './params.js';
import { CONFLICT_WEBHOOK } from './update-queue.js';

const getMe: Handler = (s) => ({
  ...s.bot,
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
});

function commandsKey(p: Record<string, unknown>): string {
  const scope = optJson<Record<string, unknown>>(p, 'scope') ?? { type: 'default' };
  return `${JSON.stringify(scope)}|${optString(p, 'language_code') ?? ''}`;
}

const setMyCommands: Handler = (s, { params }) => {
  const commands = optJson<Array<Record<string, unknown>>>(params, 'commands');
  if (!Array.isArray(commands)) throw badRequest("can't parse commands JSON object");
  if (commands.length > 100) throw badRequest('too many commands');
  for (const c of commands) {
    if (typeof c?.command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(c.command)) throw badRequest('BOT_COMMAND_INVALID');
    if (typeof c.description !== 'string' || c.description.trim().length === 0 || c.description.length > 256) {
      throw badRequest('BOT_COMMAND_DESCRIPTION_INVALID');
    }
  }
  s.commands.set(commandsKey(params), commands.map((c) => ({ command: c.command, description: c.description })));
  return true;
};

const getMyCommands: Handler = (s, { params }) => s.commands.get(commandsKey(params)) ?? [];

const deleteMyCommands: Handler = (s, { params }) => {
  s.commands.delete(commandsKey(params));
  return true;
};

const getChat: Handler = (s, { params }) => {
  const { chat } = s.store.chat(params.chat_id as number | string | undefined);
  return { ...chat, accent_color_id: 0, max_reaction_count: 11 };
};

const getFile: Handler = (s, { params }) => {
  const f = s.store.file(optString(params, 'file_id') ?? '');
  if (!f) throw badRequest('invalid file_id');
  return { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.bytes.length, file_path: f.file_path };
};

const answerCallbackQuery: Handler = (s, { params }) => {
  const id = optString(params, 'callback_query_id') ?? '';
  if (!s.openCallbacks.delete(id)) throw badRequest('query is too old and response timeout expired or query ID is invalid');
  const text = optString(params, 'text');
  s.callbackAnswers.set(id, { ...(text !== undefined ? { text } : {}), ...(params.show_alert !== undefined ? { show_alert: optBool(params, 'show_alert') } : {}) });
  return true;
};

const getUpdates: Handler = (s, { params, signal }) => {
  if (s.webhook.active) throw new ApiError(409, CONFLICT_WEBHOOK);
  const allowed = optJson<string[]>(params, 'allowed_updates');
  return s.queue.getUpdates(
    { offset: optInt(params, 'offset'), limit: optInt(params, 'limit'), timeout: optInt(params, 'timeout'), allowedUpdates: Array.isArray(allowed) ? allowed : undefined },
    signal,
  );
};

const setWebhook: Handler = (s, { params }) => {
  const url = optString(params, 'url') ?? '';
  const secret = optString(params, 'secret_token');
  if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw badRequest('secret token contains unallowed characters');
  // Loopback http is accepted (the real server wants https on 443/80/88/8443).
  if (url && !/^https?:\/\/[^/]+/i.test(url)) throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
  if (optBool(params, 'drop_pending_updates')) s.queue.dropPending();
  const allowed = optJson<string[]>(params, 'allowed_updates');
  if (Array.isArray(allowed)) s.queue.setAllowed(allowed);
  if (!url) {
    s.webhook.clear();
    return true;
  }
  s.queue.terminatePoll(CONFLICT_WEBHOOK);
  s.webhook.set(url, secret, optInt(params, 'max_connections'));
  return true;
};

const deleteWebhook: Handler = (s, { params }) => {
  if (optBool(params, 'drop_pending_updates')) s.queue.dropPending();
  s.webhook.clear();
  return true;
};

const getWebhookInfo: Handler = (s) => s.webhook.info();

export const botMethods: Record<string, Handler> = {
  getMe, setMyCommands, getMyCommands, deleteMyCommands, getChat, getFile, answerCallbackQuery, getUpdates,
  setWebhook, deleteWebhook, getWebhookInfo,
};
