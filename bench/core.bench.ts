// `npm run bench:core`: 1, 100 and 1,000 concurrent conversations through the real core (Bridge with a
// RecordingAdapter, a lowdb store in a temp dir, LoopClient) against the simulator running in a child
// process. Prints a table and rewrites the "Core" section of bench/REPORT.md. Exits non-zero only when a
// final is lost or duplicated (or a turn did not finish).
//
// Knobs (env): BENCH_CORE_SIZES ("1,100,1000,1000,1000": the largest size runs three times because one
// run of it on a 2-core machine is noisy), BENCH_DELTAS (40), BENCH_DELTA_MS (50),
// BENCH_EDIT_MS (1000, replies.editIntervalMs.direct), BENCH_GLOBAL_PER_S (100000, the platform budget).

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bridge } from '../src/core/bridge.js';
import { conversationKey, type ConversationRef } from '../src/core/adapter-types.js';
import { renderTurn } from '../src/core/render.js';
import { keys, type ConversationRecord } from '../src/core/state.js';
import { openLowdbStore } from '../src/store/lowdb-store.js';
import { RecordingAdapter } from '../test/helpers/recording-adapter.js';
import { fmt, mb, startCpu, startHeapSampler, startLoopDelay, startRssSampler, summarize, type Summary } from './lib/measure.js';
import { envInt } from './lib/env.js';
import { appendReport, machineLine, table, verdict } from './lib/report.js';
import { startSimProcess, type SimProcess } from './lib/sim-process.js';
import { turnStaleness } from './lib/staleness.js';
import { TappedClient } from './lib/tapped-client.js';
import { benchTurn } from './lib/turn-script.js';

const SECTION = '## Core (`npm run bench:core`)';
const SIZES = (process.env.BENCH_CORE_SIZES ?? '1,100,1000,1000,1000').split(',').map(Number).filter((n) => n > 0);
const DELTAS = envInt('BENCH_DELTAS', 40);
const DELTA_MS = envInt('BENCH_DELTA_MS', 50);
const EDIT_MS = envInt('BENCH_EDIT_MS', 1000);
const GLOBAL_PER_S = envInt('BENCH_GLOBAL_PER_S', 100_000);
const FIRST_TEXT_TARGET_MS = 250;
const RSS_TARGET = 300e6;
/** Generous: a phase that has not finished by then is reported, not waited for. */
const PHASE_DEADLINE_MS = 150_000;

const silentLog = { info() {}, warn() {}, error() {}, debug() {} };
const noisyLog = {
  ...silentLog,
  warn: (o: object, m?: string) => console.warn('core warn:', m, JSON.stringify(o)),
  error: (o: object, m?: string) => console.warn('core error:', m, JSON.stringify(o)),
};

interface PhaseResult {
  n: number;
  completed: number;
  wallMs: number;
  firstText: Summary;
  firstTextFromCore: Summary;
  missingFirstDelta: number;
  staleness: Summary;
  deltaLag: Summary;
  doneToFinal: Summary;
  injectToFirstDelta: Summary;
  storeWrites: number;
  turnMaxStaleness: Summary;
  neverShown: number;
  calls: Record<string, number>;
  callsPerTurn: number;
  cpuS: number;
  peakRss: number;
  baseRss: number;
  peakHeapUsed: number;
  peakExternal: number;
  loopDelayP99: number;
  loopDelayMax: number;
  simCpuS: number;
  lost: number;
  duplicated: number;
  multiMessage: number;
}

