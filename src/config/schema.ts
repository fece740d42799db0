// The config schema: what a loopbridge config file may hold, its defaults, and the resolved type the
// daemon reads. Parsing (file, env, error formatting) lives in load.ts; this file only describes shapes.
import { z } from 'zod';

/** One problem with a config file: the key path (e.g. `routing.mentionPatterns[1]`) and what to do. */
export interface ConfigIssue {
  /** Dotted key path with `[i]` for list items; `''` for the file as a whole. */
  path: string;
  /** What is wrong — what to do. Never contains a secret value. */
  message: string;
}

/** Permission modes the Loop API accepts (contract §5.1). Kept here: config imports nothing of ours. */
export const PERMISSION_MODES = ['default', 'acceptEdits', 'bypassPermissions', 'plan', 'dontAsk', 'auto'] as const;
/** How direct messages from people not in `access.users` are treated. */
export const DM_POLICIES = ['allowlist', 'pairing', 'open'] as const;
/** Platforms an access id may name (`platform:id`). */
export const PLATFORMS = ['telegram', 'slack', 'matrix', 'console'] as const;
/** pino's level names. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** Log output format; `auto` is pretty on a TTY and JSON otherwise. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
/** How the Telegram adapter receives updates. */
export const TELEGRAM_MODES = ['polling', 'webhook'] as const;
/** How the Slack adapter receives events. */
export const SLACK_MODES = ['socket', 'http'] as const;
/** Whose Loop API token creates and drives loops: the bridge's one `loop.token`, or each person's own. */
export const LOOP_TOKEN_MODES = ['shared', 'per-user'] as const;
/** Placeholders a binding's `title` template may use. */
export const TITLE_PLACEHOLDERS = ['platform', 'chat', 'sender', 'message'] as const;

/** The loop server accepts `content` up to 1 MiB of JS string length (contract, limits table). */
export const LOOP_MAX_CONTENT_CHARS = 1_048_576;

export type PermissionMode = (typeof PERMISSION_MODES)[number];
export type DmPolicy = (typeof DM_POLICIES)[number];
/** `routing.whileBusy` values: a message sent while a turn runs waits for it, or goes into it. */
export const WHILE_BUSY = ['queue', 'steer'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];
export type TelegramMode = (typeof TELEGRAM_MODES)[number];
export type SlackMode = (typeof SLACK_MODES)[number];
export type LoopTokenMode = (typeof LOOP_TOKEN_MODES)[number];

/** `loop:` — the Loop API v1 server this bridge drives. */
export interface LoopConfig {
  /** Server origin without a trailing slash, e.g. `https://loops.example.com`; the client appends `/api/v1`.
   * Required, except in demo mode where it is `null` and the demo supplies its simulator's URL. */
  baseUrl: string | null;
  /** Bearer token, `la_` + 48 lowercase hex. Required. Never log it. */
  token: string;
  /** Permission mode sent with each message. Default `default`. */
  permissionMode: PermissionMode;
  /** Per-request timeout in milliseconds (not the length of a turn). Default 30000. */
  timeoutMs: number;
}

/** `store:` — the embedded lowdb file, or PostgreSQL when `url` is set. */
export interface StoreConfig {
  /** JSON file path, relative to the working directory. Default `./data/loopbridge.json`. Unused with `url`. */
  path: string;
  /** Milliseconds to coalesce mutations before one atomic file write. Default 50. Unused with `url`. */
  flushDelayMs: number;
  /** PostgreSQL connection URL (`postgres://user:password@host:5432/db`); set ⇒ the state lives in
   * PostgreSQL instead of the file. Default `null`. Holds a password: never log it unmasked. */
  url: string | null;
}

/** `replica:` — this process as one of several replicas sharing `store.url` (unused without it). */
export interface ReplicaConfig {
  /** This replica's id: shown in /healthz, the `replica` label of /metrics, the owner of its leases. Give
   * each replica its own. Default `<hostname>-<pid>`. */
  id: string;
  /** Lease time to live in milliseconds: a dead replica's turns and intake resume elsewhere about this
   * long after its last heartbeat (heartbeats every third of it). Default 10000, at least 1000. */
  leaseTtlMs: number;
}

