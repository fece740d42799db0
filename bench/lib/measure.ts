// Measurement helpers shared by the benchmarks: CPU seconds of this process, peak RSS sampled on a
// timer, event-loop delay, and percentiles. They only measure; nothing here asserts a timing.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** CPU time used by this process between `start` and `stop`. */
export interface CpuSeconds {
  /** User-mode CPU, seconds. */
  user: number;
  /** Kernel-mode CPU, seconds. */
  system: number;
  /** user + system, seconds. */
  total: number;
}

/** Starts a CPU meter (via `process.cpuUsage()`); call the returned function to read the CPU seconds since. */
export function startCpu(): () => CpuSeconds {
  const base = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(base);
    return { user: d.user / 1e6, system: d.system / 1e6, total: (d.user + d.system) / 1e6 };
  };
}

/**
 * Samples `process.memoryUsage().rss` every `everyMs` (default 50 ms) until stopped; the returned function
 * stops sampling and gives the peak, bytes. The timer is unref'd so it never keeps the process alive.
 */
export function startRssSampler(everyMs = 50): () => number {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    const rss = process.memoryUsage().rss;
    if (rss > peak) peak = rss;
  }, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage().rss);
  };
}

/** Event-loop delay of this process while running (a proxy for "how busy was the core"). Resolution 10 ms. */
export function startLoopDelay(): () => { p50Ms: number; p99Ms: number; maxMs: number } {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return () => {
    h.disable();
    return { p50Ms: h.percentile(50) / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 };
  };
}

/** Nearest-rank percentile of an ascending array (p in 0..100); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Count, mean and the usual percentiles of a sample (unit is the caller's). */
export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
  return { n: s.length, mean, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.length ? s[s.length - 1] : NaN };
}

/** Wall clock with sub-millisecond resolution, comparable across processes on one machine, ms since the epoch. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Bytes → "123.4 MB" (10^6). */
export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A number with thousands separators and `digits` decimals. */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Runs `fn` over `items` with at most `limit` in flight; results keep input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Like startRssSampler for `heapUsed` + `external` + `arrayBuffers` (what JS holds, vs. what the OS gave), bytes. */
export function startHeapSampler(everyMs = 50): () => { heapUsed: number; external: number } {
  let heapUsed = 0;
  let external = 0;
  const sample = () => {
    const m = process.memoryUsage();
    heapUsed = Math.max(heapUsed, m.heapUsed);
    external = Math.max(external, m.external);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    sample();
    return { heapUsed, external };
  };
}
