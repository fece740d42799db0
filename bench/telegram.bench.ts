// `npm run bench:telegram`: 200 private chats and 20 groups start a turn at once, through the real daemon
// (`startDaemon`, in a fresh process per run) against the Telegram Bot API fake with its flood limits enforced (30/s
// global, burst 3 + 1/s per chat, 20/min per group) and the loop simulator; the fake and the simulator each
// run in their own child processes, so that process's CPU and RSS are the daemon's. Every figure comes from the
// fake's call log (arrival times on one clock with the injections) and its message store. Prints a table and
// rewrites the "Telegram" section of bench/REPORT.md. Exits non-zero only when a final is lost or duplicated
// or a turn did not finish.
//
// Knobs (env): BENCH_TG_PRIVATE (200), BENCH_TG_GROUPS (20), BENCH_DELTAS (40), BENCH_DELTA_MS (200),
// BENCH_TG_RUNS (2: runs, each in a fresh process; one run on a shared 2-core machine is noisy),
// BENCH_TG_LOG (error: the daemon's pino level), BENCH_TG_RATE_GLOBAL (unset: an experiment's telegram.rate.globalPerSecond;
// the report notes it).

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureTelegram, TELEGRAM_MAX_TEXT } from '../adapters/telegram/format.js';
import { resolveConfig } from '../src/config/load.js';
import { conversationKey, type ChatAdapter, type ConversationRef, type MessageRef } from '../src/core/adapter-types.js';
import { renderTurn } from '../src/core/render.js';
import { keys, type ConversationRecord } from '../src/core/state.js';
import { startDaemon } from '../src/daemon.js';
import { createLogger } from '../src/ops/logging.js';
import type { FakeChat, FakeUser } from '../test/peers/fake-telegram.js';
import { fmt, mb, startCpu, startLoopDelay, startRssSampler, summarize, type Summary } from './lib/measure.js';
import { envInt } from './lib/env.js';
import { appendReport, machineLine, table, verdict } from './lib/report.js';
import { startSimProcess } from './lib/sim-process.js';
import { startTgFakeProcess, type TgCall, type TgFakeReport, type TgInjection } from './lib/telegram-fake-process.js';
import { benchTurn } from './lib/turn-script.js';

const SECTION = '## Telegram (`npm run bench:telegram`)';
const PRIVATE = envInt('BENCH_TG_PRIVATE', 200);
const GROUPS = envInt('BENCH_TG_GROUPS', 20);
const RUNS = envInt('BENCH_TG_RUNS', 2);
/** Experiments only: overrides `telegram.rate.globalPerSecond` (default: unset, the config default 30). The fake stays at 30. */
const RATE_GLOBAL = process.env.BENCH_TG_RATE_GLOBAL ? envInt('BENCH_TG_RATE_GLOBAL', 30) : undefined;
const N = PRIVATE + GROUPS;
const DELTAS = envInt('BENCH_DELTAS', 40);
const DELTA_MS = envInt('BENCH_DELTA_MS', 200);
/** Telegram's global budget (the fake's default and the config default), calls per second. */
const GLOBAL_PER_S = 30;
/** Target: last first text within this factor of the budget floor. */
const FIRST_TEXT_FACTOR = 1.2;
/** Generous: a run not finished by then is reported, not waited for. */
const RUN_DEADLINE_MS = 100_000;

// ---- the run --------------------------------------------------------------------------------------------

interface Run {
  injectedAt: Map<number, number>;
  groupIds: Set<number>;
  fake: TgFakeReport;
  expected: string;
  textLength: number;
  completed: number;
  wallMs: number;
  cpuS: number;
  peakRss: number;
  baseRss: number;
  loopDelayP99: number;
  loopDelayMax: number;
  simCpuS: number;
  sched: { calls: number; rateLimited: number; rateLimitWaitMs: number; droppedTyping: number; retries: number };
  rateLimitedMetric: number;
  /** chat id → when the daemon started each chat-bound Bot API call, in order (Date.now). */
  starts: Map<number, number[]>;
  /** chat id → when the simulator wrote that chat's loop's first assistant_delta, ms since the epoch. */
  loopFirstDelta: Map<number, number>;
}

