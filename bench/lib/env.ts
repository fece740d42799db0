// The benchmarks' knobs come from the environment (BENCH_…); a value that is unset or not a whole number
// in range falls back to the benchmark's default rather than failing the run.

/** A whole number ≥ `min` (default 1) from environment variable `name`, else `def`. */
export function envInt(name: string, def: number, options: { min?: number } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  return Number.isInteger(v) && v >= (options.min ?? 1) ? v : def;
}
