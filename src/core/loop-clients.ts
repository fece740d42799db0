// Which Loop API token drives a conversation's loop, and a client for it. With `access.loopTokens: shared`
// every call uses the bridge's one client. With `per-user` a conversation whose loop a person created is
// driven with that person's linked token (so the loop server records them as its owner): one LoopClient per
// token, leased for the length of a call or a turn, kept in a bounded pool and closed once unused for a while.
// The token is read from the vault at every lease (never cached here), so a /link or /unlink on any replica
// counts at once.

import { createHash } from 'node:crypto';
import type { LoopClient } from '../loop-api/client.js';
import { LoopAuthError, LoopPermissionError } from '../loop-api/errors.js';
import type { TokenVault } from './token-vault.js';

/** A person's token is needed and is not linked (`token_missing`), or the loop server refused it (`token_refused`). */
export class UserTokenError extends Error {
  override readonly name = 'UserTokenError';
  constructor(
    readonly code: 'token_missing' | 'token_refused',
    /** The platform-qualified id of the person whose token it is. */
    readonly user: string,
    /** The loop server's error code when refused (e.g. `missing_credentials`). */
    readonly serverCode?: string,
    options?: { cause?: unknown },
  ) {
    super(code === 'token_missing' ? `${user} has no loop token linked` : `the loop server refused ${user}'s loop token (${serverCode ?? 'refused'})`, options);
  }
}

/** Per-user settings of LoopClients. */
export interface PerUserTokens {
  vault: TokenVault;
  /** A client for one token (same server, timeouts and logger as the shared one). */
  create(token: string): LoopClient;
  /** Idle clients kept at most; in-use ones are never closed. Default 64. */
  maxIdleClients?: number;
  /** An unused client is closed after this long, ms. Default 300000 (5 min). */
  idleMs?: number;
}

export interface LoopClientsOptions {
  /** The bridge's own client (`loop.token`). */
  shared: LoopClient;
  /** Set ⇒ access.loopTokens per-user. */
  perUser?: PerUserTokens;
}

/** Runs `fn` with the client that drives a conversation's loop now. */
export type WithClient = <T>(convKey: string, fn: (client: LoopClient) => Promise<T>) => Promise<T>;

/** A client lent for one call or one turn; `release()` once done with it. */
export interface ClientLease {
  client: LoopClient;
  /** Whose personal token it carries; undefined = the shared token. */
  owner?: string;
  release(): void;
}

interface PoolEntry {
  client: LoopClient;
  leases: number;
  lastUsed: number;
  timer?: NodeJS.Timeout;
}

export class LoopClients {
  private readonly pool = new Map<string, PoolEntry>();
  private closed = false;

  constructor(private readonly options: LoopClientsOptions) {}

  /** The bridge's shared client. */
  get shared(): LoopClient {
    return this.options.shared;
  }

  /** True with access.loopTokens per-user. */
  get perUser(): boolean {
    return this.options.perUser !== undefined;
  }

  /** The vault of linked tokens (per-user mode only). */
  get vault(): TokenVault | undefined {
    return this.options.perUser?.vault;
  }

  /** Clients for personal tokens open now (for tests and metrics). */
  get openClients(): number {
    return this.pool.size;
  }

  /** Lends the client for `owner`'s token (undefined: the shared one). Throws UserTokenError when none is linked. */
  async lease(owner: string | undefined): Promise<ClientLease> {
    const per = this.options.perUser;
    if (!per || owner === undefined) return { client: this.options.shared, release: () => {} };
    const token = await per.vault.token(owner);
    if (!token) throw new UserTokenError('token_missing', owner);
    if (this.closed) throw new Error('loop clients are closed');
    const id = createHash('sha256').update(token).digest('base64url');
    let entry = this.pool.get(id);
    if (!entry) {
      this.evictIdle(per.maxIdleClients ?? 64);
      entry = { client: per.create(token), leases: 0, lastUsed: Date.now() };
      this.pool.set(id, entry);
    }
    const e = entry;
    clearTimeout(e.timer);
    e.leases++;
    let released = false;
    return {
      client: e.client,
      owner,
      release: () => {
        if (released) return;
        released = true;
        e.leases--;
        e.lastUsed = Date.now();
        if (e.leases === 0) {
          e.timer = setTimeout(() => this.closeEntry(id, e), per.idleMs ?? 300_000);
          e.timer.unref();
        }
      },
    };
  }

  /**
   * Runs `fn` with the client for `owner`'s token. A personal token the loop server refuses (401, or 403
   * other than not_loop_owner) becomes a UserTokenError naming the person: their problem, not the bridge's.
   */
  async with<T>(owner: string | undefined, fn: (client: LoopClient) => Promise<T>): Promise<T> {
    const lease = await this.lease(owner);
    try {
      return await fn(lease.client);
    } catch (err) {
      throw lease.owner !== undefined ? personalError(err, lease.owner) : err;
    } finally {
      lease.release();
    }
  }

  /** Checks a token with the loop server (one cheap authenticated call); throws what the server answered. */
  async verify(token: string): Promise<void> {
    const per = this.options.perUser;
    if (!per) throw new Error('access.loopTokens is shared: no personal tokens');
    const client = per.create(token);
    try {
      await client.listLoops({ limit: 1 });
    } finally {
      await client.close();
    }
  }

  /** Closes every pooled client (not the shared one, which its creator closes). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pool.entries()];
    this.pool.clear();
    await Promise.all(all.map(([, e]) => (clearTimeout(e.timer), e.client.close())));
  }

  private closeEntry(id: string, e: PoolEntry): void {
    if (e.leases > 0 || this.pool.get(id) !== e) return;
    this.pool.delete(id);
    void e.client.close();
  }

  /** Makes room: closes the least recently used idle clients beyond the bound. */
  private evictIdle(max: number): void {
    const idle = [...this.pool.entries()].filter(([, e]) => e.leases === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    while (idle.length >= max) {
      const [id, e] = idle.shift()!;
      clearTimeout(e.timer);
      this.closeEntry(id, e);
    }
  }
}

/** A refusal of a person's token, as a UserTokenError; anything else unchanged. */
export function personalError(err: unknown, owner: string): unknown {
  if (err instanceof UserTokenError) return err;
  const refused = err instanceof LoopAuthError || (err instanceof LoopPermissionError && err.code !== 'not_loop_owner');
  return refused ? new UserTokenError('token_refused', owner, err.serverCode ?? err.code, { cause: err }) : err;
}
