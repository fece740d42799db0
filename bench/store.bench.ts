// `npm run bench:store`: "a week of traffic" through the embedded (lowdb) store. 1,000,000 messages are
// accepted across 1,000 conversations while a simulated clock advances over 7 days; every message goes
// through the store calls the core makes for it (intake: dedupe check + mark, conversation record,
// durable enqueue, flush; then its turn: stop token, turn record, flush, final record, dequeue, deletes,
// flush), with redeliveries, choices, notices and pairing requests mixed in. Prints the file size over time
// and the durable accept latency at the start and at the end, rewrites the "Store" section of
// bench/REPORT.md, and ends with the line `store: file <MB> MB, accept p99 start <ms> ms, end <ms> ms`.
//
// The traffic is fed in batches (fast); the latency is measured on probes: single messages accepted one
// at a time on an otherwise idle store (from the dedupe check to the resolved flush that makes the message
// durable), so each probe is one whole-file write of its own and the samples are independent.
//
// A short second phase runs the same traffic with the old layout (one `seen/<platform>/<chat>/<id>` key
// per message, 7-day TTL) to show what the change bought.
//
// Knobs (env): BENCH_STORE_MESSAGES (1000000), BENCH_STORE_CONVERSATIONS (1000), BENCH_STORE_BATCH (500:
// messages accepted at once between probes), BENCH_STORE_PROBES (1000: probes in each of the first and the
// last 1 % of the messages), BENCH_STORE_LEGACY_MESSAGES (50000; 0 skips).

import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FINISHED_CHOICE_TTL_MS } from '../src/core/choices.js';
import { keys } from '../src/core/state.js';
import { openLowdbStore, type LowdbStore } from '../src/store/lowdb-store.js';
import { fmt, percentile, startCpu, startRssSampler } from './lib/measure.js';
import { appendReport, machineLine, table, verdict } from './lib/report.js';

const SECTION = '## Store (`npm run bench:store`)';
const envInt = (name: string, def: number) => {
  const raw = process.env[name];
  const v = Number(raw);
  return raw !== undefined && Number.isInteger(v) && v >= 0 ? v : def;
};
const MESSAGES = envInt('BENCH_STORE_MESSAGES', 1_000_000);
const CONVERSATIONS = envInt('BENCH_STORE_CONVERSATIONS', 1_000);
const BATCH = Math.max(1, envInt('BENCH_STORE_BATCH', 500));
const PROBES = Math.max(10, envInt('BENCH_STORE_PROBES', 1_000));
/** Probes at each intermediate sample point (for the over-time table). */
const MID_PROBES = 100;
const LEGACY_MESSAGES = envInt('BENCH_STORE_LEGACY_MESSAGES', 50_000);
const WEEK_MS = 7 * 24 * 3600_000;
const FILE_TARGET_MB = 5;

/** What a week looks like at one moment: file size and accept latency over the last stretch. */
interface Sample {
  day: number;
  messages: number;
  fileMb: number;
  p99Ms: number;
}

interface RunResult {
  samples: Sample[];
  startP99: number;
  endP99: number;
  fileMb: number;
  duplicatesDropped: number;
  redeliveries: number;
  wallS: number;
  cpuS: number;
  peakRssMb: number;
  writes: number;
}

/** A small deterministic PRNG, so every run offers the same traffic. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function fileMb(path: string): Promise<number> {
  return (await stat(path)).size / 1e6;
}

/**
 * `messages` of the week's traffic (at the week's pace: 7 days per MESSAGES) against a fresh store, sampled
 * `samplesWanted` times; `legacy` uses one dedupe key per message, as before.
 */
