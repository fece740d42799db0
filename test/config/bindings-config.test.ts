// `bindings:`, `access.loopTokens`, `ops.adminToken` and `ops.usageRetentionDays` in the config: validated with
// key paths, no-effect combinations warned about, secrets masked by check-config.

import { describe, expect, it } from 'vitest';
import { runCheckConfig } from '../../src/config/index.js';
import { resolveConfig } from '../../src/config/load.js';
import { capture, issuesOf, LOOP_TOKEN, minimal, tempFile, TG_TOKEN } from './helpers.js';

const LOOP_ID = 'loop_3a91ce5e-9c2f-4b4e-8f0a-1d2c3b4a5f60';
const withTelegram = (extra: Record<string, unknown>) => minimal({ telegram: { token: TG_TOKEN }, ...extra });

describe('bindings', () => {
  it('takes the issue\'s shape: flat keys per entry, an id (a YAML number too) or a /regex/, optional thread', () => {
    const { config, warnings } = resolveConfig(
      withTelegram({
        bindings: [
          { platform: 'telegram', chat: -1001234567890, repo: 'acme/api', permissionMode: 'acceptEdits', title: '{chat}: {message}' },
          { platform: 'telegram', chat: '/^-100/', thread: '42', profiles: ['backend'], vault: 'team', metadata: { team: 'api' }, requireMention: false, mentionPatterns: ['\\bbot\\b'], mirror: true },
          { platform: 'console', chat: 'you', loopId: LOOP_ID },
        ],
      }),
      {},
    );
    expect(warnings).toEqual([]);
    expect(config.bindings[0]).toEqual({ platform: 'telegram', chat: '-1001234567890', repo: 'acme/api', permissionMode: 'acceptEdits', title: '{chat}: {message}' });
    expect(config.bindings[1]).toMatchObject({ chat: '/^-100/', thread: '42', mirror: true });
    expect(config.bindings[2].loopId).toBe(LOOP_ID);
    expect(resolveConfig(minimal(), {}).config.bindings).toEqual([]);
    expect(resolveConfig(minimal({ bindings: null }), {}).config.bindings).toEqual([]);
  });

  it('names every bad key by its path and says what to do', () => {
    const issues = issuesOf(
      minimal({
        bindings: [
          { chat: '1' },
          { platform: 'irc', chat: '' },
          { platform: 'slack', chat: '/([/', title: 'for {user}', loopId: 'loop_123', permissionMode: 'yolo' },
          { platform: 'slack', chat: 'C1', permisionMode: 'plan', repository: 'acme/api', mentionPatterns: ['('], whileBusy: 'later', metadata: ['x'], profiles: 'backend' },
        ],
      }),
    );
    const at = (path: string) => issues.find((i) => i.path === path)?.message;
    expect(at('bindings[0].platform')).toMatch(/must be one of telegram, slack, matrix, console/);
    expect(at('bindings[1].platform')).toMatch(/must be one of/);
    expect(at('bindings[1].chat')).toMatch(/must not be empty/);
    expect(at('bindings[2].chat')).toMatch(/\/regex\/ that does not compile/);
    expect(at('bindings[2].title')).toMatch(/unknown placeholder \{user\} — use \{platform\}, \{chat\}, \{sender\}, \{message\}/);
    expect(at('bindings[2].loopId')).toMatch(/is not a loop id \(loop_ followed by a UUID\)/);
    expect(at('bindings[2].permissionMode')).toMatch(/must be one of default, acceptEdits/);
    expect(at('bindings[3].permisionMode')).toBe('unknown key — did you mean "permissionMode"?');
    expect(at('bindings[3].repository')).toMatch(/^unknown key — remove it or check the spelling; allowed here: platform, chat, thread, title, repo,/);
    expect(at('bindings[3].mentionPatterns[0]')).toMatch(/does not compile/);
    expect(at('bindings[3].whileBusy')).toMatch(/must be one of queue, steer/);
    expect(at('bindings[3].metadata')).toMatch(/must be a mapping/);
    expect(at('bindings[3].profiles')).toMatch(/must be a list of profile names/);
    expect(issuesOf(minimal({ bindings: { platform: 'slack' } }))[0]).toMatchObject({ path: 'bindings', message: expect.stringContaining('must be a list of bindings') });
  });

  it('warns about bindings that cannot do what they say', () => {
    const { warnings } = resolveConfig(
      withTelegram({
        bindings: [
          { platform: 'telegram', chat: '-1', loopId: LOOP_ID, repo: 'acme/api' },
          { platform: 'telegram', chat: '-2', metadata: { platform: 'x', team: 'api' }, mentionPatterns: ['.*'] },
          { platform: 'telegram', chat: '-1', repo: 'acme/web' },
          { platform: 'slack', chat: 'C1' },
        ],
      }),
      {},
    );
    expect(warnings).toEqual([
      'bindings[0].repo: has no effect with bindings[0].loopId (that loop exists already) — remove one of them',
      'bindings[1].metadata.platform: is set by the bridge on every loop, so this value is overridden — use another key',
      "bindings[1].mentionPatterns[0]: matches an empty string, so every message there counts as a mention — anchor it to the bot's name",
      'bindings[2]: never applies — bindings[0] matches the same chat first (the first match wins); reorder them or remove one',
      'bindings[3].platform: no slack: section is configured, so this binding never applies — add the section or remove the binding',
    ]);
  });
});

