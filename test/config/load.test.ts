import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, resolveConfig } from '../../src/config/load.js';
import { issuesOf, LOOP_TOKEN, minimal, TG_TOKEN, tempFile } from './helpers.js';

const paths = (raw: unknown, env?: NodeJS.ProcessEnv) => issuesOf(raw, env).map((i) => i.path);

describe('resolveConfig: defaults', () => {
  it('fills every default and resolves absent sections to null', () => {
    const { config, warnings } = resolveConfig({ loop: { baseUrl: 'https://loops.example.com/', token: LOOP_TOKEN }, access: { users: ['telegram:1'] }, telegram: { token: TG_TOKEN } }, {});
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      loop: { baseUrl: 'https://loops.example.com', token: LOOP_TOKEN, permissionMode: 'default', timeoutMs: 30000 },
      store: { path: './data/loopbridge.json', flushDelayMs: 50, url: null },
      replica: { id: expect.stringMatching(new RegExp(`-${process.pid}$`)), leaseTtlMs: 10000 },
      access: { dm: 'allowlist', users: ['telegram:1'], admins: [], groups: [], pairingCodeTtlMs: 3600000, loopTokens: 'shared' },
      routing: { requireMention: true, mentionPatterns: [], maxQueuedPerLoop: 20, maxMessageChars: 100000, whileBusy: 'queue' },
      replies: { editIntervalMs: { direct: 1000, group: 3000 }, showTools: true, showUsage: false, maxTextChars: 1048576 },
      telegram: {
        token: TG_TOKEN,
        apiRoot: 'https://api.telegram.org',
        mode: 'polling',
        webhook: null,
        drafts: false,
        rate: { globalPerSecond: 30, privateChatIntervalMs: 1000, groupChatIntervalMs: 3000, groupPerMinute: 20 },
      },
      slack: null,
      matrix: null,
      console: null,
      ops: { httpPort: null, httpHost: '127.0.0.1', logLevel: 'info', logFormat: 'auto', controlSocket: './data/loopbridge.json.sock', adminToken: null, usageRetentionDays: 90 },
      bindings: [],
    });
  });

  it('treats an empty section (YAML `console:`) as present with defaults', () => {
    const { config } = resolveConfig({ ...minimal(), console: null, replies: null }, {});
    expect(config.console).toEqual({ user: 'you' });
    expect(config.replies.editIntervalMs).toEqual({ direct: 1000, group: 3000 });
  });

  it('makes admins implicitly users, without duplicates', () => {
    const { config } = resolveConfig(minimal({ access: { users: ['console:you', 'slack:U1'], admins: ['slack:U1', 'matrix:@ann:example.org'] } }), {});
    expect(config.access.users).toEqual(['console:you', 'slack:U1', 'matrix:@ann:example.org']);
    expect(config.access.admins).toEqual(['slack:U1', 'matrix:@ann:example.org']);
  });

  it('lets demo mode omit loop.baseUrl (null) but not the token', () => {
    const raw = { loop: { token: LOOP_TOKEN }, access: { users: ['console:you'] }, console: {} };
    expect(paths(raw)).toEqual(['loop.baseUrl']);
    expect(resolveConfig(raw, {}, { demo: true }).config.loop.baseUrl).toBeNull();
    expect(() => resolveConfig({ loop: {} }, {}, { demo: true })).toThrow(/loop\.token: is required/);
  });
});

