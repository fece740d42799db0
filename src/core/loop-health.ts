// The bridge's own view of the loop server: is our token accepted, can we reach it. An outage is logged
// once when it starts and once when it ends (not on every retry), shows on /healthz and in metrics, and
// each conversation that meets it is told once.

import type { Metrics } from './metrics.js';

/** One ongoing problem with the loop server. */
export interface LoopOutage {
  /** `auth`: our credentials are refused (revoked token…); `unreachable`: 5xx, network, timeouts. */
  kind: 'auth' | 'unreachable';
  /** The server's error code, e.g. `missing_credentials`. */
  code: string;
  /** When it started, ms since the epoch. */
  since: number;
}

export interface LoopHealthDeps {
  metrics: Metrics;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

export class LoopHealth {
  private readonly outages = new Map<LoopOutage['kind'], LoopOutage & { told: Set<string> }>();

  constructor(private readonly deps: LoopHealthDeps) {
    deps.metrics.gauge('loop_auth_ok', () => (this.outages.has('auth') ? 0 : 1), '1 while the loop server accepts our token, 0 while it refuses it');
  }

  /**
   * Records a failure of this kind for a conversation. Returns true when that conversation has not been told
   * about this outage yet (the caller tells it, once).
   */
  failed(kind: LoopOutage['kind'], code: string, convKey: string): boolean {
    this.deps.metrics.inc('loop_errors_total', { kind });
    let outage = this.outages.get(kind);
    if (!outage) {
      outage = { kind, code, since: Date.now(), told: new Set() };
      this.outages.set(kind, outage);
      if (kind === 'auth') {
        this.deps.log.error({ code }, 'the loop server refuses our token (check loop.token); accepted messages are kept and retried');
      } else {
        this.deps.log.warn({ code }, 'loop server unreachable; accepted messages are kept and retried');
      }
    }
    if (outage.told.has(convKey)) return false;
    outage.told.add(convKey);
    return true;
  }

  /** A call went through: whatever outage there was is over. */
  succeeded(): void {
    for (const [kind, o] of this.outages) {
      this.deps.log.info({ kind, code: o.code, lastedMs: Date.now() - o.since }, 'loop server is back');
    }
    this.outages.clear();
  }

  /** Ongoing problems (empty when healthy), for /healthz. */
  problems(): LoopOutage[] {
    return [...this.outages.values()].map(({ kind, code, since }) => ({ kind, code, since }));
  }
}
