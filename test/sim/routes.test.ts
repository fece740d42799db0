// Every route, status and error code of the simulator over real HTTP (plain fetch).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, type Harness } from './helpers.js';

const ALICE = 'la_' + 'a'.repeat(48);
const BOB = 'la_' + 'b'.repeat(48);
const CAROL = 'la_' + 'c'.repeat(48);
let h: Harness;

beforeAll(async () => {
  h = await harness({ tokens: { [ALICE]: 'alice', [BOB]: 'bob', [CAROL]: 'carol' }, onboardingIncomplete: ['carol'] });
});
afterAll(async () => {
  await h.sim.close();
});

const envelope = (type: string, code: string) => ({ error: { type, code, message: expect.any(String) } });

describe('auth (§1)', () => {
  it('always answers 401 missing_credentials', async () => {
    const cases: Array<Record<string, string>> = [
      {},
      { authorization: `bearer ${ALICE}` },
      { authorization: `Bearer  ` },
      { authorization: `Token ${ALICE}` },
      { authorization: `Bearer la_${'0'.repeat(48)}` },
      { authorization: `Bearer xx_${'a'.repeat(48)}` },
    ];
    for (const headers of cases) {
      const r = await h.call('GET', '/loops', undefined, { headers });
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ error: { type: 'authentication_error', code: 'missing_credentials', message: 'missing or invalid credentials' } });
    }
  });
  it('trims the token after the exact "Bearer " prefix', async () => {
    const r = await h.call('GET', '/loops', undefined, { headers: { authorization: `Bearer ${ALICE}  ` } });
    expect(r.status).toBe(200);
  });
  it('serves a minimal openapi.json without auth and 404s unknown routes with the envelope', async () => {
    const o = await fetch(`${h.api}/openapi.json`);
    expect(o.status).toBe(200);
    expect(((await o.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    const r = await h.call('GET', '/nope');
    expect(r.status).toBe(404);
    expect(r.json).toEqual(envelope('not_found_error', 'not_found'));
    expect((await h.call('PUT', '/loops')).status).toBe(404);
  });
});

describe('POST /loops (§3.1)', () => {
  it('creates with defaults and the exact wire shape', async () => {
    const r = await h.call('POST', '/loops', {});
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ title: 'untitled', created_by: 'alice', archived: false, archived_at: null, metadata: {}, profiles: [], vault: 'default', repo: null });
    expect(r.json.id).toMatch(/^loop_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(r.json.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect('busy' in r.json).toBe(false);
  });
  it('trims titles, ignores wrong types, keeps metadata verbatim, drops non-string profiles', async () => {
    const r = await h.call('POST', '/loops', { title: '  hi  ', metadata: { a: 1, b: [true] }, profiles: ['p', 3, 'q'], vault: 'v', repo: '', context: 'HEAD' });
    expect(r.json).toMatchObject({ title: 'hi', metadata: { a: 1, b: [true] }, profiles: ['p', 'q'], vault: 'v', repo: null });
    const w = await h.call('POST', '/loops', { title: 5, metadata: 'x', profiles: 'p', vault: 7 });
    expect(w.json).toMatchObject({ title: 'untitled', metadata: {}, profiles: [], vault: 'default' });
  });
  it('rejects long titles and big metadata, and malformed JSON is {}', async () => {
    expect((await h.call('POST', '/loops', { title: 'x'.repeat(200) })).status).toBe(201);
    const t = await h.call('POST', '/loops', { title: 'x'.repeat(201) });
    expect([t.status, t.json]).toEqual([400, envelope('invalid_request_error', 'title_too_long')]);
    const m = await h.call('POST', '/loops', { metadata: { k: 'x'.repeat(16_384) } });
    expect([m.status, m.json]).toEqual([400, envelope('invalid_request_error', 'metadata_too_large')]);
    const raw = await h.call('POST', '/loops', undefined, { raw: '{not json' });
    expect(raw.status).toBe(201);
    expect(raw.json.title).toBe('untitled');
  });
  it('403 onboarding_incomplete for a gated user', async () => {
    const r = await h.call('POST', '/loops', {}, { token: CAROL });
    expect([r.status, r.json]).toEqual([403, envelope('permission_error', 'onboarding_incomplete')]);
  });
});

describe('GET/DELETE /loops/{id} and ownership (§3.3, §3.4, §6.2)', () => {
  it('accepts IDs with and without the prefix; runtime fields only on GET one', async () => {
    const id = await h.createLoop({ title: 'one' });
    const bare = id.slice('loop_'.length);
    for (const p of [id, bare]) {
      const r = await h.call('GET', `/loops/${p}`);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ id, busy: false, queue_depth: 0, current_turn: null });
    }
  });
  it('404 loop_not_found and 403 not_loop_owner on every per-loop route', async () => {
    const id = await h.createLoop({}, BOB);
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `/loops/${id}`],
      ['DELETE', `/loops/${id}`],
      ['POST', `/loops/${id}/messages`, { content: 'x' }],
      ['GET', `/loops/${id}/events`],
      ['POST', `/loops/${id}/choices/choice_x`, { allow: true }],
      ['POST', `/loops/${id}/interrupt`],
    ];
    for (const [m, p, b] of routes) {
      const r = await h.call(m, p, b);
      expect([m, p, r.status, r.json]).toEqual([m, p, 403, envelope('permission_error', 'not_loop_owner')]);
      const nf = await h.call(m, p.replace(id, 'loop_00000000-0000-4000-8000-000000000000'), b);
      expect([m, p, nf.status, nf.json]).toEqual([m, p, 404, envelope('not_found_error', 'loop_not_found')]);
    }
  });
  it('archive only flags: idempotent, hidden from the list, messages refused, other routes still work', async () => {
    const id = await h.createLoop({ title: 'arch' });
    const d1 = await h.call('DELETE', `/loops/${id}`);
    expect([d1.status, d1.text]).toEqual([204, '']);
    const a1 = (await h.getLoop(id)).archived_at;
    expect(a1).toEqual(expect.any(String));
    expect((await h.call('DELETE', `/loops/${id}`)).status).toBe(204);
    expect((await h.getLoop(id)).archived_at).toBe(a1);
    const m = await h.call('POST', `/loops/${id}/messages`, { content: 'hi' });
    expect([m.status, m.json]).toEqual([400, envelope('invalid_request_error', 'loop_archived')]);
    expect((await h.call('POST', `/loops/${id}/interrupt`)).status).toBe(202);
    const c = await h.call('POST', `/loops/${id}/choices/choice_nope`, { allow: true });
    expect(c.json.error.code).toBe('choice_not_found');
    const w = await h.watch(id);
    expect(w.status).toBe(200);
    w.close();
    const list = await h.call('GET', '/loops?limit=100');
    expect(list.json.data.map((l: { id: string }) => l.id)).not.toContain(id);
    const all = await h.call('GET', '/loops?limit=100&archived=true');
    expect(all.json.data.map((l: { id: string }) => l.id)).toContain(id);
    const notTrue = await h.call('GET', '/loops?limit=100&archived=1');
    expect(notTrue.json.data.map((l: { id: string }) => l.id)).not.toContain(id);
  });
  it('an in-flight turn continues after archive', async () => {
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ delta: 'a' }, { gate: 'archived' }, { delta: 'b' }]);
    const s = await h.send(id, 'go');
    await s.waitEvent('assistant_delta');
    expect((await h.call('DELETE', `/loops/${id}`)).status).toBe(204);
    h.sim.release('archived'); // 'b' only after the archive
    await s.waitEvent('done');
    expect(s.mapped.filter((e) => e.event === 'assistant_delta').map((e) => e.data.text).join('')).toBe('ab');
  });
});

