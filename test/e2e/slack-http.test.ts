// slack.mode: http through the daemon: Slack (the fake) posts signed events to /slack/events; a bad
// signature gets 401 and runs nothing; a properly signed event is acknowledged within 3 s and answered.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { freePort } from '../helpers/net.js';
import { ANN, ANN_DM, seedWorkspace } from '../helpers/slack.js';
import { silentLog, waitFor } from '../helpers/wait.js';
import { signRequest, startFakeSlack, type FakeSlack } from '../peers/fake-slack.js';

let sim: Simulator;
let fake: FakeSlack;
let daemon: Daemon;
let dir: string;
let url: string;

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5 });
  fake = await startFakeSlack();
  seedWorkspace(fake);
  dir = mkdtempSync(join(tmpdir(), 'lb-slack-http-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}/slack/events`;
  const { config } = resolveConfig({
    loop: { baseUrl: sim.url, token: sim.token },
    store: { path: join(dir, 'store.json') },
    access: { users: [`slack:${ANN}`] },
    slack: { botToken: fake.botToken, signingSecret: fake.signingSecret, mode: 'http', port, host: '127.0.0.1', apiUrl: fake.url },
  });
  daemon = await startDaemon(config, { log: silentLog });
  fake.setRequestUrl(url);
});

afterAll(async () => {
  await daemon.stop();
  await fake.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

it('answers url_verification, acknowledges a signed event within 3 s and answers it', async () => {
  expect((await fake.verifyUrl()).status).toBe(200);
  const m = fake.userMessage({ channel: ANN_DM, user: ANN, text: 'over http' });
  expect(await m.acked).toBe(true);
  const d = fake.deliveries.find((x) => x.eventId === m.eventIds[0])!;
  expect(d.attempt).toBe(0);
  expect(d.ackedAt! - d.sentAt).toBeLessThan(3000);
  const reply = await waitFor(() => fake.botMessages(ANN_DM).find((x) => fake.visible(x).includes('Echo: over http')), 20_000);
  expect(fake.visible(reply)).toContain('Echo: over http');
});

it('refuses a badly signed request with 401 and runs nothing for it', async () => {
  const body = JSON.stringify({ type: 'event_callback', event_id: 'EvForged1', team_id: fake.teamId, event: { type: 'message', channel: ANN_DM, channel_type: 'im', user: ANN, text: 'forged event', ts: '1700000000.000001' } });
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...signRequest('not-the-secret', body) }, body });
  expect(res.status).toBe(401);
  fake.userMessage({ channel: ANN_DM, user: ANN, text: 'after the forgery' });
  await waitFor(() => fake.botMessages(ANN_DM).find((x) => fake.visible(x).includes('Echo: after the forgery')), 20_000);
  expect(fake.botMessages(ANN_DM).some((x) => fake.visible(x).includes('forged event'))).toBe(false);
});
