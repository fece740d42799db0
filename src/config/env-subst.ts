// `${VAR}` substitution over the parsed tree (string values only, never keys). Working on parsed values
// rather than the raw text means an env value can never change the file's YAML structure, and every
// problem can name the key path it sits under.
import { formatPath, type ConfigIssue } from './schema.js';

/** Result of {@link substituteEnv}: the substituted tree and any problems (unset variables, bad syntax). */
export interface SubstituteResult {
  value: unknown;
  issues: ConfigIssue[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A value that is exactly one reference which comes out empty is treated as absent, so
// `httpPort: ${PORT:-}` means "unset unless PORT is set".
const WHOLE = /^\$\{[^}]*\}$/;
const ABSENT = Symbol('absent');

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string value. `${NAME}` with NAME unset is an issue;
 * `:-` uses the default when NAME is unset or empty (as in POSIX sh). `$${` writes a literal `${`.
 * Substituted text is not substituted again. Messages name variables, never their values.
 */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv = process.env): SubstituteResult {
  const issues: ConfigIssue[] = [];
  const walk = (v: unknown, path: Array<string | number>): unknown => {
    if (typeof v === 'string') return substituteString(v, env, path, issues);
    if (Array.isArray(v)) {
      return v.map((item, i) => walk(item, [...path, i])).filter((item) => item !== ABSENT);
    }
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        const r = walk(item, [...path, k]);
        if (r !== ABSENT) out[k] = r;
      }
      return out;
    }
    return v;
  };
  return { value: walk(value, []), issues };
}

function substituteString(
  s: string,
  env: NodeJS.ProcessEnv,
  path: Array<string | number>,
  issues: ConfigIssue[],
): string | typeof ABSENT {
  if (!s.includes('${')) return s;
  const where = formatPath(path);
  let out = '';
  let i = 0;
  while (i < s.length) {
    const start = s.indexOf('${', i);
    if (start < 0) {
      out += s.slice(i);
      break;
    }
    if (start > 0 && s[start - 1] === '$') {
      // `$${` is the escape for a literal `${`: drop one `$`.
      out += s.slice(i, start - 1) + '${';
      i = start + 2;
      continue;
    }
    out += s.slice(i, start);
    const end = s.indexOf('}', start + 2);
    if (end < 0) {
      issues.push({ path: where, message: 'has an unclosed ${ — write ${NAME} or ${NAME:-default}, or $${ for a literal ${' });
      return s;
    }
    const inner = s.slice(start + 2, end);
    const sep = inner.indexOf(':-');
    const name = sep < 0 ? inner : inner.slice(0, sep);
    if (!NAME.test(name)) {
      issues.push({
        path: where,
        message: 'has a malformed ${…} reference — write ${NAME} or ${NAME:-default} (NAME is letters, digits, _), or $${ for a literal ${',
      });
      return s;
    }
    const set = env[name];
    if (sep >= 0) {
      out += set === undefined || set === '' ? inner.slice(sep + 2) : set;
    } else if (set === undefined) {
      issues.push({
        path: where,
        message: `uses environment variable ${name}, which is not set — set ${name}, or give a default with \${${name}:-value}`,
      });
      return s;
    } else {
      out += set;
    }
    i = end + 1;
  }
  if (out === '' && WHOLE.test(s)) return ABSENT;
  return out;
}
