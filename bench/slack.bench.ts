// `npm run bench:slack`: 200 threads in 20 channels start at once (a top-level @mention each), each turn
// ~2,000 characters in 40 deltas over 8 s, against the Slack fake with Slack's published limits enforced
// (chat.postMessage ~1/s per channel, chat.update 50/min per workspace, …), through the real core and Slack
// adapter over Socket Mode; the loop simulator runs in a child process. Figures: 429s, first text and
// message → final (p50/p99) against the floor the limits allow, finals delivered exactly once, Web API
// calls per turn, peak RSS (this process holds the bridge and the fake).
//
// A second run measures Slack's native streaming (chat.startStream/appendStream/stopStream) for the same
// load, driven directly through the core's scheduler with those methods' tiers (start/stop Tier 2, 20/min;
// append Tier 4, 100/min), to compare the two ways of showing a live reply. Rewrites the "Slack" section
// of bench/REPORT.md. Exits non-zero when a final is lost or duplicated in the post + update run.
//
// Knobs (env): BENCH_SLACK_THREADS (200), BENCH_SLACK_CHANNELS (20), BENCH_DELTAS (40), BENCH_DELTA_MS (200),
// BENCH_SLACK_STREAM_S (90: how long the streaming run may take before it is cut).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webApi } from '@slack/bolt';
import { SlackAdapter } from '../adapters/slack/index.js';
import { Bridge } from '../src/core/bridge.js';
import { Priority, RateScheduler } from '../src/core/rate-scheduler.js';
import { LoopClient } from '../src/loop-api/client.js';
import { openLowdbStore } from '../src/store/lowdb-store.js';
import { slackVisible } from '../test/helpers/slack.js';
import { startFakeSlack, type FakeSlack } from '../test/peers/fake-slack.js';
import { fmt, mb, startRssSampler, summarize, type Summary } from './lib/measure.js';
import { envInt } from './lib/env.js';
import { appendReport, machineLine, table, verdict } from './lib/report.js';
import { startSimProcess } from './lib/sim-process.js';
import { benchTurn } from './lib/turn-script.js';

const SECTION = '## Slack (`npm run bench:slack`)';
const THREADS = envInt('BENCH_SLACK_THREADS', 200);
const CHANNELS = envInt('BENCH_SLACK_CHANNELS', 20);
const DELTAS = envInt('BENCH_DELTAS', 40);
const DELTA_MS = envInt('BENCH_DELTA_MS', 200);
const STREAM_S = envInt('BENCH_SLACK_STREAM_S', 90);
const RUN_DEADLINE_MS = 180_000;
const USER = 'UBENCH';
/** Woven into every delta; this length makes a 40-delta turn ~2,000 characters. */
const TAG = 'slack-two-thousand';
const silent = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, fatal() {}, child: () => silent } as never;

interface Thread {
  channel: string;
  ts: string;
  at: number;
  firstAt?: number;
  finalAt?: number;
}

function seed(fake: FakeSlack): string[] {
  fake.addUser(USER, 'bench');
  const channels = Array.from({ length: CHANNELS }, (_, i) => `CBENCH${String(i).padStart(3, '0')}`);
  for (const id of channels) fake.addChannel({ id, kind: 'channel', members: [USER, fake.bot.userId] });
  return channels;
}

/** Polls the fake every 50 ms for each thread's first visible text and its exact final. */
function watch(fake: FakeSlack, threads: Thread[], expected: string, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const tick = setInterval(() => {
      const now = Date.now();
      let open = 0;
      for (const t of threads) {
        if (t.finalAt) continue;
        const msgs = fake.botMessages(t.channel, t.ts);
        if (msgs.length && t.firstAt === undefined) t.firstAt = now;
        if (msgs.length && msgs.map((m) => fake.visible(m)).join('\n\n') === expected) t.finalAt = now;
        else open++;
      }
      if (open === 0 || now > deadline) {
        clearInterval(tick);
        resolve();
      }
    }, 50);
  });
}

/** The floor: every reply needs ≥ 1 post; posts in one channel go ~1/s; a final exists only after the turn (T). */
function floor(turnMs: number): { p50: number; p99: number } {
  const perChannel = Math.ceil(THREADS / CHANNELS);
  const finals: number[] = [];
  for (let c = 0; c < CHANNELS; c++) for (let k = 0; k < perChannel; k++) finals.push(turnMs + k * 1000);
  finals.sort((a, b) => a - b);
  const at = (p: number) => finals[Math.min(finals.length - 1, Math.ceil((p / 100) * finals.length) - 1)];
  return { p50: at(50), p99: at(99) };
}

interface UpdateRun {
  firstText: Summary;
  final: Summary;
  finals: number;
  duplicated: number;
  rateLimited: number;
  callsPerTurn: number;
  calls: Record<string, number>;
  peakRss: number;
  wallMs: number;
}