async function phase(sim: SimProcess, n: number, dir: string, run: number): Promise<PhaseResult> {
  const turn = benchTurn('for the core benchmark', DELTAS, DELTA_MS);
  const adapter = new RecordingAdapter({
    capabilities: { rate: { globalPerSecond: GLOBAL_PER_S, privateChatIntervalMs: 0, groupChatIntervalMs: 0, groupPerMinute: 0 } },
  });
  const expected = renderTurn({ segments: [{ kind: 'text', text: turn.text }], status: 'done' }, {
    maxLength: adapter.capabilities.maxTextLength,
    measure: adapter.capabilities.measure,
    showTools: true,
  });
  if (expected.length !== 1 || expected[0] !== turn.text) throw new Error('benchmark reply does not render to itself; fix bench/lib/turn-script.ts');
  const finalText = expected[0];

  const store = await openLowdbStore({ path: join(dir, `store-${run}.json`) });
  const client = new TappedClient({ baseUrl: sim.url, token: sim.token });
  const bridge = new Bridge({
    client,
    store,
    adapters: [adapter],
    access: { dm: 'open', users: [], admins: [], groups: [], pairingCodeTtlMs: 3_600_000 },
    routing: { requireMention: true, mentionPatterns: [], maxQueuedPerLoop: 20, maxMessageChars: 100_000 },
    replies: { editIntervalMs: { direct: EDIT_MS, group: 3 * EDIT_MS }, showTools: true, showUsage: false },
    defaultPermissionMode: 'default',
    log: process.env.BENCH_VERBOSE ? noisyLog : silentLog,
  });
  await bridge.start();
  // '*' scripts are taken one per turn in arrival order, so n identical ones give every loop the same turn.
  await sim.script('*', turn.steps, n);
  await sim.stats(true);

  const convs: ConversationRef[] = Array.from({ length: n }, (_, i) => ({ platform: 'test', chatId: `c${run}-${i}`, isDirect: true }));
  const baseRss = process.memoryUsage().rss;
  const cpu = startCpu();
  const rss = startRssSampler(50);
  const heap = startHeapSampler(50);
  const lag = startLoopDelay();
  const t0 = Date.now();
  await Promise.all(
    convs.map((conversation, i) =>
      adapter.inject({
        kind: 'message',
        conversation,
        sender: { id: `user${i}`, isBot: false },
        text: `hello from conversation ${i}`,
        files: [],
        mentionsBot: false,
        replyToBot: false,
        messageId: `msg-${run}-${i}`,
      }),
    ),
  );
  const finished = () => bridge.metrics.get('turns_completed_total', { platform: 'test', status: 'done' });
  let lastReport = t0;
  while (finished() < n && Date.now() - t0 < PHASE_DEADLINE_MS) {
    await new Promise((r) => setTimeout(r, 100));
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      console.log(`  … ${finished()} / ${n} turns done after ${fmt((lastReport - t0) / 1000)} s`);
    }
  }
  const wallMs = Date.now() - t0;
  const cpuS = cpu().total;
  const peakRss = rss();
  const peakHeap = heap();
  const loopDelay = lag();
  const simStats = await sim.stats(true);
  const completed = finished();

  const firstText: number[] = [];
  const firstTextFromCore: number[] = [];
  const staleSamples: number[] = [];
  const deltaLags: number[] = [];
  const doneToFinal: number[] = [];
  const injectToFirstDelta: number[] = [];
  const turnMax: number[] = [];
  let missingFirstDelta = 0;
  let neverShown = 0;
  let lost = 0;
  let duplicated = 0;
  let multiMessage = 0;
  for (const conv of convs) {
    const msgs = adapter.chat(conv.chatId);
    const last = msgs[msgs.length - 1];
    if (!last || last.text !== finalText || !last.finalized) lost++;
    if (msgs.filter((m) => m.text.includes(finalText)).length > 1) duplicated++;
    if (msgs.length !== 1) multiMessage++;
    const loopId = (await store.get<ConversationRecord>(keys.conv(conversationKey(conv))))?.loopId;
    const first = msgs[0];
    if (!loopId || !first) continue;
    const bare = loopId.startsWith('loop_') ? loopId.slice(5) : loopId;
    const simFirst = simStats.firstDelta[bare];
    if (simFirst === undefined) missingFirstDelta++;
    else {
      firstText.push(first.history[0].at - simFirst);
      injectToFirstDelta.push(simFirst - t0);
    }
    const received = client.received.get(loopId) ?? [];
    if (received.length) firstTextFromCore.push(first.history[0].at - received[0].at);
    const endedAt = client.endedAt.get(loopId);
    if (endedAt !== undefined && last) doneToFinal.push(last.history[last.history.length - 1].at - endedAt);
    const s = turnStaleness(received, client.text.get(loopId) ?? '', first.history, 100);
    staleSamples.push(...s.samples);
    deltaLags.push(...s.deltaLags);
    turnMax.push(Math.max(0, ...s.samples));
    neverShown += s.neverShown;
  }
  const calls: Record<string, number> = {};
  for (const c of adapter.calls) calls[c.method] = (calls[c.method] ?? 0) + 1;

  await bridge.stop();
  await client.close();
  const storeWrites = store.stats().writes;
  await store.close();
  return {
    n,
    completed,
    wallMs,
    firstText: summarize(firstText),
    firstTextFromCore: summarize(firstTextFromCore),
    missingFirstDelta,
    staleness: summarize(staleSamples),
    deltaLag: summarize(deltaLags),
    doneToFinal: summarize(doneToFinal),
    injectToFirstDelta: summarize(injectToFirstDelta),
    storeWrites,
    turnMaxStaleness: summarize(turnMax),
    neverShown,
    calls,
    callsPerTurn: adapter.calls.length / n,
    cpuS,
    peakRss,
    baseRss,
    peakHeapUsed: peakHeap.heapUsed,
    peakExternal: peakHeap.external,
    loopDelayP99: loopDelay.p99Ms,
    loopDelayMax: loopDelay.maxMs,
    simCpuS: simStats.cpuUser + simStats.cpuSystem,
    lost,
    duplicated,
    multiMessage,
  };
}