describe('resolveConfig: errors name the key path and say what to do', () => {
  it('rejects unknown keys with a did-you-mean for near misses and the right section for misplaced keys', () => {
    const issues = issuesOf({ ...minimal(), telegarm: {}, loop: { baseUrl: 'https://x.io', token: LOOP_TOKEN, permisionMode: 'plan' }, access: { requireMention: false }, ops: { zzz: 1 } });
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.message]));
    expect(byPath.telegarm).toMatch(/did you mean "telegram"/);
    expect(byPath['loop.permisionMode']).toMatch(/did you mean "permissionMode"/);
    expect(byPath['access.requireMention']).toMatch(/routing\.requireMention/);
    expect(byPath['ops.zzz']).toMatch(/unknown key .*allowed here: httpPort, httpHost, logLevel, logFormat/);
  });

  it('requires loop.token in the la_ + 48 hex form and never echoes the value', () => {
    const bad = 'la_' + 'G'.repeat(48);
    const issues = issuesOf({ ...minimal(), loop: { baseUrl: 'https://x.io', token: bad } });
    expect(issues).toEqual([{ path: 'loop.token', message: expect.stringMatching(/la_ followed by 48 lowercase hex .* — /) }]);
    try {
      resolveConfig({ ...minimal(), loop: { baseUrl: 'https://x.io', token: bad } }, {});
    } catch (e) {
      expect(String((e as Error).message)).not.toContain(bad);
    }
    expect(paths({ ...minimal(), loop: { baseUrl: 'https://x.io' } })).toEqual(['loop.token']);
    expect(paths({ access: {} })).toEqual(['loop']);
  });

  it('checks value forms: URL, enums, platform ids, Telegram token', () => {
    const raw = {
      loop: { baseUrl: 'ftp://x', token: LOOP_TOKEN, permissionMode: 'yolo' },
      access: { dm: 'closed', users: ['telegram:@bob', 'irc:me'], groups: ['telegram:-100123', 'slack:C1'] },
      telegram: { token: 'nope' },
      ops: { logLevel: 'verbose', logFormat: 'xml' },
    };
    expect(paths(raw).sort()).toEqual(
      ['access.dm', 'access.users[0]', 'access.users[1]', 'loop.baseUrl', 'loop.permissionMode', 'ops.logFormat', 'ops.logLevel', 'telegram.token'].sort(),
    );
    expect(issuesOf(raw).find((i) => i.path === 'access.users[0]')!.message).toMatch(/numbers, not @names/);
    expect(issuesOf(raw).find((i) => i.path === 'loop.permissionMode')!.message).toMatch(/one of default, acceptEdits/);
  });

  it('requires positive whole numbers for times and counts, accepting digit strings from the environment', () => {
    expect(paths(minimal({ store: { flushDelayMs: 0 }, routing: { maxQueuedPerLoop: -1 }, replies: { editIntervalMs: { direct: 1.5 } } }))).toEqual([
      'store.flushDelayMs',
      'routing.maxQueuedPerLoop',
      'replies.editIntervalMs.direct',
    ]);
    expect(paths(minimal({ loop: { baseUrl: 'https://x.io', token: LOOP_TOKEN, timeoutMs: 'soon' } }))).toEqual(['loop.timeoutMs']);
    const { config } = resolveConfig(minimal({ loop: { baseUrl: 'https://x.io', token: LOOP_TOKEN, timeoutMs: '${T}' }, routing: { requireMention: '${RM}' } }), { T: '1500', RM: 'true' });
    expect(config.loop.timeoutMs).toBe(1500);
    expect(config.routing.requireMention).toBe(true);
  });

  it('routing.whileBusy takes queue or steer and names the key otherwise', () => {
    expect(resolveConfig(minimal({ routing: { whileBusy: 'steer' } }), {}).config.routing.whileBusy).toBe('steer');
    expect(issuesOf(minimal({ routing: { whileBusy: 'inject' } }))).toEqual([{ path: 'routing.whileBusy', message: expect.stringMatching(/queue.*steer/) }]);
  });

  it('caps routing.maxMessageChars at the loop server limit', () => {
    expect(issuesOf(minimal({ routing: { maxMessageChars: 2_000_000 } }))).toEqual([
      { path: 'routing.maxMessageChars', message: expect.stringMatching(/1048576/) },
    ]);
    expect(resolveConfig(minimal({ routing: { maxMessageChars: 1_048_576 } }), {}).config.routing.maxMessageChars).toBe(1_048_576);
  });

  it('compiles every mention pattern and names the bad one by index', () => {
    const issues = issuesOf(minimal({ routing: { mentionPatterns: ['\\bbot\\b', '(unclosed', '[z-a]'] } }));
    expect(issues.map((i) => i.path)).toEqual(['routing.mentionPatterns[1]', 'routing.mentionPatterns[2]']);
    expect(issues[0].message).toMatch(/does not compile .* — /);
  });

  it('fails telegram.mode: webhook without telegram.webhook, naming telegram.webhook.url', () => {
    const issues = issuesOf(minimal({ telegram: { token: TG_TOKEN, mode: 'webhook' } }));
    expect(issues.map((i) => i.path)).toEqual(['telegram.webhook.url', 'telegram.webhook.secretToken']);
    expect(issues[0].message).toMatch(/required when telegram.mode is webhook/);
    // Reported together with unrelated schema errors, not only after they are fixed.
    expect(paths(minimal({ store: { flushDelayMs: 0 }, telegram: { token: TG_TOKEN, mode: 'webhook', webhook: { secretToken: 's' } } }))).toEqual([
      'store.flushDelayMs',
      'telegram.webhook.url',
    ]);
  });

  it('resolves a complete webhook section with its defaults', () => {
    const { config, warnings } = resolveConfig(
      minimal({ telegram: { token: TG_TOKEN, mode: 'webhook', webhook: { url: 'https://bot.example.com/tg', secretToken: 'abc_DEF-1' } } }),
      {},
    );
    expect(warnings).toEqual([]);
    expect(config.telegram!.webhook).toEqual({ url: 'https://bot.example.com/tg', secretToken: 'abc_DEF-1', port: 8443, host: '0.0.0.0', path: '/telegram' });
    expect(paths(minimal({ telegram: { token: TG_TOKEN, mode: 'webhook', webhook: { url: 'https://b.io', secretToken: 'has space', path: 'nope', port: 70000 } } }))).toEqual([
      'telegram.webhook.secretToken',
      'telegram.webhook.port',
      'telegram.webhook.path',
    ]);
  });

  it('names the key and variable for an unset ${VAR}, without a second error for the same key', () => {
    const issues = issuesOf({ loop: { baseUrl: '${LOOP_URL}', token: '${LOOP_TOKEN}' }, console: {} });
    expect(issues.map((i) => i.path)).toEqual(['loop.baseUrl', 'loop.token']);
    expect(issues[0].message).toMatch(/LOOP_URL.*not set/);
    expect(issues[1].message).toMatch(/LOOP_TOKEN.*not set/);
  });

  it('rejects an empty file or a non-mapping', () => {
    expect(issuesOf(null)).toEqual([{ path: '', message: expect.stringMatching(/empty/) }]);
    expect(issuesOf([1, 2])).toEqual([{ path: '', message: expect.stringMatching(/mapping/) }]);
  });
});

