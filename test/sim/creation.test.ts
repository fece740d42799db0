// What the simulator records about a loop's creation (for tests of bindings), and revoking a token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness, type Harness } from './helpers.js';

const ALICE = 'la_' + 'a'.repeat(48);
const BOB = 'la_' + 'b'.repeat(48);
let h: Harness;

beforeAll(async () => {
  h = await harness({ tokens: { [ALICE]: 'alice', [BOB]: 'bob' } });
});
afterAll(async () => {
  await h.sim.close();
});

describe('creation record', () => {
  it('keeps title, repo, profiles, vault, metadata and owner as created, and the first message\'s permission mode', async () => {
    const id = await h.createLoop({ title: 'api work', repo: 'acme/api', profiles: ['backend'], vault: 'team', metadata: { team: 'api' } }, BOB);
    expect(h.sim.creation(id)).toEqual({ id, createdBy: 'bob', title: 'api work', repo: 'acme/api', profiles: ['backend'], vault: 'team', metadata: { team: 'api' }, permissionMode: null });
    const r = await h.call('POST', `/loops/${id}/messages`, { content: 'hi', permission_mode: 'acceptEdits' }, { token: BOB });
    expect(r.status).toBe(200);
    // The config wipe (IMPL) changes what GET shows; the creation record keeps what the loop was made with.
    expect((await h.call('GET', `/loops/${id}`, undefined, { token: BOB })).json).toMatchObject({ profiles: [], vault: 'default' });
    expect(h.sim.creation(id)).toMatchObject({ profiles: ['backend'], vault: 'team', permissionMode: 'acceptEdits' });
    await h.call('POST', `/loops/${id}/messages`, { content: 'again', permission_mode: 'plan' }, { token: BOB });
    expect(h.sim.creation(id)?.permissionMode).toBe('acceptEdits'); // the first message's
    expect(h.sim.creations().map((c) => c.id)).toContain(id);
    expect(h.sim.creation('loop_00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });

  it('a revoked token gets 401 missing_credentials from then on; the others still work', async () => {
    const other = 'la_' + 'c'.repeat(48);
    const h2 = await harness({ tokens: { [other]: 'carol', [ALICE]: 'alice' } });
    try {
      expect((await h2.call('GET', '/loops', undefined, { token: other })).status).toBe(200);
      h2.sim.revokeToken(other);
      const r = await h2.call('GET', '/loops', undefined, { token: other });
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe('missing_credentials');
      expect((await h2.call('GET', '/loops', undefined, { token: ALICE })).status).toBe(200);
    } finally {
      await h2.sim.close();
    }
  });
});
