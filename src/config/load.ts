// The config boundary: file → text → tree → ${VAR} substitution → schema → cross-key rules → a fully
// resolved Config plus warnings. Every problem names its key path and says what to do; no message ever
// contains a configured value (tokens live in this file's input).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { extname } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { substituteEnv } from './env-subst.js';
import {
  configKeyPaths,
  configSchema,
  formatPath,
  knownKeysAt,
  type Config,
  type ConfigIssue,
  type ParsedConfig,
} from './schema.js';

/** Why a config could not be used. */
export type ConfigErrorCode = 'unreadable' | 'syntax' | 'invalid';

/** A config that cannot be used. `message` lists every `path: what is wrong — what to do`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** `unreadable` (file), `syntax` (YAML/JSON), `invalid` (keys/values). */
  readonly code: ConfigErrorCode;
  /** Every problem found, in file order where possible. */
  readonly issues: ConfigIssue[];

  constructor(code: ConfigErrorCode, issues: ConfigIssue[], source?: string, options?: { cause?: unknown }) {
    const head = source ? `Invalid config ${source}:` : 'Invalid config:';
    super([head, ...issues.map((i) => `  ${i.path || '(file)'}: ${i.message}`)].join('\n'), options);
    this.code = code;
    this.issues = issues;
  }
}

/** Options for {@link resolveConfig} and {@link loadConfig}. */
export interface ResolveOptions {
  /** Demo mode: `loop.baseUrl` may be omitted (resolved `null`; the demo supplies its simulator). Default false. */
  demo?: boolean;
}

/** A resolved config and the no-effect or risky combinations found (`path: message` strings). */
export interface ResolvedConfig {
  config: Config;
  warnings: string[];
}

/**
 * Reads a YAML (or JSON, by `.json` extension or content) config file, substitutes `${VAR}` from `env`
 * (default `process.env`) and resolves it. Throws {@link ConfigError}.
 */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env, options: ResolveOptions = {}): ResolvedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code;
    throw new ConfigError('unreadable', [{ path: '', message: `cannot read ${path} (${why}) — check the path` }], path, { cause: err });
  }
  const raw = parseText(text, extname(path).toLowerCase() === '.json', path);
  const r = resolveInternal(raw, env, options);
  if (r.issues.length > 0) throw new ConfigError('invalid', r.issues, path);
  return { config: r.config!, warnings: r.warnings };
}

/** Resolves an already-parsed tree (what a YAML/JSON file holds). Throws {@link ConfigError}. */
export function resolveConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, options: ResolveOptions = {}): ResolvedConfig {
  const r = resolveInternal(raw, env, options);
  if (r.issues.length > 0) throw new ConfigError('invalid', r.issues);
  return { config: r.config!, warnings: r.warnings };
}

// ---- text -------------------------------------------------------------------------------------------

function parseText(text: string, isJsonFile: boolean, source: string): unknown {
  if (isJsonFile || text.trimStart().startsWith('{')) {
    try {
      return JSON.parse(text);
    } catch {
      // Fall through: the YAML parser (a JSON superset) reports a line and column without echoing text.
    }
  }
  const lineCounter = new LineCounter();
  // prettyErrors off: the pretty form quotes the offending source line, which may hold a token.
  const doc = parseDocument(text, { prettyErrors: false, lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      const what = e.message.split('\n')[0].replace(/\s*at line \d+, column \d+.*$/, '');
      return { path: '', message: `line ${line}, column ${col}: ${what} — fix the ${isJsonFile ? 'JSON' : 'YAML'} syntax there` };
    });
    throw new ConfigError('syntax', issues, source);
  }
  return doc.toJS();
}

// ---- resolution -------------------------------------------------------------------------------------

interface Internal {
  config?: Config;
  issues: ConfigIssue[];
  warnings: string[];
}

