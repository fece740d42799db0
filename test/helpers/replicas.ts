// Replicas as a person runs them: `loopbridge start --config FILE` child processes sharing one config
// (store.url in its own PostgreSQL schema), each with its own ops port through the environment, and
// what their /healthz says.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import type { ReplicaHealth } from '../../src/core/replicas/replica-coordinator.js';
import { freePort } from './net.js';
import { pgAdmin, pgUrl, uniqueSchema } from './pg.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** A fresh schema and the store URL that puts the tables there (optionally through another port). */
export function replicaStore(port?: number): { url: string; schema: string } {
  const schema = uniqueSchema('rep');
  const url = new URL(pgUrl());
  if (port) url.port = String(port);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.toString(), schema };
}

/** What /healthz answers (the parts these tests read). */
export interface HealthBody {
  ok: boolean;
  status: string;
  store?: { ok: boolean; problem?: string };
  replica?: ReplicaHealth;
}

/** One running `loopbridge start` child. */
export interface ReplicaProcess {
  child: ChildProcess;
  opsPort: number;
  /** Everything it wrote to stdout and stderr. */
  logs(): string;
  /** GET /healthz: status and body; undefined while it does not answer. */
  health(): Promise<{ status: number; body: HealthBody } | undefined>;
  exited: Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts a replica with `config`; `env` adds to the environment (the config reads OPS_PORT, and whatever else it names). */
export async function startReplica(config: string, env: Record<string, string> = {}): Promise<ReplicaProcess> {
  const opsPort = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bin/loopbridge.mjs'), 'start', '--config', config], {
    cwd: ROOT,
    env: { ...process.env, OPS_PORT: String(opsPort), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    opsPort,
    logs: () => out,
    exited,
    async health() {
      try {
        const r = await fetch(`http://127.0.0.1:${opsPort}/healthz`, { signal: AbortSignal.timeout(5000) });
        return { status: r.status, body: (await r.json()) as HealthBody };
      } catch {
        return undefined;
      }
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** The turn records in `schema`: conversation key → platform message ids of its live reply. */
export async function turnRefs(schema: string): Promise<Map<string, string[]>> {
  const rows = await pgAdmin<{ key: string; value: { chunks?: Array<{ ref: { messageId: string } }> } }>(
    `select key, value from ${pg.escapeIdentifier(schema)}.lb_entries where key like 'turn/%'`,
  );
  return new Map(rows.rows.map((r) => [r.key.slice('turn/'.length), (r.value.chunks ?? []).map((c) => c.ref.messageId)]));
}
