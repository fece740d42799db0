// The operator commands' argument checks: a command line that cannot be run is refused before anything is
// opened, saying what is missing (exit 2 in the CLI). What they do is tested against a running daemon in
// test/e2e/operator-live.test.ts.

import { describe, expect, it } from 'vitest';
import { conversationsCommand, OperatorUsageError, pairingCommand, usageCommand } from '../../src/ops/operator-cli.js';

const io = { out: () => {}, err: () => {} };
const refused = (run: () => Promise<number>) => expect(run()).rejects.toThrow(OperatorUsageError);
const says = (run: () => Promise<number>, text: string) => expect(run()).rejects.toThrow(text);

describe('operator command lines', () => {
  it('conversations: names the missing or extra argument, the option without a value, the unknown option', async () => {
    await says(() => conversationsCommand([], io), 'usage: loopbridge conversations list');
    await says(() => conversationsCommand(['move', 'k', '--config', 'c.yaml'], io), 'usage: loopbridge conversations list');
    await says(() => conversationsCommand(['bind', 'telegram:1', '--config', 'c.yaml'], io), 'loopbridge conversations bind: KEY and LOOP_ID are expected');
    await says(() => conversationsCommand(['show', '--config', 'c.yaml'], io), 'loopbridge conversations show: KEY is expected');
    await says(() => conversationsCommand(['list', 'extra', '--config', 'c.yaml'], io), 'loopbridge conversations list: no argument is expected');
    await says(() => conversationsCommand(['list', '--config', 'c.yaml', '--platform'], io), 'loopbridge conversations list: --platform needs a value');
    await says(() => conversationsCommand(['list', '--platform', '--json', '--config', 'c.yaml'], io), '--platform needs a value');
    await says(() => conversationsCommand(['stop', 'k', '--config', 'c.yaml', '--force'], io), 'loopbridge conversations stop: unknown option --force');
    await says(() => conversationsCommand(['reset', 'k'], io), 'loopbridge conversations reset: --config FILE is required');
    // --platform belongs to list only.
    await refused(() => conversationsCommand(['show', 'k', '--platform', 'slack', '--config', 'c.yaml'], io));
  });

  it('usage and pairing: the same checks', async () => {
    await says(() => usageCommand(['--since', '--config', 'c.yaml'], io), 'loopbridge usage: --since needs a value');
    await says(() => usageCommand(['today', '--config', 'c.yaml'], io), 'usage: loopbridge usage [--since YYYY-MM-DD] [--json] --config FILE');
    await says(() => pairingCommand(['approve', '--config', 'c.yaml'], io), 'loopbridge pairing approve CODE --config FILE: CODE is required');
    await says(() => pairingCommand(['list', 'ABCD', '--config', 'c.yaml'], io), 'loopbridge pairing list --config FILE: no argument is expected');
    await says(() => pairingCommand(['open'], io), 'usage: loopbridge pairing list');
  });
});
