// One writer per store file. A running daemon owns its store: it listens on the control socket, and every
// operator command goes through it. With no daemon the CLI may open the file itself, holding a short lock
// (proper-lockfile) that a daemon starting at that moment waits for, so two writers never hold the file.
// The daemon takes the same lock only while it claims the socket; the socket, not the lock, says who owns
// the store for the daemon's lifetime (a killed daemon leaves a socket nobody answers: that is detected
// at once, where a lock left by a killed process would only go stale after seconds).

import { lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { daemonListening } from './control-client.js';
import { ControlServer, type ControlServerLog } from './control-server.js';

/** Why the store could not be claimed. */
export class StoreGuardError extends Error {
  override readonly name = 'StoreGuardError';
  constructor(
    readonly code: 'daemon_running' | 'locked' | 'socket',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Lock staleness, ms (proper-lockfile's minimum): a process killed while holding the lock blocks others this long. */
const STALE_MS = 5000;

/** Runs fn holding the store's lock (`<store>.lock`), waiting up to ~12 s for another holder to finish. */
export async function withStoreLock<T>(storePath: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(storePath), { recursive: true });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(storePath, {
      realpath: false,
      stale: STALE_MS,
      retries: { retries: 120, factor: 1, minTimeout: 100, maxTimeout: 100 },
      // Held for milliseconds: if it went stale meanwhile, the socket check below still decides.
      onCompromised: () => {},
    });
  } catch (err) {
    throw new StoreGuardError('locked', `the store ${storePath} stays locked by another loopbridge process (${storePath}.lock)`, { cause: err });
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}

/**
 * Claims the store for a daemon: refuses if another daemon answers on its control socket, clears a stale
 * socket file, and listens there. The returned server answers `starting` until given its operations.
 */
export async function claimStore(storePath: string, socketPath: string, log: ControlServerLog): Promise<ControlServer> {
  return withStoreLock(storePath, async () => {
    if (await daemonListening(socketPath)) {
      throw new StoreGuardError('daemon_running', `another loopbridge daemon is already running with store.path ${storePath} (it answers on ${socketPath}); stop it first`);
    }
    const existing = await lstat(socketPath).catch(() => undefined);
    if (existing) {
      if (!existing.isSocket()) {
        throw new StoreGuardError('socket', `ops.controlSocket ${socketPath} exists and is not a socket; remove it or choose another path`);
      }
      await unlink(socketPath); // left by a daemon that was killed
    }
    try {
      return await ControlServer.listen(socketPath, log);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'EINVAL' || /too long/i.test(String(err)) ? 'the path is too long for a Unix socket (about 100 bytes at most)' : String(err);
      throw new StoreGuardError('socket', `cannot listen on ops.controlSocket ${socketPath}: ${why} — set ops.controlSocket to a shorter path`, { cause: err });
    }
  });
}
