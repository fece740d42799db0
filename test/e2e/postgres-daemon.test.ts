// The daemon and the operator commands on PostgreSQL (store.url): /healthz reports the store and answers
// 503 while the database is unreachable; `loopbridge pairing` reads and writes the shared database.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { Access } from '../../src/core/access.js';
import { startDaemon } from '../../src/daemon.js';
import { startSimulator } from '../../src/sim/index.js';
import { openPgStore } from '../../src/store/index.js';
import { dropSchema, openTestPgStore, pgUrl, uniqueSchema } from '../helpers/pg.js';
import { RecordingAdapter } from '../helpers/recording-adapter.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { silentLog, waitFor } from '../helpers/wait.js';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'lb-pg-daemon-'));
const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await dropSchema(s);
  rmSync(dir, { recursive: true, force: true });
});

/** The test database's URL with its tables in a fresh schema (and optionally through another port). */
function storeUrl(port?: number): { url: string; schema: string } {
  const schema = uniqueSchema('daemon');
  schemas.push(schema);
  const url = new URL(pgUrl());
  if (port) url.port = String(port);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.toString(), schema };
}

describe('daemon on PostgreSQL', () => {
  it('/healthz names the store, answers 503 while PostgreSQL is unreachable, and 200 once it is back', async () => {
    const sim = await startSimulator({ deltaDelayMs: 1 });
    const proxy = await startTcpProxy(Number(new URL(pgUrl()).port));
    const { url } = storeUrl(proxy.port);
    const store = await openPgStore({ url, connectTimeoutMs: 1000, queryTimeoutMs: 2000, healthTimeoutMs: 500, onWarning: () => {} });
    const { config } = resolveConfig({ loop: { baseUrl: sim.url, token: sim.token }, store: { url }, access: { users: ['console:you'] }, ops: { httpPort: 0 } }, {});
    const daemon = await startDaemon(config, { log: silentLog, adapters: [new RecordingAdapter()], store });
    try {
      const healthz = async () => {
        const r = await fetch(`${daemon.ops!.url}/healthz`);
        return { status: r.status, body: (await r.json()) as { ok: boolean; store: { ok: boolean; kind: string; problem?: string } } };
      };
      expect(await healthz()).toMatchObject({ status: 200, body: { ok: true, store: { ok: true, kind: 'postgres' } } });
      await proxy.cut('refuse');
      const down = await healthz();
      expect(down).toMatchObject({ status: 503, body: { ok: false, store: { ok: false, kind: 'postgres' } } });
      expect(down.body.store.problem).toMatch(/unreachable/);
      expect(JSON.stringify(down.body)).not.toContain('postgres@'); // no URL with credentials
      await proxy.restore();
      await waitFor(async () => (await healthz()).status === 200, '/healthz to recover');
    } finally {
      await daemon.stop();
      await store.close();
      await proxy.close();
      await sim.close();
    }
  });

  it('`loopbridge pairing list|approve` works against the database named by store.url', async () => {
    const { url, schema } = storeUrl();
    const store = await openTestPgStore({ schema });
    const code = await new Access({ dm: 'pairing', users: [], admins: [], groups: [], pairingCodeTtlMs: 3_600_000 }, store).pairingCode('telegram:777', 'Zoe');
    await store.close();
    const file = join(dir, 'pairing.yaml');
    writeFileSync(file, `loop: { baseUrl: "http://127.0.0.1:9", token: "la_${'1'.repeat(48)}" }\nstore: { url: "\${DB_URL}" }\naccess: { dm: pairing }\nconsole: { user: you }\n`);
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/loopbridge.mjs'), ...args, '--config', file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DB_URL: url } });

    expect(cli('pairing', 'list').stdout).toMatch(new RegExp(`\\n  ${code}  telegram:777  Zoe +\\d{4}-`));
    const approved = cli('pairing', 'approve', code);
    expect(approved.status, approved.stderr).toBe(0);
    expect(approved.stdout).toContain('approved telegram:777');
    expect(cli('pairing', 'list').stdout).toMatch(/approved users:\n  USER\n  telegram:777\n/);
  });

  it('`loopbridge start` with an unreachable store.url exits 1 saying where, without the password', () => {
    const file = join(dir, 'down.yaml');
    writeFileSync(file, `loop: { baseUrl: "http://127.0.0.1:9", token: "la_${'1'.repeat(48)}" }\nstore: { url: "postgres://lb:pw-SECRET@127.0.0.1:1/lb" }\naccess: { users: [console:you] }\nconsole: { user: you }\nops: { logLevel: silent }\n`);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/loopbridge.mjs'), 'start', '--config', file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, input: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/PostgreSQL at 127\.0\.0\.1:1\/lb is unreachable/);
    expect(r.stderr + r.stdout).not.toContain('pw-SECRET');
  });
});
