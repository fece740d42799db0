// The `matrix:` section: which sign-in combinations start, the errors that name the key to fix, the
// warnings for combinations that do not do what they seem to, Matrix ids in `access`, and secrets that
// never reach check-config's output.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runCheckConfig } from '../../src/config/check-config.js';
import { ConfigError, resolveConfig } from '../../src/config/load.js';
import { capture, LOOP_TOKEN, tempFile, uncommentMatrix } from './helpers.js';

const loop = { baseUrl: 'https://loops.example.com', token: LOOP_TOKEN };
const access = { users: ['matrix:@ann:example.org'] };
const TOKEN = 'syt_bG9vcGJvdA_secretsecretsecret_0abc12';

function issues(raw: unknown): Array<{ path: string; message: string }> {
  try {
    resolveConfig(raw, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('config: matrix', () => {
  it('resolves a token sign-in with autoJoin on by default', () => {
    const { config, warnings } = resolveConfig({ loop, access, matrix: { homeserverUrl: 'https://matrix.example.org/', accessToken: TOKEN } }, {});
    expect(warnings).toEqual([]);
    expect(config.matrix).toEqual({ homeserverUrl: 'https://matrix.example.org', accessToken: TOKEN, userId: null, password: null, autoJoin: true });
  });

  it('resolves a password sign-in', () => {
    const { config } = resolveConfig({ loop, access, matrix: { homeserverUrl: 'https://m.org', userId: '@bot:m.org', password: 'pw', autoJoin: false } }, {});
    expect(config.matrix).toMatchObject({ accessToken: null, userId: '@bot:m.org', password: 'pw', autoJoin: false });
  });

  it('names the key when no way to sign in is given', () => {
    expect(issues({ loop, access, matrix: { homeserverUrl: 'https://m.org' } })).toEqual([
      { path: 'matrix.accessToken', message: expect.stringMatching(/is required .*userId and matrix\.password/) },
    ]);
  });

  it('names the missing half of userId + password', () => {
    expect(issues({ loop, access, matrix: { homeserverUrl: 'https://m.org', userId: '@bot:m.org' } }).map((i) => i.path)).toEqual(['matrix.password']);
    expect(issues({ loop, access, matrix: { homeserverUrl: 'https://m.org', password: 'hunter2' } }).map((i) => i.path)).toEqual(['matrix.userId']);
  });

  it('refuses a malformed homeserver URL and user id', () => {
    const found = issues({ loop, access, matrix: { homeserverUrl: 'matrix.example.org', userId: 'bot', password: 'pw' } });
    expect(found.map((i) => i.path).sort()).toEqual(['matrix.homeserverUrl', 'matrix.userId']);
    expect(found.find((i) => i.path === 'matrix.userId')!.message).toMatch(/@name:server/);
  });

  it('checks Matrix ids in access: users are @name:server, groups are room ids, not aliases', () => {
    const found = issues({
      loop,
      access: { users: ['matrix:ann'], groups: ['matrix:#team:example.org', 'matrix:!AbC123'] },
      matrix: { homeserverUrl: 'https://m.org', accessToken: TOKEN },
    });
    expect(found).toEqual([
      { path: 'access.users[0]', message: expect.stringMatching(/@name:server/) },
      { path: 'access.groups[0]', message: expect.stringMatching(/room id .*not an alias/) },
    ]);
  });

  it('warns about a password next to a token, plain http to a remote host, and no Matrix ids in access', () => {
    const { warnings } = resolveConfig(
      { loop, access: { users: ['console:you'] }, console: {}, matrix: { homeserverUrl: 'http://matrix.example.org', accessToken: TOKEN, userId: '@b:m.org', password: 'pw' } },
      {},
    );
    expect(warnings.map((w) => w.split(':')[0])).toEqual(['matrix.password', 'matrix.homeserverUrl', 'matrix']);
  });

  it('check-config masks the access token and the password', async () => {
    const path = tempFile('m.yaml', `loop: { baseUrl: "https://x.io", token: "${LOOP_TOKEN}" }\naccess: { users: ["matrix:@ann:m.org"] }\nmatrix: { homeserverUrl: "https://m.org", accessToken: "${TOKEN}", userId: "@b:m.org", password: "hunter2hunter2" }\n`);
    const out = capture();
    const err = capture();
    expect(await runCheckConfig(['--config', path], { stdout: out.stream, stderr: err.stream, env: {} })).toBe(0);
    const all = out.text() + err.text();
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('hunter2');
    expect(parse(out.text()).matrix).toMatchObject({ accessToken: '***', password: '***', userId: '@b:m.org' });
  });

  it('the example config, with the matrix block uncommented, starts from a token or from a password in the environment', () => {
    const example = readFileSync(fileURLToPath(new URL('../../config/loopbridge.example.yaml', import.meta.url)), 'utf8');
    const raw = parse(uncommentMatrix(example));
    expect(resolveConfig(raw, { MATRIX_ACCESS_TOKEN: TOKEN }).config.matrix).toMatchObject({ accessToken: TOKEN, autoJoin: true });
    expect(resolveConfig(raw, { MATRIX_USER_ID: '@bot:m.org', MATRIX_PASSWORD: 'pw' }).config.matrix).toMatchObject({ accessToken: null, userId: '@bot:m.org' });
    expect(() => resolveConfig(raw, {})).toThrow(/matrix\.accessToken: is required/);
  });
});