/** `access:` — who may drive the loops. Ids are platform-qualified, e.g. `telegram:12345`. */
export interface AccessConfig {
  /** Direct messages from unknown people: refuse (`allowlist`), offer a pairing code, or accept (`open`).
   * Default `allowlist`. */
  dm: DmPolicy;
  /** Allowed user ids, **including every admin** (admins are implicitly users). Default `[]`. */
  users: string[];
  /** Admin user ids (may pair, bind, change settings). Default `[]`. */
  admins: string[];
  /** Allowed group/conversation ids; `[]` means any group where an allowed user speaks. Default `[]`. */
  groups: string[];
  /** How long a pairing code stays valid, in milliseconds. Default 3600000 (1 h). */
  pairingCodeTtlMs: number;
  /**
   * Whose Loop API token creates and drives loops: `shared` (the bridge's `loop.token`) or `per-user` (each
   * person links their own with `/link` in a DM; stored encrypted with `LOOPBRIDGE_SECRET_KEY`). Default `shared`.
   */
  loopTokens: LoopTokenMode;
}

/** `routing:` — which inbound messages reach a loop. */
export interface RoutingConfig {
  /** In groups, only messages that mention the bot (or reply to it, or address a command to it) are taken.
   * DMs never need one. Default `true`. */
  requireMention: boolean;
  /** Extra regular expressions (source strings, matched case-insensitively) that count as a mention.
   * Default `[]`. */
  mentionPatterns: string[];
  /** Messages allowed to wait behind a running turn, per loop; beyond it the sender is told to wait.
   * Default 20. */
  maxQueuedPerLoop: number;
  /** Longest inbound message in characters; longer ones are refused with a reply. Default 100000,
   * at most 1048576 (the loop server's limit). */
  maxMessageChars: number;
  /** What a plain message does while a turn runs in its conversation: `queue` (wait for the turn to end) or
   * `steer` (go into the running turn, like /steer). `/whilebusy` overrides it per conversation. Default `queue`. */
  whileBusy: (typeof WHILE_BUSY)[number];
}

/** `replies:` — how replies are rendered. */
export interface RepliesConfig {
  /** Minimum milliseconds between edits of one live message, by chat kind. Default direct 1000, group 3000. */
  editIntervalMs: { direct: number; group: number };
  /** Show tool activity lines in the live message. Default `true`. */
  showTools: boolean;
  /** Append a usage/cost footer when the server provides one. Default `false`. */
  showUsage: boolean;
  /**
   * Most assistant text one reply holds, characters; past it the reply says where it was cut and the
   * loop's further text is not shown (bounds memory, the turn record and the number of chat messages).
   * Default 1048576 (1 Mi).
   */
  maxTextChars: number;
}

/** `telegram.webhook:` — resolved only when `telegram.mode` is `webhook`. */
export interface TelegramWebhookConfig {
  /** Public HTTPS URL Telegram posts updates to. Required. */
  url: string;
  /** Secret Telegram echoes in `X-Telegram-Bot-Api-Secret-Token`; 1–256 of `A-Za-z0-9_-`. Required. */
  secretToken: string;
  /** Local port the webhook listener binds. Default 8443. */
  port: number;
  /** Local address the webhook listener binds. Default `0.0.0.0`. */
  host: string;
  /** Local request path the listener accepts. Default `/telegram`. */
  path: string;
}

/** `telegram.rate:` — the bot's send/edit budget (Telegram's published limits). */
export interface TelegramRateConfig {
  /** Requests per second across all chats. Default 30. */
  globalPerSecond: number;
  /** Minimum milliseconds between messages/edits in one private chat. Default 1000. */
  privateChatIntervalMs: number;
  /** Minimum milliseconds between messages/edits in one group. Default 3000. */
  groupChatIntervalMs: number;
  /** Messages/edits per minute in one group. Default 20. */
  groupPerMinute: number;
}

/** `telegram:` — present in the file ⇒ the Telegram adapter runs. */
export interface TelegramConfig {
  /** Bot token from @BotFather (`123456:ABC…`). Required. Never log it. */
  token: string;
  /** Bot API origin. Default `https://api.telegram.org`. */
  apiRoot: string;
  /** Update delivery. Default `polling`. */
  mode: TelegramMode;
  /** Webhook listener settings; `null` unless `mode` is `webhook`. */
  webhook: TelegramWebhookConfig | null;
  /** Stream previews with `sendMessageDraft` in private chats. Default `false`. */
  drafts: boolean;
  /** Rate budget. */
  rate: TelegramRateConfig;
}