const ms = (v: number) => `${fmt(v)} ms`;

/** Findings of profiles of one 1,000-conversation phase (static text: re-profile when the core changes). */
const PROFILE_NOTES = [
  '**Where the time and memory go** (1,000-conversation phase; static text: re-profile when the core changes):',
  '- Peak RSS is mostly uncollected garbage, not live data: mid-run a forced GC takes the JS heap to ~50 MB. So the ' +
    'lever is the allocation rate. Measured with the inspector\'s sampling heap profiler (collected objects included): ' +
    '~880 MB allocated per phase on 2026-11-23, ~690 MB on 2026-11-30.',
  '- 2026-11-30 (issue 7 §4), peak RSS 293–354 MB → 262–281 MB over six runs each: an `sdk_message` (43 of the 85 events ' +
    'of a turn) is no longer parsed unless it is a `result` (its usage is all the bridge reads); one async generator ' +
    'less per event in the client (SSE decoded in place); the follower holds each delta once (offsets, not copies) and ' +
    'allocates no step object per event; the live message builds each message\'s signature once (a full copy of the ' +
    'reply text on every comparison before); the splitter skips the markdown parse when a reply has no fence or table; ' +
    'the in-flight turn record is refreshed every 5 s instead of every 500 ms (only `seenAt` changes); the store writes ' +
    'its file in 64 KiB pieces instead of one multi-MB string and Buffer per write (those sat in V8\'s large-object ' +
    'space until a full GC); the benchmark\'s own tap no longer adds a generator per event.',
  '- Still the largest: the store\'s whole-file serialisation (~110 MB per phase, short-lived), the async-iterator ' +
    'chain client → follower → turn runner (~120 MB), the JSON copy of values written to the store (~45 MB).',
].join('\n');

