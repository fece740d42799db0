// replica: this process as one of several sharing store.url. The id defaults to hostname-pid, the lease
// TTL to 10 s; bad values name the key; set without store.url they do nothing, and the config says so.

import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/load.js';
import { issuesOf, minimal } from './helpers.js';

const PG = 'postgres://lb@db:5432/lb';

describe('replica', () => {
  it('defaults: id <hostname>-<pid>, leaseTtlMs 10000; both taken from the file or the environment', () => {
    const { config } = resolveConfig(minimal({ store: { url: PG } }), {});
    expect(config.replica.id).toMatch(new RegExp(`^[A-Za-z0-9._-]+-${process.pid}$`));
    expect(config.replica.leaseTtlMs).toBe(10_000);
    const set = resolveConfig(minimal({ store: { url: PG }, replica: { id: '${REPLICA}', leaseTtlMs: '${TTL}' } }), { REPLICA: 'bridge-2', TTL: '4000' });
    expect(set.config.replica).toEqual({ id: 'bridge-2', leaseTtlMs: 4000 });
    expect(set.warnings).toEqual([]);
    // The example's `${LOOPBRIDGE_REPLICA_ID:-}` with nothing set: the default id.
    expect(resolveConfig(minimal({ store: { url: PG }, replica: { id: '${LOOPBRIDGE_REPLICA_ID:-}' } }), {}).config.replica.id).toMatch(/-\d+$/);
  });

  it('refuses an id that is not a short name and a TTL under a second, naming the key', () => {
    const bad = issuesOf(minimal({ store: { url: PG }, replica: { id: 'two words', leaseTtlMs: 500 } }));
    expect(bad.map((i) => i.path).sort()).toEqual(['replica.id', 'replica.leaseTtlMs']);
    expect(bad.find((i) => i.path === 'replica.leaseTtlMs')!.message).toMatch(/at least 1000/);
  });

  it('warns that replica settings do nothing without store.url', () => {
    const { warnings } = resolveConfig(minimal({ replica: { id: 'a', leaseTtlMs: 5000 } }), {});
    expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^replica\.id: has no effect without store\.url/), expect.stringMatching(/^replica\.leaseTtlMs: has no effect without store\.url/)]));
  });
});
