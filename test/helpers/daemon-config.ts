// The config file of a daemon under test: the loop server (the simulator) and a file store in the test's
// temp dir are the same for every e2e test, so only the sections a test is about are written there.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the file goes and what it points at. */
export interface DaemonConfigOptions {
  /** The config file's name in the dir. Default `config.yaml`. */
  file?: string;
  /** The store file's name in the dir. Default `store.json`. */
  store?: string;
  /** The loop token written instead of the simulator's (a revoked one, say). Default the simulator's. */
  loopToken?: string;
}

/**
 * Writes `<dir>/<file>`: `loop:` at the simulator, a file store `<dir>/<store>` flushed after 10 ms, then
 * `rest` (YAML of the other sections). Returns the file's path.
 */
export function writeDaemonConfig(dir: string, sim: { url: string; token: string }, rest: string, o: DaemonConfigOptions = {}): string {
  const path = join(dir, o.file ?? 'config.yaml');
  const head = [
    `loop: { baseUrl: "${sim.url}", token: "${o.loopToken ?? sim.token}" }`,
    `store: { path: "${join(dir, o.store ?? 'store.json')}", flushDelayMs: 10 }`,
  ];
  writeFileSync(path, `${head.join('\n')}\n${rest.trim()}\n`);
  return path;
}