function resolveInternal(raw: unknown, env: NodeJS.ProcessEnv, options: ResolveOptions): Internal {
  if (raw === null || raw === undefined) {
    return {
      issues: [{ path: '', message: 'is empty — start from config/loopbridge.example.yaml (loop.baseUrl and loop.token are required)' }],
      warnings: [],
    };
  }
  const subst = substituteEnv(raw, env);
  const issues: ConfigIssue[] = [...subst.issues];
  // A key whose ${VAR} failed still holds the literal reference; its schema error would only repeat that.
  const substPaths = new Set(subst.issues.map((i) => i.path));
  const parsed = configSchema.safeParse(subst.value, { error: defaultMessage });
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      for (const mapped of mapIssue(iss)) if (!substPaths.has(mapped.path)) issues.push(mapped);
    }
  }
  issues.push(...crossKeyErrors(subst.value, options));
  if (!parsed.success || issues.length > 0) return { issues, warnings: [] };
  const config = toConfig(parsed.data);
  return { config, issues, warnings: collectWarnings(config, subst.value, env) };
}

// Messages for issues the schema does not word itself (missing keys, wrong container types).
function defaultMessage(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code !== 'invalid_type') return undefined;
  const path = formatPath(iss.path ?? []);
  if (iss.input === undefined) {
    if (path === 'loop') return 'is required — add a loop: section with baseUrl and token';
    return 'is required — add it (see config/README.md)';
  }
  const expected: Record<string, string> = {
    object: 'a mapping of keys (key: value lines)',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    boolean: 'true or false',
  };
  return `must be ${expected[iss.expected] ?? iss.expected} — see config/README.md for this key`;
}

function mapIssue(iss: z.core.$ZodIssue): ConfigIssue[] {
  if (iss.code === 'unrecognized_keys') {
    return iss.keys.map((key) => ({ path: formatPath([...iss.path, key]), message: unknownKeyMessage(iss.path, key) }));
  }
  return [{ path: formatPath(iss.path), message: iss.message }];
}

function unknownKeyMessage(parent: ReadonlyArray<PropertyKey>, key: string): string {
  const segs = parent.filter((p): p is string | number => typeof p !== 'symbol');
  const siblings = knownKeysAt(segs);
  const near = closest(key, siblings);
  if (near) return `unknown key — did you mean "${near}"?`;
  // The right key in the wrong section is a common slip (e.g. requireMention under access:).
  const elsewhere = configKeyPaths().find((p) => p.split('.').pop()!.toLowerCase() === key.toLowerCase());
  if (elsewhere) return `unknown key here — did you mean ${elsewhere}?`;
  const allowed = siblings.length > 0 ? `; allowed here: ${siblings.join(', ')}` : '';
  return `unknown key — remove it or check the spelling${allowed}`;
}

