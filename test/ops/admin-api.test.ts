// The admin HTTP API over real HTTP on 127.0.0.1, with the daemon's operation table on a running bridge (the
// loop server is the simulator): off without ops.adminToken; a request that would change something does
// nothing without the right token; pairing works through it and never shows a code; bad bodies get a clear 400.

import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { listPairings } from '../../src/core/access.js';
import { UsageLedger } from '../../src/core/usage-ledger.js';
import { runOperation } from '../../src/ops/control-protocol.js';
import { operatorOperations } from '../../src/ops/operator.js';
import { startOpsServer, type OpsServer } from '../../src/ops/ops-server.js';
import { dm, finalReply, harnessSuite, loopOf, message, person, texts, waitFor, type Harness } from '../core/fixtures.js';
import { freePort } from '../helpers/net.js';

const ADMIN = 'adm_fedcba9876543210fedcba9876543210';
const suite = harnessSuite();
let server: OpsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A bridge (DM pairing on) and its ops listener with the admin API when `token` is given. */
async function start(token: string | undefined): Promise<{ h: Harness; url: string }> {
  const h = await suite.harness({ access: { dm: 'pairing' } });
  const config = resolveConfig({ loop: { baseUrl: suite.sim.url, token: suite.sim.token }, access: { dm: 'pairing' }, console: {} }, {}).config; // the table's settings (the bridge has its own access)
  const operations = operatorOperations({
    config,
    store: h.store,
    usage: new UsageLedger(h.store, 90),
    bindings: h.bridge.bindings,
    clients: h.bridge.clients,
    running: (key) => h.bridge.sessions.running.has(key),
    approved: (rec) => h.bridge.pairingApproved(rec),
  });
  const admin = token ? { token, run: (op: string, args: Record<string, unknown>) => runOperation(operations, op, args) } : undefined;
  server = await startOpsServer('127.0.0.1', await freePort(), h.bridge.metrics, async () => ({ ok: true }), admin);
  return { h, url: server.url };
}

/** The `error.message` of an admin API error answer. */
const errorMessage = async (r: Response) => ((await r.json()) as { error: { message: string } }).error.message;

const call = (url: string, path: string, init: { method?: string; auth?: string; body?: string } = {}) =>
  fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.auth ? { authorization: init.auth } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });

/** A stranger DMs the bot and is given a pairing code; returns it. */
async function strangerCode(h: Harness): Promise<string> {
  await h.adapter.inject(message(dm('sam'), person('sam', 'Sam'), 'hello?'));
  const told = await waitFor(() => texts(h.adapter, 'sam').find((t) => /[A-Z0-9]{8}/.test(t)), 'the pairing code');
  return /([A-Z0-9]{8})/.exec(told)![1];
}

describe('admin HTTP API', () => {
  it('is not served without ops.adminToken', async () => {
    const { url } = await start(undefined);
    const r = await call(url, '/admin/conversations', { auth: `Bearer ${ADMIN}` });
    expect(r.status).toBe(404);
    expect((await call(url, '/healthz')).status).toBe(200);
  });

  it('a changing request without the right token changes nothing; the scheme name is case-insensitive', async () => {
    const { h, url } = await start(ADMIN);
    await h.adapter.inject(message(dm('u1'), person('u1'), 'hi'));
    await finalReply(h, 'u1', /Echo:\*\* hi/);
    const loop = await loopOf(h.store, dm('u1'));
    const code = await strangerCode(h);
    for (const auth of [undefined, 'Bearer', `Basic ${ADMIN}`, `Bearer ${ADMIN.slice(1)}`, `Bearer ${ADMIN} x`]) {
      const reset = await call(url, '/admin/conversations/test%3Au1/reset', { method: 'POST', auth, body: '{}' });
      expect(reset.status, String(auth)).toBe(401);
      expect(reset.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const approve = await call(url, '/admin/pairing/approve', { method: 'POST', auth, body: JSON.stringify({ code }) });
      expect(approve.status, String(auth)).toBe(401);
      expect(await approve.text()).not.toContain(code);
    }
    expect(await loopOf(h.store, dm('u1'))).toBe(loop);
    expect((await listPairings(h.store)).pending.map((p) => p.user)).toEqual(['test:sam']);
    // `bearer` (lower case) is the same scheme.
    const reset = await call(url, '/admin/conversations/test%3Au1/reset', { method: 'POST', auth: `bearer ${ADMIN}` });
    expect(reset.status).toBe(200);
    expect(await reset.json()).toMatchObject({ key: 'test:u1', loopId: null, previousLoopId: loop });
    expect(await loopOf(h.store, dm('u1'))).toBeUndefined();
  });

  it('pairing through the API: the list never shows a code; approve needs one, and lets the person in', async () => {
    const { h, url } = await start(ADMIN);
    const auth = `Bearer ${ADMIN}`;
    const code = await strangerCode(h);
    const list = await call(url, '/admin/pairing', { auth });
    const text = await list.text();
    expect(list.status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ pending: [{ user: 'test:sam', displayName: 'Sam' }] });
    expect(text).not.toContain(code);

    const missing = await call(url, '/admin/pairing/approve', { method: 'POST', auth, body: '{}' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ error: { code: 'bad_request', message: 'code is required (a non-empty string)' } });
    const unknown = await call(url, '/admin/pairing/approve', { method: 'POST', auth, body: JSON.stringify({ code: 'ZZZZZZZZ' }) });
    expect(unknown.status).toBe(404);
    expect(await errorMessage(unknown)).toContain('no pending pairing code ZZZZZZZZ');

    const ok = await call(url, '/admin/pairing/approve', { method: 'POST', auth, body: JSON.stringify({ code: code.toLowerCase() }) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).not.toContain(code);
    await waitFor(() => texts(h.adapter, 'sam').find((t) => /approved your request/.test(t)), 'the approval notice');
    expect(await (await call(url, '/admin/pairing', { auth })).json()).toMatchObject({ pending: [], approved: ['test:sam'] });
    await h.adapter.inject(message(dm('sam'), person('sam', 'Sam'), 'now me'));
    await finalReply(h, 'sam', /Echo:\*\* now me/);
  });

  it('bad bodies and routes get a clear answer', async () => {
    const { url } = await start(ADMIN);
    const auth = `Bearer ${ADMIN}`;
    const post = (body: string) => call(url, '/admin/pairing/approve', { method: 'POST', auth, body });
    const notJson = await post('{code:');
    expect(notJson.status).toBe(400);
    expect(await errorMessage(notJson)).toBe('the request body is not JSON');
    expect(await errorMessage(await post('["ABCDEFGH"]'))).toBe('the request body must be a JSON object');
    const big = await post(JSON.stringify({ code: 'x'.repeat(70 * 1024) }));
    expect(big.status).toBe(400);
    expect(await errorMessage(big)).toMatch(/larger than 65536 bytes/);
    expect((await call(url, '/admin/pairing/approve', { auth })).status).toBe(405);
    const nowhere = await call(url, '/admin/conversations/test%3Au1/explode', { method: 'POST', auth });
    expect(nowhere.status).toBe(404);
    expect(await errorMessage(nowhere)).toContain('no admin route POST /admin/conversations/test%3Au1/explode');
    expect((await call(url, '/admin/conversations/%E0%A4%A', { auth })).status).toBe(400);
  });
});
