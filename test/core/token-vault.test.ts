// Linked tokens at rest: AES-256-GCM under LOOPBRIDGE_SECRET_KEY, unreadable without the key; a missing,
// malformed or wrong key is refused with a clear message, never ignored.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/core/state.js';
import { parseSecretKey, SecretKeyError, TokenVault } from '../../src/core/token-vault.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import { createMemoryStore } from '../../src/store/memory-store.js';

const TOKEN = `la_${'c0ffee'.repeat(8)}`;
const dir = mkdtempSync(join(tmpdir(), 'lb-vault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('token vault', () => {
  it('keeps the token encrypted in the store file; the same key reads it back, another key is refused at open', async () => {
    const path = join(dir, 'store.json');
    const key = randomBytes(32).toString('base64');
    const store = await openLowdbStore({ path, flushDelayMs: 1 });
    const vault = await TokenVault.open(store, key);
    await vault.link('telegram:42', TOKEN);
    await store.close();
    const onDisk = readFileSync(path, 'utf8');
    expect(onDisk).toContain(keys.userToken('telegram:42'));
    expect(onDisk).not.toContain(TOKEN);
    expect(onDisk).not.toContain(TOKEN.slice(3));
    expect(onDisk).not.toContain(Buffer.from(TOKEN).toString('base64'));

    const again = await openLowdbStore({ path, flushDelayMs: 1 });
    try {
      expect(await (await TokenVault.open(again, key)).token('telegram:42')).toBe(TOKEN);
      // The same key in hex works too; another key does not open the vault at all.
      expect(await (await TokenVault.open(again, Buffer.from(key, 'base64').toString('hex'))).token('telegram:42')).toBe(TOKEN);
      const wrong = await TokenVault.open(again, randomBytes(32).toString('base64')).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(SecretKeyError);
      expect(wrong).toMatchObject({ code: 'wrong', message: expect.stringContaining('LOOPBRIDGE_SECRET_KEY is not the key') });
    } finally {
      await again.close();
    }
  });

  it('refuses a missing or malformed key, saying how to make one', () => {
    for (const [text, code] of [[undefined, 'missing'], ['', 'missing'], ['short', 'malformed'], ['z'.repeat(64), 'malformed'], [randomBytes(16).toString('base64'), 'malformed']] as const) {
      const err = (() => {
        try {
          parseSecretKey(text);
        } catch (e) {
          return e;
        }
      })();
      expect(err, String(text)).toMatchObject({ code, message: expect.stringContaining('openssl rand -base64 32') });
    }
    expect(parseSecretKey(randomBytes(32).toString('base64url')).length).toBe(32);
  });

  it('a sealed token moved to another person does not open; refusal is recorded once per linked token', async () => {
    const store = createMemoryStore();
    const vault = await TokenVault.open(store, randomBytes(32).toString('hex'));
    await vault.link('slack:U1', TOKEN);
    await store.set(keys.userToken('slack:U2'), await store.get(keys.userToken('slack:U1')));
    expect(await vault.token('slack:U2')).toBeUndefined();
    expect(await vault.markRefused('slack:U1')).toBe(true);
    expect(await vault.markRefused('slack:U1')).toBe(false);
    expect((await vault.linked('slack:U1'))?.refusedAt).toBeDefined();
    await vault.link('slack:U1', `la_${'1'.repeat(48)}`); // a new token: may be refused (and told) again
    expect(await vault.linked('slack:U1')).not.toHaveProperty('refusedAt');
    expect(await vault.unlink('slack:U1')).toBe(true);
    expect(await vault.unlink('slack:U1')).toBe(false);
    expect(await vault.token('slack:U1')).toBeUndefined();
  });
});
