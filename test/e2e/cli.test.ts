// The `loopbridge` command as a newcomer runs it: real child processes, real HTTP.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Access } from '../../src/core/access.js';
import { startSimulator } from '../../src/sim/index.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin/loopbridge.mjs');
const dir = mkdtempSync(join(tmpdir(), 'lb-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, input, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
}

describe('check-config', () => {
  it('accepts the example config', () => {
    const r = run(['check-config', '--config', 'config/loopbridge.example.yaml'], undefined, { LOOP_TOKEN: '' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('permissionMode: default');
  });

  it('names the bad key path and exits non-zero', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'loop:\n  baseUrl: http://127.0.0.1:1\n  token: la_' + 'a'.repeat(48) + '\nrouting:\n  requireMentoin: true\naccess:\n  dm: sometimes\n');
    const r = run(['check-config', '--config', file]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('routing.requireMentoin');
    expect(r.stderr).toContain('access.dm');
    expect(r.stderr + r.stdout).not.toContain('a'.repeat(48)); // the token is never echoed
  });

  it('refuses a missing --config clearly', () => {
    const r = run(['start']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--config');
  });
});

describe('pairing', () => {
  it('lists a pending code and approves it; an unknown code is refused', async () => {
    const storePath = join(dir, 'pairing-store.json');
    const file = join(dir, 'pairing.yaml');
    writeFileSync(file, `loop: { baseUrl: "http://127.0.0.1:9", token: "la_${'1'.repeat(48)}" }\nstore: { path: "${storePath}" }\naccess: { dm: pairing }\nconsole: { user: you }\n`);
    const store = await openLowdbStore({ path: storePath, flushDelayMs: 1 });
    const code = await new Access({ dm: 'pairing', users: [], admins: [], groups: [], pairingCodeTtlMs: 3_600_000 }, store).pairingCode('telegram:777', 'Zoe');
    await store.close();

    const listed = run(['pairing', 'list', '--config', file]);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`  CODE +USER +NAME +REQUESTED\\n  ${code}  telegram:777  Zoe +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d \\(\\d+s ago\\)\\n`));

    const approved = run(['pairing', 'approve', code.toLowerCase(), '--config', file]);
    expect(approved.status).toBe(0);
    expect(approved.stdout).toContain('approved telegram:777');
    expect(run(['pairing', 'list', '--config', file]).stdout).toMatch(/pending requests:\n  \(none\)\napproved users:\n  USER\n  telegram:777\n/);

    const again = run(['pairing', 'approve', code, '--config', file]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('no pending pairing code');
    expect(run(['pairing', 'approve', '--config', file]).stderr).toContain('CODE is required');
    expect(JSON.parse(run(['pairing', 'list', '--json', '--config', file]).stdout)).toEqual({ pending: [], approved: ['telegram:777'] });
  });
});

describe('demo (piped)', () => {
  it('prints a streamed reply for each line and exits 0', () => {
    const r = run(['demo'], 'hello there\ntools\n');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('**Echo:** hello there');
    expect(r.stdout).toContain('🔧 Bash `ls -la` ✓');
    expect(r.stdout.indexOf('hello there')).toBeLessThan(r.stdout.indexOf('🔧 Bash'));
  });
});

describe('sim', () => {
  it('answers an independent HTTP client as the contract says', async () => {
    const port = await freePort();
    const token = 'la_' + '0123456789abcdef'.repeat(3);
    const child = spawn(process.execPath, [BIN, 'sim', '--port', String(port), '--token', token], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => (out.includes(`127.0.0.1:${port}`) ? true : undefined), 20_000);
      const base = `http://127.0.0.1:${port}/api/v1`;
      const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const created = await fetch(`${base}/loops`, { method: 'POST', headers: auth, body: JSON.stringify({ title: 'cli test' }) });
      expect(created.status).toBe(201);
      const loop = (await created.json()) as { id: string };
      expect(loop.id).toMatch(/^loop_[0-9a-f-]{36}$/);

      const stream = await fetch(`${base}/loops/${loop.id}/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ content: 'hi' }) });
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toContain('text/event-stream');
      const names = [...(await stream.text()).matchAll(/^event: (\S+)$/gm)].map((m) => m[1]).filter((n) => n !== 'sdk_message' && n !== 'ping');
      expect(names[0]).toBe('started');
      expect(names.slice(1, -1).every((n) => n === 'assistant_delta')).toBe(true);
      expect(names.length).toBeGreaterThan(2);
      expect(names.at(-1)).toBe('done');

      const wrong = await fetch(`${base}/loops`, { headers: { authorization: `Bearer la_${'f'.repeat(48)}` } });
      expect(wrong.status).toBe(401);
      expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('missing_credentials');

      const long = await fetch(`${base}/loops`, { method: 'POST', headers: auth, body: JSON.stringify({ title: 'x'.repeat(201) }) });
      expect(long.status).toBe(400);
      expect(((await long.json()) as { error: { code: string } }).error.code).toBe('title_too_long');

      expect((await fetch(`${base}/loops/${loop.id}`, { method: 'DELETE', headers: auth })).status).toBe(204);
      const archived = await fetch(`${base}/loops/${loop.id}/messages`, { method: 'POST', headers: auth, body: JSON.stringify({ content: 'again' }) });
      expect(archived.status).toBe(400);
      expect(((await archived.json()) as { error: { code: string } }).error.code).toBe('loop_archived');
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('start', () => {
  it('serves /healthz and /metrics, answers, and shuts down cleanly on SIGTERM', async () => {
    const sim = await startSimulator({ deltaDelayMs: 2 });
    const port = await freePort();
    const file = join(dir, 'ops.yaml');
    writeFileSync(
      file,
      `loop: { baseUrl: "${sim.url}", token: "${sim.token}" }\nstore: { path: "${join(dir, 'ops-store.json')}" }\naccess: { users: ["console:you"] }\nconsole: { user: you }\nops: { httpPort: ${port}, logLevel: warn, logFormat: json }\n`,
    );
    const child = spawn(process.execPath, [BIN, 'start', '--config', file], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LOOPBRIDGE_CONSOLE_MARKERS: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const health = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        return r?.ok ? ((await r.json()) as { ok: boolean; backlog: number }) : undefined;
      }, 20_000);
      expect(health).toMatchObject({ ok: true, backlog: 0 });
      child.stdin.write('hello ops\n');
      await waitFor(() => (out.includes('**Echo:** hello ops') ? true : undefined), 20_000);
      // Once the turn is done nothing waits: the queue-depth gauge is back to 0.
      const metrics = await waitFor(async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return /^inbound_queue_depth 0$/m.test(text) ? text : undefined;
      });
      expect(metrics).toMatch(/turns_completed_total\{platform="console",status="done"\} 1/);
      expect(metrics).toContain('platform_calls_total');
      const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(err).not.toContain(sim.token);
    } finally {
      child.kill('SIGKILL');
      await sim.close();
    }
  });
});
