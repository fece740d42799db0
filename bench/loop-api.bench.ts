// `npm run bench:loop-api`: (1) SSE parse throughput on one core, (2) 1,000 concurrent turns streamed from
// the simulator (in a child process) through LoopClient + followTurn. Prints a table and rewrites the
// "Loop API client" section of bench/REPORT.md. Exits non-zero only when a correctness count is wrong.
//
// Knobs (env): BENCH_SSE_EVENTS (500000), BENCH_TURNS (1000), BENCH_DELTAS (40), BENCH_DELTA_MS (20).

import { randomUUID } from 'node:crypto';
import { LoopClient } from '../src/loop-api/client.js';
import { followTurn } from '../src/loop-api/follower.js';
import { SseDecoder } from '../src/loop-api/sse.js';
import { fmt, mapLimit, mb, startCpu, startLoopDelay, startRssSampler, summarize, wallMs } from './lib/measure.js';
import { envInt } from './lib/env.js';
import { appendReport, machineLine, table, verdict } from './lib/report.js';
import { startSimProcess } from './lib/sim-process.js';
import { buildSseCorpus, type SseCorpus } from './lib/sse-corpus.js';
import { benchTurn } from './lib/turn-script.js';

const SECTION = '## Loop API client (`npm run bench:loop-api`)';
const PARSE_TARGET = 200_000;
const SSE_EVENTS = envInt('BENCH_SSE_EVENTS', 500_000);
const TURNS = envInt('BENCH_TURNS', 1000);
const DELTAS = envInt('BENCH_DELTAS', 40);
const DELTA_MS = envInt('BENCH_DELTA_MS', 20);

interface ParseResult {
  events: number;
  unknown: number;
  ms: number;
  cpuS: number;
}

/** One pass: bytes → SseDecoder (eventsource-parser + parseEvent) → LoopEvent, exactly what the client runs. */
function parsePass(corpus: SseCorpus): ParseResult {
  const cpu = startCpu();
  const t0 = performance.now();
  const d = new SseDecoder();
  let events = 0;
  let unknown = 0;
  for (const chunk of corpus.chunks) {
    const out = d.push(chunk);
    events += out.length;
    for (let i = 0; i < out.length; i++) if (out[i].type === 'unknown') unknown++;
  }
  events += d.end().length;
  return { events, unknown, ms: performance.now() - t0, cpuS: cpu().total };
}

async function sseBench() {
  // Warm the JIT on a small stream first so the timed passes measure steady state.
  const warm = buildSseCorpus(50_000, 7);
  for (let i = 0; i < 3; i++) parsePass(warm);
  const corpus = buildSseCorpus(SSE_EVENTS);
  const passes: ParseResult[] = [];
  for (let i = 0; i < 3; i++) passes.push(parsePass(corpus));
  const sorted = [...passes].sort((a, b) => a.ms - b.ms);
  const median = sorted[1];
  const wrong = passes.filter((p) => p.events !== corpus.events || p.unknown !== 0).length;
  return {
    corpus,
    median,
    best: sorted[0],
    eventsPerS: corpus.events / (median.ms / 1000),
    mbPerS: corpus.bytes / 1e6 / (median.ms / 1000),
    wrong,
  };
}

async function turnsBench() {
  const sim = await startSimProcess({ idleCutMs: null, deltaDelayMs: DELTA_MS });
  const client = new LoopClient({ baseUrl: sim.url, token: sim.token, timeoutMs: 60_000 });
  try {
    const tCreate = wallMs();
    const loops = await mapLimit(
      Array.from({ length: TURNS }, (_, i) => i),
      50,
      async (i) => (await client.createLoop({ title: `bench ${i}` })).id,
    );
    const createMs = wallMs() - tCreate;
    const turns = loops.map((id) => benchTurn(id, DELTAS, DELTA_MS));
    for (let i = 0; i < loops.length; i++) await sim.script(loops[i], turns[i].steps);
    await sim.stats(true);

    const baseRss = process.memoryUsage().rss;
    const cpu = startCpu();
    const rss = startRssSampler(50);
    const lag = startLoopDelay();
    const t0 = wallMs();
    let events = 0;
    const byType: Record<string, number> = {};
    let errors = 0;
    const errorSamples: string[] = [];
    const firstEventMs: number[] = [];
    const turnMs: number[] = [];
    const results = await Promise.all(
      loops.map(async (loopId, i) => {
        const start = wallMs();
        let text = '';
        let last = '';
        let gaps = 0;
        let first = true;
        try {
          for await (const ev of followTurn(client, loopId, { content: `bench message ${i}` }, { idempotencyKey: randomUUID() })) {
            events++;
            byType[ev.type] = (byType[ev.type] ?? 0) + 1;
            if (first) {
              firstEventMs.push(wallMs() - start);
              first = false;
            }
            if (ev.type === 'assistant_delta') text += ev.text;
            else if (ev.type === 'gap') gaps++;
            last = ev.type;
          }
        } catch (err) {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(String(err));
          return false;
        }
        turnMs.push(wallMs() - start);
        // A follow that returns normally ends with its terminal event; only `done` with no gap is a clean turn.
        return last === 'done' && gaps === 0 && text === turns[i].text;
      }),
    );
    const wall = wallMs() - t0;
    const cpuS = cpu();
    const peakRss = rss();
    const loopDelay = lag();
    const server = await sim.stats();
    return {
      createMs,
      wall,
      events,
      byType,
      baseRss,
      errors,
      errorSamples,
      exact: results.filter(Boolean).length,
      cpuS,
      peakRss,
      loopDelay,
      server,
      firstEvent: summarize(firstEventMs),
      turn: summarize(turnMs),
    };
  } finally {
    await client.close();
    await sim.close();
  }
}

