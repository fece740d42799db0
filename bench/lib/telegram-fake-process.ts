// Parent side of telegram-fake-child.ts: spawns the Bot API fake in a child process and talks to it over
// stdio, one JSON line per command and one per answer, in order.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { FakeTelegramLimits, FakeUser } from '../../test/peers/fake-telegram.js';
import type { TgFakeCommand, TgFakeReport, TgInjected, TgInjection } from './telegram-fake-child.js';

export type { TgBotMessage, TgCall, TgFakeReport, TgInjection } from './telegram-fake-child.js';

/** The fake running in a child process. */
export interface TgFakeProcess {
  /** Bot API origin, e.g. http://127.0.0.1:41234 (config `telegram.apiRoot`). */
  apiRoot: string;
  /** The bot token the fake accepts (config `telegram.token`). Never printed. */
  token: string;
  /** The bot's identity (its username is what group messages @-mention). */
  bot: FakeUser;
  pid: number;
  /** Queues these user messages as updates in one burst; resolves with each one's injection time (ms since the epoch). */
  inject(messages: TgInjection[]): Promise<number[]>;
  /** Call log, bot messages and the fake's own CPU/RSS; `expected` is the visible text a final must show. */
  report(expected: string): Promise<TgFakeReport>;
  /** Ends the child (closes its stdin) and waits for it to exit. */
  close(): Promise<void>;
}

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'telegram-fake-child.ts');

/** Starts the fake with these limits (default: the fake's defaults, i.e. Telegram's: 30/s, burst 3 + 1/s per chat, 20/min per group). */
export async function startTgFakeProcess(limits: FakeTelegramLimits = {}): Promise<TgFakeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(limits)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const waiting: Array<{ resolve: (line: string) => void; reject: (e: Error) => void }> = [];
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`telegram fake child exited (code ${code})`));
  });
  const next = () => new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
  // Answers come back in command order; serialise so they cannot cross.
  let chain: Promise<unknown> = Promise.resolve();
  const ask = <T>(c: TgFakeCommand): Promise<T> => {
    const p = chain.then(async () => {
      const answer = next();
      child.stdin.write(JSON.stringify(c) + '\n');
      return JSON.parse(await answer) as T;
    });
    chain = p.catch(() => {});
    return p;
  };
  const hello = JSON.parse(await next()) as { apiRoot: string; token: string; bot: FakeUser };
  return {
    ...hello,
    pid: child.pid!,
    inject: async (messages) => (await ask<TgInjected>({ cmd: 'inject', messages })).at,
    report: (expected) => ask<TgFakeReport>({ cmd: 'report', expected }),
    close: async () => {
      child.stdin.end();
      await exited;
    },
  };
}