/** `slack:` — present in the file ⇒ the Slack adapter runs. */
export interface SlackConfig {
  /** Bot User OAuth Token (`xoxb-…`). Required. Never log it. */
  botToken: string;
  /** App-level token (`xapp-…`, scope connections:write); required in socket mode, else `null`. Never log it. */
  appToken: string | null;
  /** Signing secret; required in http mode, else `null`. Never log it. */
  signingSecret: string | null;
  /** Event delivery: Socket Mode or HTTP requests. Default `socket`. */
  mode: SlackMode;
  /** HTTP listener port (http mode); requests arrive on `/slack/events`. Default 3000. */
  port: number;
  /** HTTP listener address (http mode). Default `0.0.0.0`. */
  host: string;
  /** Web API base URL, ending in `/`. Default `https://slack.com/api/`. */
  apiUrl: string;
  /** Later messages in a thread the bot is part of need no mention. Default `true`. */
  threadFollow: boolean;
}

/** `matrix:` — present in the file ⇒ the Matrix adapter runs. Either `accessToken`, or `userId` + `password`. */
export interface MatrixConfig {
  /** Client-server API origin of the bot's homeserver, e.g. `https://matrix.example.org`. Required. */
  homeserverUrl: string;
  /** The bot account's access token; `null` when logging in with userId + password. Never log it. */
  accessToken: string | null;
  /** The bot's user id, `@name:server`; required with `password`. `null` when not given. */
  userId: string | null;
  /** The bot account's password: used once to log in, the token is then kept in the store. `null` when not given. Never log it. */
  password: string | null;
  /** Accept invites from allowed users (access.users, access.admins) and into allowed rooms (access.groups), refuse the rest.
   * `false` leaves every invite pending (join the bot by hand). Default `true`. */
  autoJoin: boolean;
}

/** `console:` — present in the file ⇒ the local terminal adapter runs (the demo). */
export interface ConsoleConfig {
  /** The terminal user's id; it is addressed as `console:<user>` in `access`. Default `you`. */
  user: string;
}

/** `ops:` — health, metrics and logging. */
export interface OpsConfig {
  /** Port for `/healthz` and `/metrics`; `null` serves nothing, 0 picks a free port. Default `null`. */
  httpPort: number | null;
  /** Address the ops server binds. Default `127.0.0.1`. */
  httpHost: string;
  /** pino level. Default `info`. */
  logLevel: LogLevel;
  /** Log format. Default `auto` (pretty on a TTY, JSON otherwise). */
  logFormat: LogFormat;
  /**
   * Unix socket (mode 0600) through which `loopbridge pairing …` and other operator commands reach the running
   * daemon. Default `<store.path>.sock`.
   */
  controlSocket: string;
  /**
   * Bearer token of the admin HTTP API (`/admin/…` on the ops listener); `null` = the API is off. At least
   * 24 characters. Default `null`. Never log it.
   */
  adminToken: string | null;
  /** Days of turn usage (`loopbridge usage`) kept, counted from the end of each day (UTC). Default 90. */
  usageRetentionDays: number;
}

/**
 * One entry of `bindings:` — which conversations it matches and how loops are made there. The first entry
 * that matches a conversation applies; the rest are ignored for it.
 */