async function run(): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'loopbridge-bench-tg-'));
  const sim = await startSimProcess({ idleCutMs: null });
  const fake = await startTgFakeProcess(); // the fake's defaults are Telegram's limits
  // One process, one clock: if anything below throws, the children still go.
  try {
    const turn = benchTurn('for a Telegram bench', DELTAS, DELTA_MS);
    const expected = renderTurn({ segments: [{ kind: 'text', text: turn.text }], status: 'done' }, { maxLength: TELEGRAM_MAX_TEXT, measure: measureTelegram, showTools: true });
    if (expected.length !== 1 || expected[0] !== turn.text) throw new Error('benchmark reply does not render to itself in one Telegram message');
    // '*' scripts are taken one per turn in arrival order: every loop gets the same turn.
    await sim.script('*', turn.steps, N);

    const privateChats: Array<{ chat: FakeChat; from: FakeUser }> = Array.from({ length: PRIVATE }, (_, i) => ({
      chat: { id: 100_001 + i, type: 'private', first_name: `User${i}` },
      from: { id: 100_001 + i, first_name: `User${i}` },
    }));
    const groupChats: Array<{ chat: FakeChat; from: FakeUser }> = Array.from({ length: GROUPS }, (_, i) => ({
      chat: { id: -1_001_000_000_001 - i, type: 'supergroup', title: `Team ${i}` },
      from: { id: 200_001 + i, first_name: `Member${i}` },
    }));
    const users = [...privateChats, ...groupChats].map((c) => `telegram:${c.from.id}`);
    const { config } = resolveConfig(
      {
        loop: { baseUrl: sim.url, token: sim.token },
        store: { path: join(dir, 'store.json') },
        access: { users },
        telegram: { token: fake.token, apiRoot: fake.apiRoot, ...(RATE_GLOBAL ? { rate: { globalPerSecond: RATE_GLOBAL } } : {}) },
      },
      {},
    );
    const log = createLogger({ level: process.env.BENCH_TG_LOG ?? 'error', format: 'json' });
    const daemon = await startDaemon(config, { log });
    const outlet = daemon.bridge.outlet('telegram');
    const starts = outlet ? tapStarts(outlet.adapter) : new Map<number, number[]>();
    const finished = () => daemon.bridge.metrics.get('turns_completed_total', { platform: 'telegram', status: 'done' });

    const messages: TgInjection[] = [
      ...privateChats.map((c, i) => ({ ...c, text: `hello from private chat ${i}` })),
      ...groupChats.map((c, i) => ({ ...c, text: `@${fake.bot.username} hello from group ${i}` })),
    ];
    await sim.stats(true);
    const baseRss = process.memoryUsage().rss;
    const cpu = startCpu();
    const rss = startRssSampler(50);
    const lag = startLoopDelay();
    const at = await fake.inject(messages);
    const t0 = Math.min(...at);
    let lastReport = Date.now();
    while (finished() < N && Date.now() - t0 < RUN_DEADLINE_MS) {
      await new Promise((r) => setTimeout(r, 100));
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        console.log(`  … ${finished()} / ${N} turns done after ${fmt((lastReport - t0) / 1000)} s`);
      }
    }
    const wallMs = Date.now() - t0;
    const cpuS = cpu().total;
    const peakRss = rss();
    const loopDelay = lag();
    const completed = finished();
    const sched = { ...(outlet?.scheduler.stats ?? { calls: NaN, rateLimited: NaN, rateLimitWaitMs: NaN, droppedTyping: NaN, retries: NaN }) };
    const rateLimitedMetric = daemon.bridge.metrics.get('platform_rate_limited_total', { platform: 'telegram' });
    const simStats = await sim.stats(true);
    const loopFirstDelta = new Map<number, number>();
    for (const m of messages) {
      const conv = await daemon.store.get<ConversationRecord>(keys.conv(conversationKey({ platform: 'telegram', chatId: String(m.chat.id) })));
      const bare = conv?.loopId?.replace(/^loop_/, '');
      const first = bare !== undefined ? simStats.firstDelta[bare] : undefined;
      if (first !== undefined) loopFirstDelta.set(m.chat.id, first);
    }
    await daemon.stop();
    const report = await fake.report(expected[0]);
    return {
      injectedAt: new Map(messages.map((m, i) => [m.chat.id, at[i]])),
      groupIds: new Set(groupChats.map((c) => c.chat.id)),
      fake: report,
      expected: expected[0],
      textLength: turn.text.length,
      completed,
      wallMs,
      cpuS,
      peakRss,
      baseRss,
      loopDelayP99: loopDelay.p99Ms,
      loopDelayMax: loopDelay.maxMs,
      simCpuS: simStats.cpuUser + simStats.cpuSystem,
      sched,
      rateLimitedMetric,
      loopFirstDelta,
      starts,
    };
  } finally {
    await fake.close();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Notes when the daemon starts each send/edit/typing call, per chat (the scheduler runs one call per chat
 * at a time, so the n-th start of a chat is the n-th arrival of that chat at the fake). Bench-only: the
 * adapter's own methods still do the work.
 */
function tapStarts(adapter: ChatAdapter): Map<number, number[]> {
  const starts = new Map<number, number[]>();
  const note = (chatId: string) => {
    const id = Number(chatId);
    let list = starts.get(id);
    if (!list) starts.set(id, (list = []));
    list.push(Date.now());
  };
  const a = adapter as unknown as Record<'send' | 'edit' | 'typing', (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['send', 'edit', 'typing'] as const) {
    const orig = a[name].bind(adapter);
    a[name] = (...args: unknown[]) => {
      const first = args[0] as ConversationRef | MessageRef;
      note('conversation' in first ? first.conversation.chatId : first.chatId);
      return orig(...args);
    };
  }
  return starts;
}

// ---- analysis (all from the fake's call log and message store) -------------------------------------------

interface ChatFigures {
  /** injected → first call of any kind for the chat (intake, loop creation, the loop's `started`). */
  firstCall?: number;
  /** injected → first sendMessage admitted (the first text stored). */
  firstText?: number;
  firstTextAt?: number;
  /** injected → first admitted send/edit whose visible text equals the expected render. */
  finalText?: number;
  /** injected → first admitted send/edit with the expected text and no keyboard (Stop button gone: finalised). */
  finalised?: number;
  /** injected → the simulator wrote the loop's first delta (intake, loop creation, POST, the script's first wait). */
  loopFirstDelta?: number;
  /** the loop's first delta → first text stored (renderer, scheduler queue, 429 waits, HTTP). */
  deltaToFirstText?: number;
  /** Bot messages (not deleted) whose text is exactly the expected render, and bot messages in all. */
  holders: number;
  messages: number;
  finalOk: boolean;
}

interface Analysis {
  chats: Map<number, ChatFigures>;
  firstCall: Summary;
  loopFirstDelta: Summary;
  deltaToFirstText: Summary;
  firstText: Summary;
  finalText: Summary;
  finalised: Summary;
  finalsOk: number;
  lost: number;
  duplicated: number;
  notOneMessage: number;
  /** Chat-bound calls admitted at or before the last first text (all methods), and by method. */
  before: number;
  beforeBy: Record<string, number>;
  /** Chat-bound calls per turn by method (all statuses) and the 429s among them. */
  perTurn: Record<string, number>;
  callsPerTurn: number;
  tooMany: number;
  /** Daemon call start → arrival at the fake (both Date.now, one machine), and chats whose counts differed (not matched). */
  transit: Summary;
  transitUnmatched: number;
  /** 429s by method, and how many came when the fake had admitted ≥ 29 calls in the second before (the global window) vs. not (a chat limit). */
  tooManyBy: Record<string, number>;
  tooManyGlobal: number;
  /** Most admitted chat-bound calls in any sliding 1 s window at the fake. */
  peakWindow: number;
  /** Admitted chat-bound calls per second from the first to the last first text. */
  rateDuringFirsts: number;
  firstCallAt: number;
  lastFirstAt: number;
  t0: number;
}

function analyse(r: Run): Analysis {
  const byChat = new Map<number, TgCall[]>();
  for (const c of r.fake.calls) {
    let list = byChat.get(c.chatId);
    if (!list) byChat.set(c.chatId, (list = []));
    list.push(c);
  }
  const chats = new Map<number, ChatFigures>();
  const transit: number[] = [];
  let unmatched = 0;
  for (const [chatId, injected] of r.injectedAt) {
    const calls = byChat.get(chatId) ?? [];
    const started = r.starts.get(chatId) ?? [];
    if (started.length !== calls.length) unmatched++;
    else calls.forEach((c, i) => transit.push(c.at - started[i]));
    const ok = calls.filter((c) => c.status === 200);
    const firstSend = ok.find((c) => c.method === 'sendMessage');
    const finalText = ok.find((c) => c.matches);
    const finalised = ok.find((c) => c.matches && !c.keyboard);
    const msgs = (r.fake.botMessages[chatId] ?? []).filter((m) => !m.deleted);
    const holders = msgs.filter((m) => m.text === r.expected).length;
    const loopFirst = r.loopFirstDelta.get(chatId);
    chats.set(chatId, {
      loopFirstDelta: loopFirst !== undefined ? loopFirst - injected : undefined,
      deltaToFirstText: loopFirst !== undefined && firstSend ? firstSend.at - loopFirst : undefined,
      firstCall: calls[0] ? calls[0].at - injected : undefined,
      firstText: firstSend ? firstSend.at - injected : undefined,
      firstTextAt: firstSend?.at,
      finalText: finalText ? finalText.at - injected : undefined,
      finalised: finalised ? finalised.at - injected : undefined,
      holders,
      messages: msgs.length,
      finalOk: holders === 1 && msgs.some((m) => m.text === r.expected && !m.keyboard),
    });
  }
  const values = (f: (c: ChatFigures) => number | undefined) => [...chats.values()].map(f).filter((v): v is number => v !== undefined);
  const t0 = Math.min(...r.injectedAt.values());
  const firstAts = values((c) => c.firstTextAt);
  const lastFirstAt = firstAts.length ? Math.max(...firstAts) : NaN;
  const admitted = r.fake.calls.filter((c) => c.status === 200).sort((a, b) => a.at - b.at);
  const firstCallAt = admitted.length ? admitted[0].at : NaN;
  const beforeBy: Record<string, number> = {};
  let before = 0;
  for (const c of admitted) {
    if (c.at > lastFirstAt) break;
    before++;
    beforeBy[c.method] = (beforeBy[c.method] ?? 0) + 1;
  }
  let peakWindow = 0;
  for (let i = 0, j = 0; i < admitted.length; i++) {
    while (admitted[i].at - admitted[j].at >= 1000) j++;
    peakWindow = Math.max(peakWindow, i - j + 1);
  }
  const tooManyBy: Record<string, number> = {};
  let tooManyGlobal = 0;
  for (const c of r.fake.calls) {
    if (c.status !== 429) continue;
    tooManyBy[c.method] = (tooManyBy[c.method] ?? 0) + 1;
    // Arrival times are taken before the fake reads the body, so the window count is approximate (±1).
    const inWindow = admitted.filter((x) => x.at > c.at - 1000 && x.at <= c.at).length;
    if (inWindow >= GLOBAL_PER_S - 1) tooManyGlobal++;
  }
  const perTurn: Record<string, number> = {};
  for (const c of r.fake.calls) perTurn[c.method] = (perTurn[c.method] ?? 0) + 1 / r.injectedAt.size;
  const all = [...chats.values()];
  return {
    chats,
    firstCall: summarize(values((c) => c.firstCall)),
    loopFirstDelta: summarize(values((c) => c.loopFirstDelta)),
    deltaToFirstText: summarize(values((c) => c.deltaToFirstText)),
    firstText: summarize(values((c) => c.firstText)),
    finalText: summarize(values((c) => c.finalText)),
    finalised: summarize(values((c) => c.finalised)),
    finalsOk: all.filter((c) => c.finalOk).length,
    lost: all.filter((c) => c.holders === 0).length,
    duplicated: all.filter((c) => c.holders > 1).length,
    notOneMessage: all.filter((c) => c.messages !== 1).length,
    before,
    beforeBy,
    perTurn,
    callsPerTurn: r.fake.calls.length / r.injectedAt.size,
    tooMany: r.fake.calls.filter((c) => c.status === 429).length,
    tooManyBy,
    tooManyGlobal,
    transit: summarize(transit),
    transitUnmatched: unmatched,
    peakWindow,
    rateDuringFirsts: before / Math.max(0.001, (lastFirstAt - firstCallAt) / 1000),
    firstCallAt,
    lastFirstAt,
    t0,
  };
}

// ---- one run's figures (JSON-friendly: a run happens in a child process) --------------------------------

/** Everything the table needs from one run. Times in ms, CPU in s, memory in bytes. */
interface Result {
  n: number;
  completed: number;
  wallMs: number;
  textLength: number;
  tooMany: number;
  tooManyBy: Record<string, number>;
  tooManyGlobal: number;
  transit: Summary;
  transitUnmatched: number;
  sched: Run['sched'];
  rateLimitedMetric: number;
  loopFirstDelta: Summary;
  deltaToFirstText: Summary;
  firstText: Summary;
  floorFirst: number;
  firstRatio: number;
  before: number;
  beforeBy: Record<string, number>;
  rateDuringFirsts: number;
  firstCallAfterMs: number;
  peakWindow: number;
  finalText: Summary;
  finalised: Summary;
  privFinal: Summary;
  groupFinal: Summary;
  floorFinal: number;
  finalRatio: number;
  finalsOk: number;
  lost: number;
  duplicated: number;
  notOneMessage: number;
  callsPerTurn: number;
  perTurn: Record<string, number>;
  otherCalls: string;
  cpuS: number;
  peakRss: number;
  baseRss: number;
  loopDelayP99: number;
  loopDelayMax: number;
  simCpuS: number;
  fakeCpuS: number;
  fakePeakRss: number;
}

function toResult(r: Run, a: Analysis): Result {
  const n = r.injectedAt.size;
  // The budget's floor for the last first text: N first sends at GLOBAL_PER_S.
  const floorFirst = (n / GLOBAL_PER_S) * 1000;
  // Every turn needs at least a first send and a final (the final also removes the Stop button), and no
  // final can go before its turn ended: the last final cannot be visible before turn + N / budget.
  const floorFinal = Math.max(DELTAS * DELTA_MS + floorFirst, ((2 * n) / GLOBAL_PER_S) * 1000);
  const finalisedOf = (group: boolean) =>
    summarize([...a.chats].filter(([id]) => r.groupIds.has(id) === group).map(([, c]) => c.finalised ?? NaN).filter(Number.isFinite));
  return {
    n,
    completed: r.completed,
    wallMs: r.wallMs,
    textLength: r.textLength,
    tooMany: r.fake.rateLimited,
    tooManyBy: a.tooManyBy,
    tooManyGlobal: a.tooManyGlobal,
    transit: a.transit,
    transitUnmatched: a.transitUnmatched,
    sched: r.sched,
    rateLimitedMetric: r.rateLimitedMetric,
    loopFirstDelta: a.loopFirstDelta,
    deltaToFirstText: a.deltaToFirstText,
    firstText: a.firstText,
    floorFirst,
    firstRatio: a.firstText.max / floorFirst,
    before: a.before,
    beforeBy: a.beforeBy,
    rateDuringFirsts: a.rateDuringFirsts,
    firstCallAfterMs: a.firstCallAt - a.t0,
    peakWindow: a.peakWindow,
    finalText: a.finalText,
    finalised: a.finalised,
    privFinal: finalisedOf(false),
    groupFinal: finalisedOf(true),
    floorFinal,
    finalRatio: a.finalised.max / floorFinal,
    finalsOk: a.finalsOk,
    lost: a.lost,
    duplicated: a.duplicated,
    notOneMessage: a.notOneMessage,
    callsPerTurn: a.callsPerTurn,
    perTurn: a.perTurn,
    otherCalls: Object.entries(r.fake.byMethodStatus)
      .filter(([k]) => !/^(sendMessage|editMessageText|sendChatAction|deleteMessage|answerCallbackQuery) /.test(k))
      .map(([k, v]) => `${k}: ${fmt(v)}`)
      .join(', '),
    cpuS: r.cpuS,
    peakRss: r.peakRss,
    baseRss: r.baseRss,
    loopDelayP99: r.loopDelayP99,
    loopDelayMax: r.loopDelayMax,
    simCpuS: r.simCpuS,
    fakeCpuS: r.fake.cpuS,
    fakePeakRss: r.fake.peakRss,
  };
}

// ---- output -----------------------------------------------------------------------------------------------

const ms = (v: number) => `${fmt(v)} ms`;
const s = (v: number, d = 2) => `${fmt(v / 1000, d)} s`;
const trio = (x: Summary) => `${ms(x.p50)} / ${ms(x.p99)} / ${ms(x.max)}`;
const methods = (o: Record<string, number>, d = 2) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt(v, d)}`)
    .join(', ');

function rows(results: Result[]): { header: string[]; body: string[][] } {
  const header = ['figure', ...results.map((_, i) => (results.length > 1 ? `run ${i + 1}` : 'value'))];
  const line = (name: string, f: (r: Result) => string) => [name, ...results.map(f)];
  const body = [
    line('turns completed (daemon metric)', (r) => `${fmt(r.completed)} / ${fmt(r.n)}`),
    line('wall time (inject → last turn done)', (r) => s(r.wallMs)),
    line('**429s answered by the fake**', (r) => `**${fmt(r.tooMany)}** (${methods(r.tooManyBy, 0) || 'none'})`),
    line('… of which with ≥ 29 calls admitted in the second before (the global window; approximate)', (r) => fmt(r.tooManyGlobal)),
    line('daemon call start → arrival at the fake p50 / p99 / max', (r) => `${trio(r.transit)}${r.transitUnmatched ? ` (${fmt(r.transitUnmatched)} chats not matched)` : ''}`),
    line('scheduler: `PlatformRateLimitError` waits / total wait', (r) => `${fmt(r.sched.rateLimited)} / ${ms(r.sched.rateLimitWaitMs)}`),
    line('scheduler: calls started / typing dropped / retries', (r) => `${fmt(r.sched.calls)} / ${fmt(r.sched.droppedTyping)} / ${fmt(r.sched.retries)}`),
    line(`injected → loop's first delta p50 / p99 / max (intake, loop creation, POST; the script waits ${DELTA_MS} ms)`, (r) => trio(r.loopFirstDelta)),
    line("loop's first delta → first text p50 / p99 / max (scheduler queue, 429 waits, HTTP)", (r) => trio(r.deltaToFirstText)),
    line('**first text p50 / p99 / max** (injected → first sendMessage stored)', (r) => trio(r.firstText)),
    line('**last first text / budget floor** (floor = N / 30 per s)', (r) => `**${fmt(r.firstRatio, 2)}** (${s(r.firstText.max)} / ${s(r.floorFirst)})`),
    line('chat-bound calls admitted up to the last first text (G) → G / 30 per s', (r) => `${fmt(r.before)} (${methods(r.beforeBy, 0)}) → ${s((r.before / GLOBAL_PER_S) * 1000)}`),
    line('admitted rate, first call → last first text', (r) => `${fmt(r.rateDuringFirsts, 1)} calls/s (first call ${ms(r.firstCallAfterMs)} after the injection)`),
    line('most admitted calls in any 1 s window (arrival times)', (r) => fmt(r.peakWindow)),
    line('final text visible p50 / p99 / max (text = expected render)', (r) => trio(r.finalText)),
    line('**time to final p50 / p99 / max** (expected text, Stop button gone)', (r) => trio(r.finalised)),
    line('… private chats p50 / p99 · groups p50 / p99', (r) => `${ms(r.privFinal.p50)} / ${ms(r.privFinal.p99)} · ${ms(r.groupFinal.p50)} / ${ms(r.groupFinal.p99)}`),
    line('last final / floor (floor = turn + N / 30 per s)', (r) => `${fmt(r.finalRatio, 2)} (${s(r.finalised.max)} / ${s(r.floorFinal)})`),
    line('**finals delivered** (exactly one bot message holds the expected text, no keyboard)', (r) => `**${fmt(r.finalsOk)} / ${fmt(r.n)}** (${fmt((100 * r.finalsOk) / r.n, 1)} %)`),
    line('lost / duplicated finals / chats without exactly one bot message', (r) => `${fmt(r.lost)} / ${fmt(r.duplicated)} / ${fmt(r.notOneMessage)}`),
    line('chat-bound Bot API calls per turn (429s included)', (r) => `${fmt(r.callsPerTurn, 2)} (${methods(r.perTurn)})`),
    line('other Bot API calls (whole run)', (r) => r.otherCalls),
    line('daemon CPU (user + sys)', (r) => s(r.cpuS * 1000)),
    line('**daemon peak RSS** (before the burst)', (r) => `${mb(r.peakRss)} (${mb(r.baseRss)})`),
    line('daemon event-loop delay p99 / max', (r) => `${ms(r.loopDelayP99)} / ${ms(r.loopDelayMax)}`),
    line('simulator child CPU · fake child CPU / peak RSS', (r) => `${s(r.simCpuS * 1000)} · ${s(r.fakeCpuS * 1000)} / ${mb(r.fakePeakRss)}`),
  ];
  return { header, body };
}

