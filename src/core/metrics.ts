// Counters and gauges in Prometheus text format; no dependency, since we need only these two kinds.

type Labels = Record<string, string>;

/** Options of `Metrics`. */
export interface MetricsOptions {
  /** Labels put on every series when rendered, e.g. `{ replica: 'bridge-1' }`. Default none. */
  labels?: Labels;
}

export class Metrics {
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly gauges = new Map<string, () => number>();
  private readonly help = new Map<string, string>();
  private readonly constLabels: Labels;

  constructor(options: MetricsOptions = {}) {
    this.constLabels = { ...options.labels };
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    let series = this.counters.get(name);
    if (!series) this.counters.set(name, (series = new Map()));
    const key = labelString(labels);
    series.set(key, (series.get(key) ?? 0) + by);
  }

  /** A gauge read when /metrics is scraped. */
  gauge(name: string, read: () => number, help?: string): void {
    this.gauges.set(name, read);
    if (help) this.help.set(name, help);
  }

  get(name: string, labels: Labels = {}): number {
    return this.counters.get(name)?.get(labelString(labels)) ?? 0;
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, series] of this.counters) {
      lines.push(`# TYPE ${name} counter`);
      for (const [labels, v] of series) lines.push(`${name}${this.withConst(labels)} ${v}`);
    }
    for (const [name, read] of this.gauges) {
      const help = this.help.get(name);
      if (help) lines.push(`# HELP ${name} ${help}`);
      lines.push(`# TYPE ${name} gauge`, `${name}${this.withConst('')} ${read()}`);
    }
    return lines.join('\n') + '\n';
  }

  /** A rendered label set with the constant labels added in front. */
  private withConst(labels: string): string {
    const fixed = labelString(this.constLabels);
    if (!fixed) return labels;
    if (!labels) return fixed;
    return `${fixed.slice(0, -1)},${labels.slice(1)}`;
  }
}

function labelString(labels: Labels): string {
  const entries = Object.entries(labels);
  if (!entries.length) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',')}}`;
}
