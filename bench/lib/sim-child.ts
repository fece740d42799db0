// The loop simulator in its own process, so a benchmark measures the client's CPU and memory apart from
// the server's. Started by sim-process.ts as `node --import tsx bench/lib/sim-child.ts '<SimOptions JSON>'`;
// prints {"url","token"} as its first stdout line, then answers one JSON line per JSON command on stdin
// (see SimCommand) and exits when stdin closes.
//
// It also timestamps, per loop, the moment the server wrote the first `assistant_delta` of a stream: the
// honest "the loop produced its first delta" time for first-text latency. This wraps
// ServerResponse.prototype.write in this process only (bench code; src/sim is untouched).

import { ServerResponse } from 'node:http';
import { createInterface } from 'node:readline';
import { startSimulator, type ScriptStep, type SimOptions } from '../../src/sim/index.js';

/** A command the parent sends (one JSON object per line). */
export type SimCommand =
  | { cmd: 'script'; loopId: string; steps: ScriptStep[]; count?: number }
  | { cmd: 'stats'; reset?: boolean }
  | { cmd: 'close' };

/** Answer to `stats`. Times are ms since the epoch (performance.timeOrigin + now), CPU in seconds. */
export interface SimStats {
  cpuUser: number;
  cpuSystem: number;
  /** Peak RSS since start or the last reset, bytes (sampled every 50 ms). */
  peakRss: number;
  /** Most SSE streams open at once since start or the last reset (sampled every 50 ms). */
  peakOpenStreams: number;
  /** loop id (without the `loop_` prefix) → when its first assistant_delta since the last reset was written. */
  firstDelta: Record<string, number>;
}

const bare = (id: string) => (id.startsWith('loop_') ? id.slice(5) : id);
const STREAM_PATH = /\/loops\/([^/]+)\/(?:messages|events)/;

const firstDelta = new Map<string, number>();
const origWrite = ServerResponse.prototype.write;
// `write` is overloaded; forwarding `arguments` keeps every overload intact.
ServerResponse.prototype.write = function (this: ServerResponse, chunk: unknown) {
  if (typeof chunk === 'string' && chunk.startsWith('event: assistant_delta')) {
    const m = STREAM_PATH.exec(this.req?.url ?? '');
    if (m) {
      const id = bare(decodeURIComponent(m[1]));
      if (!firstDelta.has(id)) firstDelta.set(id, performance.timeOrigin + performance.now());
    }
  }
  // eslint-disable-next-line prefer-rest-params
  return (origWrite as (...a: unknown[]) => boolean).apply(this, arguments as unknown as unknown[]);
} as typeof ServerResponse.prototype.write;

const options = JSON.parse(process.argv[2] ?? '{}') as SimOptions;
const sim = await startSimulator(options);

let cpuBase = process.cpuUsage();
let peakRss = process.memoryUsage().rss;
let peakOpen = 0;
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  peakOpen = Math.max(peakOpen, sim.openStreams());
}, 50).unref();

const reply = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
reply({ url: sim.url, token: sim.token });

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const c = JSON.parse(line) as SimCommand;
  if (c.cmd === 'script') {
    for (let i = 0; i < (c.count ?? 1); i++) sim.scriptNextTurn(c.loopId, c.steps);
    reply({ ok: true });
  } else if (c.cmd === 'stats') {
    const cpu = process.cpuUsage(cpuBase);
    const stats: SimStats = {
      cpuUser: cpu.user / 1e6,
      cpuSystem: cpu.system / 1e6,
      peakRss: Math.max(peakRss, process.memoryUsage().rss),
      peakOpenStreams: peakOpen,
      firstDelta: Object.fromEntries(firstDelta),
    };
    if (c.reset) {
      cpuBase = process.cpuUsage();
      peakRss = process.memoryUsage().rss;
      peakOpen = 0;
      firstDelta.clear();
    }
    reply(stats);
  } else if (c.cmd === 'close') {
    rl.close();
  }
});
rl.on('close', () => {
  void sim.close().finally(() => process.exit(0));
});
