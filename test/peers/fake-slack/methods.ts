// The Web API methods the fake answers, with Slack's argument checks and error codes. Each handler gets the
// parsed arguments and which token called it; it returns the `{ok:true,…}` body or throws SlackApiError.
import { fileWire, messageWire, type Workspace } from './workspace.js';
import { validatePayload } from './render.js';
import type { StoredMessage } from './types.js';

/** An `{ok:false,error}` answer (HTTP 200, as Slack answers method errors). */
export class SlackApiError extends Error {
  constructor(readonly error: string) {
    super(error);
  }
}

export interface MethodContext {
  ws: Workspace;
  bot: { userId: string; botId: string; name: string };
  teamId: string;
  appId: string;
  tokenKind: 'bot' | 'app';
  clock: () => number;
  streamExpiryMs: number;
  /** A fresh one-use Socket Mode URL. */
  openSocketUrl(): string;
  /** Stream start times (ts → ms), for expiry. */
  streamStarted: Map<string, number>;
}

export type Method = (ctx: MethodContext, args: Record<string, unknown>) => Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function need(args: Record<string, unknown>, name: string): string {
  const v = str(args[name]);
  if (v === undefined) throw new SlackApiError(name === 'channel' || name === 'channel_id' ? 'channel_not_found' : 'invalid_arguments');
  return v;
}

function botOnly(ctx: MethodContext): void {
  if (ctx.tokenKind !== 'bot') throw new SlackApiError('not_allowed_token_type');
}

/** The channel, which the bot must be in to write (DMs with the bot always are). */
function writable(ctx: MethodContext, id: string) {
  const ch = ctx.ws.channels.get(id);
  if (!ch) throw new SlackApiError('channel_not_found');
  if (!ch.members.has(ctx.bot.userId)) throw new SlackApiError('not_in_channel');
  return ch;
}

function ownMessage(ctx: MethodContext, channel: string, ts: string): StoredMessage {
  const m = ctx.ws.message(channel, ts);
  if (!m) throw new SlackApiError('message_not_found');
  if (m.user !== ctx.bot.userId) throw new SlackApiError('cant_update_message');
  return m;
}

const parseBlocks = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

/** markdown_text or the markdown_text chunks of `chunks` (what ChatStreamer sends). */
function streamText(args: Record<string, unknown>): string {
  const chunks = parseBlocks(args.chunks) as Array<{ type?: string; text?: string }> | undefined;
  const fromChunks = Array.isArray(chunks) ? chunks.filter((c) => c.type === 'markdown_text').map((c) => c.text ?? '').join('') : '';
  const text = (str(args.markdown_text) ?? '') + fromChunks;
  if (text.length > 12_000) throw new SlackApiError('msg_too_long');
  return text;
}

function streaming(ctx: MethodContext, channel: string, ts: string): StoredMessage {
  const m = ownMessage(ctx, channel, ts);
  const started = ctx.streamStarted.get(`${channel}/${ts}`);
  if (m.stream === 'streaming' && started !== undefined && ctx.clock() - started > ctx.streamExpiryMs) m.stream = 'expired';
  if (m.stream !== 'streaming') throw new SlackApiError('message_not_in_streaming_state');
  return m;
}