async function week(messages: number, legacy: boolean, label: string, samplesWanted: number): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-bench-store-'));
  const path = join(dir, 'state.json');
  let clock = Date.UTC(2026, 0, 5);
  const t0Clock = clock;
  const store: LowdbStore = await openLowdbStore({ path, now: () => clock, onWarning: (m) => console.warn(m) });
  const random = rng(7);
  const nextId = new Array<number>(CONVERSATIONS).fill(0);
  const recent: Array<{ conv: number; id: number }> = []; // for redeliveries
  const step = WEEK_MS / MESSAGES;
  let accepted = 0;
  let offered = 0;
  let duplicatesDropped = 0;
  let redeliveries = 0;
  const samples: Sample[] = [];
  const sampleEvery = Math.ceil(messages / samplesWanted);
  let nextSampleAt = sampleEvery;
  const cpu = startCpu();
  const rss = startRssSampler(200);
  const wall = performance.now();

  const conv = (c: number) => {
    const isGroup = c % 4 === 0;
    const chatId = String(isGroup ? -1_000_000_000_000 - c : 10_000 + c);
    const ref = { platform: 'telegram', chatId, isDirect: !isGroup };
    return { ref, key: `telegram:${chatId}`, scope: keys.seenScope('telegram', chatId) };
  };

  /** Intake's durable path for one delivery; resolves with true when it was a new message. */
  const accept = async (c: number, id: number): Promise<boolean> => {
    const { ref, key, scope } = conv(c);
    const messageId = String(id);
    const legacyKey = `seen/telegram/${ref.chatId}/${messageId}`;
    if (legacy ? await store.get(legacyKey) : await store.isSeen(scope, messageId, { order: id })) return false;
    const claimed = legacy ? await store.setIfAbsent(legacyKey, 1, { ttlMs: WEEK_MS }) : await store.markSeen(scope, messageId, { order: id });
    if (!claimed) return false;
    const record = (await store.get(keys.conv(key))) ?? { key, ref, loopId: `loop_${c}` };
    await store.set(keys.conv(key), record);
    await store.enqueue(keys.inbox(key), {
      id: `lb:telegram:${ref.chatId}:${messageId}`,
      convKey: key,
      conversation: ref,
      sender: { id: String(10_000 + c), displayName: `User ${c}`, isBot: false },
      text: `message ${id} in conversation ${c}: ${'words of a typical chat message '.repeat(2)}`,
      files: [],
      messageId,
      acceptedAt: clock,
    });
    await store.flush();
    return true;
  };

  /** The turn of the message at the head of the conversation's inbox (the runner's and sessions' writes). */
  const turnStart = async (c: number, n: number): Promise<string> => {
    const { key } = conv(c);
    const item = await store.peek<{ id: string }>(keys.inbox(key));
    const stop = `stop${c}x${n}`;
    await store.set(`stop/${stop}`, { convKey: key, loopId: `loop_${c}` }, { ttlMs: 24 * 3600_000 });
    await store.set(keys.turn(key), { itemId: item?.id, loopId: `loop_${c}`, phase: 'streaming', progress: { view: { segments: [], status: 'running' }, toolSummaries: {}, ended: false }, chunks: [{ ref: { conversation: conv(c).ref, messageId: String(900_000 + n) }, sig: 'x', finalized: false }], startedAt: clock });
    if (n % 50 === 0) {
      // A permission prompt: record, index, pending pointer, open set.
      const token = `tok${n}`;
      await store.set(keys.choice(token), { token, convKey: key, loopId: `loop_${c}`, choiceId: `choice_${n}`, kind: 'permission', state: 'pending', owners: [], step: 0, answers: {}, toggled: [], createdAt: clock });
      await store.set(keys.choiceIndex(`loop_${c}`, `choice_${n}`), token);
      await store.set(keys.pendingChoice(key), token);
      await store.set(keys.openChoices(`loop_${c}`), [token]);
    }
    return stop;
  };

  const turnEnd = async (c: number, n: number, stop: string): Promise<void> => {
    const { key } = conv(c);
    if (n % 50 === 0) {
      // Answered: a slim record kept a while for late presses (as ChoiceRegistry does), pointers removed.
      const token = `tok${n}`;
      await store.set(keys.choice(token), { token, convKey: key, loopId: `loop_${c}`, choiceId: `choice_${n}`, kind: 'permission', state: 'answered', outcome: '✅ Allowed by someone', owners: [], step: 0, answers: {}, toggled: [], createdAt: clock }, { ttlMs: FINISHED_CHOICE_TTL_MS });
      await store.set(keys.choiceIndex(`loop_${c}`, `choice_${n}`), token, { ttlMs: FINISHED_CHOICE_TTL_MS });
      await store.delete(keys.pendingChoice(key));
      await store.delete(keys.openChoices(`loop_${c}`));
    }
    await store.set(keys.turn(key), { phase: 'final', text: 'reply '.repeat(80) });
    await store.dequeue(keys.inbox(key));
    await store.delete(keys.turn(key));
    await store.delete(`stop/${stop}`);
    if (n % 100 === 0) await store.setIfAbsent(keys.noticed(`down/${key}`), 1, { ttlMs: 10 * 60_000 });
    if (n % 1000 === 0) {
      await store.setIfAbsent(keys.pairingCode(`CODE${n}`), { code: `CODE${n}`, user: `telegram:${n}`, createdAt: clock }, { ttlMs: 3600_000 });
      await store.set(keys.pairingUser(`telegram:${n}`), `CODE${n}`, { ttlMs: 3600_000 });
    }
  };

  const edge = Math.min(Math.max(BATCH, Math.floor(messages / 100)), Math.floor(messages / 2));
  const startProbes: number[] = [];
  const endProbes: number[] = [];
  let sliceProbes: number[] = [];

  /** Runs one message's turn (its writes become durable with the next flush). */
  const turn = async (c: number, n: number): Promise<void> => turnEnd(c, n, await turnStart(c, n));

  /** One new message accepted alone on an idle store: the durable accept latency, ms. */
  const probe = async (): Promise<number> => {
    const c = Math.floor(random() * CONVERSATIONS);
    const id = ++nextId[c];
    const t = performance.now();
    if (!(await accept(c, id))) throw new Error(`a new message was dropped as a duplicate (conversation ${c}, id ${id})`);
    const ms = performance.now() - t;
    accepted++;
    recent.push({ conv: c, id });
    await turn(c, accepted);
    clock += step;
    return ms;
  };

  while (accepted < messages) {
    // Probes: one at a time, spread over the first and the last 1 % and a few at each sample point.
    const inStart = accepted < edge;
    const inEnd = accepted >= messages - edge;
    const want = inStart || inEnd ? Math.ceil((PROBES * BATCH) / edge) : accepted >= nextSampleAt - BATCH ? MID_PROBES : 0;
    for (let i = 0; i < want && accepted < messages; i++) {
      const ms = await probe();
      sliceProbes.push(ms);
      if (accepted <= edge) startProbes.push(ms);
      else if (accepted > messages - edge) endProbes.push(ms);
    }
    // A batch of deliveries: distinct conversations (one chat's updates are handled in order), ~1 % redeliveries.
    const picked = new Set<number>();
    const size = Math.min(BATCH, CONVERSATIONS, messages - accepted);
    while (picked.size < size) picked.add(Math.floor(random() * CONVERSATIONS));
    const jobs = [...picked].map((c) => {
      if (recent.length > 0 && random() < 0.01) {
        redeliveries++;
        const r = recent[Math.floor(random() * recent.length)];
        return { c: r.conv, id: r.id, fresh: false };
      }
      return { c, id: ++nextId[c], fresh: true };
    });
    const results = await Promise.all(jobs.map(async (j) => ({ ...j, isNew: await accept(j.c, j.id) })));
    const turns: Array<{ c: number; n: number }> = [];
    for (const r of results) {
      offered++;
      if (!r.isNew) {
        if (!r.fresh) duplicatesDropped++;
        else throw new Error(`a new message was dropped as a duplicate (conversation ${r.c}, id ${r.id})`);
        continue;
      }
      if (!r.fresh) throw new Error(`a redelivery was accepted twice (conversation ${r.c}, id ${r.id})`);
      accepted++;
      turns.push({ c: r.c, n: accepted });
      recent.push({ conv: r.c, id: r.id });
    }
    if (recent.length > 4000) recent.splice(0, recent.length - 2000);
    await Promise.all(turns.map((t) => turn(t.c, t.n)));
    await store.flush();
    clock += step * jobs.length;
    if (accepted >= nextSampleAt || accepted >= messages) {
      const slice = [...sliceProbes].sort((a, b) => a - b);
      samples.push({ day: (clock - t0Clock) / 86_400_000, messages: accepted, fileMb: await fileMb(path), p99Ms: percentile(slice, 99) });
      const s = samples[samples.length - 1];
      console.log(`  ${label} day ${s.day.toFixed(1)}: ${fmt(s.messages)} messages, file ${s.fileMb.toFixed(2)} MB, accept p99 ${s.p99Ms.toFixed(2)} ms (${slice.length} probes)`);
      sliceProbes = [];
      nextSampleAt += sampleEvery;
    }
  }
  void offered;
  const startP99 = percentile([...startProbes].sort((a, b) => a - b), 99);
  const endP99 = percentile([...endProbes].sort((a, b) => a - b), 99);
  const writes = store.stats().writes;
  await store.close();
  const result: RunResult = {
    samples,
    startP99,
    endP99,
    fileMb: await fileMb(path),
    duplicatesDropped,
    redeliveries,
    wallS: (performance.now() - wall) / 1000,
    cpuS: cpu().total,
    peakRssMb: rss() / 1e6,
    writes,
  };
  await rm(dir, { recursive: true, force: true });
  return result;
}