export interface BindingConfig {
  /** Platform the entry matches (`telegram`, `slack`, `matrix`, `console`). Required. */
  platform: string;
  /** Chat id matched exactly, or a `/regex/` (optional flags after the closing slash) tested on the id. Required. */
  chat: string;
  /** Thread (forum topic, Slack thread ts, Matrix thread root) id or `/regex/`; absent = any thread and the main chat. */
  thread?: string;
  /** Title template for new loops: `{platform}`, `{chat}` (the chat's name where known, else its id), `{sender}`, `{message}`
   * (the first message, ≤ 80 characters). Cut at 200 characters. Default: the first message. */
  title?: string;
  /** Repository the loop server clones into new loops (e.g. `acme/api`). Default none. */
  repo?: string;
  /** Profiles new loops are created with. Default none (the owner's default profiles). */
  profiles?: string[];
  /** Vault new loops use. Default the server's (`default`). */
  vault?: string;
  /** Permission mode sent with every message here (a `/mode` override still wins). Default `loop.permissionMode`. */
  permissionMode?: PermissionMode;
  /** Extra metadata for new loops, merged under the bridge's own keys (bridge, platform, conversation, chat_id, thread_id, user). */
  metadata?: Record<string, unknown>;
  /** Every message here goes to this existing loop (`loop_<uuid>`); `/new`, `/attach`, `/detach` are refused. Default none. */
  loopId?: string;
  /** Overrides `routing.requireMention` here. Default: the routing setting. */
  requireMention?: boolean;
  /** Replaces `routing.mentionPatterns` here. Default: the routing setting. */
  mentionPatterns?: string[];
  /** Show turns other clients run on the loop (like /attach). Default false. */
  mirror?: boolean;
  /** Overrides `routing.whileBusy` here (a conversation's `/whilebusy` still wins). Default: the routing setting. */
  whileBusy?: (typeof WHILE_BUSY)[number];
}

/** The fully resolved, defaulted configuration. Every field is present; absent sections are `null`. */
export interface Config {
  loop: LoopConfig;
  store: StoreConfig;
  replica: ReplicaConfig;
  access: AccessConfig;
  routing: RoutingConfig;
  replies: RepliesConfig;
  /** `null` when the file has no `telegram:` section (the adapter does not run). */
  telegram: TelegramConfig | null;
  /** `null` when the file has no `slack:` section (the adapter does not run). */
  slack: SlackConfig | null;
  /** `null` when the file has no `matrix:` section (the adapter does not run). */
  matrix: MatrixConfig | null;
  /** `null` when the file has no `console:` section (the adapter does not run). */
  console: ConsoleConfig | null;
  ops: OpsConfig;
  /** Per-conversation loop settings, first match wins. Default `[]`. */
  bindings: BindingConfig[];
}

// ---- building blocks -------------------------------------------------------------------------------

// Values that came through `${VAR}` are strings; accept digit strings and true/false where a number or
// boolean is expected, so `port: ${PORT:-8443}` works without YAML tricks.
const digitsToNumber = (v: unknown): unknown => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v);
const wordToBoolean = (v: unknown): unknown =>
  typeof v === 'string' && /^\s*(true|false)\s*$/i.test(v) ? v.trim().toLowerCase() === 'true' : v;
// `section:` with nothing under it is YAML null; treat it as an empty section, which is what people mean.
const nullToEmpty = (v: unknown): unknown => (v === null ? {} : v);

function positiveInt(unit: string, example: number) {
  const msg = `must be a positive whole number of ${unit} — e.g. ${example}`;
  return z.preprocess(digitsToNumber, z.number({ error: msg }).int({ error: msg }).positive({ error: msg }));
}

function port(allowZero: boolean) {
  const msg = `must be a TCP port, ${allowZero ? 0 : 1}–65535 — e.g. 8080`;
  return z.preprocess(
    digitsToNumber,
    z.number({ error: msg }).int({ error: msg }).min(allowZero ? 0 : 1, { error: msg }).max(65535, { error: msg }),
  );
}

