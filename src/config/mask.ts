// Secret masking for anything that prints a config (check-config, startup logs).
import type { Config } from './schema.js';

const SECRET_PATTERN = /token|secret|password/i;
/** Keys whose names look secret but hold a setting (`access.loopTokens: per-user`). */
const NOT_SECRET = new Set(['loopTokens']);
const isSecretKey = (key: string) => SECRET_PATTERN.test(key) && !NOT_SECRET.has(key);
// A Loop API token is recognisable anywhere, even under an innocent key or inside a URL.
const LOOP_TOKEN_ANYWHERE = /la_[0-9a-f]{48}/g;

/** Replaces a secret value with a hint that keeps only a non-secret prefix (`la_…(masked)`) or `***`. */
function maskValue(value: unknown): unknown {
  if (typeof value !== 'string' || value === '') return value === undefined || value === null ? value : '***';
  if (value.startsWith('la_')) return 'la_…(masked)';
  // A Telegram token's part before the colon is the bot's public user id; the rest is the secret.
  const tg = /^(\d+):/.exec(value);
  if (tg) return `${tg[1]}:…(masked)`;
  // Slack tokens: the kind (xoxb- bot, xapp- app-level) tells which one is set; the rest is the secret.
  const slack = /^(xoxb-|xapp-)/.exec(value);
  if (slack) return `${slack[1]}…(masked)`;
  return '***';
}

/** Shortest configured secret we replace in free text: shorter ones would mangle every message. */
const MIN_SCRUB_LENGTH = 4;

/**
 * Every secret value in a resolved config: the values under keys containing `token`, `secret` or `password`
 * (and the secret half of a Telegram bot token), plus passwords in URL userinfo. Longest first.
 */
export function secretValues(config: Config | Record<string, unknown>): string[] {
  const found = new Set<string>();
  const add = (v: string) => {
    if (v.length >= MIN_SCRUB_LENGTH) found.add(v);
  };
  const visit = (value: unknown, secretKey: boolean): void => {
    if (typeof value === 'string') {
      if (secretKey) {
        add(value);
        const tg = /^\d+:(.+)$/.exec(value);
        if (tg) add(tg[1]);
      }
      const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/@\s]+)@/i.exec(value);
      if (userinfo) {
        add(userinfo[1]);
        const pass = userinfo[1].split(':')[1];
        if (pass) add(pass);
      }
      for (const m of value.matchAll(/[?&](?:ssl)?password=([^&#\s]+)/gi)) add(decodeURIComponent(m[1]));
    } else if (Array.isArray(value)) {
      for (const v of value) visit(v, secretKey);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, secretKey || isSecretKey(k));
    }
  };
  visit(config, false);
  return [...found].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each secret (as is and URL-encoded) in `text` with `***`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    out = out.split(s).join('***');
    const encoded = encodeURIComponent(s);
    if (encoded !== s) out = out.split(encoded).join('***');
  }
  return out;
}

/**
 * Replaces every Loop API token in `text` (any `la_` + 48 hex, configured or not: people's linked tokens
 * with access.loopTokens per-user are not in the config) with `la_…(masked)`.
 */
export function scrubLoopTokens(text: string): string {
  return text.replace(LOOP_TOKEN_ANYWHERE, 'la_…(masked)');
}

function maskString(s: string, secrets: readonly string[]): string {
  let out = scrubLoopTokens(scrubSecrets(s, secrets));
  // Credentials in a URL's userinfo (`https://user:pass@host`) are secrets too, and so is a
  // `password=` query parameter (PostgreSQL URLs accept one).
  out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/i, '$1***@');
  out = out.replace(/([?&](?:ssl)?password=)[^&#\s]*/gi, '$1***');
  return out;
}

function walk(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return maskString(value, secrets);
  if (Array.isArray(value)) return value.map((v) => walk(v, secrets));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (!isSecretKey(k)) out[k] = walk(v, secrets);
      else if (Array.isArray(v)) out[k] = v.map(maskValue);
      else out[k] = typeof v === 'object' && v !== null ? walk(v, secrets) : maskValue(v);
    }
    return out;
  }
  return value;
}

/**
 * A deep copy of `config` safe to print: values under keys containing `token`, `secret` or `password`
 * become `***` or a prefix hint (`la_…(masked)`, `123456:…(masked)`); any of those values found inside
 * another string (a bot token in `telegram.webhook.url`), Loop tokens and URL credentials become `***`
 * too. The input is not modified.
 */
export function maskSecrets(config: Config): unknown {
  return walk(config, secretValues(config));
}
