// Intake: acknowledged only once the core accepted (Socket Mode and HTTP), Slack's retries, HTTP signature
// and timestamp checks, url_verification, and clear startup errors that never show a token.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SlackStartupError, type SlackAdapter } from '../../../adapters/slack/index.js';
import { freePort } from '../../helpers/net.js';
import { ANN, ANN_DM, seedWorkspace } from '../../helpers/slack.js';
import { waitFor } from '../../helpers/wait.js';
import { signRequest, startFakeSlack, type FakeSlack } from '../../peers/fake-slack.js';
import { adapterFor, RecordingSink } from './slack-kit.js';

let fake: FakeSlack;

beforeAll(async () => {
  // Retries come at once here (Slack waits ~1 and ~5 min before the later ones).
  fake = await startFakeSlack({ ackTimeoutMs: 1500, retryDelaysMs: [0, 0, 0] });
  seedWorkspace(fake);
});

afterAll(async () => {
  await fake.close();
});

/** Adapters still running: a test that fails before its own stop() must not leave one on the shared fake. */
const running = new Set<() => Promise<void>>();

async function started(adapter: SlackAdapter, sink: RecordingSink): Promise<() => Promise<void>> {
  const ac = new AbortController();
  await adapter.start(sink, ac.signal);
  const stop = async () => {
    if (!running.delete(stop)) return;
    ac.abort();
    await adapter.stop();
  };
  running.add(stop);
  return stop;
}

describe('Socket Mode intake', () => {
  afterEach(async () => {
    for (const stop of [...running]) await stop();
  });

  it('acknowledges an event only after the core accepted it; a refused one is redelivered with retry_attempt', async () => {
    let refuse = true;
    const sink = new RecordingSink(() => {
      if (refuse) {
        refuse = false;
        throw new Error('store unavailable');
      }
    });
    const stop = await started(adapterFor(fake), sink);
    const m = fake.userMessage({ channel: ANN_DM, user: ANN, text: 'keep me' });
    expect(await m.acked).toBe(true);
    const tries = fake.deliveries.filter((d) => d.eventId === m.eventIds[0]);
    // The refused delivery is never acknowledged; Slack retries with retry_attempt until one is. On a slow
    // machine an accepted retry may be acknowledged after the fake's timeout, so more retries may follow.
    expect(tries.map((d) => d.attempt)).toEqual(tries.map((_, i) => i));
    expect(tries[0].ackedAt).toBeUndefined();
    expect(tries.length).toBeGreaterThanOrEqual(2);
    expect(tries.at(-1)!.ackedAt).toBeDefined();
    expect(tries.slice(1).every((d) => d.reason === 'timeout')).toBe(true);
    // Every attempt up to the first accepted one reaches the core; a later retry may be skipped as already accepted.
    expect(sink.offered.length).toBeGreaterThanOrEqual(2);
    expect(sink.offered.length).toBeLessThanOrEqual(tries.length);
    expect(sink.events.length).toBeGreaterThanOrEqual(1);
    expect(sink.events.every((e) => e.kind === 'message' && e.text === 'keep me')).toBe(true);
    await stop();
  });

  it('survives a network failure while reconnecting, and receives again once Slack is back', async () => {
    const sink = new RecordingSink();
    const stop = await started(adapterFor(fake), sink);
    const opened = fake.socketsOpened();
    fake.failNext('apps.connections.open', { network: true }, 2);
    fake.failNext('apps.connections.open', { status: 503, error: 'service_unavailable' });
    fake.dropSockets();
    const m = fake.userMessage({ channel: ANN_DM, user: ANN, text: 'after the outage' });
    expect(await m.acked).toBe(true);
    expect(fake.socketsOpened()).toBe(opened + 1);
    expect(fake.calls.filter((c) => c.method === 'apps.connections.open' && c.error).length).toBeGreaterThanOrEqual(3);
    expect(sink.events.some((e) => e.kind === 'message' && e.text === 'after the outage')).toBe(true);
    await stop();
  });

  it('waits for a slow accept before acknowledging, and skips a retry of an event it already accepted', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sink = new RecordingSink(() => gate);
    const stop = await started(adapterFor(fake), sink);
    const m = fake.userMessage({ channel: ANN_DM, user: ANN, text: 'slow store' });
    await waitFor(() => sink.offered.length === 1);
    const first = fake.deliveries.find((d) => d.eventId === m.eventIds[0])!;
    expect(first.ackedAt).toBeUndefined();
    release();
    await m.acked;
    expect(fake.deliveries.find((d) => d.eventId === m.eventIds[0] && d.ackedAt)).toBeDefined();
    await fake.redeliver(m.eventIds[0]);
    expect(sink.offered.filter((e) => e.kind === 'message' && e.text === 'slow store')).toHaveLength(1);
    await stop();
  });
});