async function postAndUpdateRun(): Promise<UpdateRun> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-bench-slack-'));
  const sim = await startSimProcess({ deltaDelayMs: DELTA_MS });
  const fake = await startFakeSlack(); // Slack's published limits
  const channels = seed(fake);
  const turn = benchTurn(TAG, DELTAS, DELTA_MS);
  await sim.script('*', turn.steps, THREADS);
  const store = await openLowdbStore({ path: join(dir, 'store.json'), flushDelayMs: 50 });
  const client = new LoopClient({ baseUrl: sim.url, token: sim.token });
  const adapter = new SlackAdapter({ botToken: fake.botToken, appToken: fake.appToken, apiUrl: fake.url });
  const bridge = new Bridge({
    client,
    store,
    adapters: [adapter],
    access: { dm: 'allowlist', users: [`slack:${USER}`], admins: [], groups: [], pairingCodeTtlMs: 3_600_000 },
    routing: { requireMention: true, mentionPatterns: [], maxQueuedPerLoop: 20, maxMessageChars: 100_000 },
    replies: { editIntervalMs: { direct: 1000, group: 3000 }, showTools: true, showUsage: false },
    defaultPermissionMode: 'default',
    log: silent,
  });
  await bridge.start();
  const setupCalls = fake.calls.length;
  const rss = startRssSampler();
  const start = Date.now();
  const threads: Thread[] = [];
  for (let i = 0; i < THREADS; i++) {
    const channel = channels[i % CHANNELS];
    const m = fake.userMessage({ channel, user: USER, text: `<@${fake.bot.userId}> thread ${i}` });
    threads.push({ channel, ts: m.ts, at: Date.now() });
  }
  const expected = slackVisible(turn.text);
  await watch(fake, threads, expected, start + RUN_DEADLINE_MS);
  const wallMs = Date.now() - start;
  const peakRss = rss();
  let duplicated = 0;
  for (const t of threads) if (fake.botMessages(t.channel, t.ts).filter((m) => fake.visible(m).startsWith(expected.slice(0, 20))).length > 1) duplicated++;
  const calls: Record<string, number> = {};
  for (const c of fake.calls.slice(setupCalls)) calls[c.method] = (calls[c.method] ?? 0) + 1;
  const done = threads.filter((t) => t.finalAt !== undefined);
  const result: UpdateRun = {
    firstText: summarize(threads.filter((t) => t.firstAt).map((t) => t.firstAt! - t.at)),
    final: summarize(done.map((t) => t.finalAt! - t.at)),
    finals: done.length,
    duplicated,
    rateLimited: fake.rateLimited(),
    callsPerTurn: (fake.calls.length - setupCalls) / THREADS,
    calls,
    peakRss,
    wallMs,
  };
  await bridge.stop();
  await store.close();
  await client.close();
  await sim.close();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
  return result;
}

interface StreamRun {
  final: Summary;
  finals: number;
  rateLimited: number;
  callsPerTurn: number;
}

/**
 * Native streaming for the same load: per thread startStream with the first text, appendStream every ~2 s
 * of text, stopStream at the end; every call through a RateScheduler that knows the stream methods' tiers
 * (the scheduler's kinds stand in for them here: send = startStream, edit = appendStream, delete = stopStream).
 */
