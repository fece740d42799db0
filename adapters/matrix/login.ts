// Who the bot is: a configured access token, or a user id and password that are exchanged for a token
// once; that token and its device are kept in the adapter's state and reused on every later start, so
// the homeserver does not collect a new device per restart. A kept token that stops working (logged out
// from a client) is replaced by logging in again. Tokens and passwords never reach a log or an error.
import { MatrixAuth, MatrixClient } from 'matrix-bot-sdk';
import type { AdapterState } from '../../src/core/adapter-types.js';
import { describe, errcodeOf, MatrixStartupError, statusOf } from './errors.js';

/** What `matrix:` in the config says about the account. */
export interface MatrixCredentialsConfig {
  homeserverUrl: string;
  accessToken?: string;
  userId?: string;
  password?: string;
}

/** A working session. */
export interface MatrixSession {
  client: MatrixClient;
  accessToken: string;
  userId: string;
  deviceId?: string;
}

interface StoredLogin {
  homeserverUrl: string;
  userId: string;
  accessToken: string;
  deviceId?: string;
}

const STATE_KEY = 'login';
const DEVICE_NAME = 'loopbridge';

async function whoami(client: MatrixClient): Promise<{ user_id: string; device_id?: string }> {
  return client.doRequest('GET', '/_matrix/client/v3/account/whoami');
}

function unreachable(config: MatrixCredentialsConfig, err: unknown, secret?: string): MatrixStartupError {
  return new MatrixStartupError('network', `cannot reach the Matrix homeserver at ${config.homeserverUrl} (matrix.homeserverUrl): ${describe(err, secret)}`);
}

/** Resolves the session; throws MatrixStartupError naming the config key to fix. */
export async function openSession(config: MatrixCredentialsConfig, state: AdapterState | undefined): Promise<MatrixSession> {
  const hs = config.homeserverUrl.replace(/\/+$/, '');
  if (config.accessToken) {
    const client = new MatrixClient(hs, config.accessToken);
    try {
      const me = await whoami(client);
      return { client, accessToken: config.accessToken, userId: me.user_id, deviceId: me.device_id };
    } catch (err) {
      if (errcodeOf(err) === 'M_UNKNOWN_TOKEN' || statusOf(err) === 401) {
        throw new MatrixStartupError('unauthorized', 'matrix.accessToken was refused by the homeserver (M_UNKNOWN_TOKEN): it was logged out or mistyped — copy a current token, or use matrix.userId and matrix.password');
      }
      throw unreachable(config, err, config.accessToken);
    }
  }
  if (!config.userId || !config.password) {
    throw new MatrixStartupError('login', 'matrix: give matrix.accessToken, or matrix.userId and matrix.password');
  }
  if (!state) throw new MatrixStartupError('no-state', 'matrix: password login needs the bridge store to keep its token (no adapter state was given)');

  const stored = await state.get<StoredLogin>(STATE_KEY);
  if (stored && stored.homeserverUrl === hs && stored.userId === config.userId) {
    const client = new MatrixClient(hs, stored.accessToken);
    try {
      const me = await whoami(client);
      return { client, accessToken: stored.accessToken, userId: me.user_id, deviceId: me.device_id };
    } catch (err) {
      // A token logged out elsewhere: log in again below. Anything else is the homeserver being away.
      if (errcodeOf(err) !== 'M_UNKNOWN_TOKEN' && statusOf(err) !== 401) throw unreachable(config, err, stored.accessToken);
    }
  }

  let accessToken: string;
  try {
    const first = await new MatrixAuth(hs).passwordLogin(config.userId, config.password, DEVICE_NAME);
    accessToken = first.accessToken;
  } catch (err) {
    const code = errcodeOf(err);
    if (code === 'M_FORBIDDEN' || code === 'M_USER_DEACTIVATED' || code === 'M_INVALID_USERNAME') {
      throw new MatrixStartupError('login', `matrix.password was refused for matrix.userId ${config.userId} (${code}) — check both`);
    }
    throw unreachable(config, err, config.password);
  }
  // The SDK may point its client at a well-known URL; keep the one configured (a proxy may sit in front).
  const client = new MatrixClient(hs, accessToken);
  const me = await whoami(client).catch((err) => {
    throw unreachable(config, err, accessToken);
  });
  await state.set(STATE_KEY, { homeserverUrl: hs, userId: config.userId, accessToken, deviceId: me.device_id } satisfies StoredLogin);
  await state.flush();
  return { client, accessToken, userId: me.user_id, deviceId: me.device_id };
}
