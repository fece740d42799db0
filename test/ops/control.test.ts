// The control channel and the store guard: one daemon per store, operator commands reach it, and with no
// daemon the CLI writes the store itself without ever racing a daemon that starts meanwhile.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig, type Config } from '../../src/config/index.js';
import { Access } from '../../src/core/access.js';
import { keys } from '../../src/core/state.js';
import { callControl } from '../../src/ops/control-client.js';
import { ControlError } from '../../src/ops/control-protocol.js';
import { operate } from '../../src/ops/operator.js';
import { claimStore, StoreGuardError, withStoreLock } from '../../src/ops/store-guard.js';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import { silentLog } from '../helpers/wait.js';

const root = mkdtempSync(join(tmpdir(), 'lb-ctl-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function config(): Config {
  const dir = join(root, `c${++n}`);
  return resolveConfig({ loop: { baseUrl: 'http://127.0.0.1:9', token: `la_${'1'.repeat(48)}` }, store: { path: join(dir, 'store.json') }, access: { dm: 'pairing' } }, {}).config;
}

async function pendingCode(c: Config, user: string): Promise<string> {
  const store = await openLowdbStore({ path: c.store.path, flushDelayMs: 1 });
  const code = await new Access({ ...c.access }, store).pairingCode(user, 'Zoe');
  await store.close();
  return code;
}

describe('control socket', () => {
  it('is owner-only, answers "starting" until served, then runs operations; unknown ones are named', async () => {
    const c = config();
    const server = await claimStore(c.store.path, c.ops.controlSocket, silentLog);
    try {
      expect(statSync(c.ops.controlSocket).mode & 0o777).toBe(0o600);
      await expect(callControl(c.ops.controlSocket, 'daemon.ping')).rejects.toMatchObject({ code: 'starting' });
      server.serve({ 'daemon.ping': async () => ({ pong: true }) });
      expect(await callControl(c.ops.controlSocket, 'daemon.ping')).toEqual({ pong: true });
      await expect(callControl(c.ops.controlSocket, 'nope.nothing')).rejects.toMatchObject({ code: 'unknown_op', message: expect.stringContaining('daemon.ping') });
    } finally {
      await server.close();
    }
    expect(existsSync(c.ops.controlSocket)).toBe(false);
    await expect(callControl(c.ops.controlSocket, 'daemon.ping')).rejects.toMatchObject({ code: 'not_running' });
  });

  it('a second daemon on the same store is refused; a socket left by a killed daemon is taken over', async () => {
    const c = config();
    const first = await claimStore(c.store.path, c.ops.controlSocket, silentLog);
    await expect(claimStore(c.store.path, c.ops.controlSocket, silentLog)).rejects.toMatchObject({ code: 'daemon_running' });
    await first.close();

    // A process that listened on the socket and was killed leaves the file behind, answering nobody.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(c.ops.controlSocket)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => child.stdout!.once('data', () => r()));
    await new Promise<void>((r) => {
      child.once('exit', () => r());
      child.kill('SIGKILL');
    });
    expect(existsSync(c.ops.controlSocket)).toBe(true);
    const next = await claimStore(c.store.path, c.ops.controlSocket, silentLog);
    next.serve({ 'daemon.ping': async () => 'me' });
    expect(await callControl(c.ops.controlSocket, 'daemon.ping')).toBe('me');
    await next.close();
  });

  it('refuses to take over a path that is not a socket', async () => {
    const c = config();
    await withStoreLock(c.store.path, async () => {}); // creates the directory
    writeFileSync(c.ops.controlSocket, 'not a socket');
    await expect(claimStore(c.store.path, c.ops.controlSocket, silentLog)).rejects.toBeInstanceOf(StoreGuardError);
  });
});

describe('operator commands', () => {
  it('with no daemon they change the store file itself', async () => {
    const c = config();
    const code = await pendingCode(c, 'telegram:777');
    const { result, via } = await operate(c, 'pairing.approve', { code: code.toLowerCase() });
    expect(via).toBe('store');
    expect(result).toMatchObject({ user: 'telegram:777', displayName: 'Zoe' });
    expect(JSON.stringify(result)).not.toContain(code); // a spent code is not echoed
    const store = await openLowdbStore({ path: c.store.path, flushDelayMs: 1 });
    expect(await store.get(keys.paired('telegram:777'))).toBeTruthy();
    await store.close();
    await expect(operate(c, 'pairing.approve', { code })).rejects.toMatchObject({ code: 'not_found' });
    await expect(operate(c, 'pairing.approve', {})).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('a daemon that starts while the CLI edits the store waits for it, and then sees the edit', async () => {
    const c = config();
    const code = await pendingCode(c, 'telegram:888');
    let claimed = false;
    let claim: ReturnType<typeof claimStore> | undefined;
    await withStoreLock(c.store.path, async () => {
      claim = claimStore(c.store.path, c.ops.controlSocket, silentLog);
      void claim.then(() => (claimed = true), () => {});
      const store = await openLowdbStore({ path: c.store.path, flushDelayMs: 1 });
      await store.set(keys.paired('telegram:888'), { approvedAt: 1 });
      await store.delete(keys.pairingCode(code));
      await store.close();
      expect(claimed).toBe(false); // it cannot own the store while we write it
    });
    const server = await claim!;
    try {
      const store = await openLowdbStore({ path: c.store.path, flushDelayMs: 1 });
      expect(await store.get(keys.paired('telegram:888'))).toBeTruthy();
      await store.close();
    } finally {
      await server.close();
    }
  });

  it('with a daemon running they go through it, never to the file', async () => {
    const c = config();
    const server = await claimStore(c.store.path, c.ops.controlSocket, silentLog);
    const seen: string[] = [];
    server.serve({ 'pairing.list': async () => (seen.push('list'), { pending: [], approved: ['telegram:1'] }) });
    try {
      const { result, via } = await operate(c, 'pairing.list', {});
      expect(via).toBe('daemon');
      expect(result).toEqual({ pending: [], approved: ['telegram:1'] });
      expect(seen).toEqual(['list']);
      expect(existsSync(c.store.path)).toBe(false); // the CLI never opened the store
      await expect(operate(c, 'pairing.deny', { code: 'X' })).rejects.toBeInstanceOf(ControlError);
    } finally {
      await server.close();
    }
  });

  it('waits for a daemon that is still starting', async () => {
    const c = config();
    const server = await claimStore(c.store.path, c.ops.controlSocket, silentLog);
    try {
      const asked = operate(c, 'daemon.ping', {});
      await expect(callControl(c.ops.controlSocket, 'daemon.ping')).rejects.toMatchObject({ code: 'starting' });
      server.serve({ 'daemon.ping': async () => 'ready' });
      expect((await asked).result).toBe('ready');
    } finally {
      await server.close();
    }
  });
});
