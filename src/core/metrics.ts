// Counters and gauges in Prometheus text format; no dependency, since we need only these two kinds.

type Labels = Record<string, string>;

export class Metrics {
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly gauges = new Map<string, () => number>();
  private readonly help = new Map<string, string>();

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
      for (const [labels, v] of series) lines.push(`${name}${labels} ${v}`);
    }
    for (const [name, read] of this.gauges) {
      const help = this.help.get(name);
      if (help) lines.push(`# HELP ${name} ${help}`);
      lines.push(`# TYPE ${name} gauge`, `${name} ${read()}`);
    }
    return lines.join('\n') + '\n';
  }
}

function labelString(labels: Labels): string {
  const entries = Object.entries(labels);
  if (!entries.length) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',')}}`;
}