describe('access.loopTokens and the admin API', () => {
  it('per-user is a setting (not masked, not a secret); without LOOPBRIDGE_SECRET_KEY check-config warns', () => {
    const raw = minimal({ access: { users: ['console:you'], loopTokens: 'per-user' } });
    expect(resolveConfig(raw, { LOOPBRIDGE_SECRET_KEY: 'k' }).warnings).toEqual([]);
    expect(resolveConfig(raw, {}).warnings).toEqual([expect.stringMatching(/^access\.loopTokens: per-user keeps linked tokens encrypted with LOOPBRIDGE_SECRET_KEY, which is not set here/)]);
    expect(issuesOf(minimal({ access: { loopTokens: 'mine' } }))).toEqual([{ path: 'access.loopTokens', message: 'must be one of shared, per-user' }]);
  });

  it('ops.adminToken: long enough, masked, and warned about where it has no effect or is exposed', async () => {
    expect(issuesOf(minimal({ ops: { adminToken: 'short' } }))).toEqual([{ path: 'ops.adminToken', message: expect.stringContaining('at least 24 characters') }]);
    const token = 'adm_' + 'x'.repeat(40);
    expect(resolveConfig(minimal({ ops: { adminToken: token } }), {}).warnings).toEqual([expect.stringMatching(/^ops\.adminToken: has no effect while ops\.httpPort is not set/)]);
    expect(resolveConfig(minimal({ ops: { adminToken: token, httpPort: 9090, httpHost: '0.0.0.0' } }), {}).warnings).toEqual([expect.stringMatching(/^ops\.httpHost: 0\.0\.0\.0 exposes the admin API/)]);
    expect(resolveConfig(minimal({ ops: { adminToken: token, httpPort: 9090 } }), {}).config.ops).toMatchObject({ adminToken: token, httpHost: '127.0.0.1', usageRetentionDays: 90 });

    const out = capture();
    const err = capture();
    const file = tempFile('c.yaml', `loop: { baseUrl: "https://loops.example.com", token: "${LOOP_TOKEN}" }\naccess: { users: [console:you], loopTokens: per-user }\nconsole: {}\nops: { httpPort: 9090, adminToken: "${token}", usageRetentionDays: 30 }\n`);
    expect(await runCheckConfig(['--config', file], { stdout: out.stream, stderr: err.stream, env: { LOOPBRIDGE_SECRET_KEY: 'set' } })).toBe(0);
    expect(out.text()).not.toContain(token);
    expect(out.text()).toContain('adminToken: "***"');
    expect(out.text()).toContain('loopTokens: per-user');
    expect(out.text()).toContain('usageRetentionDays: 30');
  });
});
