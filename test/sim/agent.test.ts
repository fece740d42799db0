// The default keyword agent as a generator (deterministic content, chunking).
import { describe, expect, it } from 'vitest';
import { chunkText, defaultAgent, findKeyword } from '../../src/sim/agent.js';
import type { ScriptStep, StepOutcome } from '../../src/sim/index.js';

function run(content: string, answer?: (s: ScriptStep) => StepOutcome | undefined): ScriptStep[] {
  const g = defaultAgent(content, 0);
  const out: ScriptStep[] = [];
  let o: StepOutcome | undefined;
  for (let r = g.next(); !r.done; r = g.next(o)) {
    out.push(r.value);
    o = answer?.(r.value);
  }
  return out;
}
const text = (steps: ScriptStep[]) => steps.map((s) => s.delta ?? '').join('');

describe('default agent', () => {
  it('finds the earliest whole-word keyword, case-insensitively', () => {
    expect(findKeyword('please use TOOLS and be long')).toBe('tools');
    expect(findKeyword('longer toolset')).toBeNull();
    expect(findKeyword('slow 5')).toBe('slow');
  });
  it('chunks into 20–60 chars without splitting surrogate pairs', () => {
    const t = '😀'.repeat(30) + 'x'.repeat(500);
    const chunks = chunkText(t);
    expect(chunks.join('')).toBe(t);
    for (const c of chunks.slice(0, -1)) expect(Array.from(c).length).toBeGreaterThanOrEqual(20);
    for (const c of chunks) expect(Array.from(c).length).toBeLessThanOrEqual(60);
  });
  it('echo by default, deterministic', () => {
    const a = text(run('hello there'));
    expect(a).toContain('**Echo:** hello there');
    expect(text(run('hello there'))).toBe(a);
  });
  it('long: > 12,000 chars with fences, a table, lists and headings', () => {
    const t = text(run('something long please'));
    expect(t.length).toBeGreaterThan(12_000);
    expect(t).toMatch(/```ts\n/);
    expect(t).toMatch(/```python\n/);
    expect(t).toMatch(/\| --- \| --- \| --- \|/);
    expect(t).toMatch(/\n- bullet/);
    expect(t).toMatch(/\n1\. first/);
    expect(t).toMatch(/^# /);
  });
  it('tools: Bash ls -la and Read with text before and after', () => {
    const steps = run('show tools');
    const tools = steps.filter((s) => s.tool).map((s) => [s.tool!.name, s.tool!.input]);
    expect(tools).toEqual([
      ['Bash', { command: 'ls -la', description: 'List files' }],
      ['Read', { file_path: '/workspace/README.md' }],
    ]);
    expect(steps[0]!.delta).toBeDefined();
    expect(steps.at(-1)!.delta).toBeDefined();
    expect(steps.filter((s) => s.tool).map((s) => s.tool!.runMs)).toEqual([0, 0]);
    const slow = [...defaultAgent('tools', 0, 2500)].filter((s) => s.tool).map((s) => s.tool!.runMs);
    expect(slow).toEqual([2500, 2500]); // how long each tool runs (time to steer it by hand)
  });
  it('permission reacts to allow/deny/timeout; question echoes answers; error and slow', () => {
    expect(text(run('permission', (s) => (s.permission ? { allowed: true } : undefined)))).toContain('I ran');
    expect(text(run('permission', (s) => (s.permission ? { allowed: false } : undefined)))).toContain('denied');
    expect(text(run('permission', (s) => (s.permission ? { allowed: false, timedOut: true } : undefined)))).toContain('timed out');
    expect(text(run('question', (s) => (s.question ? { answers: { Q: 'Go' } } : undefined)))).toContain('Q → Go');
    expect(run('error').at(-1)!.error).toEqual(expect.any(String));
    const slow = run('slow 3');
    expect(slow.map((s) => s.delayMs)).toEqual([1000, 1000, 1000]);
    expect(run('slow').length).toBe(60);
  });
  it('markdown is hostile', () => {
    const t = text(run('markdown'));
    for (const bit of ['<tag>', '&', '````', '*unbalanced']) expect(t).toContain(bit);
    expect(t.split('\n').some((l) => l.length > 3000)).toBe(true);
  });
});