/** Runs one measurement in a fresh process (this file with `--run`); the child prints its Result as the last stdout line. */
async function runInChild(k: number): Promise<Result> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--run', String(k)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    out += d;
    for (const l of d.split('\n')) if (l.startsWith('  …')) console.log(l);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !last.startsWith('{')) throw new Error(`run ${k} failed (exit ${code}): ${out.slice(-2000)}`);
  return JSON.parse(last) as Result;
}

async function main(): Promise<void> {
  const date = new Date().toISOString();
  console.log(`bench:telegram  ${date}\n${machineLine()}\n`);
  const results: Result[] = [];
  for (let k = 1; k <= RUNS; k++) {
    console.log(`run ${k}/${RUNS}: ${PRIVATE} private chats + ${GROUPS} groups, one turn each (${DELTAS} deltas ${DELTA_MS} ms apart), all at once …`);
    results.push(await runInChild(k));
  }
  const { header, body } = rows(results);
  console.log(table(header, body));

  const each = (f: (r: Result) => string) => results.map(f).join(' · ');
  const okTooMany = results.every((r) => r.tooMany === 0);
  const okFirst = results.every((r) => r.firstRatio <= FIRST_TEXT_FACTOR);
  const okFinals = results.every((r) => r.finalsOk === r.n && r.duplicated === 0 && r.lost === 0);
  const r0 = results[0];
  const md = [
    `Run ${date} on ${machineLine()}.`,
    '',
    'Command: `npm run bench:telegram` (`node --import tsx bench/telegram.bench.ts`).',
    '',
    `**Setup.** ${fmt(PRIVATE)} private chats and ${fmt(GROUPS)} supergroups (messages @-mention the bot) each send one message, all ` +
      'injected in one burst into the Bot API fake (`test/peers/fake-telegram.ts`) with its **limits enforced** (30 chat-bound calls ' +
      'per sliding second, per chat a bucket of 3 refilling 1/s, 20/min per group). The daemon runs in a process of its own per run ' +
      '(`startDaemon` with a config of `loop.baseUrl`/`loop.token`, `telegram.token`/`telegram.apiRoot` and `access.users`; default ' +
      '`telegram.rate` and `replies.editIntervalMs`, long polling, lowdb store in a temp dir); the fake ' +
      '(`bench/lib/telegram-fake-child.ts`) and the loop simulator (`bench/lib/sim-child.ts`) each run in **their own child process**, ' +
      `so the CPU and RSS rows are the daemon's. Each loop answers with a scripted turn of ${DELTAS} deltas ${DELTA_MS} ms apart ` +
      `(${fmt(r0.textLength)} characters of plain prose, one Telegram message). ${RUNS} run(s), each in a fresh process.`,
    '',
    "**How it is measured.** Everything comes from the fake: injection times and the call log's arrival times are taken on one " +
      "clock in the fake's process. *First text* = injection → the first `sendMessage` the fake admitted for that chat. " +
      "*Final text visible* = the first admitted send/edit whose visible text (after the fake's HTML parse) equals the expected " +
      'render (`renderTurn` of the scripted text, checked equal to it); *time to final* = the same with the Stop button gone (the ' +
      'final edit). *Delivered* = exactly one live bot message in the chat holds the expected text, with no keyboard. The floor ' +
      `for the last first text is ${fmt(r0.n)} first sends at 30 per second = ${s(r0.floorFirst)}; G counts every chat-bound call the ` +
      "fake admitted until the last first text. The loop's first delta comes from the simulator child (it timestamps the write).",
    '',
    table(header, body),
    '',
    '**Targets (one figure per run; met only if every run meets it):**',
    '',
    table(
      ['target', 'figure per run', ''],
      [
        ['429s = 0', each((r) => fmt(r.tooMany)), verdict(okTooMany)],
        [`last first text ≤ ${FIRST_TEXT_FACTOR} × budget floor`, each((r) => `${fmt(r.firstRatio, 2)} ×`), verdict(okFirst)],
        ['finals delivered 100 %, each exactly once', each((r) => `${fmt(r.finalsOk)} / ${fmt(r.n)}, ${fmt(r.duplicated)} dup.`), verdict(okFinals)],
      ],
    ),
    '',
    FINDINGS,
  ].join('\n');
  if (RATE_GLOBAL) console.log(`\nexperiment (telegram.rate.globalPerSecond = ${RATE_GLOBAL}): bench/REPORT.md left unchanged`);
  else {
    await appendReport(SECTION, md);
    console.log(`\nwrote the section "${SECTION}" of bench/REPORT.md`);
  }
  const bad = results.filter((r) => r.finalsOk < r.n || r.duplicated > 0 || r.completed < r.n);
  if (bad.length) {
    console.error(`correctness check failed: ${bad.map((r) => `${r.completed}/${r.n} completed, ${r.finalsOk} delivered, ${r.lost} lost, ${r.duplicated} duplicated`).join('; ')}`);
    process.exitCode = 1;
  }
}

