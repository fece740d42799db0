// Replicas (`loopbridge start` child processes on the suite's PostgreSQL) under the two faults that are
// theirs: the same update delivered to two replicas at once (webhooks behind a load balancer, Telegram
// retrying), and a replica cut off from the database while it runs a turn and polls Telegram.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ownerOf } from '../../src/core/replicas/placement.js';
import { LoopClient } from '../../src/loop-api/client.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { freePort } from '../helpers/net.js';
import { dropSchema, pgUrl } from '../helpers/pg.js';
import { replicaStore, startReplica, turnRefs, type ReplicaProcess } from '../helpers/replicas.js';
import { checkReply } from '../helpers/reply-check.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { startFakeTelegram, type FakeChat, type FakeTelegram } from '../peers/fake-telegram.js';

let sim: Simulator;
let fake: FakeTelegram;
let dir: string;
const schemas: string[] = [];
const started: ReplicaProcess[] = [];

const people = Array.from({ length: 12 }, (_, i) => ({ id: 93_000 + i, first_name: `Q${i}` }));
const dmOf = (p: { id: number; first_name: string }): FakeChat => ({ id: p.id, type: 'private', first_name: p.first_name });

beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 5, idleCutMs: null });
  fake = await startFakeTelegram();
  for (const p of people) fake.addChat(dmOf(p));
  dir = mkdtempSync(join(tmpdir(), 'lb-replica-faults-'));
});

afterAll(async () => {
  for (const r of started) await r.kill('SIGKILL');
  if (process.env.REPLICAS_TEST_DUMP) writeFileSync(process.env.REPLICAS_TEST_DUMP, started.map((r, i) => `=== replica ${i}\n${r.logs()}`).join('\n'));
  await fake.close();
  await sim.close();
  for (const s of schemas) await dropSchema(s);
  rmSync(dir, { recursive: true, force: true });
});

/** One config for every replica of a test; the store URL, the replica id and the ports come from the environment. */
function writeConfig(name: string, telegram: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `loop: { baseUrl: "${sim.url}", token: "${sim.token}" }
store: { url: "\${DB_URL}" }
replica: { id: "\${REPLICA_ID}", leaseTtlMs: 3000 }
access: { users: [${people.map((p) => `"telegram:${p.id}"`).join(', ')}] }
telegram: ${telegram}
ops: { httpPort: "\${OPS_PORT}", logLevel: warn, logFormat: json }
`,
  );
  return file;
}

async function replica(config: string, env: Record<string, string>): Promise<ReplicaProcess> {
  const r = await startReplica(config, env);
  started.push(r);
  return r;
}

async function metric(r: ReplicaProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.opsPort}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
}

it('the same update posted to two replicas at once, over and over, makes one turn and one reply', { timeout: 90_000 }, async () => {
  const { url, schema } = replicaStore();
  schemas.push(schema);
  const secret = 'replica-race-secret';
  const ports = [await freePort(), await freePort()];
  const config = writeConfig(
    'race',
    `{ token: "${fake.token}", apiRoot: "${fake.apiRoot}", mode: webhook, webhook: { url: "http://127.0.0.1:\${WEBHOOK_PORT}/tg", secretToken: "${secret}", host: 127.0.0.1, port: "\${WEBHOOK_PORT}", path: /tg } }`,
  );
  const reps = [
    await replica(config, { DB_URL: url, REPLICA_ID: 'w1', WEBHOOK_PORT: String(ports[0]) }),
    await replica(config, { DB_URL: url, REPLICA_ID: 'w2', WEBHOOK_PORT: String(ports[1]) }),
  ];
  await waitFor(async () => (await Promise.all(reps.map((r) => r.health()))).every((h) => h?.body.replica?.members.length === 2), 'two ready replicas', 60_000);
  // Webhook intake runs in every replica: no leader.
  for (const r of reps) expect((await r.health())!.body.replica!.leases.intake).toEqual([]);

  const chosen = people.slice(0, 8);
  const post = (port: number, update: unknown) =>
    fetch(`http://127.0.0.1:${port}/tg`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret }, body: JSON.stringify(update) }).then((r) => r.status);
  const statuses = await Promise.all(
    chosen.flatMap((p, i) => {
      // The message exists on Telegram (the fake also delivers it to the webhook it knows) ...
      const m = fake.userMessage({ chat: dmOf(p), from: p, text: `race ${i}` });
      const update = { update_id: 500_000 + i, message: { message_id: m.message_id, from: { ...p, is_bot: false }, chat: dmOf(p), date: m.date, text: `race ${i}` } };
      // ... and is posted to both replicas three times each, all at once.
      return [0, 1, 2].flatMap(() => ports.map((port) => post(port, update)));
    }),
  );
  expect(statuses.every((s) => s === 200)).toBe(true); // every delivery acknowledged: a duplicate is done, not refused
  for (const [i, p] of chosen.entries()) await waitFor(() => fake.botMessages(p.id).some((m) => m.text?.includes(`Echo: race ${i}`)), `the reply to race ${i}`, 30_000);
  await waitFor(async () => (await Promise.all(reps.map((r) => metric(r, 'turns_completed_total')))).reduce((a, b) => a + b, 0) === chosen.length, 'every turn counted');
  for (const [i, p] of chosen.entries()) expect(fake.botMessages(p.id).filter((m) => m.text?.includes(`Echo: race ${i}`)), `replies to race ${i}`).toHaveLength(1);
  const accepted = (await Promise.all(reps.map((r) => metric(r, 'inbound_accepted_total')))).reduce((a, b) => a + b, 0);
  expect(accepted).toBe(chosen.length);
  const client = new LoopClient({ baseUrl: sim.url, token: sim.token });
  const received: string[] = [];
  for await (const loop of client.listAllLoops()) received.push(...sim.received(loop.id));
  await client.close();
  for (const i of chosen.keys()) expect(received.filter((r) => r === `race ${i}`)).toHaveLength(1);
  for (const r of reps) await r.kill('SIGTERM');
});

