import { describe, expect, it } from 'vitest';
import { substituteEnv } from '../../src/config/env-subst.js';

describe('substituteEnv', () => {
  it('replaces ${VAR} inside and as whole values, leaving keys and non-strings alone', () => {
    const r = substituteEnv(
      { a: 'x-${A}-y', b: '${B}', n: 5, list: ['${A}', true], '${A}': 'key' },
      { A: 'one', B: 'two' },
    );
    expect(r.issues).toEqual([]);
    expect(r.value).toEqual({ a: 'x-one-y', b: 'two', n: 5, list: ['one', true], '${A}': 'key' });
  });

  it('reports an unset ${VAR} with the key path and the variable name', () => {
    const r = substituteEnv({ loop: { token: '${LOOP_TOKEN}' }, access: { users: ['ok', '${WHO}'] } }, {});
    expect(r.issues).toEqual([
      { path: 'loop.token', message: expect.stringContaining('LOOP_TOKEN') },
      { path: 'access.users[1]', message: expect.stringContaining('WHO') },
    ]);
    expect(r.issues[0].message).toContain('not set');
  });

  it('uses ${VAR:-default} when VAR is unset or empty, and VAR when set', () => {
    const tree = { a: '${X:-fallback}', b: 'http://${H:-localhost}:${P:-80}/' };
    expect(substituteEnv(tree, {}).value).toEqual({ a: 'fallback', b: 'http://localhost:80/' });
    expect(substituteEnv(tree, { X: '' }).value).toMatchObject({ a: 'fallback' });
    expect(substituteEnv(tree, { X: 'set', H: 'h', P: '1' }).value).toEqual({ a: 'set', b: 'http://h:1/' });
  });

  it('treats a whole-value reference that comes out empty as absent', () => {
    const r = substituteEnv({ ops: { httpPort: '${PORT:-}', logLevel: 'info' }, ids: ['${NONE:-}', 'x'] }, {});
    expect(r.value).toEqual({ ops: { logLevel: 'info' }, ids: ['x'] });
  });

  it('does not substitute again inside a substituted value', () => {
    const r = substituteEnv({ a: '${A}' }, { A: '${B}', B: 'nope' });
    expect(r.value).toEqual({ a: '${B}' });
  });

  it('writes $${ as a literal ${ and rejects malformed references', () => {
    expect(substituteEnv({ a: 'cost $${X}' }, {}).value).toEqual({ a: 'cost ${X}' });
    expect(substituteEnv({ a: '${1X}' }, {}).issues[0]).toMatchObject({ path: 'a', message: expect.stringContaining('malformed') });
    expect(substituteEnv({ a: 'x ${OPEN' }, {}).issues[0]).toMatchObject({ path: 'a', message: expect.stringContaining('unclosed') });
  });

  it('never puts a variable value in a message', () => {
    const secret = 'la_' + 'f'.repeat(48);
    const r = substituteEnv({ a: '${SECRET}', b: '${MISSING}' }, { SECRET: secret });
    expect(JSON.stringify(r.issues)).not.toContain(secret);
  });
});
