// Loop API client tests against the simulator: a fresh simulator per test with a client that retries fast,
// everything closed after each test, and helpers to read a turn's events.

import { afterEach } from 'vitest';
import { LoopClient } from '../../src/loop-api/client.js';
import type { TurnEvent } from '../../src/loop-api/types.js';
import { startSimulator, type SimOptions, type Simulator } from '../../src/sim/index.js';

/** Retries short enough that a test of a failure does not wait on backoff. */
export const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

/** What simPerTest returns: call it for a simulator, a client and a loop; `own` closes another client too. */
export interface SimSetup {
  (o?: SimOptions): Promise<{ sim: Simulator; client: LoopClient; loopId: string }>;
  /** A client the test made itself, closed after the test with the rest. */
  own(client: LoopClient): void;
}

/**
 * Returns `setup`: a simulator (no idle cut, 1 ms deltas unless `o` says otherwise), a client on it and a
 * new loop. Whatever a test set up is closed after it (registers an afterEach in the calling file).
 */
export function simPerTest(): SimSetup {
  let sims: Simulator[] = [];
  let clients: LoopClient[] = [];
  afterEach(async () => {
    for (const c of clients) await c.close();
    for (const s of sims) await s.close();
    sims = [];
    clients = [];
  });
  const setup = async (o: SimOptions = {}) => {
    const sim = await startSimulator({ idleCutMs: null, deltaDelayMs: 1, ...o });
    const client = new LoopClient({ baseUrl: sim.url, token: sim.token, retry: FAST_RETRY, timeoutMs: 5_000 });
    sims.push(sim);
    clients.push(client);
    const loopId = (await client.createLoop({})).id;
    return { sim, client, loopId };
  };
  return Object.assign(setup, { own: (client: LoopClient) => void clients.push(client) });
}

/** Reads a stream of turn events to its end (`onEvent` sees each as it comes). */
export async function collect(it: AsyncIterable<TurnEvent>, onEvent?: (e: TurnEvent) => void | Promise<void>): Promise<TurnEvent[]> {
  const out: TurnEvent[] = [];
  for await (const e of it) {
    out.push(e);
    await onEvent?.(e);
  }
  return out;
}

/** The assistant text in a list of turn events. */
export const textOf = (evs: TurnEvent[]): string => evs.map((e) => (e.type === 'assistant_delta' ? e.text : '')).join('');
