// What the loop simulator received, found the way a bridge would find its loops: listed through the
// Loop API (every page), then read from the simulator's own record of each loop's input.

import { LoopClient } from '../../src/loop-api/client.js';
import type { Simulator } from '../../src/sim/index.js';

async function withClient<T>(sim: Simulator, client: LoopClient | undefined, fn: (c: LoopClient) => Promise<T>): Promise<T> {
  const c = client ?? new LoopClient({ baseUrl: sim.url, token: sim.token });
  try {
    return await fn(c);
  } finally {
    if (!client) await c.close();
  }
}

/** Every message any loop received, loop after loop. `client`: one to reuse (else one is opened and closed). */
export function receivedByLoops(sim: Simulator, client?: LoopClient): Promise<string[]> {
  return withClient(sim, client, async (c) => {
    const out: string[] = [];
    for await (const loop of c.listAllLoops()) out.push(...sim.received(loop.id));
    return out;
  });
}

/** The id of the loop that received `message`, or undefined when none has (yet). */
export function loopThatReceived(sim: Simulator, message: string, client?: LoopClient): Promise<string | undefined> {
  return withClient(sim, client, async (c) => {
    for await (const loop of c.listAllLoops()) if (sim.received(loop.id).includes(message)) return loop.id;
    return undefined;
  });
}

/** The id of the first loop the Loop API lists, or undefined while there is none. */
export function firstLoopId(sim: Simulator, client?: LoopClient): Promise<string | undefined> {
  return withClient(sim, client, async (c) => {
    for await (const loop of c.listAllLoops()) return loop.id;
    return undefined;
  });
}