function rows(results: PhaseResult[]): { header: string[]; body: string[][] } {
  const seen = new Map<number, number>();
  const header = [
    'figure',
    ...results.map((r) => {
      const k = (seen.get(r.n) ?? 0) + 1;
      seen.set(r.n, k);
      return k > 1 || results.filter((x) => x.n === r.n).length > 1 ? `${fmt(r.n)} conv. (run ${k})` : `${fmt(r.n)} conv.`;
    }),
  ];
  const line = (name: string, f: (r: PhaseResult) => string) => [name, ...results.map(f)];
  const body = [
    line('turns completed', (r) => `${fmt(r.completed)} / ${fmt(r.n)}`),
    line('wall time (inject → last final)', (r) => `${fmt(r.wallMs / 1000, 2)} s`),
    line('messages injected → loop\'s first delta p50 / p99 (intake, loop creation, POST; the script waits ' + DELTA_MS + ' ms)', (r) => `${ms(r.injectToFirstDelta.p50)} / ${ms(r.injectToFirstDelta.p99)}`),
    line('first text p50 / p99 (loop\'s first delta → visible)', (r) => `${ms(r.firstText.p50)} / ${ms(r.firstText.p99)}`),
    line('first text max', (r) => ms(r.firstText.max)),
    line('… of which core receipt → visible p50 / p99', (r) => `${ms(r.firstTextFromCore.p50)} / ${ms(r.firstTextFromCore.p99)}`),
    line('staleness p50 / p99 (100 ms samples)', (r) => `${ms(r.staleness.p50)} / ${ms(r.staleness.p99)}`),
    line('staleness: worst per turn p99', (r) => ms(r.turnMaxStaleness.p99)),
    line('delta → visible p50 / p99 / max', (r) => `${ms(r.deltaLag.p50)} / ${ms(r.deltaLag.p99)} / ${ms(r.deltaLag.max)}`),
    line('`done` reached the core → final visible p50 / p99', (r) => `${ms(r.doneToFinal.p50)} / ${ms(r.doneToFinal.p99)}`),
    line('store file writes (whole-file, fsync\'d)', (r) => fmt(r.storeWrites)),
    line('platform calls per turn', (r) => `${fmt(r.callsPerTurn, 2)} (${Object.entries(r.calls).map(([k, v]) => `${k} ${fmt(v / r.n, 2)}`).join(', ')})`),
    line('core CPU (user + sys)', (r) => `${fmt(r.cpuS, 2)} s`),
    line('core CPU per 1,000 turns', (r) => `${fmt((r.cpuS * 1000) / r.n, 2)} s`),
    line('core peak RSS (process baseline)', (r) => `${mb(r.peakRss)} (${mb(r.baseRss)})`),
    line('core peak JS heap used / external', (r) => `${mb(r.peakHeapUsed)} / ${mb(r.peakExternal)}`),
    line('core event-loop delay p99 / max', (r) => `${ms(r.loopDelayP99)} / ${ms(r.loopDelayMax)}`),
    line('simulator (child) CPU', (r) => `${fmt(r.simCpuS, 2)} s`),
    line('lost finals', (r) => fmt(r.lost)),
    line('duplicated finals', (r) => fmt(r.duplicated)),
    line('replies not in exactly one message', (r) => fmt(r.multiMessage)),
    line('deltas never shown / first delta not seen by the sim tap', (r) => `${fmt(r.neverShown)} / ${fmt(r.missingFirstDelta)}`),
  ];
  return { header, body };
}

/**
 * Runs one phase in a fresh process (this file with `--phase n run`), so each phase's RSS and CPU start
 * from a clean process instead of inheriting the previous phase's heap. The child prints its result as
 * the last stdout line.
 */
async function phaseInChild(n: number, run: number): Promise<PhaseResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--phase', String(n), String(run)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    out += d;
    for (const line of d.split('\n')) if (line.startsWith('  …')) console.log(line);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !last.startsWith('{')) throw new Error(`phase ${n}/${run} failed (exit ${code}): ${out.slice(-2000)}`);
  return JSON.parse(last) as PhaseResult;
}

