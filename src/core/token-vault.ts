// People's own Loop API tokens (access.loopTokens: per-user), kept in the store encrypted at rest with
// AES-256-GCM under LOOPBRIDGE_SECRET_KEY. Each token is sealed with a fresh 12-byte IV and the owner's id as
// associated data (a sealed token moved to another person's key does not open). A key-check record proves at
// start that the key given is the one the tokens were sealed with: a missing, malformed or wrong key stops
// the daemon with a clear message instead of running without the tokens, or storing anything in plaintext.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';
import { keys } from './state.js';

/** Why the secret key cannot be used. */
export type SecretKeyErrorCode = 'missing' | 'malformed' | 'wrong';

/** LOOPBRIDGE_SECRET_KEY is absent, not 32 bytes, or not the key the stored tokens were sealed with. */
export class SecretKeyError extends Error {
  override readonly name = 'SecretKeyError';
  constructor(
    readonly code: SecretKeyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The environment variable holding the key. */
export const SECRET_KEY_ENV = 'LOOPBRIDGE_SECRET_KEY';

const GENERATE = 'generate one with: openssl rand -base64 32';
const CHECK_PLAINTEXT = 'loopbridge user-token key check v1';

/** A sealed value as stored: base64 parts. */
interface Sealed {
  v: 1;
  iv: string;
  tag: string;
  data: string;
}

/** What the store keeps per person. */
interface TokenRecord extends Sealed {
  /** When it was linked, ms since the epoch; also tells one linked token from the next. */
  linkedAt: number;
  /** Set when the loop server refused it (401/403): the linkedAt it was refused for. */
  refusedAt?: number;
}

/** What may be said about a linked token (never the token). */
export interface LinkedToken {
  linkedAt: number;
  refusedAt?: number;
}

/** Parses the key: 32 bytes as 64 hex characters or as base64 (44 characters with padding). */
export function parseSecretKey(text: string | undefined): Buffer {
  if (text === undefined || text.trim() === '') {
    throw new SecretKeyError('missing', `${SECRET_KEY_ENV} is not set: access.loopTokens is per-user, and linked tokens are stored encrypted with this key — ${GENERATE}, and keep it with your other secrets (losing it means everyone links again)`);
  }
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{42,43}={0,2}$/.test(t)) key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (!key || key.length !== 32) {
    throw new SecretKeyError('malformed', `${SECRET_KEY_ENV} must be 32 random bytes, as 64 hex characters or base64 — ${GENERATE}`);
  }
  return key;
}

export class TokenVault {
  private constructor(
    private readonly store: Store,
    private readonly key: Buffer,
  ) {}

  /**
   * Opens the vault on a store with the key text (LOOPBRIDGE_SECRET_KEY). The first open records a key check
   * (unless `recordKey` is false: an operator command must not pin a key before the daemon does); later opens
   * must present the same key. Throws SecretKeyError.
   */
  static async open(store: Store, keyText: string | undefined, options: { recordKey?: boolean } = {}): Promise<TokenVault> {
    const vault = new TokenVault(store, parseSecretKey(keyText));
    const check = await store.get<Sealed>(keys.userTokenKeyCheck);
    if (!check && options.recordKey === false) return vault;
    if (check) {
      if (vault.unseal(check, 'check') !== CHECK_PLAINTEXT) {
        throw new SecretKeyError('wrong', `${SECRET_KEY_ENV} is not the key the linked loop tokens in this store were encrypted with — set the key used before (or, to start over, everyone links again after an operator removes the usertoken/ entries)`);
      }
    } else {
      await store.set(keys.userTokenKeyCheck, vault.seal(CHECK_PLAINTEXT, 'check'));
      await store.flush();
    }
    return vault;
  }

  /** Links (or replaces) a person's token. Durable on return. */
  async link(user: string, token: string): Promise<void> {
    const rec: TokenRecord = { ...this.seal(token, user), linkedAt: Date.now() };
    await this.store.set(keys.userToken(user), rec);
    await this.store.flush();
  }

  /** Removes a person's token; false if none was linked. Durable on return. */
  async unlink(user: string): Promise<boolean> {
    const had = (await this.store.get(keys.userToken(user))) !== undefined;
    await this.store.delete(keys.userToken(user));
    await this.store.flush();
    return had;
  }

  /** The person's token in clear, or undefined. Read from the store every time (a link elsewhere counts at once). */
  async token(user: string): Promise<string | undefined> {
    const rec = await this.store.get<TokenRecord>(keys.userToken(user));
    return rec ? this.unseal(rec, user) : undefined;
  }

  /** Whether a person has a token linked, and whether the loop server refused it. */
  async linked(user: string): Promise<LinkedToken | undefined> {
    const rec = await this.store.get<TokenRecord>(keys.userToken(user));
    return rec ? { linkedAt: rec.linkedAt, ...(rec.refusedAt !== undefined ? { refusedAt: rec.refusedAt } : {}) } : undefined;
  }

  /**
   * Records that the loop server refused the person's current token. True the first time for that token (the
   * caller tells them once); false if already recorded or the token changed meanwhile.
   */
  async markRefused(user: string): Promise<boolean> {
    const rec = await this.store.get<TokenRecord>(keys.userToken(user));
    if (!rec || rec.refusedAt === rec.linkedAt) return false;
    await this.store.set(keys.userToken(user), { ...rec, refusedAt: rec.linkedAt });
    await this.store.flush();
    return true;
  }

  private seal(plain: string, aad: string): Sealed {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return { v: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  /** The plaintext, or undefined when the key or the associated data does not fit (GCM authentication fails). */
  private unseal(s: Sealed, aad: string): string | undefined {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(s.iv, 'base64'));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(Buffer.from(s.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(s.data, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