/** The candidate within a small edit distance of `word` (case-insensitive), if any. */
function closest(word: string, candidates: string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(w.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

// Combinations that cannot work. Read from the substituted tree rather than the parsed config so these
// are reported together with any schema errors, not only after those are fixed.
function crossKeyErrors(tree: unknown, options: ResolveOptions): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  if (isObject(tree) && isObject(tree.loop) && tree.loop.baseUrl === undefined && !options.demo) {
    out.push({ path: 'loop.baseUrl', message: 'is required — give the loop server origin, e.g. https://loops.example.com' });
  }
  const tg = isObject(tree) ? tree.telegram : undefined;
  if (isObject(tg) && tg.mode === 'webhook') {
    const wh = isObject(tg.webhook) ? tg.webhook : {};
    if (wh.url === undefined) {
      out.push({
        path: 'telegram.webhook.url',
        message: 'is required when telegram.mode is webhook — give the public https URL Telegram should post to, or use mode: polling',
      });
    }
    if (wh.secretToken === undefined) {
      out.push({
        path: 'telegram.webhook.secretToken',
        message: 'is required when telegram.mode is webhook (it proves a request came from Telegram) — set 1–256 characters of A-Z a-z 0-9 _ -',
      });
    }
  }
  const slack = isObject(tree) ? tree.slack : undefined;
  if (isObject(slack)) {
    const mode = slack.mode ?? 'socket';
    if (mode === 'socket' && slack.appToken === undefined) {
      out.push({
        path: 'slack.appToken',
        message: 'is required when slack.mode is socket (the default) — create an app-level token (xapp-…) with connections:write under Basic Information → App-Level Tokens, or use mode: http',
      });
    }
    if (mode === 'http' && slack.signingSecret === undefined) {
      out.push({
        path: 'slack.signingSecret',
        message: 'is required when slack.mode is http (it proves a request came from Slack) — copy the Signing Secret from Basic Information → App Credentials',
      });
    }
  }
  const mx = isObject(tree) ? tree.matrix : undefined;
  if (isObject(mx)) {
    if (mx.accessToken === undefined && mx.userId === undefined && mx.password === undefined) {
      out.push({ path: 'matrix.accessToken', message: 'is required — give the bot account\'s access token, or matrix.userId and matrix.password to log in' });
    } else if (mx.accessToken === undefined) {
      if (mx.userId === undefined) out.push({ path: 'matrix.userId', message: 'is required with matrix.password — give the bot\'s user id, e.g. @loopbot:example.org' });
      if (mx.password === undefined) out.push({ path: 'matrix.password', message: 'is required with matrix.userId (or give matrix.accessToken instead) — e.g. password: ${MATRIX_PASSWORD}' });
    }
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function toConfig(p: ParsedConfig): Config {
  const dedupe = (xs: string[]) => [...new Set(xs)];
  const tg = p.telegram;
  return {
    loop: {
      baseUrl: p.loop.baseUrl === undefined ? null : p.loop.baseUrl.replace(/\/+$/, ''),
      token: p.loop.token,
      permissionMode: p.loop.permissionMode,
      timeoutMs: p.loop.timeoutMs,
    },
    store: { path: p.store.path, flushDelayMs: p.store.flushDelayMs, url: p.store.url ?? null },
    replica: { id: p.replica.id ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 48)}-${process.pid}`, leaseTtlMs: p.replica.leaseTtlMs },
    access: {
      dm: p.access.dm,
      // Admins are implicitly users; resolving it here means no reader can forget it.
      users: dedupe([...p.access.users, ...p.access.admins]),
      admins: dedupe(p.access.admins),
      groups: dedupe(p.access.groups),
      pairingCodeTtlMs: p.access.pairingCodeTtlMs,
      loopTokens: p.access.loopTokens,
    },
    routing: { ...p.routing, mentionPatterns: [...p.routing.mentionPatterns] },
    replies: { ...p.replies, editIntervalMs: { ...p.replies.editIntervalMs } },
    telegram: tg
      ? {
          token: tg.token,
          apiRoot: tg.apiRoot.replace(/\/+$/, ''),
          mode: tg.mode,
          webhook:
            tg.mode === 'webhook' && tg.webhook?.url && tg.webhook.secretToken
              ? { ...tg.webhook, url: tg.webhook.url, secretToken: tg.webhook.secretToken }
              : null,
          drafts: tg.drafts,
          rate: { ...tg.rate },
        }
      : null,
    slack: p.slack
      ? {
          botToken: p.slack.botToken,
          appToken: p.slack.mode === 'socket' ? (p.slack.appToken ?? null) : null,
          signingSecret: p.slack.mode === 'http' ? (p.slack.signingSecret ?? null) : null,
          mode: p.slack.mode,
          port: p.slack.port,
          host: p.slack.host,
          apiUrl: p.slack.apiUrl.endsWith('/') ? p.slack.apiUrl : `${p.slack.apiUrl}/`,
          threadFollow: p.slack.threadFollow,
        }
      : null,
    matrix: p.matrix
      ? {
          homeserverUrl: p.matrix.homeserverUrl.replace(/\/+$/, ''),
          accessToken: p.matrix.accessToken ?? null,
          userId: p.matrix.userId ?? null,
          password: p.matrix.password ?? null,
          autoJoin: p.matrix.autoJoin,
        }
      : null,
    console: p.console ? { user: p.console.user } : null,
    ops: { ...p.ops, controlSocket: p.ops.controlSocket ?? `${p.store.path}.sock`, adminToken: p.ops.adminToken ?? null },
    bindings: p.bindings.map((b) => ({ ...b })),
  };
}

/** Metadata keys the bridge sets on every loop it creates; a binding's value for one of them is overridden. */
const BRIDGE_METADATA_KEYS = ['bridge', 'platform', 'conversation', 'chat_id', 'thread_id', 'user'];

/** Loop-creation keys that mean nothing for a binding to an existing loop. */
const CREATION_KEYS = ['title', 'repo', 'profiles', 'vault', 'metadata'] as const;

function bindingWarnings(c: Config): string[] {
  const w: string[] = [];
  const adapters = new Set(['telegram', 'slack', 'matrix', 'console'].filter((p) => c[p as 'telegram'] !== null));
  c.bindings.forEach((b, i) => {
    const at = `bindings[${i}]`;
    if (!adapters.has(b.platform)) w.push(`${at}.platform: no ${b.platform}: section is configured, so this binding never applies — add the section or remove the binding`);
    if (b.loopId) {
      for (const key of CREATION_KEYS) {
        if (b[key] !== undefined) w.push(`${at}.${key}: has no effect with ${at}.loopId (that loop exists already) — remove one of them`);
      }
    }
    for (const key of Object.keys(b.metadata ?? {})) {
      if (BRIDGE_METADATA_KEYS.includes(key)) w.push(`${at}.metadata.${key}: is set by the bridge on every loop, so this value is overridden — use another key`);
    }
    b.mentionPatterns?.forEach((src, j) => {
      if (new RegExp(src, 'i').test('')) w.push(`${at}.mentionPatterns[${j}]: matches an empty string, so every message there counts as a mention — anchor it to the bot's name`);
    });
    // An earlier entry for the same platform and the very same chat, with no thread, takes every conversation first.
    const earlier = c.bindings.findIndex((e, j) => j < i && e.platform === b.platform && e.chat === b.chat && e.thread === undefined);
    if (earlier >= 0) w.push(`${at}: never applies — bindings[${earlier}] matches the same chat first (the first match wins); reorder them or remove one`);
  });
  return w;
}

