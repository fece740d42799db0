// Starting the Matrix adapter with a bad account or an unreachable homeserver: a startup error that names
// the config key to fix and never contains the secret.
import { describe, expect, it } from 'vitest';
import { MatrixAdapter, MatrixStartupError } from '../../../adapters/matrix/index.js';
import { adapterState } from '../../../src/core/adapter-state.js';
import { createMemoryStore } from '../../../src/store/memory-store.js';
import { uniqueName, synapse } from '../../helpers/matrix.js';
import { freePort } from '../../helpers/net.js';
import { registerUser } from '../../peers/synapse/synapse.js';

const sink = () => ({ accept: async () => {}, state: adapterState(createMemoryStore(), 'matrix') });

async function startError(options: ConstructorParameters<typeof MatrixAdapter>[0]): Promise<MatrixStartupError> {
  const adapter = new MatrixAdapter(options);
  const abort = new AbortController();
  try {
    await adapter.start(sink(), abort.signal);
  } catch (err) {
    expect(err).toBeInstanceOf(MatrixStartupError);
    return err as MatrixStartupError;
  } finally {
    abort.abort();
    await adapter.stop();
  }
  throw new Error('start did not fail');
}

describe('matrix startup errors', () => {
  it('a refused access token names matrix.accessToken and does not echo it', async () => {
    const token = 'syt_not_a_real_token_0123456789';
    const err = await startError({ homeserverUrl: synapse().url, accessToken: token });
    expect(err.code).toBe('unauthorized');
    expect(err.message).toMatch(/matrix\.accessToken/);
    expect(err.message).not.toContain(token);
  });

  it('a wrong password names matrix.password and matrix.userId and does not echo it', async () => {
    const bot = await registerUser(synapse(), uniqueName('pwbot'));
    const err = await startError({ homeserverUrl: synapse().url, userId: bot.userId, password: 'wrong-password-123' });
    expect(err.code).toBe('login');
    expect(err.message).toMatch(/matrix\.password .*matrix\.userId/);
    expect(err.message).not.toContain('wrong-password-123');
  });

  it('an unreachable homeserver names matrix.homeserverUrl', async () => {
    const err = await startError({ homeserverUrl: `http://127.0.0.1:${await freePort()}`, accessToken: 'syt_x' });
    expect(err.code).toBe('network');
    expect(err.message).toMatch(/matrix\.homeserverUrl/);
    expect(err.message).not.toContain('syt_x');
  });

  it('a password login is kept and reused: the second start makes no new device', async () => {
    const bot = await registerUser(synapse(), uniqueName('pwbot'), { password: 'right-password-456' });
    const s = sink();
    const ids: Array<string | undefined> = [];
    for (let i = 0; i < 2; i++) {
      const adapter = new MatrixAdapter({ homeserverUrl: synapse().url, userId: bot.userId, password: 'right-password-456', syncTimeoutMs: 500 });
      const abort = new AbortController();
      await adapter.start(s, abort.signal);
      ids.push((await s.state.get<{ deviceId?: string }>('login'))?.deviceId);
      abort.abort();
      await adapter.stop();
    }
    expect(ids[0]).toBeDefined();
    expect(ids[1]).toBe(ids[0]);
  });
});
