// `npm run bench:matrix`: 50 direct rooms start a turn at once through the real daemon (`startDaemon`,
// in this process) against a real Synapse, first with Synapse's default message rate limit (0.2 events/s,
// burst 10, per account: what a bot gets unless the operator exempts it) and then with it raised. Each
// turn streams ~2,000 characters in 40 deltas over 8 s from the loop simulator (a child process).
// Times come from Synapse itself (each event's origin_server_ts), texts from the rooms as a client reads
// them (edits applied). Prints a table and rewrites the "Matrix" section of bench/REPORT.md. Exits
// non-zero when, with the limit raised, a final is lost, wrong or duplicated.
//
// Knobs (env): BENCH_MX_ROOMS (50), BENCH_DELTAS (40), BENCH_DELTA_MS (200), BENCH_MX_DEFAULT_DEADLINE_S
// (600: the default-limit run is cut off then and reports what arrived), BENCH_MX_LOG (error).

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MatrixClient } from 'matrix-bot-sdk';
import { resolveConfig } from '../src/config/load.js';
import { startDaemon } from '../src/daemon.js';
import { createLogger } from '../src/ops/logging.js';
import { startSynapse, type SynapseAccount, type SynapseRateLimits } from '../test/peers/synapse/synapse.js';
import { fmt, mapLimit, mb, startRssSampler, summarize, type Summary } from './lib/measure.js';
import { envInt } from './lib/env.js';
import { appendReport, machineLine, table, verdict } from './lib/report.js';
import { startSimProcess } from './lib/sim-process.js';

const SECTION = '## Matrix (`npm run bench:matrix`)';
const ROOMS = envInt('BENCH_MX_ROOMS', 50);
const DELTAS = envInt('BENCH_DELTAS', 40);
const DELTA_MS = envInt('BENCH_DELTA_MS', 200);
const DEFAULT_DEADLINE_MS = envInt('BENCH_MX_DEFAULT_DEADLINE_S', 600) * 1000;
const RAISED_DEADLINE_MS = 120_000;

interface RunResult {
  mode: SynapseRateLimits;
  synapseStartMs: number;
  firstText: Summary;
  final: Summary;
  finalsExact: number;
  duplicated: number;
  limitExceeded: number;
  eventsPerTurn: number;
  peakRss: number;
  wallS: number;
  cutOff: boolean;
}

/** ~2,000 characters in `DELTAS` deltas. */
function replyDeltas(tag: string): { steps: Array<{ delta: string; delayMs: number }>; text: string } {
  const per = Math.ceil(2000 / DELTAS);
  const steps: Array<{ delta: string; delayMs: number }> = [];
  for (let i = 1; i <= DELTAS; i++) {
    const sep = i === DELTAS ? '' : i % 10 === 0 ? '\n\n' : ' ';
    const head = `Part ${i} of reply ${tag}:`;
    steps.push({ delta: `${head} ${'streaming words '.repeat(8)}`.slice(0, per - sep.length).trimEnd() + sep, delayMs: DELTA_MS });
  }
  return { steps, text: steps.map((s) => s.delta).join('') };
}

interface RoomEvent {
  type: string;
  sender: string;
  event_id: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
}

