// `npm run bench:replicas`: the same 1,000 conversations through one `loopbridge start` on the lowdb
// file, one replica on PostgreSQL and three replicas on PostgreSQL, each bridge a child process (as an
// operator runs it) against the loop simulator and the Telegram Bot API fake (its own processes, flood
// limits enforced). Then failover: three replicas with long turns running, the replica that polls Telegram
// is SIGKILLed, later the next poller; the time from each SIGKILL until each of its conversations' turns
// goes on in another replica (the first Bot API call for that chat after the kill). Rewrites the
// "Replicas" section of bench/REPORT.md and prints the figures. Exits non-zero when a reply is lost,
// doubled or wrong, or Telegram answered 429.
//
// The bot's budget: the fake and `telegram.rate.globalPerSecond` both allow BENCH_REP_RATE calls/s (default
// 300, not Telegram's 30) so that 1,000 turns measure the bridge, not a 30/s queue; the replicas split it
// (each 1/n), so three replicas together still stay under it, which the 429 count shows.
//
// Knobs (env): BENCH_REP_CONVERSATIONS (1000), BENCH_REP_RATE (300), BENCH_REP_DELTAS (10), BENCH_REP_DELTA_MS
// (200), BENCH_REP_LEASE_TTL_MS (3000: replica.leaseTtlMs), BENCH_REP_FAILOVER_CONVERSATIONS (60),
// BENCH_REP_PG_URL (a server of your own; default: a throwaway one started like the tests' one).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { checkReply } from '../test/helpers/reply-check.js';
import { startPostgres, type PostgresServer } from '../test/peers/postgres.js';
import type { FakeChat, FakeUser } from '../test/peers/fake-telegram.js';
import { fmt, summarize } from './lib/measure.js';
import { startBridgeProcess, type BridgeProcess } from './lib/replica-process.js';
import { appendReport, machineLine, table, verdict } from './lib/report.js';
import { startSimProcess, type SimProcess } from './lib/sim-process.js';
import { startTgFakeProcess, type TgFakeProcess, type TgFakeReport } from './lib/telegram-fake-process.js';
import { benchTurn, type BenchTurn } from './lib/turn-script.js';

const SECTION = '## Replicas (`npm run bench:replicas`)';
const envInt = (name: string, def: number) => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : def;
};
const N = envInt('BENCH_REP_CONVERSATIONS', 1000);
/** Development: which setups run (comma-separated of lowdb, pg1, pg3, failover); default all. */
const SETUPS = new Set((process.env.BENCH_REP_SETUPS ?? 'lowdb,pg1,pg3,failover').split(','));
const RATE = envInt('BENCH_REP_RATE', 300);
const DELTAS = envInt('BENCH_REP_DELTAS', 10);
const DELTA_MS = envInt('BENCH_REP_DELTA_MS', 200);
const TTL_MS = envInt('BENCH_REP_LEASE_TTL_MS', 3000);
const FAILOVER_N = envInt('BENCH_REP_FAILOVER_CONVERSATIONS', 60);
/** The failover turns: 20 s, running through two kills and their lease expiries; one Telegram message long. */
const FAILOVER_DELTAS = 40;
const FAILOVER_DELTA_MS = 500;
/** A run not done by then is reported as such, not waited for. */
const RUN_DEADLINE_MS = 300_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The people, one private chat each, numbered from `from`. */
function people(from: number, n: number): Array<{ chat: FakeChat; from: FakeUser }> {
  return Array.from({ length: n }, (_, i) => {
    const id = from + i;
    return { chat: { id, type: 'private', first_name: `P${id}` }, from: { id, first_name: `P${id}` } };
  });
}

/** A fresh schema on the server, and the store URL whose search_path puts the tables there. */
function schemaUrl(serverUrl: string): { url: string; schema: string } {
  const schema = `lb_bench_${randomBytes(5).toString('hex')}`;
  const url = new URL(serverUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.toString(), schema };
}

interface Setup {
  dir: string;
  sim: SimProcess;
  fake: TgFakeProcess;
  config: string;
}