it('a replica cut off from PostgreSQL stops taking work and says so; the other takes over its turn and polling, and it comes back', { timeout: 120_000 }, async () => {
  const { url, schema } = replicaStore();
  schemas.push(schema);
  const proxy = await startTcpProxy(Number(new URL(pgUrl()).port));
  const viaProxy = new URL(url);
  viaProxy.port = String(proxy.port);
  const config = writeConfig('cut', `{ token: "${fake.token}", apiRoot: "${fake.apiRoot}" }`);
  try {
    const cut = await replica(config, { DB_URL: viaProxy.toString(), REPLICA_ID: 'cut' });
    await waitFor(async () => (await cut.health())?.body.replica?.leases.intake.includes('telegram'), 'the first replica to poll', 60_000);
    const other = await replica(config, { DB_URL: url, REPLICA_ID: 'other' });
    await waitFor(async () => (await Promise.all([cut, other].map((r) => r.health()))).every((h) => h?.body.replica?.members.length === 2), 'two ready replicas', 60_000);

    // A turn the cut replica runs, live on Telegram and recorded, when the network goes.
    const p = people.find((x) => ownerOf(`telegram:${x.id}`, ['cut', 'other']) === 'cut')!;
    fake.userMessage({ chat: dmOf(p), from: p, text: 'slow 8 across the cut' });
    const live = await waitFor(() => fake.botMessages(p.id).find((m) => m.text?.startsWith('tick 1/8')), 'the live reply', 30_000);
    // Message ids count per chat: this chat's own turn record must hold it.
    await waitFor(async () => (await turnRefs(schema)).get(`telegram:${p.id}`)?.includes(String(live.message_id)) || undefined, 'the live reply recorded');
    await proxy.cut('blackhole');

    const down = await waitFor(async () => {
      const h = await cut.health();
      return h && h.status === 503 && h.body.replica?.takingWork === false ? h : undefined;
    }, 'the cut replica to say it takes no work', 30_000);
    expect(down.body.replica!.problem).toMatch(/cannot reach the store/);
    expect(down.body.replica!.leases).toMatchObject({ intake: [], turns: 0 });
    await waitFor(async () => (await other.health())?.body.replica?.leases.intake.includes('telegram'), 'the other replica to poll', 30_000);

    // The turn finished once, in its own message, by the replica that can still write.
    const final = await waitFor(() => fake.botMessages(p.id).find((m) => m.message_id === live.message_id && !JSON.stringify(m.reply_markup ?? {}).includes('callback_data') && /tick 8\/8|may be missing/.test(m.text ?? '')), 'the reply to end', 60_000);
    expect(checkReply(final.text ?? '', Array.from({ length: 8 }, (_, i) => `tick ${i + 1}/8\n`).join('')).problem).toBeUndefined();
    expect(fake.botMessages(p.id).filter((m) => m.text?.startsWith('tick 1/8'))).toHaveLength(1);
    // New messages are taken by the replica that still reaches the database, whichever chat.
    const q = people.find((x) => x !== p && ownerOf(`telegram:${x.id}`, ['cut', 'other']) === 'cut')!;
    fake.userMessage({ chat: dmOf(q), from: q, text: 'while it is cut off' });
    await waitFor(() => fake.botMessages(q.id).some((m) => m.text?.includes('Echo: while it is cut off')), 'a new message answered', 30_000);
    expect(cut.logs()).toMatch(/cut off from the store/);

    await proxy.restore();
    await waitFor(async () => {
      const h = await cut.health();
      return h?.status === 200 && h.body.replica?.takingWork && h.body.replica.members.length === 2;
    }, 'the cut replica to come back', 60_000);
  } finally {
    await proxy.close();
  }
});