const bool = () =>
  z.preprocess(wordToBoolean, z.boolean({ error: 'must be true or false' }));

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of ${values.join(', ')}` });
}

/** A URL string with one of `protocols` (e.g. `https:`); the messages never echo the value. */
function urlOf(protocols: string[], notString: string, wrong: string) {
  return z.string({ error: notString }).refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    { error: wrong },
  );
}

function httpUrl(whatToDo: string) {
  return urlOf(['http:', 'https:'], `must be a URL string — ${whatToDo}`, `must be an http(s) URL — ${whatToDo}`);
}

// A missing key and a wrong type deserve different advice.
const requiredString = (whatToDo: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? `is required — ${whatToDo}` : `must be a string — ${whatToDo}`;

const nonEmpty = (what: string) =>
  z.string({ error: `must be a string — ${what}` }).trim().min(1, { error: `must not be empty — ${what}` });

// Ids are `platform:rest`. Telegram ids are numbers (usernames change and are not in updates reliably).
function qualifiedId(kind: 'user' | 'group') {
  const example = kind === 'user' ? 'telegram:12345, slack:U123, matrix:@ann:example.org, console:you' : 'telegram:-100123, slack:C123, matrix:!room:example.org';
  return z.string({ error: `must be a platform-qualified id string — e.g. ${example}` }).trim().superRefine((s, ctx) => {
    const m = /^([a-z]+):(\S+)$/.exec(s);
    if (!m || !(PLATFORMS as readonly string[]).includes(m[1])) {
      ctx.addIssue({ code: 'custom', message: `must be platform:id with platform one of ${PLATFORMS.join(', ')} — e.g. ${example}` });
      return;
    }
    if (m[1] === 'matrix') {
      const ok = kind === 'user' ? /^@[^:\s]+:\S+$/ : /^![^\s]+$/;
      if (!ok.test(m[2])) {
        ctx.addIssue({
          code: 'custom',
          message:
            kind === 'user'
              ? 'Matrix user ids look like @name:server — e.g. matrix:@ann:example.org'
              : m[2].startsWith('#')
                ? 'use the room id (!…, in the client\'s room settings under Advanced), not an alias — e.g. matrix:!AbCdEf:example.org'
                : 'Matrix room ids start with ! — e.g. matrix:!AbCdEf:example.org',
        });
      }
    }
    const numeric = kind === 'user' ? /^\d+$/ : /^-?\d+$/;
    if (m[1] === 'telegram' && !numeric.test(m[2])) {
      ctx.addIssue({
        code: 'custom',
        message: `Telegram ${kind} ids are numbers, not @names — e.g. telegram:${kind === 'user' ? '12345' : '-100123'} (the bot logs the ids it refuses)`,
      });
    }
  });
}

function regexSource() {
  return z.string({ error: 'must be a regular expression string — e.g. "\\\\bloopbot\\\\b"' }).superRefine((s, ctx) => {
    try {
      new RegExp(s, 'i');
    } catch (err) {
      const why = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : 'invalid';
      ctx.addIssue({ code: 'custom', message: `does not compile (${why}) — fix the pattern; quote it in YAML and double backslashes` });
    }
  });
}

// ---- sections --------------------------------------------------------------------------------------

const loopSchema = z.strictObject({
  baseUrl: httpUrl('give the loop server origin, e.g. https://loops.example.com').optional(),
  token: z
    .string({ error: requiredString('create a token in the loop server Settings page and set it here, e.g. token: ${LOOP_TOKEN}') })
    .trim()
    .regex(/^la_[0-9a-f]{48}$/, {
      error: 'is not a Loop API token (expected la_ followed by 48 lowercase hex characters) — copy the whole token from the loop server Settings page',
    }),
  permissionMode: oneOf(PERMISSION_MODES).default('default'),
  timeoutMs: positiveInt('milliseconds', 30000).default(30000),
});

// The value may hold a password; urlOf never echoes it.
function postgresUrl() {
  const example = 'e.g. postgres://loopbridge:${PGPASSWORD}@db.example.com:5432/loopbridge';
  return urlOf(
    ['postgres:', 'postgresql:'],
    `must be a PostgreSQL URL string — ${example}`,
    `must be a postgres:// or postgresql:// URL (percent-encode special characters in the password, or leave it out and set PGPASSWORD) — ${example}`,
  );
}

const storeSchema = z.strictObject({
  path: nonEmpty('give a file path, e.g. ./data/loopbridge.json').default('./data/loopbridge.json'),
  flushDelayMs: positiveInt('milliseconds', 50).default(50),
  url: postgresUrl().optional(),
});

const replicaSchema = z.strictObject({
  id: z
    .string({ error: 'must be a string of 1–64 characters A-Z a-z 0-9 . _ - — e.g. bridge-1' })
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1–64 characters of A-Z a-z 0-9 . _ - — e.g. bridge-1' })
    .optional(),
  leaseTtlMs: positiveInt('milliseconds', 10000)
    .pipe(z.number().min(1000, { error: 'must be at least 1000 ms (heartbeats run every third of it) — e.g. 10000' }))
    .default(10_000),
});

const idList = (kind: 'user' | 'group') =>
  z.array(qualifiedId(kind), { error: `must be a list of ids — e.g. [telegram:12345]` }).default([]);

const accessSchema = z.strictObject({
  dm: oneOf(DM_POLICIES).default('allowlist'),
  users: idList('user'),
  admins: idList('user'),
  groups: idList('group'),
  pairingCodeTtlMs: positiveInt('milliseconds', 3600000).default(3_600_000),
  loopTokens: oneOf(LOOP_TOKEN_MODES).default('shared'),
});

