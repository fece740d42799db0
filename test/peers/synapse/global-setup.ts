// vitest global setup of the `synapse` project: one real homeserver for every Matrix test file of the
// run (started only when such a file is queued), stopped by its PID when the run ends. Test files get
// its address through `inject('synapse')` and register their own users, so files never share people.
// When Synapse cannot be installed or started, this throws and every Matrix test fails with the reason:
// a missing homeserver must never look like a pass.

import type { TestProject } from 'vitest/node';
import { startSynapse, type Synapse, type SynapseInfo } from './synapse.js';

declare module 'vitest' {
  export interface ProvidedContext {
    synapse: SynapseInfo;
  }
}

let server: Synapse | undefined;

export async function setup(project: TestProject): Promise<void> {
  const t0 = Date.now();
  server = await startSynapse();
  console.log(`synapse: up on ${server.url} (pid ${server.pid}) in ${Date.now() - t0} ms, start ${server.startMs} ms`);
  project.provide('synapse', { url: server.url, serverName: server.serverName, sharedSecret: server.sharedSecret });
}

export async function teardown(): Promise<void> {
  await server?.stop();
  server = undefined;
}