async function roomEvents(client: MatrixClient, roomId: string): Promise<RoomEvent[]> {
  const r = await client.doRequest('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`, { dir: 'b', limit: 1000 });
  return (r.chunk as RoomEvent[]).reverse();
}

/** What the person in the room sees of the bot's messages, and when the bot's shown text first equalled `want`. */
function observe(events: RoomEvent[], bot: string, want: string): { t0?: number; first?: number; final?: number; sent: number; shown: string; copies: number } {
  const user = events.find((e) => e.type === 'm.room.message' && e.sender !== bot);
  const shown = new Map<string, string>();
  let first: number | undefined;
  let final: number | undefined;
  let sent = 0;
  for (const e of events) {
    if (e.type !== 'm.room.message' || e.sender !== bot) continue;
    sent++;
    first ??= e.origin_server_ts;
    const rel = e.content['m.relates_to'] as { rel_type?: string; event_id?: string } | undefined;
    if (rel?.rel_type === 'm.replace' && rel.event_id && shown.has(rel.event_id)) shown.set(rel.event_id, String((e.content['m.new_content'] as { body?: string })?.body ?? ''));
    else shown.set(e.event_id, String(e.content.body ?? ''));
    if (final === undefined && [...shown.values()].join('') === want) final = e.origin_server_ts;
  }
  const texts = [...shown.values()];
  return { t0: user?.origin_server_ts, first, final, sent, shown: texts.join(''), copies: texts.filter((t) => t === want).length };
}

async function runOnce(mode: SynapseRateLimits, logLevel: string): Promise<RunResult> {
  const synapse = await startSynapse({ rateLimits: mode });
  const dir = await mkdtemp(join(tmpdir(), 'lb-bench-mx-'));
  const sim = await startSimProcess({ deltaDelayMs: DELTA_MS, idleCutMs: null });
  try {
    const bot = await synapse.register('benchbot', { displayName: 'Bench Bot' });
    const botClient = new MatrixClient(synapse.url, bot.accessToken);
    // The bot's joins draw on its message budget too: lift it for the setup only (admin API), then remove
    // the exemption so the measured run meets the configured limit.
    const admin = new MatrixClient(synapse.url, (await synapse.register('benchadmin', { admin: true })).accessToken);
    const override = `/_synapse/admin/v1/users/${encodeURIComponent(bot.userId)}/override_ratelimit`;
    await admin.doRequest('POST', override, null, { messages_per_second: 0, burst_count: 0 });
    const people = await mapLimit(Array.from({ length: ROOMS }, (_, i) => i), 8, (i) => synapse.register(`person${i}`));
    // One DM per person, the bot already in it (joins are setup, not measured).
    const rooms = await mapLimit(people, 8, async (p: SynapseAccount) => {
      const client = new MatrixClient(synapse.url, p.accessToken);
      const roomId = await client.createRoom({ preset: 'private_chat', is_direct: true, invite: [bot.userId] });
      await botClient.joinRoom(roomId);
      return { person: p, client, roomId };
    });
    await admin.doRequest('DELETE', override);
    // Every room gets the same scripted reply (as in bench:telegram); each room's text is checked on its own.
    const reply = replyDeltas('bench');
    await sim.script('*', reply.steps, ROOMS);
    const { config } = resolveConfig(
      {
        loop: { baseUrl: sim.url, token: sim.token },
        store: { path: join(dir, 'store.json') },
        access: { users: people.map((p) => `matrix:${p.userId}`) },
        matrix: { homeserverUrl: synapse.url, accessToken: bot.accessToken },
        ops: { logLevel, logFormat: 'json' },
      },
      {},
    );
    const log = createLogger({ level: config.ops.logLevel, format: config.ops.logFormat });
    const daemon = await startDaemon(config, { log });
    const rss = startRssSampler();
    const started = Date.now();
    await Promise.all(rooms.map((r, i) => r.client.sendMessage(r.roomId, { msgtype: 'm.text', body: `hello from room ${i}` })));
    const deadline = started + (mode === 'raised' ? RAISED_DEADLINE_MS : DEFAULT_DEADLINE_MS);
    let observed: ReturnType<typeof observe>[] = [];
    let cutOff = false;
    for (;;) {
      observed = await mapLimit(rooms, 8, async (r) => observe(await roomEvents(r.client, r.roomId), bot.userId, reply.text));
      if (observed.every((o) => o.final !== undefined) && daemon.bridge.sessions.running.size === 0) break;
      if (Date.now() > deadline) {
        cutOff = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const peakRss = rss();
    const wallS = (Date.now() - started) / 1000;
    const limitExceeded = daemon.bridge.metrics.get('platform_rate_limited_total', { platform: 'matrix' });
    await daemon.stop();
    const firsts = observed.flatMap((o) => (o.first !== undefined && o.t0 !== undefined ? [o.first - o.t0] : []));
    const finals = observed.flatMap((o) => (o.final !== undefined && o.t0 !== undefined ? [o.final - o.t0] : []));
    return {
      mode,
      synapseStartMs: synapse.startMs,
      firstText: summarize(firsts),
      final: summarize(finals),
      finalsExact: observed.filter((o) => o.shown === reply.text).length,
      duplicated: observed.filter((o) => o.copies > 1).length,
      limitExceeded,
      eventsPerTurn: observed.reduce((n, o) => n + o.sent, 0) / observed.length,
      peakRss,
      wallS,
      cutOff,
    };
  } finally {
    await sim.close();
    await synapse.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  console.log(`bench:matrix  ${date}\n${machineLine()}\n`);
  const t0 = Date.now();
  await promisify(execFile)('bash', [join(import.meta.dirname, '..', 'test', 'peers', 'synapse', 'ensure-synapse.sh')]);
  const ensureS = (Date.now() - t0) / 1000;
  const logLevel = process.env.BENCH_MX_LOG ?? 'error';
  const results: RunResult[] = [];
  for (const mode of ['messages-default', 'raised'] as const) {
    console.log(`run: ${mode} …`);
    results.push(await runOnce(mode, logLevel));
  }
  const label = (m: SynapseRateLimits) => (m === 'raised' ? 'rc_message raised' : 'rc_message default (0.2/s, burst 10)');
  const ms = (s: Summary) => (s.n ? `${fmt(s.p50 / 1000, 1)} s / ${fmt(s.p99 / 1000, 1)} s` : '—');
  const header = ['Synapse limits', 'first text p50 / p99', 'final p50 / p99', 'finals exact', 'M_LIMIT_EXCEEDED', 'events sent / turn', 'peak RSS', 'wall'];
  const body = results.map((r) => [
    label(r.mode),
    ms(r.firstText),
    ms(r.final),
    `${r.finalsExact} / ${ROOMS}${r.duplicated ? `, ${r.duplicated} dup.` : ''}`,
    fmt(r.limitExceeded),
    fmt(r.eventsPerTurn, 1),
    mb(r.peakRss),
    `${fmt(r.wallS, 0)} s${r.cutOff ? ' (cut off)' : ''}`,
  ]);
  console.log(table(header, body));
  const raised = results.find((r) => r.mode === 'raised')!;
  const okRaised = raised.finalsExact === ROOMS && raised.duplicated === 0;
  const md = [
    `Run ${date} on ${machineLine()}.`,
    '',
    `${ROOMS} direct rooms start a turn at once through the daemon (in the bench process) against a real Synapse 1.163.2 (sqlite, ` +
      `127.0.0.1), each reply ~2,000 characters in ${DELTAS} deltas ${DELTA_MS} ms apart from the loop simulator (child process). ` +
      'Times are Synapse\'s own (origin_server_ts of the person\'s message → the bot\'s first message → the event after which ' +
      'the room shows the exact final text). "events sent / turn" counts the bot\'s m.room.message events (sends + edits). ' +
      'Edit pace: the config defaults (1 s in DMs). Setup limits (joins, invites, room creation, registration) are raised in both runs.',
    '',
    table(header, body),
    '',
    table(['target', 'result', ''], [['with the limit raised: every final exact, none duplicated', `${raised.finalsExact} / ${ROOMS}, ${raised.duplicated} dup.`, verdict(okRaised)]]),
    '',
    `Synapse: venv check/install ${fmt(ensureS, 1)} s this run (a fresh install took 27–32 s here); start ${results.map((r) => `${fmt(r.synapseStartMs / 1000, 1)} s`).join(', ')}.`,
    'With Synapse\'s default rc_message every event of the bot, edits included, draws on one per-account budget of 0.2/s: the ' +
      'daemon waits out each M_LIMIT_EXCEEDED for all rooms at once (the limit is per account), intermediate edits yield to first ' +
      'messages and finals, and the turns finish only as fast as that budget allows. Exempt the bot (README, Matrix).',
  ].join('\n');
  await appendReport(SECTION, md);
  console.log(`\nwrote ${SECTION} to bench/REPORT.md`);
  if (!okRaised) process.exitCode = 1;
}

await main();