async function setUp(store: string, users: number[], turn: BenchTurn, turns: number): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'loopbridge-bench-rep-'));
  const sim = await startSimProcess({ idleCutMs: null });
  const fake = await startTgFakeProcess({ globalPerSecond: RATE });
  await sim.script('*', turn.steps, turns);
  const config = join(dir, 'loopbridge.yaml');
  await writeFile(
    config,
    `loop: { baseUrl: "${sim.url}", token: "${sim.token}" }
store: ${store}
replica: { leaseTtlMs: ${TTL_MS} }
access: { users: [${users.map((u) => `"telegram:${u}"`).join(', ')}] }
telegram: { token: "${fake.token}", apiRoot: "${fake.apiRoot}", rate: { globalPerSecond: ${RATE} } }
ops: { httpPort: "\${OPS_PORT}", logLevel: error, logFormat: json }
`,
  );
  return { dir, sim, fake, config };
}

async function tearDown(s: Setup, bridges: BridgeProcess[]): Promise<void> {
  for (const b of bridges) await b.kill('SIGTERM');
  await s.fake.close();
  await s.sim.close();
  await rm(s.dir, { recursive: true, force: true });
}

/** Starts `n` bridges and waits until each is up (replicas: each sees all, the budget settled, one poller). */
async function startBridges(config: string, n: number, replicated: boolean): Promise<BridgeProcess[]> {
  const bridges: BridgeProcess[] = [];
  for (let i = 0; i < n; i++) bridges.push(await startBridgeProcess(config));
  try {
    await until('the bridges to be ready', async () => {
      const hs = await Promise.all(bridges.map((b) => b.health()));
      if (!hs.every((h) => h?.ok !== false && h !== undefined)) return false;
      if (!replicated) return true;
      const budget = hs.reduce((sum, h) => sum + (h!.replica?.budget.telegram ?? 0), 0);
      const pollers = hs.filter((h) => h!.replica?.leases.intake.includes('telegram')).length;
      return hs.every((h) => h!.replica?.members.length === n) && budget > 0 && budget <= RATE && pollers === 1;
    });
  } catch (err) {
    for (const b of bridges) await b.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${bridges.map((b) => b.logs()).join('\n')}`);
  }
  return bridges;
}

/** The chat's reply: exactly one message, final (no Stop button), complete or carrying the plain missing-part note. */
function replyCheck(report: TgFakeReport, chatId: number, expected: string): 'complete' | 'marked' | 'wrong' {
  const msgs = (report.botMessages[chatId] ?? []).filter((m) => !m.deleted);
  if (msgs.length !== 1 || msgs[0].keyboard) return 'wrong';
  const v = checkReply(msgs[0].text, expected);
  return v.problem ? 'wrong' : v.notes ? 'marked' : 'complete';
}

/** Prints (and with BENCH_REP_DUMP writes) what is wrong with the first few wrong replies. */
async function explainWrong(report: TgFakeReport, who: Array<{ chat: FakeChat }>, verdicts: string[], expected: string): Promise<void> {
  for (const p of who.filter((_, i) => verdicts[i] === 'wrong').slice(0, 3)) {
    const msgs = report.botMessages[p.chat.id] ?? [];
    const text = msgs[0]?.text ?? '';
    let d = 0;
    while (d < text.length && text[d] === expected[d]) d++;
    console.log(`  wrong reply in chat ${p.chat.id}: ${msgs.length} message(s) (${msgs.map((m) => `${m.deleted ? 'deleted ' : ''}${m.keyboard ? 'with Stop ' : ''}${m.text.length} chars`).join(', ')}), first differs from the expected ${expected.length} chars at ${d}`);
    if (process.env.BENCH_REP_DUMP) await writeFile(`${process.env.BENCH_REP_DUMP}.${p.chat.id}`, JSON.stringify(msgs, null, 1));
  }
}

interface ThroughputRun {
  label: string;
  acceptsPerS: number;
  firstText: ReturnType<typeof summarize>;
  wallS: number;
  cpuMsPerTurn: number;
  done: number;
  complete: number;
  marked: number;
  wrong: number;
  rateLimited: number;
  peakPerS: number;
}

/** Most calls Telegram saw in any one second. */
function peakPerSecond(report: TgFakeReport): number {
  const times = report.calls.filter((c) => c.status === 200).map((c) => c.at).sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= 1000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

async function throughput(label: string, store: string, replicas: number): Promise<ThroughputRun> {
  const who = people(300_001, N);
  const turn = benchTurn('for the replicas bench', DELTAS, DELTA_MS);
  const s = await setUp(store, who.map((p) => p.from.id), turn, N);
  const bridges = await startBridges(s.config, replicas, store.includes('url'));
  try {
    const cpu0 = bridges.map((b) => b.cpuS());
    const sum = async (name: string, match?: string) => (await Promise.all(bridges.map((b) => b.counter(name, match)))).reduce((a, b) => a + b, 0);
    const at = await s.fake.inject(who.map((p, i) => ({ ...p, text: `hello ${i}` })));
    const t0 = Math.min(...at);
    let acceptedAt: number | undefined;
    let done = 0;
    while (Date.now() - t0 < RUN_DEADLINE_MS) {
      if (acceptedAt === undefined && (await sum('inbound_accepted_total')) >= N) acceptedAt = Date.now();
      done = await sum('turns_completed_total', 'status="done"');
      if (done >= N) break;
      await sleep(100);
    }
    const wallS = (Date.now() - t0) / 1000;
    const cpuS = bridges.reduce((a, b, i) => a + (b.cpuS() - cpu0[i]), 0);
    const report = await s.fake.report(turn.text);
    const firstSend = new Map<number, number>();
    for (const c of report.calls) if (c.method === 'sendMessage' && c.status === 200 && !firstSend.has(c.chatId)) firstSend.set(c.chatId, c.at);
    const firstText = who.flatMap((p, i) => (firstSend.has(p.chat.id) ? [firstSend.get(p.chat.id)! - at[i]] : []));
    const verdicts = who.map((p) => replyCheck(report, p.chat.id, turn.text));
    await explainWrong(report, who, verdicts, turn.text);
    return {
      label,
      acceptsPerS: acceptedAt === undefined ? NaN : N / Math.max(0.001, (acceptedAt - t0) / 1000),
      firstText: summarize(firstText),
      wallS,
      cpuMsPerTurn: (cpuS * 1000) / N,
      done,
      complete: verdicts.filter((v) => v === 'complete').length,
      marked: verdicts.filter((v) => v === 'marked').length,
      wrong: verdicts.filter((v) => v === 'wrong').length,
      rateLimited: report.rateLimited,
      peakPerS: peakPerSecond(report),
    };
  } finally {
    await tearDown(s, bridges);
  }
}

interface FailoverRun {
  /** Per killed conversation: SIGKILL → first Bot API call for its chat from another replica, ms. */
  resumeMs: number[];
  /** Per kill: SIGKILL → another replica holds the polling lease, ms. */
  pollerMs: number[];
  moved: number;
  complete: number;
  marked: number;
  wrong: number;
  rateLimited: number;
}

async function failover(url: string): Promise<FailoverRun> {
  const who = people(400_001, FAILOVER_N);
  const turn = benchTurn('for the failover bench', FAILOVER_DELTAS, FAILOVER_DELTA_MS);
  const s = await setUp(`{ url: "${url}" }`, who.map((p) => p.from.id), turn, FAILOVER_N);
  const bridges = await startBridges(s.config, 3, true);
  const resumeMs: number[] = [];
  const pollerMs: number[] = [];
  let moved = 0;
  try {
    await s.fake.inject(who.map((p, i) => ({ ...p, text: `long ${i}` })));
    await until('every live reply', async () => {
      const r = await s.fake.report('');
      return who.every((p) => (r.botMessages[p.chat.id] ?? []).length > 0);
    });
    let alive = [...bridges];
    for (let kill = 0; kill < 2; kill++) {
      const hs = await Promise.all(alive.map((b) => b.health()));
      const victim = hs.findIndex((h) => h?.replica?.leases.intake.includes('telegram'));
      if (victim < 0) throw new Error('bench: no replica polls Telegram');
      const chats = hs[victim]!.replica!.leases.conversations.map((k) => Number(k.split(':')[1]));
      const b = alive[victim];
      const killedAt = Date.now();
      await b.kill('SIGKILL');
      alive = alive.filter((x) => x !== b);
      const took = await until('another poller', async () => {
        const polls = (await Promise.all(alive.map((x) => x.health()))).some((h) => h?.replica?.leases.intake.includes('telegram'));
        return polls && Date.now() - killedAt;
      });
      pollerMs.push(took);
      // A call the killed process sent just before the kill can arrive a moment after it: skip that moment.
      const after = killedAt + 20;
      const resumed = await until(
        `the turns of the killed replica to resume (${chats.length})`,
        async () => {
          const r = await s.fake.report('');
          const firsts = chats.map((id) => r.calls.find((c) => c.chatId === id && c.at > after)?.at);
          return firsts.every((t) => t !== undefined) && firsts;
        },
        60_000,
      );
      for (const t of resumed) resumeMs.push(t! - killedAt);
      moved += chats.length;
    }
    // Every reply final (or the wait gives up, and the table counts what is still wrong).
    await until('the turns to end', async () => {
      const r = await s.fake.report(turn.text);
      return who.every((p) => replyCheck(r, p.chat.id, turn.text) !== 'wrong');
    }, 120_000).catch(() => undefined);
    const report = await s.fake.report(turn.text);
    const verdicts = who.map((p) => replyCheck(report, p.chat.id, turn.text));
    await explainWrong(report, who, verdicts, turn.text);
    return {
      resumeMs,
      pollerMs,
      moved,
      complete: verdicts.filter((v) => v === 'complete').length,
      marked: verdicts.filter((v) => v === 'marked').length,
      wrong: verdicts.filter((v) => v === 'wrong').length,
      rateLimited: report.rateLimited,
    };
  } finally {
    await tearDown(s, bridges);
  }
}

async function main(): Promise<void> {
  let server: PostgresServer | undefined;
  const pgUrl = process.env.BENCH_REP_PG_URL ?? (server = await startPostgres()).url;
  const dropAll: string[] = [];
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'loopbridge-bench-rep-file-'));
    const runs: ThroughputRun[] = [];
    console.log(`replicas bench: ${N} conversations, budget ${RATE} calls/s, ${DELTAS} deltas × ${DELTA_MS} ms per turn`);
    if (SETUPS.has('lowdb')) runs.push(await throughput('1 process, lowdb', `{ path: "${join(dir, 'store.json')}" }`, 1));
    await rm(dir, { recursive: true, force: true });
    for (const n of [1, 3].filter((k) => SETUPS.has(`pg${k}`))) {
      const { url, schema } = schemaUrl(pgUrl);
      dropAll.push(schema);
      runs.push(await throughput(`${n} replica${n > 1 ? 's' : ''}, PostgreSQL`, `{ url: "${url}" }`, n));
    }
    for (const r of runs) console.log(`  ${r.label}: ${fmt(r.acceptsPerS)} accepts/s, first text p99 ${fmt(r.firstText.p99)} ms, ${fmt(r.cpuMsPerTurn, 1)} ms CPU/turn, ${r.done}/${N} done, ${r.wrong} wrong, ${r.rateLimited} × 429`);
    if (!SETUPS.has('failover')) return; // a development run: no report
    const foStore = schemaUrl(pgUrl);
    dropAll.push(foStore.schema);
    const fo = await failover(foStore.url);
    const resume = summarize(fo.resumeMs);
    console.log(`  failover: ${fo.moved} turns moved over 2 kills, resume p50 ${fmt(resume.p50)} ms, p99 ${fmt(resume.p99)} ms; poller ${fo.pollerMs.map((m) => fmt(m)).join(', ')} ms; ${fo.wrong} wrong, ${fo.rateLimited} × 429`);

    const ok = runs.every((r) => r.wrong === 0 && r.rateLimited === 0 && r.done >= N) && fo.wrong === 0 && fo.rateLimited === 0;
    const md = [
      `Run: ${new Date().toISOString().slice(0, 16)}Z on ${machineLine()}. Every bridge is a \`loopbridge start\` child process; the loop simulator, the Telegram Bot API fake and PostgreSQL 15 run in processes of their own on the same machine.`,
      '',
      `### ${N} conversations at once`,
      '',
      `Each of ${N} private chats sends one message at the same moment; each turn streams ${DELTAS} deltas ${DELTA_MS} ms apart. The bot's budget is ${RATE} calls/s (fake and \`telegram.rate.globalPerSecond\`), split between the replicas. Accepts/s: ${N} ÷ the time until every replica's \`inbound_accepted_total\` adds up to ${N} (scraped every 100 ms). First text: injection → the chat's first \`sendMessage\` at the fake. CPU per turn: the bridge processes' user + system time (\`/proc\`) ÷ ${N}.`,
      '',
      table(
        ['Setup', 'Accepts/s', 'First text p50 / p99 (ms)', 'All done (s)', 'CPU per turn (ms)', 'Replies complete / marked / wrong', 'Peak calls/s', '429s'],
        runs.map((r) => [r.label, fmt(r.acceptsPerS), `${fmt(r.firstText.p50)} / ${fmt(r.firstText.p99)}`, `${fmt(r.wallS, 1)}${r.done < N ? ` (${r.done}/${N} done)` : ''}`, fmt(r.cpuMsPerTurn, 1), `${r.complete} / ${r.marked} / ${r.wrong}`, r.peakPerS, r.rateLimited]),
      ),
      '',
      "On PostgreSQL every accepted message is its own committed transaction (dedupe mark, queue entry and wake-up together), about ten at a time per process, so accepts/s is bound by commits on this shared 2-core machine, not by the bridge's CPU; Telegram polling runs on one replica, so three replicas do not accept faster (each also writes heartbeats and turn state to the same server). The turns themselves spread over the replicas; the bot's budget stays whole (peak calls/s under the budget, no 429).",
      '',
      '### Failover (SIGKILL → the turn resumes on another replica)',
      '',
      `Three replicas on PostgreSQL, \`replica.leaseTtlMs: ${TTL_MS}\`; ${FAILOVER_N} chats with turns of ${FAILOVER_DELTAS} deltas ${FAILOVER_DELTA_MS} ms apart. Once every reply is live, the replica polling Telegram is SIGKILLed; once its turns go on elsewhere, the next poller too. Resume: the kill → the first Bot API call for each of the killed replica's conversations (from the replica that took its lease). A lease expires a TTL after its last renewal (renewals come every TTL/3, so 2/3 to 1 TTL after the kill), and a survivor notices within a beat: nothing tells the others a SIGKILLed process is gone. A SIGTERM hands everything back at once instead.`,
      '',
      table(
        ['Turns moved', 'Resume p50 (ms)', 'Resume p99 (ms)', 'Resume max (ms)', 'Polling taken over after (ms)', 'Replies complete / marked / wrong', '429s'],
        [[fo.moved, fmt(resume.p50), fmt(resume.p99), fmt(resume.max), fo.pollerMs.map((m) => fmt(m)).join(', '), `${fo.complete} / ${fo.marked} / ${fo.wrong}`, fo.rateLimited]],
      ),
      '',
      `No lost, doubled or wrong reply and no 429: ${verdict(ok)}. "Marked" replies end with the note that a part may be missing (text streamed while the lease moved).`,
      '',
      `Command: \`npm run bench:replicas\` (knobs in bench/replicas.bench.ts).`,
    ].join('\n');
    await appendReport(SECTION, md);
    console.log(`replicas: ${ok ? 'ok' : 'FAILED'}`);
    if (!ok) process.exitCode = 1;
  } finally {
    for (const schema of dropAll) await admin(`drop schema if exists ${pg.escapeIdentifier(schema)} cascade`).catch(() => {});
    await server?.stop();
  }
}

await main();
