// One `loopbridge start --config FILE` child for the replicas benchmark: its ops port (the config reads
// OPS_PORT), its /healthz and /metrics, and its CPU time from /proc (so the figure is the bridge's own).

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReplicaHealth } from '../../src/core/replicas/replica-coordinator.js';
import { freePort } from '../../test/helpers/net.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'loopbridge.mjs');
/** Linux clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we run). */
const CLK_TCK = 100;

/** A running bridge process. */
export interface BridgeProcess {
  pid: number;
  /** Everything it wrote (for a failure message). */
  logs(): string;
  /** /healthz body, or undefined while it does not answer. */
  health(): Promise<{ ok?: boolean; replica?: ReplicaHealth } | undefined>;
  /** Sum of every series of a counter on /metrics (0 when absent or unreachable). */
  counter(name: string, match?: string): Promise<number>;
  /** User + system CPU of the process so far, seconds (NaN once it is gone). */
  cpuS(): number;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export async function startBridgeProcess(config: string): Promise<BridgeProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [BIN, 'start', '--config', config], {
    env: { ...process.env, OPS_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const base = `http://127.0.0.1:${port}`;
  return {
    pid: child.pid!,
    logs: () => out,
    async health() {
      try {
        const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
        return (await r.json()) as { ok?: boolean; replica?: ReplicaHealth };
      } catch {
        return undefined;
      }
    },
    async counter(name, match = '') {
      try {
        const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
        let sum = 0;
        for (const line of text.split('\n')) {
          if ((line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(match)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
        }
        return sum;
      } catch {
        return 0;
      }
    },
    cpuS() {
      try {
        // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(f[11]) + Number(f[12])) / CLK_TCK;
      } catch {
        return NaN;
      }
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