const routingSchema = z.strictObject({
  requireMention: bool().default(true),
  mentionPatterns: z.array(regexSource(), { error: 'must be a list of regular expression strings' }).default([]),
  maxQueuedPerLoop: positiveInt('messages', 20).default(20),
  maxMessageChars: positiveInt('characters', 100000)
    .pipe(
      z.number().max(LOOP_MAX_CONTENT_CHARS, {
        error: `exceeds what the loop server accepts (${LOOP_MAX_CONTENT_CHARS} characters) — use at most ${LOOP_MAX_CONTENT_CHARS}`,
      }),
    )
    .default(100_000),
  whileBusy: oneOf(WHILE_BUSY).default('queue'),
});

const repliesSchema = z.strictObject({
  editIntervalMs: z
    .preprocess(
      nullToEmpty,
      z.strictObject({
        direct: positiveInt('milliseconds', 1000).default(1000),
        group: positiveInt('milliseconds', 3000).default(3000),
      }),
    )
    .prefault({}),
  showTools: bool().default(true),
  showUsage: bool().default(false),
  maxTextChars: positiveInt('characters', 1048576).default(1048576),
});

const webhookSchema = z.strictObject({
  // url/secretToken are checked in checkCombinations: they are only required when mode is webhook.
  url: httpUrl('give the public https URL Telegram should post to').optional(),
  secretToken: z
    .string({ error: 'must be a string of 1–256 characters A-Z a-z 0-9 _ -' })
    .regex(/^[A-Za-z0-9_-]{1,256}$/, { error: 'must be 1–256 characters of A-Z a-z 0-9 _ - (Telegram\'s rule) — generate one, e.g. openssl rand -hex 32' })
    .optional(),
  port: port(false).default(8443),
  host: nonEmpty('give a bind address, e.g. 0.0.0.0').default('0.0.0.0'),
  path: z
    .string({ error: 'must be a path string starting with / — e.g. /telegram' })
    .regex(/^\/\S*$/, { error: 'must start with / — e.g. /telegram' })
    .default('/telegram'),
});

const telegramRateSchema = z.strictObject({
  globalPerSecond: positiveInt('requests per second', 30).default(30),
  privateChatIntervalMs: positiveInt('milliseconds', 1000).default(1000),
  groupChatIntervalMs: positiveInt('milliseconds', 3000).default(3000),
  groupPerMinute: positiveInt('messages per minute', 20).default(20),
});

const telegramSchema = z.strictObject({
  token: z
    .string({ error: requiredString('put the bot token from @BotFather here, e.g. token: ${TELEGRAM_BOT_TOKEN}') })
    .trim()
    .regex(/^\d+:[A-Za-z0-9_-]{30,}$/, {
      error: 'is not a Telegram bot token (expected digits, a colon, then 30 or more of A-Z a-z 0-9 _ -) — copy the whole token @BotFather gave you',
    }),
  apiRoot: httpUrl('give the Bot API origin, e.g. https://api.telegram.org').default('https://api.telegram.org'),
  mode: oneOf(TELEGRAM_MODES).default('polling'),
  webhook: z.preprocess(nullToEmpty, webhookSchema).optional(),
  drafts: bool().default(false),
  rate: z.preprocess(nullToEmpty, telegramRateSchema).prefault({}),
});

const slackSchema = z.strictObject({
  botToken: z
    .string({ error: requiredString('put the Bot User OAuth Token (xoxb-…) from OAuth & Permissions here, e.g. botToken: ${SLACK_BOT_TOKEN}') })
    .trim()
    .regex(/^xoxb-[A-Za-z0-9-]+$/, { error: 'is not a Slack bot token (expected xoxb-…) — copy the Bot User OAuth Token from OAuth & Permissions' }),
  // appToken/signingSecret are required per mode: checked in crossKeyErrors.
  appToken: z
    .string({ error: 'must be a string — the app-level token (xapp-…)' })
    .trim()
    .regex(/^xapp-[A-Za-z0-9-]+$/, { error: 'is not a Slack app-level token (expected xapp-…) — create one with connections:write under Basic Information → App-Level Tokens' })
    .optional(),
  signingSecret: nonEmpty('copy the Signing Secret from Basic Information → App Credentials').optional(),
  mode: oneOf(SLACK_MODES).default('socket'),
  port: port(true).default(3000),
  host: nonEmpty('give a bind address, e.g. 0.0.0.0').default('0.0.0.0'),
  apiUrl: httpUrl('give the Slack Web API base, e.g. https://slack.com/api/').default('https://slack.com/api/'),
  threadFollow: bool().default(true),
});

