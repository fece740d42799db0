// Who may drive the loops. Closed by default: DMs from strangers are refused (allowlist) or offered a
// pairing code an operator approves from the CLI; the same rules apply on every platform.

import { randomInt } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { ConversationRef } from './adapter-types.js';
import { keys, type PairingRecord } from './state.js';

export interface AccessConfig {
  dm: 'allowlist' | 'pairing' | 'open';
  users: string[];
  admins: string[];
  groups: string[];
  pairingCodeTtlMs: number;
}

// No 0/O/1/I: codes are read aloud and typed by hand.
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export class Access {
  private readonly users: Set<string>;
  private readonly admins: Set<string>;
  private readonly groups: Set<string>;

  constructor(
    private readonly config: AccessConfig,
    private readonly store: Store,
  ) {
    this.admins = new Set(config.admins);
    this.users = new Set([...config.users, ...config.admins]);
    this.groups = new Set(config.groups);
  }

  isAdmin(user: string): boolean {
    return this.admins.has(user);
  }

  /** A configured or paired user. */
  async isUser(user: string): Promise<boolean> {
    return this.users.has(user) || (await this.store.get(keys.paired(user))) !== undefined;
  }

  /** May this person use the bot in a direct conversation? */
  async directAllowed(user: string): Promise<boolean> {
    return this.config.dm === 'open' || (await this.isUser(user));
  }

  /** May this person use the bot in this group? Listed groups are open to their members. */
  async groupAllowed(groupKey: string, user: string): Promise<boolean> {
    if (this.groups.size > 0) return this.groups.has(groupKey);
    return this.isUser(user);
  }

  get dmPolicy(): AccessConfig['dm'] {
    return this.config.dm;
  }

  /** An operator denied this person's pairing request recently (no new code until it expires). */
  async pairingDenied(user: string): Promise<boolean> {
    return (await this.store.get(keys.pairingDenied(user))) !== undefined;
  }

  /**
   * The pending pairing code for a user, creating one if needed (one live code per user). `conversation` is
   * where to tell them once an operator approves.
   */
  async pairingCode(user: string, displayName?: string, conversation?: ConversationRef): Promise<string> {
    const existing = await this.store.get<string>(keys.pairingUser(user));
    if (existing && (await this.store.get(keys.pairingCode(existing)))) return existing;
    for (;;) {
      const code = Array.from({ length: 8 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
      const rec: PairingRecord = { code, user, displayName, createdAt: Date.now(), ...(conversation ? { conversation } : {}) };
      if (await this.store.setIfAbsent(keys.pairingCode(code), rec, { ttlMs: this.config.pairingCodeTtlMs })) {
        await this.store.set(keys.pairingUser(user), code, { ttlMs: this.config.pairingCodeTtlMs });
        return code;
      }
    }
  }
}

/** Operator side: approve a code. Returns the approved request, or undefined for an unknown/expired code. */
export async function approvePairing(store: Store, code: string): Promise<PairingRecord | undefined> {
  const normalised = code.trim().toUpperCase();
  const rec = await store.get<PairingRecord>(keys.pairingCode(normalised));
  if (!rec) return undefined;
  await store.set(keys.paired(rec.user), { approvedAt: Date.now() });
  await store.delete(keys.pairingCode(normalised));
  await store.delete(keys.pairingUser(rec.user));
  await store.delete(keys.pairingDenied(rec.user));
  return rec;
}

/**
 * Operator side: deny a code. The request is dropped and the person gets no new code for `quietMs` (so a
 * denial is not undone by simply writing again). Returns the denied request, or undefined for an unknown code.
 */
export async function denyPairing(store: Store, code: string, quietMs: number): Promise<PairingRecord | undefined> {
  const normalised = code.trim().toUpperCase();
  const rec = await store.get<PairingRecord>(keys.pairingCode(normalised));
  if (!rec) return undefined;
  await store.delete(keys.pairingCode(normalised));
  await store.delete(keys.pairingUser(rec.user));
  await store.set(keys.pairingDenied(rec.user), { deniedAt: Date.now() }, { ttlMs: quietMs });
  return rec;
}

export async function listPairings(store: Store): Promise<{ pending: PairingRecord[]; approved: string[] }> {
  const pending = (await store.list<PairingRecord>(keys.pairingCodePrefix)).map(([, v]) => v);
  const approved = (await store.list('paired/')).map(([k]) => k.slice('paired/'.length));
  return { pending, approved };
}