/** Child mode: one phase with its own simulator child and temp dir. */
async function phaseMain(n: number, run: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'loopbridge-bench-core-'));
  const sim = await startSimProcess({ idleCutMs: null });
  try {
    const r = await phase(sim, n, dir, run);
    process.stdout.write(JSON.stringify(r) + '\n');
  } finally {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main() {
  const date = new Date().toISOString();
  console.log(`bench:core  ${date}\n${machineLine()}\n`);
  const results: PhaseResult[] = [];
  for (const [run, n] of SIZES.entries()) {
    console.log(`${fmt(n)} concurrent conversation(s) …`);
    results.push(await phaseInChild(n, run));
  }
  const { header, body } = rows(results);
  console.log(table(header, body));

  const maxN = Math.max(...results.map((r) => r.n));
  const bigs = results.filter((r) => r.n === maxN);
  const each = (f: (r: PhaseResult) => string) => bigs.map(f).join(' · ');
  const okFirst = bigs.every((r) => r.firstText.p99 < FIRST_TEXT_TARGET_MS);
  const okStale = bigs.every((r) => r.staleness.p99 < EDIT_MS + 250);
  const okRss = bigs.every((r) => r.peakRss < RSS_TARGET);
  const okFinals = bigs.every((r) => r.lost === 0 && r.duplicated === 0);
  const bad = results.filter((r) => r.lost > 0 || r.duplicated > 0 || r.completed < r.n);

  const md = [
    `Run ${date} on ${machineLine()}.`,
    '',
    `Command: \`${process.env.BENCH_CORE_SIZES ? `BENCH_CORE_SIZES=${process.env.BENCH_CORE_SIZES} ` : ''}npm run bench:core\` (\`node --import tsx bench/core.bench.ts\`).`,
    '',
    '**Setup.** The real core: `Bridge` + `RecordingAdapter` (test/helpers, 0 ms latency, platform budget ' +
      `${fmt(GLOBAL_PER_S)} calls/s and no per-chat interval, so the platform is not the bottleneck) + a lowdb store ` +
      'in a temp dir + `LoopClient`, against the simulator in a **child process** (`bench/lib/sim-child.ts`), so ' +
      "the CPU and RSS figures are the core's alone. Each conversation is a direct chat (access `dm: open`) sending " +
      `one message; the loop answers with a scripted turn of ${DELTAS} deltas ${DELTA_MS} ms apart ` +
      `(${fmt(((DELTAS + 1) * DELTA_MS) / 1000, 2)} s, one \`'*'\` script queued per conversation so every loop gets the same turn). ` +
      `\`replies.editIntervalMs.direct\` = ${fmt(EDIT_MS)} ms (the pace). Each phase (column) runs in a **fresh process** with its ` +
      'own simulator child, so no phase inherits another\'s heap; the 1,000-conversation phase runs three times because ' +
      'one run on a shared 2-core machine is noisy. The core process also holds the in-process recording adapter and the ' +
      "bench's own timelines (a few MB at 1,000 conversations); its baseline (Node + tsx + modules) is shown in brackets.",
    '',
    '**How it is measured.**',
    "- *First text*: the simulator child wraps `ServerResponse.prototype.write` and notes when it wrote each loop's first " +
      "`assistant_delta` (wall clock, same machine); the recording adapter timestamps the first `send`. The difference is " +
      'the whole path loop → socket → client → follower → turn runner → renderer → scheduler → platform call. The row ' +
      '"core receipt → visible" starts instead when `LoopClient` handed the delta to the follower (a tapping subclass).',
    '- *Staleness*: computed after the run from exact timelines, not by a sampler competing for CPU: for every received ' +
      'delta, when the core got it (tapping client) and when the platform first showed text covering it (the adapter\'s ' +
      'edit history). Every 100 ms from the first delta to the final, staleness = age of the oldest received text not yet ' +
      'visible (0 when caught up). "Time since the visible text last matched" would grow for the whole turn whenever deltas ' +
      'arrive faster than the pace, so the age of the oldest unseen text is the honest reading of it.',
    '- *Lost final*: the chat\'s last message is not exactly the expected final render (`renderTurn` of the scripted text, ' +
      'checked equal to the text itself) or was never finalised. *Duplicated final*: more than one message contains it.',
    '- *Platform calls*: every adapter call (send, edit, delete, typing). CPU = `process.cpuUsage()` over the phase; ' +
      'RSS = `process.memoryUsage().rss` sampled every 50 ms.',
    '',
    table(header, body),
    '',
    `**Targets (${fmt(maxN)} concurrent conversations, 2-core machine; one figure per run, met only if every run meets it):**`,
    '',
    table(
      ['target', 'figure per run', ''],
      [
        [`first-text p99 < ${FIRST_TEXT_TARGET_MS} ms`, each((r) => ms(r.firstText.p99)), verdict(okFirst)],
        [`staleness p99 < pace + 250 ms = ${fmt(EDIT_MS + 250)} ms`, each((r) => ms(r.staleness.p99)), verdict(okStale)],
        ['RSS < 300 MB', each((r) => mb(r.peakRss)), verdict(okRss)],
        ['lost finals = 0, duplicated finals = 0', each((r) => `${r.lost}, ${r.duplicated}`), verdict(okFinals)],
      ],
    ),
    '',
    PROFILE_NOTES,
  ].join('\n');
  await appendReport(SECTION, md);
  console.log(`\nwrote the section "${SECTION}" of bench/REPORT.md`);
  if (bad.length) {
    console.error(`correctness check failed: ${bad.map((r) => `${r.n} conv.: ${r.completed} completed, ${r.lost} lost, ${r.duplicated} duplicated`).join('; ')}`);
    process.exitCode = 1;
  }
}

const phaseArg = process.argv.indexOf('--phase');
if (phaseArg >= 0) await phaseMain(Number(process.argv[phaseArg + 1]), Number(process.argv[phaseArg + 2]));
else await main();
