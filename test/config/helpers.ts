// Shared fixtures for the config tests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'vitest';
import { ConfigError, resolveConfig } from '../../src/config/load.js';

/** A syntactically valid Loop token (never a real one). */
export const LOOP_TOKEN = 'la_' + '0123456789abcdef'.repeat(3);
/** A syntactically valid Telegram bot token (never a real one). */
export const TG_TOKEN = '123456789:' + 'AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr';

/** The smallest config that resolves without warnings. */
export function minimal(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    loop: { baseUrl: 'https://loops.example.com', token: LOOP_TOKEN },
    access: { users: ['console:you'] },
    console: {},
    ...extra,
  };
}

/** Writes `text` to a fresh temp file named `name` and returns its path. */
export function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'loopbridge-config-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A writable stream that remembers what was written. */
export function capture(): { stream: Writable; text: () => string } {
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      buf += String(chunk);
      done();
    },
  });
  return { stream, text: () => buf };
}

/** One step of the example's own uncomment rule: drop a leading "# ", or one "#" from a "##" line. */
function uncommentLine(l: string): string {
  return l.startsWith('# ') ? l.slice(2) : l.startsWith('##') ? l.slice(1) : l;
}

/**
 * Follows the example's instructions: uncomment the telegram block once; with `webhook`, also set
 * `mode: webhook` and uncomment the webhook lines (those starting "# #") a second time.
 */
export function uncommentTelegram(text: string, opts: { webhook?: boolean } = {}): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('# --- telegram'));
  const end = lines.findIndex((l) => l.startsWith('# --- end telegram'));
  if (start < 0 || end <= start) throw new Error('telegram block markers not found in the example');
  return lines
    .map((l, i) => {
      if (i <= start || i >= end) return l;
      let out = uncommentLine(l);
      if (opts.webhook && l.startsWith('# #')) out = uncommentLine(out);
      if (opts.webhook && out === '  mode: polling') out = '  mode: webhook';
      return out;
    })
    .join('\n');
}

/** The issues resolveConfig throws for `raw` (fails the test if it does not throw). */
export function issuesOf(raw: unknown, env: NodeJS.ProcessEnv = {}): Array<{ path: string; message: string }> {
  try {
    resolveConfig(raw, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

/** Uncomments the example's slack block (between its `# --- slack` and `# --- end slack` markers) once. */
export function uncommentSlack(text: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('# --- slack'));
  const end = lines.findIndex((l) => l.startsWith('# --- end slack'));
  if (start < 0 || end <= start) throw new Error('slack block markers not found in the example');
  return lines.map((l, i) => (i <= start || i >= end ? l : uncommentLine(l))).join('\n');
}

/** Uncomments the example's matrix block once (its instructions). */
export function uncommentMatrix(text: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('# --- matrix'));
  const end = lines.findIndex((l) => l.startsWith('# --- end matrix'));
  if (start < 0 || end <= start) throw new Error('matrix block markers not found in the example');
  return lines.map((l, i) => (i <= start || i >= end ? l : uncommentLine(l))).join('\n');
}
