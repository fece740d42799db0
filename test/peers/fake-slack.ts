// A faithful Slack fake on 127.0.0.1 for tests: the Web API over real HTTP (form and JSON bodies, bearer
// auth, `{ok:false,error}`, Slack's per-method limits → 429 + Retry-After), a workspace of channels, threads
// and messages rendered as people see them, the streaming state machine with expiry, reactions, files and
// ephemeral messages; Socket Mode over a real WebSocket and signed HTTP delivery, both with Slack's
// acknowledgement and retry rules; injectors for people's messages and button presses; a call log.
// Point Bolt at it with `clientOptions: { slackApiUrl: fake.url }`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Delivery, type PendingEvent, type Transport } from './fake-slack/delivery.js';
import { dropConnection, FaultQueue } from './fake-http.js';
import { encodeDelivery, HttpDelivery, signRequest } from './fake-slack/http-delivery.js';
import { mergeLimits, MethodLimits } from './fake-slack/limits.js';
import { methods, SlackApiError, type MethodContext } from './fake-slack/methods.js';
import { renderMessage, type RenderContext } from './fake-slack/render.js';
import { BadRequest, parseArgs, readBody, tokenOf } from './fake-slack/request.js';
import { SocketModeServer } from './fake-slack/socket-mode.js';
import type { CallRecord, ChannelKind, DeliveryRecord, EphemeralMessage, FakeFailure, FakeFile, FakeSlackOptions, PressInput, StoredMessage, UserMessageInput } from './fake-slack/types.js';
import { fileWire, messageWire, Workspace } from './fake-slack/workspace.js';

export type * from './fake-slack/types.js';
export { signRequest, encodeDelivery };

/** What a test gets back for an injected event. */
export interface Injected {
  /** Event ids delivered (a mention yields two: `message` and `app_mention`). */
  eventIds: string[];
  /** Resolves true once every delivery was acknowledged (after retries), false if one never was. */
  acked: Promise<boolean>;
}

export interface FakeSlack {
  /** Web API base, e.g. http://127.0.0.1:PORT/api/ (Bolt's `slackApiUrl`). */
  url: string;
  origin: string;
  botToken: string;
  appToken: string;
  signingSecret: string;
  teamId: string;
  bot: { userId: string; botId: string; name: string };
  calls: CallRecord[];
  /** Every delivery attempt of every event, in order. */
  deliveries: DeliveryRecord[];
  ephemerals: EphemeralMessage[];
  /** mrkdwn the fake could not render cleanly (raw `<`, unknown control sequences), with the message ts. */
  formatProblems: Array<{ ts: string; problem: string }>;
  addUser(id: string, name: string): void;
  addChannel(input: { id: string; kind: ChannelKind; members: string[]; name?: string }): void;
  userMessage(input: UserMessageInput): StoredMessage & Injected;
  /** The bot's own message as Slack echoes it back in a `message` event (bot_id set). */
  echoBotMessage(channel: string, text: string): Injected;
  /** Delivers the event with this id again, as a Slack retry (`retry_attempt` ≥ 1). */
  redeliver(eventId: string): Promise<boolean>;
  /** A person presses a button (or picks a select option) on a bot message. */
  press(input: PressInput): Injected;
  /** Delivers any `block_actions` payload (for forged presses). */
  deliverInteractive(payload: Record<string, unknown>): Injected;
  uploadFile(bytes: Buffer, mimetype: string, name: string): FakeFile;
  /** Fails the next `times` calls of the method (or of any of the methods) with this failure. */
  failNext(method: string | string[], failure: FakeFailure, times?: number): void;
  /** Switches to HTTP mode (events POSTed here) or back to Socket Mode (undefined). */
  setRequestUrl(url: string | undefined): void;
  /** POSTs a signed url_verification challenge to the request URL; resolves with status and body. */
  verifyUrl(): Promise<{ status: number; body: string }>;
  /** Sends `disconnect` on every socket (Slack refreshing connections). */
  disconnectSockets(reason?: string): void;
  /** Cuts every socket without a close handshake. */
  dropSockets(): void;
  /** Sockets accepted so far, and currently open. */
  socketsOpened(): number;
  socketsOpen(): number;
  messages(channel: string, threadTs?: string): StoredMessage[];
  botMessages(channel: string, threadTs?: string): StoredMessage[];
  message(channel: string, ts: string): StoredMessage | undefined;
  /** What a person sees of a message (blocks rendered, mrkdwn applied; buttons not included). */
  visible(m: StoredMessage): string;
  /** Button and select-option labels of a message, in order. */
  buttons(m: StoredMessage): string[];
  /** 429s the fake answered (injected ones included). */
  rateLimited(): number;
  close(): Promise<void>;
}