const matrixSchema = z.strictObject({
  homeserverUrl: httpUrl('give the client-server API origin of the bot\'s homeserver, e.g. https://matrix.example.org'),
  // accessToken / userId / password: which combination is required is checked in crossKeyErrors.
  accessToken: nonEmpty('give the bot account\'s access token, e.g. accessToken: ${MATRIX_ACCESS_TOKEN}').optional(),
  userId: z
    .string({ error: 'must be a Matrix user id string — e.g. @loopbot:example.org' })
    .trim()
    .regex(/^@[^:\s]+:\S+$/, { error: 'is not a Matrix user id (expected @name:server) — e.g. @loopbot:example.org' })
    .optional(),
  password: nonEmpty('give the bot account\'s password, e.g. password: ${MATRIX_PASSWORD}').optional(),
  autoJoin: bool().default(true),
});

const consoleSchema = z.strictObject({
  user: z
    .string({ error: 'must be a string — e.g. you' })
    .regex(/^[^\s:]+$/, { error: 'must be one word without spaces or colons — e.g. you' })
    .default('you'),
});

const opsSchema = z.strictObject({
  httpPort: port(true).nullable().default(null),
  httpHost: nonEmpty('give a bind address, e.g. 127.0.0.1').default('127.0.0.1'),
  logLevel: oneOf(LOG_LEVELS).default('info'),
  logFormat: oneOf(LOG_FORMATS).default('auto'),
  controlSocket: nonEmpty('give a socket file path, e.g. /run/loopbridge/control.sock').optional(),
  adminToken: z
    .string({ error: 'must be a string — e.g. adminToken: ${LOOPBRIDGE_ADMIN_TOKEN}' })
    .trim()
    .min(24, { error: 'is too short to be a safe bearer token (at least 24 characters) — generate one, e.g. openssl rand -hex 32' })
    .optional(),
  usageRetentionDays: positiveInt('days', 90).default(90),
});

/** A chat/thread matcher: an id (numbers from YAML are taken as their digits), or a `/regex/flags` that compiles. */
function idOrPattern(what: string, example: string) {
  return z.preprocess(
    (v) => (typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v),
    z
      .string({ error: `must be a ${what} id string or a /regex/ — e.g. ${example}` })
      .trim()
      .min(1, { error: `must not be empty — give a ${what} id or a /regex/, e.g. ${example}` })
      .superRefine((s, ctx) => {
        const m = /^\/(.*)\/([a-z]*)$/s.exec(s);
        if (!m) return;
        try {
          new RegExp(m[1], m[2]);
        } catch (err) {
          const why = err instanceof Error ? err.message.replace(/^Invalid (regular expression|flags).*?: /s, '') : 'invalid';
          ctx.addIssue({ code: 'custom', message: `is a /regex/ that does not compile (${why}) — fix the pattern, or give a plain id` });
        }
      }),
  );
}

