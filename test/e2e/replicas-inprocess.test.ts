// Replicas in one test process (each a full daemon from `startDaemon`, sharing one PostgreSQL schema)
// against the loop simulator and the Telegram Bot API fake with its limits: one long poller at a time,
// every chat answered once by the replica that runs it, the bot's budget split, and a graceful stop
// handing intake and turns over at once.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { createLogger } from '../../src/ops/logging.js';
import { ownerOf } from '../../src/core/replicas/placement.js';
import { STEER_ACK } from '../../src/core/steering.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { dropSchema, pgUrl, uniqueSchema } from '../helpers/pg.js';
import { silentLog, waitFor } from '../helpers/wait.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram } from '../peers/fake-telegram.js';

let sim: Simulator;
let fake: FakeTelegram;
const schemas: string[] = [];

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5, idleCutMs: null });
  fake = await startFakeTelegram();
});

afterAll(async () => {
  await fake.close();
  await sim.close();
  for (const s of schemas) await dropSchema(s);
});

function storeUrl(): string {
  const schema = uniqueSchema('rep');
  schemas.push(schema);
  const url = new URL(pgUrl());
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

const users = Array.from({ length: 24 }, (_, i) => ({ id: 7000 + i, first_name: `U${i}` }));
const dmOf = (u: { id: number; first_name: string }): FakeChat => ({ id: u.id, type: 'private', first_name: u.first_name });

function replica(url: string, id: string, leaseTtlMs = 1500): Promise<Daemon> {
  const { config } = resolveConfig({
    loop: { baseUrl: sim.url, token: sim.token },
    store: { url },
    replica: { id, leaseTtlMs },
    access: { users: users.map((u) => `telegram:${u.id}`) },
    telegram: { token: fake.token, apiRoot: fake.apiRoot },
    replies: { editIntervalMs: { direct: 1000, group: 3000 } },
  });
  return startDaemon(config, { log: process.env.REPLICA_TEST_LOG ? createLogger({ level: 'debug', format: 'json' }).child({ r: id }) : silentLog });
}

const health = (d: Daemon) => d.bridge.health().replica!;

describe('replicas in one process', () => {
  it('three replicas: one poller, each chat answered once, turns spread over the replicas, budget split, no 429', { timeout: 120_000 }, async () => {
    const url = storeUrl();
    for (const u of users) fake.addChat(dmOf(u));
    const daemons = [await replica(url, 'r1'), await replica(url, 'r2'), await replica(url, 'r3')];
    try {
      await waitFor(() => daemons.every((d) => health(d).members.length === 3), 'every replica to see three ready members');
      const pollers = daemons.filter((d) => health(d).leases.intake.includes('telegram'));
      expect(pollers).toHaveLength(1);
      // The bot's 30 calls/s, split three ways (a joiner's share settles once the others' calls age out).
      await waitFor(() => daemons.every((d) => health(d).budget.telegram === 10), 'the budget split three ways');
      expect(daemons.reduce((sum, d) => sum + health(d).budget.telegram, 0)).toBe(30);
      const before = fake.rateLimited();
      for (const u of users) fake.userMessage({ chat: dmOf(u), from: u, text: `slow 2 from ${u.first_name}` });
      for (const u of users) {
        await waitFor(() => fake.botMessages(u.id).some((m) => m.text === 'tick 1/2\ntick 2/2' && !JSON.stringify(m.reply_markup ?? {}).includes('callback_data')), `the reply to ${u.first_name}`, 30_000);
      }
      for (const u of users) expect(fake.botMessages(u.id).filter((m) => m.text?.includes('tick 1/2'))).toHaveLength(1);
      // Counted just after the final edit is shown.
      const completed = () => daemons.map((d) => d.bridge.metrics.get('turns_completed_total', { platform: 'telegram', status: 'done' }));
      await waitFor(() => completed().reduce((x, y) => x + y, 0) === users.length, 'every turn counted');
      const ran = completed();
      expect(ran.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2); // placement spread the chats
      expect(fake.rateLimited() - before).toBe(0);
    } finally {
      for (const d of daemons) await d.stop();
    }
  });

  it('a stopped poller hands intake over at once, and its running turn goes on in another replica, in the same message', { timeout: 120_000 }, async () => {
    const url = storeUrl();
    // Leases far longer than the test waits: whatever moves, moves because it was handed over.
    const [a, b] = [await replica(url, 'a', 60_000), await replica(url, 'b', 60_000)];
    let stopped = false;
    try {
      await waitFor(() => health(a).members.length === 2 && health(b).members.length === 2, 'both replicas ready');
      const [poller, other] = health(a).leases.intake.length ? [a, b] : [b, a];
      // A chat the poller itself runs, so the stop takes a turn in flight with it.
      const user = users.find((u) => ownerOf(`telegram:${u.id}`, ['a', 'b']) === health(poller).id)!;
      fake.addChat(dmOf(user));
      fake.userMessage({ chat: dmOf(user), from: user, text: 'slow 6 handover' });
      const live = await waitFor(() => fake.botMessages(user.id).find((m) => m.text?.includes('tick 2/6')), 'the live reply to grow', 20_000);
      expect(health(poller).leases.turns).toBe(1);
      await poller.stop();
      stopped = true;
      await waitFor(() => health(other).leases.intake.includes('telegram'), 'the other replica to poll', 20_000);
      // The turn went on in the other replica and finished in the message it started in.
      await waitFor(() => fake.botMessages(user.id).find((m) => m.message_id === live.message_id && /tick 6\/6/.test(m.text ?? '')), 'the same message to reach the end', 30_000);
      expect(fake.botMessages(user.id).filter((m) => m.text?.includes('tick 1/6'))).toHaveLength(1);
      // And polling works there: a new message is answered.
      fake.userMessage({ chat: dmOf(user), from: user, text: 'after the handover' });
      await waitFor(() => fake.botMessages(user.id).some((m) => m.text?.includes('Echo: after the handover')), 'the next message answered', 20_000);
    } finally {
      if (!stopped) await a.stop().catch(() => {});
      await b.stop();
      await a.stop();
    }
  });
  it('/steer reaches a turn that runs on another replica than the one that polls, in the same turn', { timeout: 120_000 }, async () => {
    const url = storeUrl();
    const [a, b] = [await replica(url, 'sa', 60_000), await replica(url, 'sb', 60_000)];
    try {
      await waitFor(() => health(a).members.length === 2 && health(b).members.length === 2, 'both replicas ready');
      const poller = health(a).leases.intake.length ? a : b;
      // A chat the other replica runs: the poller accepts the steer, the other one sends it.
      const user = users.find((u) => ownerOf(`telegram:${u.id}`, ['sa', 'sb']) !== health(poller).id)!;
      fake.addChat(dmOf(user));
      const gate = `replica-steer-${user.id}`;
      sim.scriptNextTurn('*', [{ delta: 'Looking around. ' }, { gate }, { tool: { name: 'Bash', input: { command: 'ls' } } }, { delta: 'Never written.' }]);
      sim.scriptNextTurn('*', [{ delta: 'Steered across replicas.' }]);
      fake.userMessage({ chat: dmOf(user), from: user, text: 'tools please' });
      await waitFor(() => fake.botMessages(user.id).find((m) => m.text?.includes('Looking around')), 'the live reply', 20_000);
      fake.userMessage({ chat: dmOf(user), from: user, text: '/steer use the other folder' });
      await waitFor(() => fake.botMessages(user.id).find((m) => m.text?.startsWith(STEER_ACK)), 'the acknowledgement', 20_000);
      sim.release(gate);
      const reply = await waitFor(() => fake.botMessages(user.id).find((m) => m.text?.includes('Steered across replicas.')), 'the steered reply', 20_000);
      expect(reply.text).toMatch(/Looking around\.[\s\S]*Steered across replicas\./);
      expect(fake.botMessages(user.id).some((m) => m.text?.startsWith('📥'))).toBe(false);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
