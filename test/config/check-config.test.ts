import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runCheckConfig } from '../../src/config/check-config.js';
import { capture, LOOP_TOKEN, tempFile, uncommentSlack, uncommentTelegram } from './helpers.js';

const EXAMPLE = fileURLToPath(new URL('../../config/loopbridge.example.yaml', import.meta.url));

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const out = capture();
  const err = capture();
  const code = await runCheckConfig(argv, { stdout: out.stream, stderr: err.stream, env });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('check-config', () => {
  it('slack: names the missing token of the chosen mode, masks the tokens it prints, and takes the example block', async () => {
    const head = `loop: { baseUrl: "https://x.io", token: "${LOOP_TOKEN}" }\naccess: { users: [slack:U1] }\n`;
    const socket = await run(['-c', tempFile('s.yaml', `${head}slack: { botToken: "xoxb-1-secretpart" }\n`)]);
    expect(socket.code).toBe(2);
    expect(socket.stderr).toMatch(/slack\.appToken: is required when slack\.mode is socket/);
    const http = await run(['-c', tempFile('h.yaml', `${head}slack: { botToken: "xoxb-1-secretpart", mode: http }\n`)]);
    expect(http.stderr).toMatch(/slack\.signingSecret: is required when slack\.mode is http/);
    const ok = await run(['-c', tempFile('o.yaml', `${head}slack: { botToken: "xoxb-1-secretpart", appToken: "xapp-1-appsecret" }\n`)]);
    expect(ok.code).toBe(0);
    expect(parse(ok.stdout).slack).toMatchObject({ botToken: 'xoxb-…(masked)', appToken: 'xapp-…(masked)', mode: 'socket' });
    expect(ok.stdout + ok.stderr).not.toMatch(/secretpart|appsecret/);
    const example = await run(['-c', tempFile('e.yaml', uncommentSlack(readFileSync(EXAMPLE, 'utf8')))], { SLACK_BOT_TOKEN: 'xoxb-1-x', SLACK_APP_TOKEN: 'xapp-1-y', SLACK_SIGNING_SECRET: 'z' });
    expect(example.code).toBe(0);
    expect(example.stderr).toMatch(/slack\.signingSecret: has no effect while slack\.mode is socket/);
  });

  it('passes the example config with no environment variables set, printing resolved YAML', async () => {
    const r = await run(['--config', EXAMPLE]);
    expect(r.stderr).not.toMatch(/warning/);
    expect(r.code).toBe(0);
    const printed = parse(r.stdout);
    expect(printed.loop.token).toBe('la_…(masked)');
    expect(printed.loop.timeoutMs).toBe(30000);
    expect(printed.ops.httpPort).toBeNull();
    expect(printed.telegram).toBeNull();
  });

  it('masks the token in its output and substitutes the environment', async () => {
    const path = tempFile('c.yaml', `loop: { baseUrl: "https://x.io", token: "\${T}" }\naccess: { users: [console:you] }\nconsole: {}\n`);
    const r = await run([`--config=${path}`], { T: LOOP_TOKEN });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(LOOP_TOKEN);
  });

  it('masks a Telegram token that appears inside telegram.webhook.url', async () => {
    const tg = '123456789:' + 'AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr';
    const path = tempFile(
      'c.yaml',
      `loop: { baseUrl: "https://x.io", token: "${LOOP_TOKEN}" }\naccess: { users: [console:you] }\nconsole: {}\n` +
        `telegram: { token: "\${TG}", mode: webhook, webhook: { url: "https://bot.example.com/hook/\${TG}", secretToken: "s3cr3t_hook" } }\n`,
    );
    const r = await run(['--config', path], { TG: tg });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('url: https://bot.example.com/hook/***');
    for (const s of [tg, tg.split(':')[1], 's3cr3t_hook', LOOP_TOKEN]) expect(r.stdout + r.stderr).not.toContain(s);
  });

  it('prints warnings on stderr and still returns 0', async () => {
    const path = tempFile('c.yaml', `loop: { baseUrl: "https://x.io", token: "${LOOP_TOKEN}" }\naccess: { dm: open, users: [console:you] }\nconsole: {}\n`);
    const r = await run(['-c', path]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: access\.users: /m);
  });

  it('returns 2 naming each bad key path, never the token', async () => {
    const bad = 'la_' + 'Z'.repeat(48);
    const path = tempFile('c.yaml', `loop:\n  baseUrl: https://x.io\n  token: ${bad}\n  timeoutMs: -5\nrouting:\n  requireMentoin: false\n`);
    const r = await run(['--config', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ {2}loop\.token: /m);
    expect(r.stderr).toMatch(/^ {2}loop\.timeoutMs: /m);
    expect(r.stderr).toMatch(/^ {2}routing\.requireMentoin: unknown key — did you mean "requireMention"\?/m);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain(bad);
  });

  it('names the --config flag when it is missing or has no value', async () => {
    for (const argv of [[], ['--config']]) {
      const r = await run(argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--config/);
    }
  });

  it('names the path of an unreadable file', async () => {
    const r = await run(['--config', '/nonexistent/dir/lb.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/nonexistent/dir/lb.yaml');
    expect(r.stderr).toMatch(/no such file/);
  });

  it('rejects unknown arguments', async () => {
    const r = await run(['--config', EXAMPLE, '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--frobnicate/);
  });

  it('the example, with its telegram block uncommented, also passes', async () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const r = await run(['--config', tempFile('tg.yaml', uncommentTelegram(text))], { TELEGRAM_BOT_TOKEN: '42:' + 'x'.repeat(35), TELEGRAM_WEBHOOK_SECRET: 's3cret' });
    expect(r.stderr).not.toMatch(/warning/);
    expect(r.code).toBe(0);
    const printed = parse(r.stdout);
    expect(printed.telegram).toMatchObject({ token: '42:…(masked)', mode: 'polling', webhook: null, rate: { groupPerMinute: 20 } });
  });

  it('the example, with its webhook lines uncommented too, passes in webhook mode', async () => {
    const text = uncommentTelegram(readFileSync(EXAMPLE, 'utf8'), { webhook: true });
    const env = { TELEGRAM_BOT_TOKEN: '42:' + 'x'.repeat(35), TELEGRAM_WEBHOOK_SECRET: 's3cret' };
    const r = await run(['--config', tempFile('wh.yaml', text)], env);
    expect(r.stderr).not.toMatch(/warning/);
    expect(r.code).toBe(0);
    expect(parse(r.stdout).telegram.webhook).toEqual({ url: 'https://bot.example.com/telegram', secretToken: '***', port: 8443, host: '0.0.0.0', path: '/telegram' });
    // Without the secret in the environment, the error names the key and the variable.
    const bad = await run(['--config', tempFile('wh.yaml', text)], { TELEGRAM_BOT_TOKEN: env.TELEGRAM_BOT_TOKEN });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/telegram\.webhook\.secretToken: .*TELEGRAM_WEBHOOK_SECRET/);
  });
});