/** Why the targets are missed (static: re-read the figures when the core changes). */
const FINDINGS = [
  '**History of the 429 and first-text targets** (static text: re-read the figures when the core changes):',
  '- 2026-11-23: 52–77 × 429 per run, last first text 1.26–1.68 × the floor. Cause: `RateScheduler` let up to ' +
    '`globalPerSecond` calls start the moment its window (counted at *start*) freed; the fake counts *arrivals*, which lag ' +
    'starts by up to ~50 ms under load, so bursts landed inside the previous second. Fixed by pacing global starts evenly ' +
    '(one per 1000 / N ms) and a 50 ms margin: 0 × 429, ~1.10 × the floor.',
  '- 2026-11-30 (issue 7 §5): a second, independent reading of "30 per second" (arrivals in a sliding second, with network ' +
    'jitter) still found 0–3 × 429 per run against that margin. The window now counts each call until a second after it may ' +
    'have arrived: its *answer* (a call reaches the platform before it is answered, whatever the network did) or its start + ' +
    '200 ms (`maxArrivalDelayMs`), whichever is sooner; so no sliding second of arrivals holds more than N for any delay up to ' +
    'that (unit test in `test/core/rate-scheduler.test.ts`; `test/adapters/telegram/rate-budget.test.ts` sends 90 messages ' +
    'through the fake with 0–150 ms of jitter per request: 0 × 429 and at most 30 arrivals in any sliding second, where the ' +
    'old scheduler drew 429s in two runs of three). Even pacing keeps its schedule after a late timer, so event-loop lag does ' +
    'not waste the budget.',
  '- Under this load the live message is "first text, then final": with the budget saturated for the whole run (~2.0–2.5 calls ' +
    "per turn) intermediate edits yield, as item 5 asks; time to final is bounded by turn end + 220 finals / 30 per s (the row's floor).",
].join('\n');

/** Child mode: one run, its Result as the last stdout line. */
async function runMain(): Promise<void> {
  const r = await run();
  process.stdout.write(JSON.stringify(toResult(r, analyse(r))) + '\n');
}

if (process.argv.includes('--run')) await runMain();
else await main();
// Everything was closed above; if some handle still kept the process alive, say so instead of hanging.
setTimeout(() => {
  console.warn('bench:telegram: a handle is still open after cleanup; exiting');
  process.exit(process.exitCode ?? 0);
}, 10_000).unref();