const DEFAULTS = {
  botToken: 'xoxb-1-fake-bot-token-for-tests',
  appToken: 'xapp-1-A0FAKE-1-fake-app-token',
  signingSecret: 'fake-signing-secret',
  bot: { userId: 'UBOT', botId: 'BBOT', name: 'loopbridge' },
  teamId: 'T0FAKE',
  appId: 'A0FAKE',
};

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const clock = options.clock ?? Date.now;
  const botToken = options.botToken ?? DEFAULTS.botToken;
  const appToken = options.appToken ?? DEFAULTS.appToken;
  const signingSecret = options.signingSecret ?? DEFAULTS.signingSecret;
  const bot = options.bot ?? DEFAULTS.bot;
  const teamId = options.teamId ?? DEFAULTS.teamId;
  const ackTimeoutMs = options.ackTimeoutMs ?? 3000;
  let origin = '';
  const ws = new Workspace(clock, () => origin);
  ws.addUser(bot.userId, bot.name, true);
  const limits = options.limits === false ? undefined : new MethodLimits(mergeLimits(options.limits), clock);
  const calls: CallRecord[] = [];
  const faults = new FaultQueue<FakeFailure>();
  const formatProblems: Array<{ ts: string; problem: string }> = [];
  const streamStarted = new Map<string, number>();
  const sentEvents = new Map<string, PendingEvent>();
  let tooMany = 0;
  let requestUrl: string | undefined;
  let eventSeq = 0;
  let closing: Promise<void> | undefined;

  const renderCtx: RenderContext = {
    userName: (id) => ws.users.get(id)?.name,
    channelName: (id) => ws.channels.get(id)?.name,
  };

  function answer(res: ServerResponse, record: CallRecord | undefined, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
    if (record) {
      record.status = status;
      if (body.ok === false) record.error = String(body.error);
    }
    if (status === 429) tooMany++;
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }

  function serveFile(req: IncomingMessage, res: ServerResponse, pathname: string): void {
    const file = ws.fileByPath(pathname);
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!file) return void res.writeHead(404).end();
    if (auth !== botToken) {
      // What Slack really does without a valid token: a 200 HTML login page, not the file.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end('<!DOCTYPE html><html><body>Sign in to Slack</body></html>');
    }
    res.writeHead(200, { 'content-type': file.mimetype, 'content-length': file.bytes.length });
    res.end(file.bytes);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.startsWith('/files-pri/')) return serveFile(req, res, url.pathname);
    const route = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    if (!route) return void res.writeHead(404).end();
    const method = route[1];
    const record: CallRecord = { method, args: {}, at: clock(), status: 0 };
    calls.push(record);
    let args: Record<string, unknown>;
    try {
      args = parseArgs(String(req.headers['content-type'] ?? ''), (await readBody(req)).toString('utf8'), url.searchParams);
    } catch (err) {
      return answer(res, record, 200, { ok: false, error: err instanceof BadRequest ? err.message : 'invalid_form_data' });
    }
    const { token: _token, ...shown } = args;
    record.args = shown;
    const token = tokenOf(req, args);
    if (!token) return answer(res, record, 200, { ok: false, error: 'not_authed' });
    const tokenKind = token === botToken ? 'bot' : token === appToken ? 'app' : undefined;
    if (!tokenKind) return answer(res, record, 200, { ok: false, error: 'invalid_auth' });
    const handler = methods[method];
    if (!handler) return answer(res, record, 200, { ok: false, error: 'unknown_method' });

    const failure = faults.take(method);
    if (failure) {
      if ('network' in failure) return dropConnection(req, record);
      if ('retryAfterSec' in failure) return answer(res, record, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(failure.retryAfterSec) });
      return answer(res, record, 'status' in failure ? failure.status : 200, { ok: false, error: failure.error });
    }

    const wait = limits?.admit(method, typeof args.channel === 'string' ? args.channel : undefined);
    if (wait !== undefined) return answer(res, record, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(wait) });

    const ctx: MethodContext = { ws, bot, teamId, appId: DEFAULTS.appId, tokenKind, clock, streamExpiryMs: options.streamExpiryMs ?? 300_000, openSocketUrl: () => socket.ticketUrl(origin), streamStarted };
    try {
      const body = handler(ctx, args);
      answer(res, record, 200, body);
      if (typeof body.ts === 'string' && typeof body.channel === 'string') checkFormat(body.channel, body.ts);
    } catch (err) {
      if (err instanceof SlackApiError) return answer(res, record, 200, { ok: false, error: err.error });
      answer(res, record, 500, { ok: false, error: 'fatal_error' });
    }
  }

  function checkFormat(channel: string, ts: string): void {
    const m = ws.message(channel, ts);
    if (!m) return;
    const problems: string[] = [];
    renderMessage(m.text, m.blocks, renderCtx, problems);
    for (const problem of problems) formatProblems.push({ ts, problem });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) answer(res, undefined, 500, { ok: false, error: 'fatal_error' });
    });
  });
  const socket = new SocketModeServer(server, {
    appId: DEFAULTS.appId,
    ackTimeoutMs,
    pingIntervalMs: options.pingIntervalMs ?? 10_000,
    disconnectGraceMs: options.disconnectGraceMs ?? 2000,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let http: HttpDelivery | undefined;
  const transport = (): Transport => http ?? socket;
  const delivery = new Delivery(transport, options.retryDelaysMs ?? [0, 60_000, 300_000], clock);

  function eventCallback(event: Record<string, unknown>): PendingEvent {
    const eventId = `Ev${String(++eventSeq).padStart(8, '0')}`;
    const payload = {
      token: 'fake-verification-token',
      team_id: teamId,
      api_app_id: DEFAULTS.appId,
      event: { ...event, event_ts: event.ts ?? ws.nextTs() },
      type: 'event_callback',
      event_id: eventId,
      event_time: Math.floor(clock() / 1000),
      authorizations: [{ enterprise_id: null, team_id: teamId, user_id: bot.userId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
      event_context: `4-fake-${eventId}`,
    };
    const ev: PendingEvent = { eventId, type: 'events_api', payload };
    sentEvents.set(eventId, ev);
    return ev;
  }

  function inject(events: PendingEvent[]): Injected {
    return { eventIds: events.map((e) => e.eventId!).filter(Boolean), acked: Promise.all(events.map((e) => delivery.deliver(e))).then((r) => r.every(Boolean)) };
  }

  const mentions = (text: string) => text.includes(`<@${bot.userId}>`) || text.includes(`<@${bot.userId}|`);

  function userEvent(m: StoredMessage, kind: ChannelKind, root: StoredMessage | undefined): Record<string, unknown> {
    return {
      ...messageWire(m),
      channel: m.channel,
      channel_type: kind,
      team: teamId,
      client_msg_id: `c-${m.ts}`,
      ...(ws.users.get(m.user!) ? { user_profile: { name: ws.users.get(m.user!)!.name, display_name: ws.users.get(m.user!)!.name, real_name: ws.users.get(m.user!)!.name } } : {}),
      ...(root ? { parent_user_id: root.user } : {}),
      blocks: [{ type: 'rich_text', block_id: 'r1', elements: [{ type: 'rich_text_section', elements: [{ type: 'text', text: m.text }] }] }],
    };
  }

  const fake: FakeSlack = {
    url: `${origin}/api/`,
    origin,
    botToken,
    appToken,
    signingSecret,
    teamId,
    bot,
    calls,
    deliveries: delivery.records,
    ephemerals: ws.ephemerals,
    formatProblems,

    addUser(id, name) {
      ws.addUser(id, name);
    },

    addChannel(input) {
      ws.addChannel(input.id, input.kind, input.members, input.name);
    },

    userMessage(input) {
      const ch = ws.channels.get(input.channel);
      if (!ch) throw new Error(`fake-slack: no channel ${input.channel}`);
      const root = input.threadTs ? ws.message(input.channel, input.threadTs) : undefined;
      if (input.threadTs && !root) throw new Error(`fake-slack: no thread ${input.threadTs} in ${input.channel}`);
      const m = ws.post({
        channel: input.channel,
        user: input.user,
        text: input.text,
        ...(input.threadTs ? { thread_ts: input.threadTs } : {}),
        ...(input.files ? { files: input.files, subtype: input.subtype ?? 'file_share' } : input.subtype ? { subtype: input.subtype } : {}),
      });
      if (input.silent) return Object.assign(m, { eventIds: [], acked: Promise.resolve(true) });
      const events = [eventCallback(userEvent(m, ch.kind, root))];
      // Slack sends app_mention besides message for a mention (never in DMs, which need none).
      if ((input.appMention ?? true) && mentions(input.text) && ch.kind !== 'im') {
        events.push(eventCallback({ type: 'app_mention', user: m.user, text: m.text, ts: m.ts, channel: m.channel, team: teamId, ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}), ...(m.files ? { files: m.files.map(fileWire) } : {}) }));
      }
      return Object.assign(m, inject(events));
    },

    echoBotMessage(channel, text) {
      const ch = ws.channels.get(channel);
      if (!ch) throw new Error(`fake-slack: no channel ${channel}`);
      const m = ws.post({ channel, user: bot.userId, bot_id: bot.botId, text });
      return inject([eventCallback({ ...messageWire(m), channel, channel_type: ch.kind, team: teamId, bot_profile: { id: bot.botId, name: bot.name } })]);
    },

    redeliver(eventId) {
      const ev = sentEvents.get(eventId);
      if (!ev) throw new Error(`fake-slack: no event ${eventId}`);
      return delivery.deliver(ev, 1);
    },

    press(input) {
      const m = ws.message(input.channel, input.messageTs);
      if (!m) throw new Error(`fake-slack: no message ${input.messageTs} in ${input.channel}`);
      const user = ws.users.get(input.user);
      for (const block of m.blocks ?? []) {
        if (block.type !== 'actions') continue;
        for (const el of block.elements as Array<Record<string, unknown>>) {
          const base = { action_id: el.action_id, block_id: block.block_id ?? 'actions', action_ts: ws.nextTs() };
          if (el.type === 'button' && (el.text as { text: string }).text === input.label) {
            return fake.deliverInteractive(interaction(m, input.user, user?.name, { ...base, type: 'button', text: el.text, value: el.value }));
          }
          if (el.type === 'static_select') {
            const opt = (el.options as Array<{ text: { text: string }; value: string }>).find((o) => o.text.text === input.label);
            if (opt) return fake.deliverInteractive(interaction(m, input.user, user?.name, { ...base, type: 'static_select', selected_option: opt }));
          }
        }
      }
      throw new Error(`fake-slack: message ${m.ts} has no button or option "${input.label}"`);
    },

    deliverInteractive(payload) {
      return inject([{ type: 'interactive', payload }]);
    },

    uploadFile(bytes, mimetype, name) {
      return ws.addFile(bytes, mimetype, name);
    },

    failNext(method, failure, times = 1) {
      faults.add(Array.isArray(method) ? method : [method], failure, times);
    },

    setRequestUrl(url) {
      requestUrl = url;
      http = url ? new HttpDelivery(url, signingSecret, ackTimeoutMs) : undefined;
    },

    async verifyUrl() {
      if (!requestUrl) throw new Error('fake-slack: no request URL set');
      const body = JSON.stringify({ token: 'fake-verification-token', challenge: `challenge-${Date.now()}`, type: 'url_verification' });
      const res = await fetch(requestUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...signRequest(signingSecret, body) }, body });
      return { status: res.status, body: await res.text() };
    },

    disconnectSockets(reason) {
      socket.disconnect(reason);
    },

    dropSockets() {
      socket.drop();
    },

    socketsOpened: () => socket.connectionsOpened,
    socketsOpen: () => socket.openCount,

    messages: (channel, threadTs) => ws.messages(channel, threadTs),
    botMessages: (channel, threadTs) => ws.messages(channel, threadTs).filter((m) => m.user === bot.userId),
    message: (channel, ts) => ws.message(channel, ts),

    visible(m) {
      return renderMessage(m.text, m.blocks, renderCtx);
    },

    buttons(m) {
      const out: string[] = [];
      for (const b of m.blocks ?? []) {
        if (b.type !== 'actions') continue;
        for (const el of b.elements as Array<Record<string, unknown>>) {
          if (el.type === 'button') out.push((el.text as { text: string }).text);
          else for (const o of (el.options as Array<{ text: { text: string } }>) ?? []) out.push(o.text.text);
        }
      }
      return out;
    },

    rateLimited: () => tooMany,

    close() {
      closing ??= (async () => {
        delivery.close();
        socket.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };

  function interaction(m: StoredMessage, userId: string, userName: string | undefined, action: Record<string, unknown>): Record<string, unknown> {
    const ch = ws.channels.get(m.channel);
    return {
      type: 'block_actions',
      user: { id: userId, username: userName ?? userId, name: userName ?? userId, team_id: teamId },
      api_app_id: DEFAULTS.appId,
      token: 'fake-verification-token',
      container: { type: 'message', message_ts: m.ts, channel_id: m.channel, is_ephemeral: false, ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}) },
      trigger_id: `${Date.now()}.fake`,
      team: { id: teamId, domain: 'fake' },
      channel: { id: m.channel, name: ch?.name ?? (ch?.kind === 'im' ? 'directmessage' : m.channel) },
      message: messageWire(m),
      response_url: `${origin}/actions/${m.ts}`,
      actions: [action],
    };
  }

  return fake;
}