function isSet(tree: unknown, path: string[]): boolean {
  let cur: unknown = tree;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object' || !(seg in cur)) return false;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur !== undefined;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

// Combinations that work but do not do what the file seems to say.
function collectWarnings(c: Config, tree: unknown, env: NodeJS.ProcessEnv): string[] {
  const w: string[] = [];
  const declaredUsers = isSet(tree, ['access', 'users']) ? ((tree as { access: { users: unknown[] } }).access.users ?? []) : [];
  const access = c.access;

  if (access.dm === 'open' && declaredUsers.length > 0) {
    w.push('access.users: has no effect on direct messages while access.dm is open (anyone may DM the bot) — set access.dm: allowlist to restrict DMs to these users');
  }
  if (access.dm === 'allowlist' && access.users.length === 0) {
    w.push('access: access.users and access.admins are empty and access.dm is allowlist, so the bot will refuse everyone — add ids (e.g. telegram:12345) or use access.dm: pairing');
  }
  if (!c.routing.requireMention && access.groups.length === 0) {
    w.push('routing.requireMention: false with access.groups empty makes the bot answer every message in every group it is in — list the groups in access.groups or set requireMention: true');
  }
  if (access.dm !== 'pairing' && isSet(tree, ['access', 'pairingCodeTtlMs'])) {
    w.push(`access.pairingCodeTtlMs: has no effect while access.dm is ${access.dm} — remove it or set access.dm: pairing`);
  }
  c.routing.mentionPatterns.forEach((src, i) => {
    if (new RegExp(src, 'i').test('')) {
      w.push(`routing.mentionPatterns[${i}]: matches an empty string, so every group message counts as a mention — anchor it to the bot's name`);
    }
  });
  if (c.loop.baseUrl) {
    const u = new URL(c.loop.baseUrl);
    if (/\/api(\/v1)?\/?$/.test(u.pathname)) {
      w.push('loop.baseUrl: ends in /api or /api/v1, but the client appends /api/v1 itself — give the server origin, e.g. https://loops.example.com');
    }
    if (u.protocol === 'http:' && !LOOPBACK.has(u.hostname)) {
      w.push('loop.baseUrl: uses plain http to a non-local host, so the token travels unencrypted — use https');
    }
  }
  if (c.telegram) {
    if (c.telegram.mode === 'polling' && isSet(tree, ['telegram', 'webhook'])) {
      w.push('telegram.webhook: has no effect while telegram.mode is polling — set telegram.mode: webhook or remove the webhook section');
    }
    if (c.telegram.webhook && !c.telegram.webhook.url.startsWith('https://')) {
      w.push('telegram.webhook.url: is not https; Telegram only delivers webhooks to https URLs — use the public https address of your reverse proxy');
    }
  }
  if (c.console && access.dm !== 'open' && !access.users.includes(`console:${c.console.user}`)) {
    w.push(`console.user: console:${c.console.user} is not in access.users or access.admins, so the console will be refused — add it there`);
  }
  if (c.slack) {
    const other = c.slack.mode === 'socket' ? ['signingSecret', 'port', 'host'] : ['appToken'];
    for (const key of other) {
      if (isSet(tree, ['slack', key])) w.push(`slack.${key}: has no effect while slack.mode is ${c.slack.mode} — remove it, or set slack.mode: ${c.slack.mode === 'socket' ? 'http' : 'socket'}`);
    }
  }
  if (!c.store.url) {
    for (const key of ['id', 'leaseTtlMs']) {
      if (isSet(tree, ['replica', key])) w.push(`replica.${key}: has no effect without store.url (replicas share their state in PostgreSQL; with the file there is one process) — remove it, or set store.url`);
    }
  }
  if (c.store.url) {
    for (const key of ['path', 'flushDelayMs']) {
      if (isSet(tree, ['store', key])) w.push(`store.${key}: has no effect while store.url is set (the state lives in PostgreSQL) — remove it, or remove store.url to use the file`);
    }
  }
  if (c.matrix) {
    if (c.matrix.accessToken && c.matrix.password) {
      w.push('matrix.password: has no effect while matrix.accessToken is set (the token is used) — remove one of them');
    }
    const u = new URL(c.matrix.homeserverUrl);
    if (u.protocol === 'http:' && !LOOPBACK.has(u.hostname)) {
      w.push('matrix.homeserverUrl: uses plain http to a non-local host, so the access token travels unencrypted — use https');
    }
    const mxIds = [...access.users, ...access.groups].filter((id) => id.startsWith('matrix:'));
    if (mxIds.length === 0 && access.dm === 'allowlist') {
      w.push('matrix: no matrix: ids in access.users, access.admins or access.groups, so the bot refuses every invite and message on Matrix — add e.g. matrix:@you:example.org to access.users');
    }
  }
  if (!c.telegram && !c.slack && !c.matrix && !c.console) {
    w.push('(file): no chat adapter is configured, so there is nothing to bridge — add a telegram:, slack:, matrix: or console: section');
  }
  if (isSet(tree, ['ops', 'httpHost']) && c.ops.httpPort === null) {
    w.push('ops.httpHost: has no effect while ops.httpPort is not set — set ops.httpPort to serve /healthz and /metrics');
  }
  if (c.ops.adminToken !== null) {
    if (c.ops.httpPort === null) {
      w.push('ops.adminToken: has no effect while ops.httpPort is not set (the admin API lives on the ops listener) — set ops.httpPort');
    } else if (!LOOPBACK.has(c.ops.httpHost) && c.ops.httpHost !== '::1') {
      w.push(`ops.httpHost: ${c.ops.httpHost} exposes the admin API (ops.adminToken) beyond this machine over plain http — keep 127.0.0.1 and put a TLS proxy in front if it must be reached from elsewhere`);
    }
  }
  if (c.access.loopTokens === 'per-user' && !env.LOOPBRIDGE_SECRET_KEY) {
    w.push('access.loopTokens: per-user keeps linked tokens encrypted with LOOPBRIDGE_SECRET_KEY, which is not set here; `start` refuses to run without it — generate one with: openssl rand -base64 32');
  }
  w.push(...bindingWarnings(c));
  return w;
}