const bindingSchema = z.strictObject({
  platform: oneOf(PLATFORMS),
  chat: idOrPattern('chat', '"-1001234567890", C0123456789 or "/^-100/"'),
  thread: idOrPattern('thread', '"42" (a forum topic) or "/./"').optional(),
  title: z
    .string({ error: 'must be a string template — e.g. "{chat}: {message}"' })
    .superRefine((s, ctx) => {
      for (const m of s.matchAll(/\{([^{}]*)\}/g)) {
        if (!(TITLE_PLACEHOLDERS as readonly string[]).includes(m[1])) {
          ctx.addIssue({ code: 'custom', message: `has an unknown placeholder {${m[1]}} — use ${TITLE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}` });
        }
      }
    })
    .optional(),
  repo: nonEmpty('give the repository, e.g. acme/api').optional(),
  profiles: z.array(nonEmpty('give a profile name'), { error: 'must be a list of profile names — e.g. [backend]' }).optional(),
  vault: nonEmpty('give a vault name, e.g. team').optional(),
  permissionMode: oneOf(PERMISSION_MODES).optional(),
  metadata: z
    .record(z.string(), z.unknown(), { error: 'must be a mapping of keys to values — e.g. { team: api }' })
    .refine((m) => JSON.stringify(m).length <= 8192, { error: 'is larger than 8192 characters as JSON (the loop server takes 16 KiB of metadata, the bridge adds its own) — keep it small' })
    .optional(),
  loopId: z
    .string({ error: 'must be a loop id string — e.g. loop_3a91ce5e-9c2f-4b4e-8f0a-1d2c3b4a5f60' })
    .trim()
    .regex(/^loop_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
      error: 'is not a loop id (loop_ followed by a UUID) — copy it from /status or the loop server, e.g. loop_3a91ce5e-9c2f-4b4e-8f0a-1d2c3b4a5f60',
    })
    .optional(),
  requireMention: bool().optional(),
  mentionPatterns: z.array(regexSource(), { error: 'must be a list of regular expression strings' }).optional(),
  mirror: bool().optional(),
  whileBusy: oneOf(WHILE_BUSY).optional(),
});

const section = <T extends z.ZodType>(s: T) => z.preprocess(nullToEmpty, s);

/** The file's schema: strict objects (unknown keys are errors), defaults applied. */
export const configSchema = z.strictObject(
  {
    loop: section(loopSchema),
    store: section(storeSchema).prefault({}),
    replica: section(replicaSchema).prefault({}),
    access: section(accessSchema).prefault({}),
    routing: section(routingSchema).prefault({}),
    replies: section(repliesSchema).prefault({}),
    telegram: section(telegramSchema).optional(),
    slack: section(slackSchema).optional(),
    matrix: section(matrixSchema).optional(),
    console: section(consoleSchema).optional(),
    ops: section(opsSchema).prefault({}),
    bindings: z
      .preprocess((v) => (v === null ? [] : v), z.array(bindingSchema, { error: 'must be a list of bindings (- platform: …, chat: …) — see config/README.md' }))
      .default([]),
  },
  { error: (iss) => (iss.code === 'invalid_type' ? 'the file must hold a mapping of sections (loop:, access:, …) — see config/loopbridge.example.yaml' : undefined) },
);

/** What the schema parses to, before cross-field resolution. */
export type ParsedConfig = z.output<typeof configSchema>;

// ---- schema walking (for "did you mean" and the docs test) -----------------------------------------

type AnySchema = { _zod: { def: Record<string, unknown> & { type: string } } };

function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const def = s._zod.def;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'prefault' || def.type === 'nullable') {
      s = def.innerType as AnySchema;
    } else if (def.type === 'pipe') {
      // preprocess is a pipe from a transform into the real schema; a refinement pipe keeps its input shape.
      const input = def.in as AnySchema;
      s = input._zod.def.type === 'transform' ? (def.out as AnySchema) : input;
    } else {
      return s;
    }
  }
}

/** The keys an object at `path` (segments, list indexes as numbers) may hold; `[]` if not an object. */
export function knownKeysAt(path: ReadonlyArray<string | number>): string[] {
  let s = unwrap(configSchema as unknown as AnySchema);
  for (const seg of path) {
    const def = s._zod.def;
    if (def.type === 'object') {
      const next = (def.shape as Record<string, AnySchema>)[String(seg)];
      if (!next) return [];
      s = unwrap(next);
    } else if (def.type === 'array') {
      s = unwrap(def.element as AnySchema);
    } else {
      return [];
    }
  }
  return s._zod.def.type === 'object' ? Object.keys(s._zod.def.shape as object) : [];
}

/** Every leaf key path the schema knows, e.g. `telegram.webhook.url` (used to check the docs cover all). */
export function configKeyPaths(): string[] {
  const out: string[] = [];
  const walk = (prefix: string[]): void => {
    for (const key of knownKeysAt(prefix)) {
      const p = [...prefix, key];
      if (knownKeysAt(p).length > 0) walk(p);
      else out.push(p.join('.'));
    }
  };
  walk([]);
  return out;
}

/** `['routing', 'mentionPatterns', 1]` → `routing.mentionPatterns[1]`; `[]` → `''`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}