describe('resolveConfig: warnings for no-effect combinations', () => {
  const warningsOf = (raw: unknown) => resolveConfig(raw, {}).warnings;

  it('warns when access.dm is open and access.users is listed', () => {
    expect(warningsOf(minimal({ access: { dm: 'open', users: ['console:you'] } }))).toEqual([expect.stringMatching(/^access\.users: has no effect on direct messages/)]);
    expect(warningsOf(minimal({ access: { dm: 'open' } }))).toEqual([]);
  });

  it('warns when requireMention is false and no groups are listed', () => {
    expect(warningsOf(minimal({ routing: { requireMention: false } }))).toEqual([
      expect.stringMatching(/^routing\.requireMention: .*every message in every group/),
    ]);
    expect(warningsOf(minimal({ routing: { requireMention: false }, access: { users: ['console:you'], groups: ['telegram:-100123'] } }))).toEqual([]);
  });

  it('warns when telegram.webhook is set with mode polling, and resolves webhook to null', () => {
    const r = resolveConfig(minimal({ telegram: { token: TG_TOKEN, webhook: { url: 'https://b.io' } } }), {});
    expect(r.warnings).toEqual([expect.stringMatching(/^telegram\.webhook: has no effect while telegram\.mode is polling/)]);
    expect(r.config.telegram!.webhook).toBeNull();
  });

  it('warns about other settings that cannot take effect', () => {
    const w = warningsOf({
      loop: { baseUrl: 'http://loops.example.com/api/v1', token: LOOP_TOKEN },
      access: { pairingCodeTtlMs: 60000 },
      routing: { mentionPatterns: ['.*'] },
      ops: { httpHost: '0.0.0.0' },
    });
    const keys = w.map((s) => s.split(':')[0]);
    expect(keys).toEqual(['access', 'access.pairingCodeTtlMs', 'routing.mentionPatterns[0]', 'loop.baseUrl', 'loop.baseUrl', '(file)', 'ops.httpHost']);
    expect(warningsOf(minimal({ access: {} }))).toEqual([
      expect.stringMatching(/refuse everyone/),
      expect.stringMatching(/^console\.user: console:you is not in access\.users/),
    ]);
  });
});