async function streamRun(): Promise<StreamRun> {
  const fake = await startFakeSlack();
  const channels = seed(fake);
  const client = new webApi.WebClient(fake.botToken, { slackApiUrl: fake.url, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
  const scheduler = new RateScheduler({ globalPerSecond: 50, privateChatIntervalMs: 0, groupChatIntervalMs: 0, groupPerMinute: 0, perMinute: { send: 20, edit: 100, delete: 20 } });
  const turn = benchTurn(TAG, DELTAS, DELTA_MS);
  const turnMs = DELTAS * DELTA_MS;
  const start = Date.now();
  const deadline = start + STREAM_S * 1000;
  const appendsPerTurn = Math.max(1, Math.round(turnMs / 2000));
  const wrap = <T>(p: Promise<T>) => p.catch((err: { code?: string; retryAfter?: number }) => {
    if (err.code === 'slack_webapi_rate_limited_error') throw new (class extends Error {})('429');
    throw err;
  });
  const finals: number[] = [];
  await Promise.all(
    Array.from({ length: THREADS }, async (_, i) => {
      const channel = channels[i % CHANNELS];
      const root = fake.userMessage({ channel, user: USER, text: `thread ${i}`, silent: true });
      const at = Date.now();
      const target = { chatKey: channel, isGroup: true };
      const parts = Array.from({ length: appendsPerTurn }, (_, k) => turn.text.slice(Math.floor((k * turn.text.length) / appendsPerTurn), Math.floor(((k + 1) * turn.text.length) / appendsPerTurn)));
      try {
        const started = await scheduler.schedule(target, Priority.Send, () => wrap(client.chat.startStream({ channel, thread_ts: root.ts, recipient_user_id: USER, recipient_team_id: fake.teamId, markdown_text: parts[0] })), 'send').promise;
        for (let k = 1; k < parts.length; k++) {
          // The text exists only as the turn streams it.
          const ready = at + ((k + 1) * turnMs) / parts.length - Date.now();
          if (ready > 0) await new Promise((r) => setTimeout(r, ready));
          await scheduler.schedule(target, Priority.Edit, () => wrap(client.chat.appendStream({ channel, ts: started.ts!, markdown_text: parts[k] })), 'edit').promise;
        }
        await scheduler.schedule(target, Priority.Send, () => wrap(client.chat.stopStream({ channel, ts: started.ts! })), 'delete').promise;
        if (Date.now() <= deadline) finals.push(Date.now() - at);
      } catch {
        // cut by the deadline (scheduler closed)
      }
    }).concat([new Promise<void>((r) => setTimeout(r, STREAM_S * 1000).unref()).then(() => scheduler.close())]),
  ).catch(() => undefined);
  scheduler.close();
  const result = { final: summarize(finals), finals: finals.length, rateLimited: fake.rateLimited(), callsPerTurn: fake.calls.length / THREADS };
  await fake.close();
  return result;
}

async function main(): Promise<void> {
  console.log(`slack bench: ${THREADS} threads in ${CHANNELS} channels, ${DELTAS} deltas × ${DELTA_MS} ms`);
  const u = await postAndUpdateRun();
  console.log('post + update:', JSON.stringify(u));
  const s = await streamRun();
  console.log('native streaming:', JSON.stringify(s));
  const turnMs = DELTAS * DELTA_MS;
  const f = floor(turnMs);
  const s1 = (ms: number) => `${fmt(ms / 1000, 1)} s`;
  const md = [
    `${machineLine()}. ${THREADS} threads in ${CHANNELS} channels start at once (a top-level @mention each); each turn is ~${benchTurn(TAG, DELTAS, DELTA_MS).text.length.toLocaleString('en-US')} characters in ${DELTAS} deltas over ${fmt(turnMs / 1000)} s. The fake enforces Slack's published limits (chat.postMessage ~1/s per channel with a burst of 2; chat.update 50/min per workspace; chat.startStream and chat.stopStream 20/min, chat.appendStream 100/min). Bridge, Slack adapter (Socket Mode) and fake in this process; the loop simulator in a child.`,
    '',
    '**Post + chat.update (what the adapter does):**',
    '',
    table(
      ['figure', 'value', 'target / floor', 'verdict'],
      [
        ['429s answered by the fake', u.rateLimited, '0', verdict(u.rateLimited === 0)],
        ['finals delivered exactly once', `${u.finals}/${THREADS} (${u.duplicated} duplicated)`, `${THREADS}/${THREADS}`, verdict(u.finals === THREADS && u.duplicated === 0)],
        ['first text p50 / p99', `${s1(u.firstText.p50)} / ${s1(u.firstText.p99)}`, '—', ''],
        ['message → final p50 / p99', `${s1(u.final.p50)} / ${s1(u.final.p99)}`, `floor ${s1(f.p50)} / ${s1(f.p99)}`, ''],
        ['Web API calls per turn', fmt(u.callsPerTurn, 2), '≥ 1', ''],
        ['peak RSS (bridge + fake)', mb(u.peakRss), '—', ''],
      ],
    ),
    '',
    `Calls by method: ${Object.entries(u.calls).map(([m, n]) => `${m} ${n}`).join(', ')}.`,
    '',
    `**Native streaming for the same load** (startStream → appendStream every ~2 s → stopStream, paced by the scheduler at those tiers; cut after ${STREAM_S} s): ${s.finals}/${THREADS} finals within ${STREAM_S} s, message → final p50 ${s.finals ? s1(s.final.p50) : '—'}, ${s.rateLimited} × 429, ${fmt(s.callsPerTurn, 2)} calls per turn. start/stop at 20/min each allow at most 20 finished streams a minute, so ${THREADS} replies need ≥ ${fmt(THREADS / 20, 0)} min however they are paced.`,
    '',
    `Floor: every reply needs at least one post, posts in one channel go about one a second, and a final cannot exist before the turn ends (${fmt(turnMs / 1000)} s): the k-th reply of a channel is final at ≥ ${fmt(turnMs / 1000)} s + (k−1) s. Replies posted before they are final owe a chat.update, of which the workspace has 50 a minute: the core reserves half of them for such finals and lets the other replies post once, already final.`,
    '',
    'Command: `npm run bench:slack`.',
  ].join('\n');
  await appendReport(SECTION, md);
  console.log(md);
  if (u.finals !== THREADS || u.duplicated > 0) process.exitCode = 1;
}

await main();
