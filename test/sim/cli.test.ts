// `loopbridge sim` argument handling and a start/stop round trip.
import { describe, expect, it } from 'vitest';
import { CLI_TOOL_MS, parseSimArgs, runSimCli, SimCliError } from '../../src/sim/cli.js';
import type { Simulator } from '../../src/sim/index.js';

const T1 = 'la_' + 'a'.repeat(48);
const T2 = 'la_' + 'b'.repeat(48);
const T3 = 'la_' + 'c'.repeat(48);

describe('parseSimArgs', () => {
  it('names tokens alice, bob… or by :user / --user', () => {
    expect(parseSimArgs(['--token', T1, '--token', T2]).tokens).toEqual({ [T1]: 'alice', [T2]: 'bob' });
    expect(parseSimArgs(['--token', `${T1}:zed`, '--token', T2]).tokens).toEqual({ [T1]: 'zed', [T2]: 'alice' });
    expect(parseSimArgs(['--user', 'ann', '--token', T1, '--token', T2, '--token', T3]).tokens).toEqual({ [T1]: 'ann', [T2]: 'alice', [T3]: 'bob' });
    const gen = parseSimArgs([]);
    expect(Object.values(gen.tokens)).toEqual(['alice']);
    expect(gen.generated[0]).toMatch(/^la_[0-9a-f]{48}$/);
    expect(parseSimArgs(['--port=8080', '--idle-cut-ms', 'off', '--ping-ms', '5', '--delta-ms', '0'])).toMatchObject({ port: 8080, idleCutMs: null, pingMs: 5, deltaMs: 0 });
    expect(parseSimArgs([]).toolMs).toBe(CLI_TOOL_MS);
    expect(parseSimArgs(['--tool-ms', '0']).toolMs).toBe(0);
  });
  it('rejects bad input with clear errors that never echo the token', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--token', 'la_XYZ'], /must be la_ followed by 48 lowercase hex/],
      [['--token', 'la_' + 'A'.repeat(48)], /48 lowercase hex/],
      [['--token'], /needs a value/],
      [['--port', '70000'], /--port must be between 0 and 65535/],
      [['--port', 'abc'], /--port needs a whole number/],
      [['--token', T1, '--token', T1], /given twice/],
      [['--token', `${T1}:x`, '--token', `${T2}:x`], /two tokens/],
      [['--bogus'], /unknown argument '--bogus'/],
      [['--idle-cut-ms', '-1'], /--idle-cut-ms/],
      [['--tool-ms', 'soon'], /--tool-ms needs a whole number/],
    ];
    for (const [argv, re] of bad) {
      let err: unknown;
      try {
        parseSimArgs(argv);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SimCliError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('a'.repeat(48));
    }
  });
});

describe('runSimCli', () => {
  it('prints the base URL and users, serves until aborted, masks given tokens', async () => {
    const lines: string[] = [];
    const ac = new AbortController();
    let sim: Simulator | undefined;
    const done = runSimCli(['--token', T1, '--token', `${T2}:bob`], { out: (l) => lines.push(l), signal: ac.signal, onReady: (s) => (sim = s) });
    await expect.poll(() => sim !== undefined).toBe(true);
    expect(lines[0]).toContain(sim!.url);
    expect(sim!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines.join('\n')).toContain('user alice');
    expect(lines.join('\n')).toContain('user bob');
    expect(lines.join('\n')).not.toContain(T1);
    const r = await fetch(`${sim!.url}/api/v1/loops`, { headers: { authorization: `Bearer ${T2}` } });
    expect(r.status).toBe(200);
    ac.abort();
    await done;
    await expect(fetch(`${sim!.url}/api/v1/loops`)).rejects.toThrow();
  });
  it('reports a busy port as a SimCliError', async () => {
    const ac = new AbortController();
    let sim: Simulator | undefined;
    const first = runSimCli([], { out: () => {}, signal: ac.signal, onReady: (s) => (sim = s) });
    await expect.poll(() => sim !== undefined).toBe(true);
    await expect(runSimCli(['--port', String(sim!.port)], { out: () => {} })).rejects.toThrow(/already in use/);
    ac.abort();
    await first;
  });
});
