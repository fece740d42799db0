// On PostgreSQL the operator CLI writes the shared database itself (there is no control socket); a bridge
// running on that database must follow the change at once, without a restart: here a conversation parked on
// an archived loop is bound to another one by `conversations bind`, and its kept message goes there.

import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { UsageLedger } from '../../src/core/usage-ledger.js';
import { operate } from '../../src/ops/operator.js';
import type { PgStore } from '../../src/store/pg/pg-store.js';
import { finalReply, group, harnessSuite, loopOf, message, person, texts, waitFor } from '../core/fixtures.js';
import { dropSchema, openTestPgStore, pgUrl, uniqueSchema } from '../helpers/pg.js';

const schema = uniqueSchema('ops');
let store: PgStore | undefined;
afterAll(async () => {
  await store?.close();
  await dropSchema(schema);
});
const suite = harnessSuite();
const u1 = person('u1');

describe('operator commands on PostgreSQL', () => {
  it('conversations bind, written to the database by the CLI, is followed by the running bridge at once', async () => {
    store = await openTestPgStore({ schema });
    const h = await suite.harness({ store, bridge: { usage: new UsageLedger(store, 90) } });
    const url = new URL(pgUrl());
    url.searchParams.set('options', `-c search_path=${schema}`);
    const config = resolveConfig({ loop: { baseUrl: suite.sim.url, token: suite.sim.token }, store: { url: url.toString() }, access: { users: ['console:you'] }, console: {} }, {}).config;

    const g = group('pg-room');
    await h.adapter.inject(message(g, u1, 'first', { mentionsBot: true }));
    await finalReply(h, 'pg-room', /Echo:\*\* first/);
    const first = (await loopOf(h.store, g))!;
    await h.client.archiveLoop(first);
    await h.adapter.inject(message(g, u1, 'second', { mentionsBot: true }));
    await waitFor(() => texts(h.adapter, 'pg-room').find((t) => /was archived elsewhere/.test(t)), 'the parked notice');

    const other = await h.client.createLoop({ title: 'moved here' });
    const { result, via } = await operate(config, 'conversations.bind', { key: 'test:pg-room', loopId: other.id });
    expect(via).toBe('store');
    expect(result).toMatchObject({ key: 'test:pg-room', loopId: other.id, previousLoopId: first, loopSource: 'operator' });
    // Nothing else is done: the bridge hears the change on the database and sends the kept message there.
    await finalReply(h, 'pg-room', /Echo:\*\* second/);
    expect(suite.sim.received(other.id)).toEqual(['second']);

    const listed = (await operate(config, 'conversations.list', {})).result as { conversations: Array<{ key: string; loopId: string; state: string }> };
    expect(listed.conversations).toEqual([expect.objectContaining({ key: 'test:pg-room', loopId: other.id, state: 'idle' })]);
    const usage = (await operate(config, 'usage.report', {})).result as { total: { turns: number } };
    expect(usage.total.turns).toBe(2);
  });
});
