// A real Synapse homeserver on 127.0.0.1 for the Matrix tests and the Matrix benchmark: the pinned
// release from a venv cached outside the clone (ensure-synapse.sh), a throwaway config in a temp dir
// (free port, sqlite, registration shared secret), started as a child process and stopped by its PID.
// Users are registered through the shared-secret admin API, as an operator would script it.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../helpers/net.js';

const ENSURE = join(import.meta.dirname, 'ensure-synapse.sh');
/** Room for Synapse's first start (a cold sqlite schema) on a busy 2-core machine, ms. */
const START_DEADLINE_MS = 90_000;
/** How long a SIGTERM may take before SIGKILL, ms (Synapse usually exits in ~2 s). */
const STOP_GRACE_MS = 10_000;

/**
 * Rate limits of the homeserver. `raised`: every limit out of the way (tests). `messages-default`:
 * Synapse's own defaults for sending events (rc_message 0.2/s, burst 10, per user) with the limits that
 * only slow a benchmark's setup (joins, invites, room creation, registration, login) raised.
 */
export type SynapseRateLimits = 'raised' | 'messages-default';

export interface SynapseOptions {
  /** Default `raised`. */
  rateLimits?: SynapseRateLimits;
  /** Synapse's log level; default WARNING. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
}

/** A registered account: what a client needs to act as it. */
export interface SynapseAccount {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

/** What tests in other processes need to reach the server and register users. */
export interface SynapseInfo {
  url: string;
  serverName: string;
  sharedSecret: string;
}

export interface Synapse extends SynapseInfo {
  pid: number;
  /** Milliseconds from spawn until the client API answered. */
  startMs: number;
  register(username: string, options?: { password?: string; admin?: boolean; displayName?: string }): Promise<SynapseAccount>;
  /** The server's log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const exec = promisify(execFile);

/** The venv's python, creating the venv on first use. Throws with the script's output when that fails. */
export async function synapsePython(): Promise<string> {
  try {
    const { stdout } = await exec('bash', [ENSURE], { maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60_000 });
    return stdout.trim().split('\n').pop()!;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`Synapse could not be installed (test/peers/synapse/ensure-synapse.sh): ${e.stderr?.trim() || e.message}`);
  }
}

function rateLimitConfig(mode: SynapseRateLimits): string {
  const high = '{per_second: 10000, burst_count: 100000}';
  const setup = [
    `rc_registration: ${high}`,
    `rc_login: {address: ${high}, account: ${high}, failed_attempts: ${high}}`,
    `rc_joins: {local: ${high}, remote: ${high}}`,
    `rc_joins_per_room: ${high}`,
    `rc_invites: {per_room: ${high}, per_user: ${high}, per_issuer: ${high}}`,
    `rc_room_creation: ${high}`,
    `rc_admin_redaction: ${high}`,
  ];
  return [...setup, ...(mode === 'raised' ? [`rc_message: ${high}`, `rc_presence: {per_user: ${high}}`] : [])].join('\n');
}

function homeserverYaml(dir: string, port: number, secret: string, options: SynapseOptions): string {
  return `# Throwaway test homeserver (loopbridge tests); regenerated for every start.
server_name: "localhost"
pid_file: "${dir}/homeserver.pid"
public_baseurl: "http://127.0.0.1:${port}/"
listeners:
  - {port: ${port}, bind_addresses: ['127.0.0.1'], type: http, tls: false, x_forwarded: false, resources: [{names: [client], compress: false}]}
database: {name: sqlite3, args: {database: "${dir}/homeserver.db"}}
log_config: "${dir}/log.yaml"
media_store_path: "${dir}/media"
signing_key_path: "${dir}/signing.key"
report_stats: false
registration_shared_secret: "${secret}"
macaroon_secret_key: "${randomBytes(16).toString('hex')}"
form_secret: "${randomBytes(16).toString('hex')}"
trusted_key_servers: []
suppress_key_server_warning: true
presence: {enabled: false}
url_preview_enabled: false
enable_metrics: false
# Registering throwaway users: cheap password hashing (the default 12 rounds cost ~0.3 s of CPU each).
bcrypt_rounds: 4
${rateLimitConfig(options.rateLimits ?? 'raised')}
`;
}

function logYaml(level: string): string {
  return `version: 1
formatters: {brief: {format: '%(asctime)s %(levelname)s %(name)s: %(message)s'}}
handlers: {console: {class: logging.StreamHandler, formatter: brief}}
root: {level: ${level}, handlers: [console]}
disable_existing_loggers: false
`;
}

/** Starts a fresh homeserver. Rejects (with Synapse's log) if it does not answer in time. */
export async function startSynapse(options: SynapseOptions = {}): Promise<Synapse> {
  const python = await synapsePython();
  const dir = mkdtempSync(join(tmpdir(), 'lb-synapse-'));
  const port = await freePort();
  const sharedSecret = randomBytes(24).toString('hex');
  const config = join(dir, 'homeserver.yaml');
  writeFileSync(config, homeserverYaml(dir, port, sharedSecret, options));
  writeFileSync(join(dir, 'log.yaml'), logYaml(options.logLevel ?? (process.env.LB_SYNAPSE_LOG_LEVEL as SynapseOptions['logLevel']) ?? 'WARNING'));
  await exec(python, ['-m', 'synapse.app.homeserver', '-c', config, '--generate-keys'], { cwd: dir });

  const t0 = Date.now();
  let output = '';
  const child: ChildProcess = spawn(python, ['-m', 'synapse.app.homeserver', '-c', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  // LB_SYNAPSE_LOG=<file> also writes the server's output there (debugging a test).
  const mirror = process.env.LB_SYNAPSE_LOG;
  const keep = (d: Buffer) => {
    if (mirror) appendFileSync(mirror, d);
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((r) => child.once('exit', (code) => ((exitCode = code), r())));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (exitCode === undefined && child.pid) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    if (exitCode !== undefined) {
      await stop();
      throw new Error(`Synapse exited during start (code ${exitCode}):\n${output}`);
    }
    try {
      const res = await fetch(`${url}/_matrix/client/versions`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Synapse did not answer on ${url} within ${START_DEADLINE_MS} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const startMs = Date.now() - t0;
  const info: SynapseInfo = { url, serverName: 'localhost', sharedSecret };
  return {
    ...info,
    pid: child.pid!,
    startMs,
    register: (username, opts) => registerUser(info, username, opts),
    log: () => output || readFileSafe(join(dir, 'homeserver.log')),
    stop,
  };
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Registers a user through `/_synapse/admin/v1/register` (nonce + HMAC-SHA1 of the shared secret), the
 * way `register_new_matrix_user` does, and returns its first access token.
 */
export async function registerUser(
  server: SynapseInfo,
  username: string,
  options: { password?: string; admin?: boolean; displayName?: string } = {},
): Promise<SynapseAccount> {
  const password = options.password ?? randomBytes(12).toString('hex');
  const admin = options.admin ?? false;
  const endpoint = `${server.url}/_synapse/admin/v1/register`;
  const { nonce } = (await (await fetch(endpoint)).json()) as { nonce: string };
  const mac = createHmac('sha1', server.sharedSecret)
    .update([nonce, username, password, admin ? 'admin' : 'notadmin'].join('\0'))
    .digest('hex');
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ nonce, username, password, admin, mac, ...(options.displayName ? { displayname: options.displayName } : {}) }),
  });
  const body = (await res.json()) as { user_id?: string; access_token?: string; device_id?: string; error?: string };
  if (!res.ok || !body.user_id || !body.access_token) throw new Error(`registering ${username} failed: HTTP ${res.status} ${body.error ?? ''}`);
  return { userId: body.user_id, accessToken: body.access_token, deviceId: body.device_id ?? '', password };
}
