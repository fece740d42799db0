// The Slack fake itself: it must behave like Slack where the adapter depends on it (bodies, auth, errors,
// limits, streams, files, Socket Mode's hello/ack/redelivery/disconnect, signed HTTP delivery).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createHmac } from 'node:crypto';
import { waitFor } from '../helpers/wait.js';
import { startFakeSlack, type FakeSlack } from './fake-slack.js';

const open: FakeSlack[] = [];
async function fake(options: Parameters<typeof startFakeSlack>[0] = {}): Promise<FakeSlack> {
  const f = await startFakeSlack(options);
  open.push(f);
  f.addUser('UANN', 'ann');
  f.addChannel({ id: 'C1', kind: 'channel', members: ['UANN', f.bot.userId] });
  f.addChannel({ id: 'D1', kind: 'im', members: ['UANN', f.bot.userId] });
  return f;
}
afterEach(async () => {
  for (const f of open.splice(0)) await f.close();
});

async function api(f: FakeSlack, method: string, args: Record<string, unknown>, o: { token?: string; json?: boolean } = {}) {
  const token = o.token ?? f.botToken;
  const body = o.json ? JSON.stringify(args) : new URLSearchParams(Object.entries(args).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString();
  const res = await fetch(`${f.url}${method}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': o.json ? 'application/json; charset=utf-8' : 'application/x-www-form-urlencoded' }, body });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
}

describe('Web API', () => {
  it('takes form and JSON bodies, checks the token and answers Slack-shaped errors', async () => {
    const f = await fake({ limits: false });
    expect((await api(f, 'chat.postMessage', { channel: 'C1', text: 'hi', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*hi*' } }] })).body).toMatchObject({ ok: true, channel: 'C1' });
    expect((await api(f, 'chat.postMessage', { channel: 'C1', text: 'json' }, { json: true })).body.ok).toBe(true);
    expect((await api(f, 'auth.test', {}, { token: 'xoxb-nope' })).body).toEqual({ ok: false, error: 'invalid_auth' });
    expect((await api(f, 'apps.connections.open', {})).body).toEqual({ ok: false, error: 'not_allowed_token_type' });
    expect((await api(f, 'chat.postMessage', { channel: 'C404', text: 'x' })).body.error).toBe('channel_not_found');
    expect((await api(f, 'chat.postMessage', { channel: 'C1', text: 'x'.repeat(40_001) })).body.error).toBe('msg_too_long');
    expect((await api(f, 'chat.postMessage', { channel: 'C1', text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'y'.repeat(3001) } }] })).body.error).toBe('invalid_blocks');
    expect((await api(f, 'chat.update', { channel: 'C1', ts: '1.2', text: 'x' })).body.error).toBe('message_not_found');
    expect((await api(f, 'no.such', {})).body.error).toBe('unknown_method');
  });

  it('enforces per-method limits with 429 + Retry-After and charges nothing for a refused call', async () => {
    const f = await fake({ limits: { 'chat.update': { scope: 'workspace', limit: 3, windowMs: 60_000 } } });
    const ts = String((await api(f, 'chat.postMessage', { channel: 'C1', text: 'a' })).body.ts);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await api(f, 'chat.update', { channel: 'C1', ts, text: `v${i}` })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await api(f, 'chat.update', { channel: 'C1', ts, text: 'v9' });
    expect(limited.body).toEqual({ ok: false, error: 'ratelimited' });
    expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(59);
    expect(f.message('C1', ts)!.text).toBe('v2');
    // chat.postMessage is limited per channel (burst of 2, then about 1/s), not per workspace.
    const posts = [];
    for (let i = 0; i < 3; i++) posts.push((await api(f, 'chat.postMessage', { channel: 'D1', text: `p${i}` })).status);
    expect(posts).toEqual([200, 200, 429]);
  });

  it('runs the streaming state machine: start in a thread, append, stop, no append after stop or expiry', async () => {
    let now = 1_700_000_000_000;
    const f = await fake({ clock: () => now, streamExpiryMs: 300_000 });
    const root = f.userMessage({ channel: 'C1', user: 'UANN', text: 'q', silent: true });
    expect((await api(f, 'chat.startStream', { channel: 'C1', thread_ts: root.ts, markdown_text: 'a' })).body.error).toBe('invalid_arguments'); // recipient needed in channels
    const start = await api(f, 'chat.startStream', { channel: 'C1', thread_ts: root.ts, recipient_user_id: 'UANN', recipient_team_id: f.teamId, markdown_text: 'Hello' });
    const ts = String(start.body.ts);
    expect((await api(f, 'chat.appendStream', { channel: 'C1', ts, chunks: [{ type: 'markdown_text', text: ' world' }] })).body.ok).toBe(true);
    expect((await api(f, 'chat.stopStream', { channel: 'C1', ts, markdown_text: '!' })).body.ok).toBe(true);
    expect(f.message('C1', ts)).toMatchObject({ text: 'Hello world!', stream: 'completed', thread_ts: root.ts });
    expect((await api(f, 'chat.appendStream', { channel: 'C1', ts, markdown_text: 'late' })).body.error).toBe('message_not_in_streaming_state');
    const s2 = String((await api(f, 'chat.startStream', { channel: 'D1', thread_ts: f.userMessage({ channel: 'D1', user: 'UANN', text: 'q2', silent: true }).ts, markdown_text: 'x' })).body.ts);
    now += 300_001;
    expect((await api(f, 'chat.appendStream', { channel: 'D1', ts: s2, markdown_text: 'y' })).body.error).toBe('message_not_in_streaming_state');
  });

  it('serves files only with the bot token (else a sign-in page), and keeps ephemeral messages apart', async () => {
    const f = await fake();
    const file = f.uploadFile(Buffer.from('PNGDATA'), 'image/png', 'a.png');
    const ok = await fetch(file.url_private, { headers: { authorization: `Bearer ${f.botToken}` } });
    expect(ok.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await ok.arrayBuffer()).toString()).toBe('PNGDATA');
    const anon = await fetch(file.url_private);
    expect(anon.status).toBe(200);
    expect(anon.headers.get('content-type')).toMatch(/text\/html/);
    expect((await api(f, 'chat.postEphemeral', { channel: 'C1', user: 'UANN', text: 'only you' })).body.ok).toBe(true);
    expect(f.ephemerals).toMatchObject([{ channel: 'C1', user: 'UANN', text: 'only you' }]);
    expect(f.messages('C1')).toHaveLength(0);
  });
});

describe('Socket Mode', () => {
  async function connect(f: FakeSlack): Promise<{ ws: WebSocket; frames: Array<Record<string, unknown>> }> {
    const r = await api(f, 'apps.connections.open', {}, { token: f.appToken });
    const ws = new WebSocket(String(r.body.url));
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await waitFor(() => frames.length > 0);
    return { ws, frames };
  }

  it('greets with hello, delivers envelopes, and redelivers an unacknowledged one with retry_attempt', async () => {
    const f = await fake({ ackTimeoutMs: 200, retryDelaysMs: [0, 0, 0] });
    const { ws, frames } = await connect(f);
    expect(frames[0].type).toBe('hello');
    const m = f.userMessage({ channel: 'C1', user: 'UANN', text: `<@${f.bot.userId}> hi` });
    await waitFor(() => frames.filter((x) => x.type === 'events_api').length >= 3);
    const first = frames.filter((x) => x.type === 'events_api')[0];
    expect(first).toMatchObject({ retry_attempt: 0, payload: { event_id: m.eventIds[0], event: { type: 'message', ts: m.ts } } });
    // Acknowledge everything from now on; the first message event was not acknowledged in time.
    ws.on('message', (d) => {
      const e = JSON.parse(d.toString());
      if (e.envelope_id) ws.send(JSON.stringify({ envelope_id: e.envelope_id, payload: {} }));
    });
    for (const e of frames.filter((x) => x.type === 'events_api')) ws.send(JSON.stringify({ envelope_id: e.envelope_id }));
    expect(await m.acked).toBe(true);
    const tries = f.deliveries.filter((d) => d.eventId === m.eventIds[0]);
    expect(tries[0].ackedAt).toBeUndefined();
    expect(tries.at(-1)).toMatchObject({ reason: 'timeout' });
    expect(tries.at(-1)!.attempt).toBeGreaterThanOrEqual(1);
    ws.close();
  });

  it('refuses a reused ticket, and closes after `disconnect`', async () => {
    const f = await fake({ disconnectGraceMs: 50 });
    const r = await api(f, 'apps.connections.open', {}, { token: f.appToken });
    const a = new WebSocket(String(r.body.url));
    await new Promise((res) => a.once('open', res));
    const b = new WebSocket(String(r.body.url));
    const refused = await new Promise<number>((res) => b.once('unexpected-response', (_req, resp) => res(resp.statusCode ?? 0)));
    expect(refused).toBe(401);
    const frames: string[] = [];
    a.on('message', (d) => frames.push(JSON.parse(d.toString()).type));
    const closed = new Promise((res) => a.once('close', res));
    f.disconnectSockets();
    await closed;
    expect(frames).toContain('disconnect');
  });
});

describe('HTTP delivery', () => {
  it('posts events signed with the signing secret and retries a non-2xx answer with X-Slack-Retry-Num', async () => {
    const f = await fake({ retryDelaysMs: [0, 0, 0] });
    const seen: Array<{ headers: Record<string, unknown>; ok: boolean }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const ts = String(req.headers['x-slack-request-timestamp']);
        const sig = 'v0=' + createHmac('sha256', f.signingSecret).update(`v0:${ts}:${body}`).digest('hex');
        seen.push({ headers: req.headers, ok: sig === req.headers['x-slack-signature'] });
        res.writeHead(seen.length === 1 ? 500 : 200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    f.setRequestUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`);
    const m = f.userMessage({ channel: 'D1', user: 'UANN', text: 'hi' });
    expect(await m.acked).toBe(true);
    expect(seen.map((s) => s.ok)).toEqual([true, true]);
    expect(seen[1].headers['x-slack-retry-num']).toBe('1');
    expect(seen[1].headers['x-slack-retry-reason']).toBe('http_error');
    await new Promise((r) => server.close(r));
  });
});