export const methods: Record<string, Method> = {
  'api.test': () => ({ ok: true }),

  'auth.test': (ctx) => {
    botOnly(ctx);
    return { ok: true, url: 'https://fake.slack.test/', team: 'Fake Workspace', user: ctx.bot.name, team_id: ctx.teamId, user_id: ctx.bot.userId, bot_id: ctx.bot.botId, is_enterprise_install: false };
  },

  'apps.connections.open': (ctx) => {
    if (ctx.tokenKind !== 'app') throw new SlackApiError('not_allowed_token_type');
    return { ok: true, url: ctx.openSocketUrl() };
  },

  'chat.postMessage': (ctx, args) => {
    botOnly(ctx);
    const channel = need(args, 'channel');
    writable(ctx, channel);
    const blocks = parseBlocks(args.blocks);
    const bad = validatePayload(args.text, blocks);
    if (bad) throw new SlackApiError(bad);
    const threadTs = str(args.thread_ts);
    if (threadTs) {
      const root = ctx.ws.message(channel, threadTs);
      if (!root) throw new SlackApiError('thread_not_found');
      if (root.thread_ts && root.thread_ts !== root.ts) throw new SlackApiError('invalid_thread_ts');
    }
    const m = ctx.ws.post({ channel, user: ctx.bot.userId, bot_id: ctx.bot.botId, text: String(args.text ?? ''), ...(Array.isArray(blocks) ? { blocks } : {}), ...(threadTs ? { thread_ts: threadTs } : {}) });
    return { ok: true, channel, ts: m.ts, message: messageWire(m) };
  },

  'chat.update': (ctx, args) => {
    botOnly(ctx);
    const channel = need(args, 'channel');
    const m = ownMessage(ctx, channel, need(args, 'ts'));
    if (m.stream === 'streaming') throw new SlackApiError('cant_update_message');
    const blocks = parseBlocks(args.blocks);
    const bad = validatePayload(args.text ?? (Array.isArray(blocks) && blocks.length ? undefined : m.text), blocks);
    if (bad) throw new SlackApiError(bad);
    if (typeof args.text === 'string') m.text = args.text;
    // Slack: blocks given replace the old ones ([] removes them); text without blocks also removes them.
    if (Array.isArray(blocks)) m.blocks = blocks.length ? blocks : undefined;
    else if (typeof args.text === 'string') m.blocks = undefined;
    m.edited = { user: ctx.bot.userId, ts: ctx.ws.nextTs() };
    m.editCount++;
    return { ok: true, channel, ts: m.ts, text: m.text, message: messageWire(m) };
  },

  'chat.delete': (ctx, args) => {
    botOnly(ctx);
    const channel = need(args, 'channel');
    const m = ctx.ws.message(channel, need(args, 'ts'));
    if (!m) throw new SlackApiError('message_not_found');
    if (m.user !== ctx.bot.userId) throw new SlackApiError('cant_delete_message');
    m.deleted = true;
    return { ok: true, channel, ts: m.ts };
  },

  'chat.postEphemeral': (ctx, args) => {
    botOnly(ctx);
    const channel = need(args, 'channel');
    const ch = writable(ctx, channel);
    const user = need(args, 'user');
    if (!ch.members.has(user)) throw new SlackApiError('user_not_in_channel');
    const blocks = parseBlocks(args.blocks);
    const bad = validatePayload(args.text, blocks);
    if (bad) throw new SlackApiError(bad);
    ctx.ws.ephemerals.push({ channel, user, text: String(args.text ?? ''), ...(Array.isArray(blocks) ? { blocks } : {}), ...(str(args.thread_ts) ? { thread_ts: str(args.thread_ts) } : {}), at: ctx.clock() });
    return { ok: true, message_ts: ctx.ws.nextTs() };
  },

  'chat.startStream': (ctx, args) => {
    botOnly(ctx);
    const channel = need(args, 'channel');
    const ch = writable(ctx, channel);
    const threadTs = str(args.thread_ts);
    if (!threadTs || !ctx.ws.message(channel, threadTs)) throw new SlackApiError('invalid_arguments');
    // Outside DMs the stream is shown to one recipient, who must be named.
    if (ch.kind !== 'im' && (!str(args.recipient_user_id) || !str(args.recipient_team_id))) throw new SlackApiError('invalid_arguments');
    const m = ctx.ws.post({ channel, user: ctx.bot.userId, bot_id: ctx.bot.botId, text: streamText(args), thread_ts: threadTs, stream: 'streaming' });
    ctx.streamStarted.set(`${channel}/${m.ts}`, ctx.clock());
    return { ok: true, channel, ts: m.ts };
  },

  'chat.appendStream': (ctx, args) => {
    botOnly(ctx);
    const channel = need(args, 'channel');
    const m = streaming(ctx, channel, need(args, 'ts'));
    const text = streamText(args);
    if (!text) throw new SlackApiError('invalid_arguments');
    m.text += text;
    m.editCount++;
    return { ok: true, channel, ts: m.ts };
  },

  'chat.stopStream': (ctx, args) => {
    botOnly(ctx);
    const channel = need(args, 'channel');
    const m = streaming(ctx, channel, need(args, 'ts'));
    m.text += streamText(args);
    const blocks = parseBlocks(args.blocks);
    if (Array.isArray(blocks) && blocks.length) m.blocks = blocks;
    m.stream = 'completed';
    return { ok: true, channel, ts: m.ts, message: messageWire(m) };
  },

  'reactions.add': (ctx, args) => {
    botOnly(ctx);
    const channel = need(args, 'channel');
    const m = ctx.ws.message(channel, need(args, 'timestamp'));
    if (!m) throw new SlackApiError('message_not_found');
    const name = need(args, 'name');
    const who = m.reactions.get(name) ?? new Set<string>();
    if (who.has(ctx.bot.userId)) throw new SlackApiError('already_reacted');
    who.add(ctx.bot.userId);
    m.reactions.set(name, who);
    return { ok: true };
  },

  'reactions.remove': (ctx, args) => {
    botOnly(ctx);
    const channel = need(args, 'channel');
    const m = ctx.ws.message(channel, need(args, 'timestamp'));
    const who = m?.reactions.get(need(args, 'name'));
    if (!m || !who?.delete(ctx.bot.userId)) throw new SlackApiError('no_reaction');
    return { ok: true };
  },

  'users.info': (ctx, args) => {
    botOnly(ctx);
    const u = ctx.ws.users.get(need(args, 'user'));
    if (!u) throw new SlackApiError('user_not_found');
    return { ok: true, user: { id: u.id, name: u.name, real_name: u.name, is_bot: u.isBot, profile: { display_name: u.name, real_name: u.name } } };
  },

  'conversations.info': (ctx, args) => {
    botOnly(ctx);
    const ch = ctx.ws.channels.get(need(args, 'channel'));
    if (!ch) throw new SlackApiError('channel_not_found');
    return { ok: true, channel: { id: ch.id, name: ch.name, is_im: ch.kind === 'im', is_mpim: ch.kind === 'mpim', is_private: ch.kind !== 'channel', is_member: ch.members.has(ctx.bot.userId) } };
  },

  'files.info': (ctx, args) => {
    botOnly(ctx);
    const f = ctx.ws.files.get(need(args, 'file'));
    if (!f) throw new SlackApiError('file_not_found');
    return { ok: true, file: fileWire(f) };
  },
};
