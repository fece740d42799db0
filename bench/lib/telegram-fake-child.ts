// The Telegram Bot API fake (test/peers, limits enforced) in its own process for `bench:telegram`, so its
// HTML parsing and flood accounting do not compete with the daemon for the daemon's CPU and RSS figures.
// Prints `{ apiRoot, token, bot }` as its first stdout line, then answers one JSON line per JSON command
// on stdin (see TgFakeCommand) and exits when stdin closes.
//
// Injection happens here, on the fake's own clock, so "user message injected" and the call log's arrival
// times (`CallRecord.at`, Date.now) come from one process and one clock.

import { createInterface } from 'node:readline';
import { startFakeTelegram, type FakeChat, type FakeTelegramLimits, type FakeUser } from '../../test/peers/fake-telegram.js';
import { readMarkup, readMessageText } from '../../test/peers/fake-telegram/message-input.js';

/** One user message to inject. */
export interface TgInjection {
  chat: FakeChat;
  from: FakeUser;
  text: string;
}

/** A command the parent sends (one JSON object per line). */
export type TgFakeCommand =
  | { cmd: 'inject'; messages: TgInjection[] }
  | { cmd: 'report'; expected: string }
  | { cmd: 'close' };

/** Answer to `inject`: when each message was queued as an update, ms since the epoch (Date.now), in input order. */
export interface TgInjected {
  at: number[];
}

/** One chat-bound call from the fake's log (getUpdates, getMe … carry no chat and are only counted). */
export interface TgCall {
  method: string;
  chatId: number;
  /** Arrival time at the fake, ms since the epoch (Date.now). */
  at: number;
  /** HTTP status answered (429 = flood limit). */
  status: number;
  /** For sendMessage/editMessageText: the visible text (after the fake's HTML parse) equals `expected`. */
  matches: boolean;
  /** The call carried a non-empty inline keyboard (the Stop button while a turn runs). */
  keyboard: boolean;
}

/** A bot message as the fake holds it at report time. */
export interface TgBotMessage {
  messageId: number;
  text: string;
  editCount: number;
  deleted: boolean;
  keyboard: boolean;
}

/** Answer to `report`. */
export interface TgFakeReport {
  /** 429s answered (limits and injected faults). */
  rateLimited: number;
  /** Every call by method and status, e.g. { 'sendMessage 200': 220 }. */
  byMethodStatus: Record<string, number>;
  /** Chat-bound calls in arrival order. */
  calls: TgCall[];
  /** chat id → the bot's messages in that chat. */
  botMessages: Record<string, TgBotMessage[]>;
  /** The fake process's CPU since start, seconds, and peak RSS (sampled every 50 ms), bytes. */
  cpuS: number;
  peakRss: number;
}

const limits = JSON.parse(process.argv[2] ?? '{}') as FakeTelegramLimits;
const fake = await startFakeTelegram({ limits });
const chats = new Map<number, FakeChat>();

const cpuBase = process.cpuUsage();
let peakRss = process.memoryUsage().rss;
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50).unref();

const hasKeyboard = (params: Record<string, unknown>): boolean => {
  try {
    return (readMarkup(params)?.inline_keyboard ?? []).some((row) => row.length > 0);
  } catch {
    return false;
  }
};

/** The text a send/edit shows once parsed, or undefined when the call carries none (or it does not parse). */
const visibleText = (params: Record<string, unknown>): string | undefined => {
  try {
    return readMessageText(params).text;
  } catch {
    return undefined;
  }
};

function report(expected: string): TgFakeReport {
  const byMethodStatus: Record<string, number> = {};
  const calls: TgCall[] = [];
  for (const c of fake.calls) {
    const k = `${c.method} ${c.status}`;
    byMethodStatus[k] = (byMethodStatus[k] ?? 0) + 1;
    const chatId = Number(c.params.chat_id);
    if (c.params.chat_id === undefined || !Number.isSafeInteger(chatId)) continue;
    const content = c.method === 'sendMessage' || c.method === 'editMessageText';
    calls.push({
      method: c.method,
      chatId,
      at: c.at,
      status: c.status,
      matches: content && visibleText(c.params) === expected,
      keyboard: content && hasKeyboard(c.params),
    });
  }
  const botMessages: Record<string, TgBotMessage[]> = {};
  for (const id of chats.keys()) {
    botMessages[id] = fake.botMessages(id).map((m) => ({
      messageId: m.message_id,
      text: m.text ?? '',
      editCount: m.editCount,
      deleted: m.deleted === true,
      keyboard: ((m.reply_markup as { inline_keyboard?: unknown[][] } | undefined)?.inline_keyboard ?? []).some((r) => r.length > 0),
    }));
  }
  const cpu = process.cpuUsage(cpuBase);
  return {
    rateLimited: fake.rateLimited(),
    byMethodStatus,
    calls,
    botMessages,
    cpuS: (cpu.user + cpu.system) / 1e6,
    peakRss: Math.max(peakRss, process.memoryUsage().rss),
  };
}

const reply = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
reply({ apiRoot: fake.apiRoot, token: fake.token, bot: fake.bot });

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const c = JSON.parse(line) as TgFakeCommand;
  if (c.cmd === 'inject') {
    // All in one synchronous run: the daemon's pending long poll sees them as one burst.
    const at: number[] = [];
    for (const m of c.messages) {
      chats.set(m.chat.id, m.chat);
      fake.userMessage({ chat: m.chat, from: m.from, text: m.text });
      at.push(Date.now());
    }
    reply({ at } satisfies TgInjected);
  } else if (c.cmd === 'report') {
    reply(report(c.expected));
  } else if (c.cmd === 'close') {
    rl.close();
  }
});
rl.on('close', () => {
  void fake.close().finally(() => process.exit(0));
});