async function main(): Promise<void> {
  const date = new Date().toISOString();
  console.log(`bench:store  ${date}\n${machineLine()}\n`);
  console.log(`${fmt(MESSAGES)} messages, ${fmt(CONVERSATIONS)} conversations, ${BATCH} at a time, over 7 simulated days`);
  // Warm the JIT on a throwaway store first, so "start" measures the store and not the compiler.
  await week(Math.min(MESSAGES, 5_000), false, 'warm-up', 1);
  const now = await week(MESSAGES, false, 'store', 14);
  let old: RunResult | undefined;
  if (LEGACY_MESSAGES > 0) {
    console.log(`\nthe old layout (one dedupe key per message, 7-day TTL), first ${fmt(LEGACY_MESSAGES)} messages of the same week …`);
    old = await week(LEGACY_MESSAGES, true, 'old layout', 5);
  }

  const fileOk = now.fileMb < FILE_TARGET_MB;
  const p99Ok = now.endP99 <= 2 * now.startP99;
  const rows: Array<Array<string | number>> = now.samples.map((s) => [s.day.toFixed(1), fmt(s.messages), s.fileMb.toFixed(2), s.p99Ms.toFixed(2)]);
  const md = [
    `Run ${date} on ${machineLine()}.`,
    '',
    'Command: `npm run bench:store` (`node --import tsx bench/store.bench.ts`).',
    '',
    `**Setup.** The embedded store (\`openLowdbStore\`, whole-file atomic writes with fsync, default coalescing) in a temp dir, with a simulated clock advancing evenly over 7 days while ${fmt(MESSAGES)} messages are accepted across ${fmt(CONVERSATIONS)} Telegram conversations (a quarter of them groups), fed ${BATCH} deliveries at a time (distinct chats, as the polling transport hands them over). Each message makes the store calls the core makes: intake's dedupe check and \`markSeen\` (order = message_id), the conversation record, the durable enqueue and the flush; then its turn: stop token, turn record, flush, final record, dequeue, deletes, flush. 1 % of deliveries are redeliveries of recent messages (each must be dropped; a new message dropped or a redelivery accepted aborts the bench). Every 50th turn opens and answers a permission choice (kept a day, as the core keeps finished choices), every 100th writes an outage notice (10 min TTL), every 1,000th a pairing request (1 h TTL). Its turn's writes are made after each message (stop token, turn record, final, dequeue, deletes).`,
    '',
    `**Durable accept** = from the dedupe check to the resolved flush that makes the queued message durable, i.e. what the platform waits for before it is acknowledged, measured on probes: single new messages accepted one at a time between batches on an otherwise idle store (so each is one whole-file write of its own and the samples are independent). *Start* and *end*: ${fmt(PROBES)} probes spread over the first and over the last 1 % of the messages; ${MID_PROBES} probes before each row of the table. 5,000 messages on a throwaway store warm the JIT first. The machine is shared with other work, so single figures move by tens of percent between runs.`,
    '',
    table(['simulated day', 'messages accepted', 'store file (MB)', 'accept p99 of the probes near this point (ms)'], rows),
    '',
    table(
      ['figure', 'value', 'target'],
      [
        ['store file at the end', `${now.fileMb.toFixed(2)} MB`, `< ${FILE_TARGET_MB} MB — ${verdict(fileOk)}`],
        ['durable accept p99, start / end', `${now.startP99.toFixed(2)} ms / ${now.endP99.toFixed(2)} ms`, `end ≤ 2 × start — ${verdict(p99Ok)}`],
        ['redeliveries offered / dropped', `${fmt(now.redeliveries)} / ${fmt(now.duplicatesDropped)}`, 'all dropped'],
        ['whole-file writes', fmt(now.writes), ''],
        ['wall time / CPU (user + sys)', `${now.wallS.toFixed(1)} s / ${now.cpuS.toFixed(1)} s`, ''],
        ['peak RSS', `${now.peakRssMb.toFixed(1)} MB`, ''],
      ],
    ),
    '',
    old
      ? [
          `**Before (the old layout).** The same traffic with one \`seen/<platform>/<chat>/<id>\` key per message (7-day TTL), only its first ${fmt(LEGACY_MESSAGES)} messages (the rest would take hours): the file grows with every message and so does each flush.`,
          '',
          table(
            ['messages accepted', 'store file (MB)', 'accept p99 of the probes near this point (ms)'],
            old.samples.map((s) => [fmt(s.messages), s.fileMb.toFixed(2), s.p99Ms.toFixed(2)]),
          ),
          '',
          `Old layout: file ${old.fileMb.toFixed(2)} MB after ${fmt(LEGACY_MESSAGES)} messages; accept p99 start ${old.startP99.toFixed(2)} ms, end ${old.endP99.toFixed(2)} ms.`,
        ].join('\n')
      : '',
    '',
    'Why it holds: dedupe marks are kept per chat for the redelivery window only (30 min, renewed at each start), with a per-chat floor for platforms whose message ids grow (see `Store.markSeen`); finished choices, stop tokens, notices and pairing codes expire. What the file holds is live state, not history, so one durable accept costs the same on day 7 as on day 1.',
  ].join('\n');
  await appendReport(SECTION, md);
  console.log(`\nwrote the section "${SECTION}" of bench/REPORT.md`);
  console.log(`store: file ${now.fileMb.toFixed(2)} MB, accept p99 start ${now.startP99.toFixed(2)} ms, end ${now.endP99.toFixed(2)} ms`);
}

await main();
