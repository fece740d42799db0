// Parent side of sim-child.ts: spawns the simulator in a child process and talks to it over stdio.

import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ScriptStep, SimOptions } from '../../src/sim/index.js';
import type { SimCommand, SimStats } from './sim-child.js';

export type { SimStats } from './sim-child.js';

/** A simulator running in a child process. */
export interface SimProcess {
  /** Server origin, e.g. http://127.0.0.1:41234. */
  url: string;
  /** Bearer token of the simulator's user. */
  token: string;
  pid: number;
  /** Queues `count` (default 1) scripted turns for a loop, or for any loop with '*'. */
  script(loopId: string, steps: ScriptStep[], count?: number): Promise<void>;
  /** CPU/RSS/first-delta figures since start or the last reset; `reset` starts a new measurement window. */
  stats(reset?: boolean): Promise<SimStats>;
  /** Ends the child (closes its stdin) and waits for it to exit. */
  close(): Promise<void>;
}

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'sim-child.ts');

/** Starts the simulator child with these options and resolves once it listens. */
export async function startSimProcess(options: SimOptions): Promise<SimProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<{ resolve: (line: string) => void; reject: (e: Error) => void }> = [];
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`simulator child exited (code ${code})`));
  });
  const next = () => new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
  // Commands are answered in order, one line each; serialise them so answers cannot cross.
  let chain: Promise<unknown> = Promise.resolve();
  const ask = <T>(c: SimCommand): Promise<T> => {
    const p = chain.then(async () => {
      const answer = next();
      child.stdin!.write(JSON.stringify(c) + '\n');
      return JSON.parse(await answer) as T;
    });
    chain = p.catch(() => {});
    return p;
  };
  const hello = JSON.parse(await next()) as { url: string; token: string };
  return {
    url: hello.url,
    token: hello.token,
    pid: child.pid!,
    script: async (loopId, steps, count) => {
      await ask({ cmd: 'script', loopId, steps, count });
    },
    stats: (reset) => ask<SimStats>({ cmd: 'stats', reset }),
    close: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}