describe('HTTP mode', () => {
  let port: number;
  let stop: () => Promise<void>;
  let refuseNext = false;
  const sink = new RecordingSink(() => {
    if (refuseNext) {
      refuseNext = false;
      throw new Error('shutting down');
    }
  });
  const url = () => `http://127.0.0.1:${port}/slack/events`;

  beforeAll(async () => {
    port = await freePort();
    stop = await started(adapterFor(fake, { mode: 'http', signingSecret: fake.signingSecret, appToken: undefined, port, host: '127.0.0.1' }), sink);
    fake.setRequestUrl(url());
  });

  afterAll(async () => {
    fake.setRequestUrl(undefined);
    await stop();
  });

  it('answers url_verification with the challenge', async () => {
    const r = await fake.verifyUrl();
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).challenge).toMatch(/^challenge-/);
  });

  it('acknowledges a signed event within 3 s, after handing it over', async () => {
    const m = fake.userMessage({ channel: ANN_DM, user: ANN, text: 'over http' });
    expect(await m.acked).toBe(true);
    const d = fake.deliveries.find((x) => x.eventId === m.eventIds[0])!;
    expect(d.via).toBe('http');
    expect(d.status).toBe(200);
    expect(d.ackedAt! - d.sentAt).toBeLessThan(3000);
    expect(sink.events.some((e) => e.kind === 'message' && e.text === 'over http')).toBe(true);
  });

  it('answers 503 when the core refuses, so Slack retries (X-Slack-Retry-Num) and the retry is taken', async () => {
    refuseNext = true;
    const m = fake.userMessage({ channel: ANN_DM, user: ANN, text: 'retry me' });
    expect(await m.acked).toBe(true);
    expect(fake.deliveries.filter((x) => x.eventId === m.eventIds[0]).map((x) => [x.attempt, x.status, x.reason])).toEqual([
      [0, 503, undefined],
      [1, 200, 'http_error'],
    ]);
  });

  it('refuses a bad signature and a stale timestamp with 401, and hands nothing over', async () => {
    const body = JSON.stringify({ type: 'event_callback', event_id: 'EvForged', event: { type: 'message', channel: ANN_DM, channel_type: 'im', user: ANN, text: 'forged', ts: '1.1' } });
    const before = sink.offered.length;
    const badSig = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json', ...signRequest('wrong-secret', body) }, body });
    expect(badSig.status).toBe(401);
    const stale = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json', ...signRequest(fake.signingSecret, body, Math.floor(Date.now() / 1000) - 600) }, body });
    expect(stale.status).toBe(401);
    const unsigned = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(unsigned.status).toBe(401);
    expect(sink.offered.length).toBe(before);
  });
});

describe('startup errors', () => {
  const tokenFree = (e: Error) => {
    for (const secret of ['xoxb-9-wrong-token', 'xapp-9-wrong-token', fake.botToken, fake.appToken]) expect(`${e.message}\n${e.stack}`).not.toContain(secret);
  };

  it('a refused bot token names slack.botToken', async () => {
    const err = await adapterFor(fake, { botToken: 'xoxb-9-wrong-token' }).start(new RecordingSink(), new AbortController().signal).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(SlackStartupError);
    expect((err as SlackStartupError).code).toBe('bot_token');
    expect(err!.message).toMatch(/slack\.botToken was refused by Slack \(invalid_auth\)/);
    tokenFree(err!);
  });

  it('a refused app token names slack.appToken', async () => {
    const err = await adapterFor(fake, { appToken: 'xapp-9-wrong-token' }).start(new RecordingSink(), new AbortController().signal).then(() => undefined, (e: Error) => e);
    expect((err as SlackStartupError).code).toBe('app_token');
    expect(err!.message).toMatch(/slack\.appToken was refused by Slack \(invalid_auth\)/);
    tokenFree(err!);
  });

  it('a missing signing secret (http) or app token (socket) is refused before anything starts', () => {
    expect(() => adapterFor(fake, { mode: 'http', signingSecret: undefined })).toThrow(/slack\.signingSecret is required in http mode/);
    expect(() => adapterFor(fake, { appToken: undefined })).toThrow(/slack\.appToken is required in socket mode/);
  });

  it('an unreachable API names slack.apiUrl', async () => {
    const port = await freePort();
    const err = await adapterFor(fake, { apiUrl: `http://127.0.0.1:${port}/api/` }).start(new RecordingSink(), new AbortController().signal).then(() => undefined, (e: Error) => e);
    expect((err as SlackStartupError).code).toBe('network');
    expect(err!.message).toMatch(/slack\.apiUrl/);
  });
});
