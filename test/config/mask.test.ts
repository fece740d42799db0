import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.js';
import { maskSecrets, scrubSecrets, secretValues } from '../../src/config/mask.js';
import { LOOP_TOKEN, minimal, TG_TOKEN } from './helpers.js';

describe('maskSecrets', () => {
  const { config } = resolveConfig(
    minimal({
      telegram: { token: TG_TOKEN, mode: 'webhook', webhook: { url: 'https://user:hunter2@bot.example.com/tg', secretToken: 'webhook_secret_value' } },
    }),
    {},
  );

  it('never shows a token or secret, anywhere in the output', () => {
    const text = JSON.stringify(maskSecrets(config));
    for (const secret of [LOOP_TOKEN, TG_TOKEN, TG_TOKEN.split(':')[1], 'webhook_secret_value', 'hunter2']) {
      expect(text).not.toContain(secret);
    }
  });

  it('leaves a hint of which token it was', () => {
    const masked = maskSecrets(config) as typeof config;
    expect(masked.loop.token).toBe('la_…(masked)');
    expect(masked.telegram!.token).toBe('123456789:…(masked)');
    expect(masked.telegram!.webhook!.secretToken).toBe('***');
    expect(masked.telegram!.webhook!.url).toBe('https://***@bot.example.com/tg');
  });

  it('keeps everything else and does not modify the input', () => {
    const masked = maskSecrets(config) as typeof config;
    expect(masked.access).toEqual(config.access);
    expect(masked.loop.baseUrl).toBe(config.loop.baseUrl);
    expect(config.loop.token).toBe(LOOP_TOKEN);
  });

  it('masks a Loop token found under an innocent key too', () => {
    const sneaky = { ...config, store: { ...config.store, path: `/data/${LOOP_TOKEN}.json` } };
    expect(JSON.stringify(maskSecrets(sneaky))).not.toContain(LOOP_TOKEN);
  });
});

describe('every configured secret, wherever it appears', () => {
  const { config: withTokenInUrl } = resolveConfig(
    minimal({
      telegram: {
        token: TG_TOKEN,
        mode: 'webhook',
        // Some operators put the bot token in the webhook path, as Telegram's own examples do.
        webhook: { url: `https://bot.example.com/tg/${TG_TOKEN}?k=${encodeURIComponent(TG_TOKEN)}`, secretToken: 'hook_secret_123' },
      },
      store: { path: './data/hook_secret_123.json' },
    }),
    {},
  );

  it('a Telegram token inside telegram.webhook.url is masked in the printed config', () => {
    const text = JSON.stringify(maskSecrets(withTokenInUrl));
    expect(text).not.toContain(TG_TOKEN.split(':')[1]);
    expect(text).not.toContain(encodeURIComponent(TG_TOKEN));
    expect(text).not.toContain('hook_secret_123');
    expect((maskSecrets(withTokenInUrl) as typeof withTokenInUrl).telegram!.webhook!.url).toMatch(/^https:\/\/bot\.example\.com\/tg\//);
  });

  it('secretValues lists each secret (and the secret half of a bot token); scrubSecrets removes them from any text', () => {
    const secrets = secretValues(withTokenInUrl);
    expect(secrets).toEqual(expect.arrayContaining([LOOP_TOKEN, TG_TOKEN, TG_TOKEN.split(':')[1], 'hook_secret_123']));
    const text = `failed: POST https://api.telegram.org/bot${TG_TOKEN}/setWebhook url=${encodeURIComponent(TG_TOKEN)} auth=Bearer ${LOOP_TOKEN} secret hook_secret_123`;
    const clean = scrubSecrets(text, secrets);
    for (const s of secrets) expect(clean).not.toContain(s);
    expect(clean).not.toContain(encodeURIComponent(TG_TOKEN));
    expect(clean).toContain('https://api.telegram.org/bot');
  });
});
