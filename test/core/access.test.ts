import { describe, expect, it } from 'vitest';
import { Access, approvePairing, listPairings, type AccessConfig } from '../../src/core/access.js';
import { createMemoryStore } from '../../src/store/memory-store.js';

const cfg = (c: Partial<AccessConfig> = {}): AccessConfig => ({
  dm: 'allowlist',
  users: ['test:u1'],
  admins: ['test:admin'],
  groups: [],
  pairingCodeTtlMs: 3_600_000,
  ...c,
});

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('Access', () => {
  it('allowlist: listed users and admins (implicitly users) only', async () => {
    const a = new Access(cfg(), createMemoryStore());
    expect(await a.directAllowed('test:u1')).toBe(true);
    expect(await a.directAllowed('test:admin')).toBe(true);
    expect(await a.directAllowed('test:stranger')).toBe(false);
    // Ids are platform-qualified: the same id on another platform is someone else.
    expect(await a.directAllowed('other:u1')).toBe(false);
    expect(a.isAdmin('test:admin')).toBe(true);
    expect(a.isAdmin('test:u1')).toBe(false);
    expect(a.dmPolicy).toBe('allowlist');
  });

  it('open DMs let anyone in but do not make them admins or group users', async () => {
    const a = new Access(cfg({ dm: 'open' }), createMemoryStore());
    expect(await a.directAllowed('test:anyone')).toBe(true);
    expect(a.isAdmin('test:anyone')).toBe(false);
    expect(await a.groupAllowed('test:g1', 'test:anyone')).toBe(false);
  });

  it('groups: empty list = any group, for allowed users; a list = only those groups, for their members', async () => {
    const none = new Access(cfg(), createMemoryStore());
    expect(await none.groupAllowed('test:g1', 'test:u1')).toBe(true);
    expect(await none.groupAllowed('test:g1', 'test:admin')).toBe(true);
    expect(await none.groupAllowed('test:g1', 'test:stranger')).toBe(false);
    const listed = new Access(cfg({ groups: ['test:g1'] }), createMemoryStore());
    expect(await listed.groupAllowed('test:g1', 'test:stranger')).toBe(true);
    expect(await listed.groupAllowed('test:g2', 'test:stranger')).toBe(false);
    expect(await listed.groupAllowed('test:g2', 'test:u1')).toBe(false);
  });

  it('pairing code: 8 chars of an unambiguous alphabet, reused for the same user, distinct per user', async () => {
    const store = createMemoryStore();
    const a = new Access(cfg({ dm: 'pairing' }), store);
    const codes = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const code = await a.pairingCode(`test:s${i}`);
      expect(code).toMatch(/^[A-HJ-NP-Z2-9]{8}$/);
      expect(code).not.toMatch(/[01OI]/);
      codes.add(code);
    }
    expect(codes.size).toBe(50);
    const first = await a.pairingCode('test:s0');
    expect(await a.pairingCode('test:s0', 'Sam')).toBe(first);
    expect((await listPairings(store)).pending).toHaveLength(50);
  });

  it('approving a code makes the user a user (DMs and groups), once; unknown codes are refused', async () => {
    const store = createMemoryStore();
    const a = new Access(cfg({ dm: 'pairing' }), store);
    const code = await a.pairingCode('test:sam', 'Sam');
    expect(await a.directAllowed('test:sam')).toBe(false);
    expect(await approvePairing(store, 'NOPE2345')).toBeUndefined();
    // Typed by hand: lower case and stray spaces are fine.
    const rec = await approvePairing(store, `  ${code.toLowerCase()} `);
    expect(rec).toMatchObject({ code, user: 'test:sam', displayName: 'Sam' });
    expect(await a.directAllowed('test:sam')).toBe(true);
    expect(await a.isUser('test:sam')).toBe(true);
    expect(await a.groupAllowed('test:g1', 'test:sam')).toBe(true);
    expect(await approvePairing(store, code)).toBeUndefined();
    expect(await listPairings(store)).toEqual({ pending: [], approved: ['test:sam'] });
    // A paired user is not an admin.
    expect(a.isAdmin('test:sam')).toBe(false);
  });

  it('a pairing code expires after pairingCodeTtlMs: it cannot be approved and the user gets a new one', async () => {
    const c = clock();
    const store = createMemoryStore({ now: c.now });
    const a = new Access(cfg({ dm: 'pairing', pairingCodeTtlMs: 60_000 }), store);
    const code = await a.pairingCode('test:sam');
    c.advance(59_000);
    expect(await a.pairingCode('test:sam')).toBe(code);
    c.advance(2_000);
    expect(await approvePairing(store, code)).toBeUndefined();
    expect((await listPairings(store)).pending).toEqual([]);
    const fresh = await a.pairingCode('test:sam');
    expect(fresh).not.toBe(code);
    expect(await approvePairing(store, fresh)).toMatchObject({ user: 'test:sam' });
    expect(await a.directAllowed('test:sam')).toBe(true);
  });
});