describe('GET /loops listing (§6.1)', () => {
  let ids: string[]; // newest first
  let lh: Harness;
  beforeAll(async () => {
    lh = await harness();
    ids = [];
    for (let i = 0; i < 5; i++) ids.unshift(await lh.createLoop({ title: `L${i}` }));
  });
  afterAll(() => lh.sim.close());
  const page = async (q: string) => (await lh.call('GET', `/loops${q}`)).json;

  it('orders by created_at descending with first/last ids', async () => {
    const p = await page('');
    expect(p.data.map((l: { id: string }) => l.id)).toEqual(ids);
    expect([p.first_id, p.last_id, p.has_more]).toEqual([ids[0], ids[4], false]);
    expect('busy' in p.data[0]).toBe(false);
  });
  it('clamps limit to 1..100; non-numeric and 0 become 20', async () => {
    expect((await page('?limit=2')).data).toHaveLength(2);
    expect((await page('?limit=-5')).data).toHaveLength(1);
    expect((await page('?limit=0')).data).toHaveLength(5);
    expect((await page('?limit=abc')).data).toHaveLength(5);
  });
  it('after= pages forward to older loops', async () => {
    const p1 = await page('?limit=2');
    expect(p1.has_more).toBe(true);
    const p2 = await page(`?limit=2&after=${p1.last_id}`);
    expect(p2.data.map((l: { id: string }) => l.id)).toEqual(ids.slice(2, 4));
    expect(p2.has_more).toBe(true);
    const p3 = await page(`?limit=2&after=${p2.last_id}`);
    expect([p3.data.length, p3.has_more]).toEqual([1, false]);
  });
  it('before= returns the NEWEST items before the cursor (IMPL quirk); after wins over before', async () => {
    const p = await page(`?limit=2&before=${ids[4]}`);
    expect(p.data.map((l: { id: string }) => l.id)).toEqual(ids.slice(0, 2));
    expect(p.has_more).toBe(true);
    const bare = await page(`?limit=2&before=${ids[2]!.slice(5)}`);
    expect([bare.data.map((l: { id: string }) => l.id), bare.has_more]).toEqual([ids.slice(0, 2), false]);
    const both = await page(`?limit=1&after=${ids[0]}&before=${ids[4]}`);
    expect(both.data[0].id).toBe(ids[1]);
  });
  it('an unknown cursor gives an empty page', async () => {
    const p = await page('?after=loop_00000000-0000-4000-8000-000000000000');
    expect(p).toEqual({ data: [], first_id: null, last_id: null, has_more: false });
  });
});