async function main() {
  const date = new Date().toISOString();
  console.log(`bench:loop-api  ${date}\n${machineLine()}\n`);

  console.log(`${fmt(TURNS)} concurrent turns × ${DELTAS} deltas (${DELTA_MS} ms apart) …`);
  const t = await turnsBench();
  const eventsPerS = t.events / (t.wall / 1000);
  const turnRows: Array<[string, string]> = [
    ['turns completed with the exact text', `${fmt(t.exact)} / ${fmt(TURNS)}`],
    ['errors', fmt(t.errors)],
    ['events received', `${fmt(t.events)} (${Object.entries(t.byType).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')})`],
    ['wall time', `${fmt(t.wall / 1000, 2)} s (a turn alone takes ≈ ${fmt(((DELTAS + 1) * DELTA_MS) / 1000, 2)} s)`],
    ['events / s', fmt(eventsPerS)],
    ['client CPU (user + sys)', `${fmt(t.cpuS.total, 2)} s (${fmt(t.cpuS.user, 2)} + ${fmt(t.cpuS.system, 2)})`],
    ['client peak RSS', `${mb(t.peakRss)} (${mb(t.baseRss)} before the turns)`],
    ['client event-loop delay p99 / max', `${fmt(t.loopDelay.p99Ms, 1)} / ${fmt(t.loopDelay.maxMs, 1)} ms`],
    ['time to first event p50 / p99', `${fmt(t.firstEvent.p50)} / ${fmt(t.firstEvent.p99)} ms`],
    ['turn duration p50 / p99', `${fmt(t.turn.p50)} / ${fmt(t.turn.p99)} ms`],
    ['simulator (child) CPU', `${fmt(t.server.cpuUser + t.server.cpuSystem, 2)} s`],
    ['simulator (child) peak RSS', mb(t.server.peakRss)],
    ['most SSE streams open at once (server side)', fmt(t.server.peakOpenStreams)],
    ['loop creation (not timed above)', `${fmt(TURNS)} loops in ${fmt(t.createMs / 1000, 2)} s, 50 at a time`],
  ];
  console.log(table(['figure', 'value'], turnRows));
  if (t.errorSamples.length) console.log('\nfirst errors:\n' + t.errorSamples.join('\n'));

  console.log(`\nSSE parse: ${fmt(SSE_EVENTS)} events …`);
  const p = await sseBench();
  console.log(
    table(
      ['figure', 'value'],
      [
        ['events / s (median of 3)', fmt(p.eventsPerS)],
        ['MB / s', fmt(p.mbPerS, 1)],
        ['stream', `${mb(p.corpus.bytes)}, ${fmt(p.corpus.chunks.length)} chunks of 1–16 KiB`],
        ['wrong passes (count ≠ events or unknown > 0)', p.wrong],
      ],
    ),
  );

  const okParse = p.eventsPerS >= PARSE_TARGET;
  const okTurns = t.errors === 0 && t.exact === TURNS;
  const md = [
    `Run ${date} on ${machineLine()}.`,
    '',
    'Command: `npm run bench:loop-api` (`node --import tsx bench/loop-api.bench.ts`).',
    '',
    '### SSE parse throughput (one core)',
    '',
    `An in-memory stream of ${fmt(p.corpus.events)} events in the simulator's framing (${Object.entries(p.corpus.mix)
      .map(([k, v]) => `${k} ${fmt((100 * v) / p.corpus.events)} %`)
      .join(', ')}), ${mb(p.corpus.bytes)} cut into ${fmt(p.corpus.chunks.length)} random chunks of 1–16 KiB, decoded by ` +
      "`SseDecoder` (TextDecoder + eventsource-parser + `parseEvent`, i.e. bytes → typed `LoopEvent`, exactly the client's path). " +
      'Three passes after a JIT warm-up; median shown.',
    '',
    table(
      ['figure', 'value', 'target'],
      [
        ['events / s', fmt(p.eventsPerS), `≥ ${fmt(PARSE_TARGET)} — ${verdict(okParse)}`],
        ['MB / s', fmt(p.mbPerS, 1), ''],
        ['best pass', `${fmt(p.best.ms)} ms`, ''],
        ['passes with a wrong count or an `unknown` event', String(p.wrong), '0'],
      ],
    ),
    '',
    `### ${fmt(TURNS)} concurrent turns through the client`,
    '',
    `The simulator runs in a child process (\`bench/lib/sim-child.ts\`, \`idleCutMs: null\`), so the figures below are the ` +
      `client's own. ${fmt(TURNS)} loops are created first (not timed), each gets a scripted turn of ${DELTAS} ` +
      `\`assistant_delta\` events ${DELTA_MS} ms apart whose text names its loop, then ${fmt(TURNS)} \`followTurn\` calls run at once ` +
      "and each turn's concatenated text is compared with the exact scripted text. LoopClient's undici `Agent` sets no " +
      '`connections` limit (undici\'s default per origin is unlimited), so every stream gets its own socket — the ' +
      '"streams open at once" row confirms it; no change to `src/loop-api` was needed. The turns run before the parse ' +
      "benchmark so the parser's garbage does not count in the client's RSS.",
    '',
    table(['figure', 'value'], turnRows),
    '',
    `Target: ${fmt(TURNS)} concurrent turns with no error — ${verdict(okTurns)}.`,
  ].join('\n');
  await appendReport(SECTION, md);
  console.log(`\nwrote the section "${SECTION}" of bench/REPORT.md`);

  if (p.wrong > 0 || !okTurns) {
    console.error('correctness check failed: wrong parse counts, errors, or turns without their exact text');
    process.exitCode = 1;
  }
}

await main();
