// A real PostgreSQL server for tests and benchmarks: initdb into a temp dir, pg_ctl start on a free
// port of 127.0.0.1, stop by the postmaster's PID. The server refuses to run as root, so as root it runs
// as the `postgres` system user. Tuned for throwaway data (no fsync), never for production.

import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { userInfo, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../helpers/net.js';

const run = promisify(execFile);

/** A running server. */
export interface PostgresServer {
  /** Superuser URL of the `postgres` database, e.g. `postgres://postgres@127.0.0.1:5555/postgres`. */
  url: string;
  port: number;
  /** The postmaster's PID. */
  pid: number;
  /** Stops the server (SIGINT: fast shutdown), waits for it to exit and removes its files. */
  stop(): Promise<void>;
}

/**
 * The folder holding `initdb` and `pg_ctl`: `$LOOPBRIDGE_PG_BIN`, else the newest
 * /usr/lib/postgresql/N/bin (Debian's layout), else whatever PATH finds.
 */
export function findPostgresBin(): string | undefined {
  const env = process.env.LOOPBRIDGE_PG_BIN;
  if (env) return existsSync(join(env, 'initdb')) ? env : undefined;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, 'initdb'))) return dir;
  return undefined;
}

const isRoot = () => process.getuid?.() === 0;

/** Runs a server binary, as `postgres` when we are root. */
async function pgCommand(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return isRoot() ? run('runuser', ['-u', 'postgres', '--', bin, ...args]) : run(bin, args);
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts a fresh server. Throws with the server's log when it cannot. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new Error('PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package `postgresql` (.ci/run does) or set LOOPBRIDGE_PG_BIN');
  }
  const dir = mkdtempSync(join(tmpdir(), 'lb-pg-'));
  if (isRoot()) chownSync(dir, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
  const dataDir = join(dir, 'data');
  const user = isRoot() ? 'postgres' : userInfo().username;
  try {
    await pgCommand(join(bin, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // A free port can be taken between the probe and the bind: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`;
      try {
        await pgCommand(join(bin, 'pg_ctl'), ['-D', dataDir, '-o', options, '-w', '-t', '60', '-l', join(dir, 'log'), 'start']);
      } catch (error) {
        const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '';
        if (attempt < 3 && /could not bind|already in use/i.test(log)) continue;
        throw new Error(`pg_ctl start failed (as ${user}): ${error instanceof Error ? error.message : String(error)}\n${log}`);
      }
      const pid = postmasterPid(dataDir);
      if (!pid) throw new Error(`PostgreSQL started but ${dataDir}/postmaster.pid is unreadable`);
      return {
        url: `postgres://postgres@127.0.0.1:${port}/postgres`,
        port,
        pid,
        stop: async () => {
          if (alive(pid)) process.kill(pid, 'SIGINT');
          for (let i = 0; i < 600 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
          if (alive(pid)) process.kill(pid, 'SIGKILL');
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (error) {
    const pid = postmasterPid(dataDir);
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
