// A bounded, time-limited set of ids seen in this process. Only a shortcut: durable dedupe is the core's.

export class RecentIds {
  private readonly ids = new Map<string, number>();

  constructor(
    /** How long an id is remembered, ms. */
    private readonly ttlMs: number,
    /** Most ids kept; the oldest go first. */
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  has(id: string): boolean {
    const at = this.ids.get(id);
    return at !== undefined && this.now() - at < this.ttlMs;
  }

  add(id: string): void {
    this.ids.delete(id);
    this.ids.set(id, this.now());
    // Map keeps insertion order: the first entries are the oldest.
    for (const [old, at] of this.ids) {
      if (this.ids.size <= this.max && this.now() - at < this.ttlMs) break;
      this.ids.delete(old);
    }
  }
}