describe('loadConfig', () => {
  it('reads YAML with env substitution', () => {
    const path = tempFile('c.yaml', `loop:\n  baseUrl: \${URL:-http://127.0.0.1:9}\n  token: \${TOKEN}\naccess:\n  users: [console:you]\nconsole:\n`);
    const { config } = loadConfig(path, { TOKEN: LOOP_TOKEN });
    expect(config.loop).toMatchObject({ baseUrl: 'http://127.0.0.1:9', token: LOOP_TOKEN });
    expect(config.console).toEqual({ user: 'you' });
  });

  it('accepts JSON by extension and by content', () => {
    const json = JSON.stringify(minimal(), null, '\t');
    expect(loadConfig(tempFile('c.json', json), {}).config.loop.token).toBe(LOOP_TOKEN);
    expect(loadConfig(tempFile('c.conf', json), {}).config.access.users).toEqual(['console:you']);
  });

  it('reports a syntax error by line and column without quoting the file', () => {
    const path = tempFile('c.yaml', `loop:\n  token: ${LOOP_TOKEN}\n  baseUrl: [unclosed\n`);
    let err: ConfigError | undefined;
    try {
      loadConfig(path, {});
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.code).toBe('syntax');
    expect(err!.message).toMatch(/line \d+, column \d+/);
    expect(err!.message).not.toContain(LOOP_TOKEN);
  });

  it('rejects duplicate keys', () => {
    const path = tempFile('c.yaml', `loop:\n  token: x\n  token: y\n`);
    expect(() => loadConfig(path, {})).toThrow(/line 3/);
  });

  it('names the path of a file it cannot read', () => {
    const missing = '/nonexistent/loopbridge.yaml';
    expect(() => loadConfig(missing, {})).toThrow(ConfigError);
    try {
      loadConfig(missing, {});
    } catch (e) {
      expect((e as ConfigError).code).toBe('unreadable');
      expect((e as Error).message).toContain(missing);
      expect((e as Error).message).toContain('no such file');
    }
  });
});

describe('resolveConfig: slack', () => {
  const BOT = 'xoxb-1-abc-DEF';
  const APP = 'xapp-1-A1-2-abc';

  it('defaults to socket mode and names a missing app token by its key', () => {
    expect(() => resolveConfig(minimal({ slack: { botToken: BOT } }), {})).toThrow(/slack\.appToken: is required when slack\.mode is socket/);
    const { config, warnings } = resolveConfig(minimal({ slack: { botToken: BOT, appToken: APP } }), {});
    expect(config.slack).toEqual({ botToken: BOT, appToken: APP, signingSecret: null, mode: 'socket', port: 3000, host: '0.0.0.0', apiUrl: 'https://slack.com/api/', threadFollow: true });
    expect(warnings).toEqual([]);
  });

  it('http mode needs the signing secret; keys of the other mode warn; tokens of the wrong kind are refused', () => {
    expect(() => resolveConfig(minimal({ slack: { botToken: BOT, mode: 'http' } }), {})).toThrow(/slack\.signingSecret: is required when slack\.mode is http/);
    const { config, warnings } = resolveConfig(minimal({ slack: { botToken: BOT, appToken: APP, mode: 'http', signingSecret: 's3cret', port: 0, apiUrl: 'http://127.0.0.1:9/api' } }), {});
    expect(config.slack).toMatchObject({ mode: 'http', signingSecret: 's3cret', appToken: null, port: 0, apiUrl: 'http://127.0.0.1:9/api/' });
    expect(warnings.some((w) => w.startsWith('slack.appToken: has no effect while slack.mode is http'))).toBe(true);
    expect(() => resolveConfig(minimal({ slack: { botToken: APP, appToken: BOT } }), {})).toThrow(/slack\.botToken: is not a Slack bot token[\s\S]*slack\.appToken: is not a Slack app-level token/);
  });

  it('never shows a Slack secret in an error', () => {
    try {
      resolveConfig(minimal({ slack: { botToken: 'xoxp-user-token-secret', signingSecret: 'topsecretvalue', mode: 'http', port: 'x' } }), {});
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toMatch(/xoxp-user-token-secret|topsecretvalue/);
    }
  });
});
