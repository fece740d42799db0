// Where the adapter remembers the channel threads the bot has posted in (slack.threadFollow: later messages
// there need no mention). In the core's adapter state when the core offers one, so it survives restarts and
// is shared by replicas; else in this process only.

import type { AdapterState } from '../../src/core/adapter-types.js';
import type { ThreadMemory } from './send.js';

/** How long a thread the bot posted in is remembered, ms: 90 days. */
export const THREAD_MEMORY_TTL_MS = 90 * 24 * 3600_000;

/** Thread memory kept in this process only (bounded). */
export class InMemoryThreads implements ThreadMemory {
  private readonly threads = new Set<string>();
  has(channel: string, threadTs: string): boolean {
    return this.threads.has(`${channel}/${threadTs}`);
  }
  remember(channel: string, threadTs: string): void {
    if (this.threads.size > 100_000) this.threads.clear();
    this.threads.add(`${channel}/${threadTs}`);
  }
}

/** Thread memory in the core's durable adapter state. */
export class StateThreads implements ThreadMemory {
  constructor(private readonly state: AdapterState) {}
  async has(channel: string, threadTs: string): Promise<boolean> {
    return (await this.state.get(key(channel, threadTs))) !== undefined;
  }
  async remember(channel: string, threadTs: string): Promise<void> {
    await this.state.setIfAbsent(key(channel, threadTs), 1, { ttlMs: THREAD_MEMORY_TTL_MS });
  }
}

const key = (channel: string, threadTs: string) => `thread/${channel}/${threadTs}`;