describe('POST /messages validation order (§3.5)', () => {
  const img = (over: Record<string, unknown> = {}) => ({ mediaType: 'image/png', data: 'iVBORw0KGgo=', ...over });
  it('returns each code, first failing check wins', async () => {
    const id = await h.createLoop();
    const cases: Array<[unknown, Record<string, string>, string]> = [
      [{ content: 'x'.repeat(1_048_577), images: 'bad' }, {}, 'content_too_large'],
      [{ content: '', images: [img(), img(), img(), img(), img(), img()] }, {}, 'too_many_images'],
      [{ images: [5] }, {}, 'image_data_invalid'],
      [{ images: [img({ data: '' })] }, {}, 'image_data_invalid'],
      [{ images: [img({ data: 'not base64!' })] }, {}, 'image_data_invalid'],
      [{ images: [img({ mediaType: 'image/bmp' })] }, {}, 'unsupported_media_type'],
      [{ images: [img({ data: 'A'.repeat(13_981_015) })] }, {}, 'image_too_large'],
      [{ content: 5 }, {}, 'missing_content'],
      [{}, { 'idempotency-key': 'k'.repeat(257) }, 'missing_content'],
      [{ content: 'x' }, { 'idempotency-key': 'k'.repeat(257) }, 'idempotency_key_too_long'],
    ];
    for (const [body, headers, code] of cases) {
      const r = await h.call('POST', `/loops/${id}/messages`, body, { headers: { ...h.headers(), ...headers } });
      expect([code, r.status, r.json]).toEqual([code, 400, envelope('invalid_request_error', code)]);
    }
    const garbage = await h.call('POST', `/loops/${id}/messages`, undefined, { raw: 'garbage' });
    expect(garbage.json.error.code).toBe('missing_content');
    const archived = await h.createLoop();
    await h.call('DELETE', `/loops/${archived}`);
    const a = await h.call('POST', `/loops/${archived}/messages`, { content: 'x'.repeat(1_048_577) });
    expect(a.json.error.code).toBe('loop_archived');
  });
  it('images alone are enough content', async () => {
    const id = await h.createLoop();
    h.sim.scriptNextTurn(id, [{ delta: 'seen' }]);
    const s = await h.send(id, '', {}, { images: [img()] });
    await s.waitEvent('done');
    expect(h.sim.received(id)).toEqual(['']);
  });
});

describe('POST /choices and /interrupt basics (§3.7, §3.8)', () => {
  it('400 invalid_choice_payload before 404; 404 for unknown choices; 202 interrupt when idle', async () => {
    const id = await h.createLoop();
    for (const body of [{}, { allow: 'yes' }, { answers: null }, { answers: 'x' }]) {
      const r = await h.call('POST', `/loops/${id}/choices/choice_x`, body);
      expect([r.status, r.json]).toEqual([400, envelope('invalid_request_error', 'invalid_choice_payload')]);
    }
    const nf = await h.call('POST', `/loops/${id}/choices/choice_x`, { answers: {} });
    expect([nf.status, nf.json]).toEqual([404, envelope('not_found_error', 'choice_not_found')]);
    const i = await h.call('POST', `/loops/${id}/interrupt`);
    expect([i.status, i.text]).toEqual([202, '']);
  });
});
