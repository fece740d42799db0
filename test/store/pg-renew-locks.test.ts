// `renewLocks` (PostgreSQL): a replica renews all its leases in one statement each beat. It renews only
// the locks this owner still holds unexpired: not another owner's, not one that expired (another replica
// may be taking it over), not one released meanwhile.

import { afterEach, expect, it } from 'vitest';
import type { PgStore } from '../../src/store/pg/pg-store.js';
import { dropSchema, openTestPgStore, uniqueSchema } from '../helpers/pg.js';

const opened: PgStore[] = [];
let schema = '';
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  await dropSchema(schema);
});

it('renews exactly the locks the owner still holds, and extends them', async () => {
  schema = uniqueSchema('renew');
  let clock = 1_000_000;
  const a = await openTestPgStore({ schema, now: () => clock });
  const b = await openTestPgStore({ schema, now: () => clock });
  opened.push(a, b);
  expect(await a.acquireLock('turn/1', 'A', 1000)).toBe(true);
  expect(await a.acquireLock('turn/2', 'A', 1000)).toBe(true);
  expect(await a.acquireLock('turn/3', 'A', 100)).toBe(true);
  expect(await a.acquireLock('turn/4', 'A', 1000)).toBe(true);
  expect(await b.acquireLock('turn/5', 'B', 1000)).toBe(true);
  await a.releaseLock('turn/4', 'A');
  clock += 500; // turn/3 has expired
  const renewed = await a.renewLocks(['turn/1', 'turn/2', 'turn/3', 'turn/4', 'turn/5', 'turn/6'], 'A', 1000);
  expect(renewed.sort()).toEqual(['turn/1', 'turn/2']);
  // Extended from now: still A's 900 ms later, when the first TTL would have run out.
  clock += 900;
  expect(await b.acquireLock('turn/1', 'B', 1000)).toBe(false);
  expect(await b.acquireLock('turn/3', 'B', 1000)).toBe(true);
  expect(await b.acquireLock('turn/4', 'B', 1000)).toBe(true);
  expect(await a.renewLocks([], 'A', 1000)).toEqual([]);
  clock += 200;
  expect(await b.acquireLock('turn/2', 'B', 1000)).toBe(true);
});
