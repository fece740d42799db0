// Logs never carry a configured secret, whatever field or message it hides in.

import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/ops/logging.js';
import { capture, LOOP_TOKEN, TG_TOKEN } from '../config/helpers.js';

describe('logger', () => {
  it('scrubs every configured secret from messages, nested fields and errors, in JSON and pretty output', () => {
    for (const format of ['json', 'pretty'] as const) {
      const out = capture();
      const log = createLogger({ level: 'info', format, stream: out.stream, secrets: [LOOP_TOKEN, TG_TOKEN, 'hook_secret_123'] });
      log.info({ url: `https://bot.example.com/tg/${TG_TOKEN}`, nested: { deeper: { header: `Bearer ${LOOP_TOKEN}` } } }, `set webhook with hook_secret_123`);
      log.warn({ err: String(new Error(`GET /bot${encodeURIComponent(TG_TOKEN)}/getMe failed`)) }, 'telegram');
      const text = out.text();
      expect(text).toContain('set webhook with');
      expect(text).toContain('https://bot.example.com/tg/');
      for (const s of [LOOP_TOKEN, TG_TOKEN, TG_TOKEN.split(':')[1], encodeURIComponent(TG_TOKEN), 'hook_secret_123']) expect(text, format).not.toContain(s);
    }
  });

  it('scrubs any Loop API token, also one that is in no config (a person\'s linked token)', () => {
    const linked = `la_${'ab12'.repeat(12)}`;
    for (const format of ['json', 'pretty'] as const) {
      const out = capture();
      const log = createLogger({ level: 'info', format, stream: out.stream });
      log.info({ text: `/link ${linked}`, nested: { err: `401 for Bearer ${linked}` } }, `received /link ${linked}`);
      const text = out.text();
      expect(text).toContain('/link la_…(masked)');
      expect(text, format).not.toContain(linked);
      expect(text, format).not.toContain(linked.slice(3));
    }
  });
});
