// Single-owner intake: Telegram long polling and Matrix /sync run in one replica at a time, the holder
// of the platform's leader lease `intake/<platform>`. Every other replica tries to take the lease on its
// beat (so a leader killed with SIGKILL is replaced within about a TTL of its last renewal) and at once
// when a leader hands the lease back on shutdown (an announcement on the channel). Outbound calls work in
// every replica whoever leads.

import type { ChatAdapter } from '../adapter-types.js';
import type { Store } from '../../store/store.js';
import type { Lease, LeaseKeeper } from './lease.js';

/** Announcements: `released <platform>`. */
export const INTAKE_CHANNEL = 'lb_intake';

/** Options of `IntakeLeaders`. */
export interface IntakeLeadersOptions {
  store: Store;
  keeper: LeaseKeeper;
  /** Whether this replica may lead now (joined and not cut off). */
  eligible: () => boolean;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

interface Led {
  adapter: ChatAdapter;
  signal: AbortSignal;
  lease?: Lease;
  /** Intake is running here (startIntake resolved, stopIntake not yet called). */
  running: boolean;
  /** A start or stop in progress: one at a time per platform. */
  busy?: Promise<void>;
}

export class IntakeLeaders {
  readonly #o: IntakeLeadersOptions;
  readonly #led = new Map<string, Led>();
  #stopped = false;

  constructor(options: IntakeLeadersOptions) {
    this.#o = options;
  }

  /** Platforms whose intake runs in this replica now. */
  held(): string[] {
    return [...this.#led.entries()].filter(([, l]) => l.running).map(([p]) => p);
  }

  /** Adds an adapter whose intake must have one owner; seeks its lease at once. */
  add(adapter: ChatAdapter, signal: AbortSignal): Promise<void> {
    if (!adapter.startIntake || !adapter.stopIntake) {
      throw new TypeError(`adapter ${adapter.platform} says its intake is single but has no startIntake/stopIntake`);
    }
    this.#led.set(adapter.platform, { adapter, signal, running: false });
    return this.seek(adapter.platform);
  }

  /** Tries to take the lease of `platform` (or of every platform not led here) and start intake. */
  async seek(platform?: string): Promise<void> {
    const platforms = platform ? [platform] : [...this.#led.keys()];
    await Promise.all(platforms.map((p) => this.#serial(p, () => this.#seekOne(p))));
  }

  /** A lease was lost (expired unrenewed or taken over): stop that intake. */
  lost(lease: Lease): void {
    const platform = lease.name.slice('intake/'.length);
    const led = this.#led.get(platform);
    if (!lease.name.startsWith('intake/') || led?.lease !== lease) return;
    void this.#serial(platform, async () => {
      this.#o.log.warn({ platform }, 'intake leadership lost; stopping intake here');
      await this.#stopIntake(led);
    });
  }

  /** Stops every intake running here and hands the leases back at once, telling the others. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(
      [...this.#led.entries()].map(([platform, led]) =>
        this.#serial(platform, async () => {
          const lease = led.lease;
          await this.#stopIntake(led);
          if (lease?.held) {
            await this.#o.keeper.release(lease);
            await this.#o.store.notify?.(INTAKE_CHANNEL, `released ${platform}`).catch(() => {});
            this.#o.log.info({ platform }, 'intake leadership handed back');
          }
        }),
      ),
    );
  }

  #serial(platform: string, work: () => Promise<void>): Promise<void> {
    const led = this.#led.get(platform);
    if (!led) return Promise.resolve();
    const run = (led.busy ?? Promise.resolve()).then(work, work);
    const tail = run.catch(() => {});
    led.busy = tail;
    return tail;
  }

  async #seekOne(platform: string): Promise<void> {
    const led = this.#led.get(platform)!;
    if (this.#stopped || led.signal.aborted || led.lease?.held || !this.#o.eligible()) return;
    let lease: Lease | undefined;
    try {
      lease = await this.#o.keeper.acquire(`intake/${platform}`);
    } catch {
      return; // the store is unreachable: the next beat tries again
    }
    if (!lease) return;
    led.lease = lease;
    try {
      await led.adapter.startIntake!(AbortSignal.any([led.signal, lease.signal]));
      led.running = true;
      this.#o.log.info({ platform }, 'intake leadership taken; intake runs in this replica');
    } catch (err) {
      this.#o.log.warn({ platform, err: err instanceof Error ? err.message : String(err) }, 'intake could not start here; handing the leadership back');
      led.lease = undefined;
      await this.#o.keeper.release(lease);
      return;
    }
    // Lost while starting: stop again at once.
    if (!lease.held) await this.#stopIntake(led);
  }

  async #stopIntake(led: Led): Promise<void> {
    led.lease = undefined;
    if (!led.running) return;
    led.running = false;
    await led.adapter.stopIntake!().catch((err: unknown) => this.#o.log.warn({ platform: led.adapter.platform, err: String(err) }, 'stopping intake failed'));
  }
}
