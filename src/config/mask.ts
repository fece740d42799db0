// Secret masking for anything that prints a config (check-config, startup logs).
import type { Config } from './schema.js';

const SECRET_KEY = /token|secret|password/i;
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

function maskString(s: string): string {
  let out = s.replace(LOOP_TOKEN_ANYWHERE, 'la_…(masked)');
  // Credentials in a URL's userinfo (`https://user:pass@host`) are secrets too.
  out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/i, '$1***@');
  return out;
}

function walk(value: unknown): unknown {
  if (typeof value === 'string') return maskString(value);
  if (Array.isArray(value)) return value.map(walk);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (!SECRET_KEY.test(k)) out[k] = walk(v);
      else if (Array.isArray(v)) out[k] = v.map(maskValue);
      else out[k] = typeof v === 'object' && v !== null ? walk(v) : maskValue(v);
    }
    return out;
  }
  return value;
}

/**
 * A deep copy of `config` safe to print: values under keys containing `token`, `secret` or `password`
 * become `***` or a prefix hint (`la_…(masked)`, `123456:…(masked)`); Loop tokens and URL credentials
 * found in any other string are masked too. The input is not modified.
 */
export function maskSecrets(config: Config): unknown {
  return walk(config);
}
