// store.url: PostgreSQL instead of the file. Validated without echoing the value (it holds a password),
// substituted from the environment, masked in check-config output.

import { describe, expect, it } from 'vitest';
import { runCheckConfig } from '../../src/config/check-config.js';
import { resolveConfig } from '../../src/config/load.js';
import { maskSecrets } from '../../src/config/mask.js';
import { capture, issuesOf, minimal, tempFile } from './helpers.js';

const PASSWORD = 'pa55-word-XYZ';

describe('store.url', () => {
  it('is null by default (the file store), and resolves a postgres URL from the environment', () => {
    expect(resolveConfig(minimal(), {}).config.store.url).toBeNull();
    const { config, warnings } = resolveConfig(minimal({ store: { url: '${DB_URL}' } }), { DB_URL: `postgres://lb:${PASSWORD}@db:5432/lb` });
    expect(config.store.url).toBe(`postgres://lb:${PASSWORD}@db:5432/lb`);
    expect(warnings).toEqual([]);
    expect(resolveConfig(minimal({ store: { url: 'postgresql://db/lb' } }), {}).config.store.url).toBe('postgresql://db/lb');
    // Exactly one reference that comes out empty: not set, the file store stays.
    expect(resolveConfig(minimal({ store: { url: '${LOOPBRIDGE_STORE_URL:-}' } }), {}).config.store.url).toBeNull();
  });

  it('refuses a URL of another kind, naming the key and never echoing the value', () => {
    for (const url of [`mysql://lb:${PASSWORD}@db/lb`, `lb:${PASSWORD}@db`, 42]) {
      const found = issuesOf(minimal({ store: { url } }));
      expect(found.map((i) => i.path)).toEqual(['store.url']);
      expect(found[0]!.message).toMatch(/postgres:\/\//);
      expect(JSON.stringify(found)).not.toContain(PASSWORD);
    }
  });

  it('warns that the file settings have no effect next to it', () => {
    const { warnings } = resolveConfig(minimal({ store: { url: 'postgres://db/lb', path: './x.json', flushDelayMs: 5 } }), {});
    expect(warnings.map((w) => w.split(':')[0])).toEqual(['store.path', 'store.flushDelayMs']);
  });

  it('is masked in check-config output (userinfo and a password parameter), host and database kept', async () => {
    const { config } = resolveConfig(minimal({ store: { url: `postgres://lb:${PASSWORD}@db:5432/lb?sslmode=require&password=${PASSWORD}` } }), {});
    const masked = maskSecrets(config) as typeof config;
    expect(masked.store.url).toBe('postgres://***@db:5432/lb?sslmode=require&password=***');
    const file = tempFile('pg.yaml', `loop: { baseUrl: "https://loops.example.com", token: "la_${'ab'.repeat(24)}" }\nstore: { url: "\${DB_URL}" }\naccess: { users: [console:you] }\nconsole: {}\n`);
    const out = capture();
    const err = capture();
    expect(await runCheckConfig(['--config', file], { stdout: out.stream, stderr: err.stream, env: { DB_URL: `postgres://lb:${PASSWORD}@db:5432/lb` } })).toBe(0);
    expect(out.text()).toContain('url: postgres://***@db:5432/lb');
    expect(out.text() + err.text()).not.toContain(PASSWORD);
  });
});
