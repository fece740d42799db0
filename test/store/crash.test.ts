// A process SIGKILLed in the middle of a write burst must leave a file that loads, in a state some
// single write produced, holding at least everything it had flushed.

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLowdbStore } from '../../src/store/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(here, '../..');
const fixture = join(here, 'fixtures', 'crash-writer.ts');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lb-crash-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the writer, kills it `killAfterMs` after it is ready; returns the last flushed count. */
function runAndKill(path: string, killAfterMs: number): Promise<{ flushed: number; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, path], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let flushed = 0;
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const lines = stdout.split('\n');
      stdout = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready' && !killed) {
          killed = true;
          setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        }
        const m = /^flushed (\d+)$/.exec(line);
        if (m) flushed = Number(m[1]);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited early (code ${code}): ${stderr}`));
      else resolvePromise({ flushed, stderr });
    });
  });
}

describe('crash safety', () => {
  it('a writer killed with SIGKILL during a write burst leaves a consistent, loadable file', async () => {
    const path = join(dir, 'state.json');
    let previousCount = 0;
    for (let run = 0; run < 10; run++) {
      const killAfterMs = 20 + Math.floor(Math.random() * 280);
      const { flushed } = await runAndKill(path, killAfterMs);

      const warnings: string[] = [];
      const store = await openLowdbStore({ path, onWarning: (m) => warnings.push(m) });
      try {
        expect(warnings, `run ${run} (killed after ${killAfterMs} ms)`).toEqual([]);
        const count = (await store.get<number>('count')) ?? 0;
        const head = (await store.get<number>('head')) ?? 0;
        const items = await store.items<{ n: number }>('q');
        // Prefix-consistent: the queue is exactly head..count-1, as one mutation step left it.
        expect(items.map((item) => item.n)).toEqual(Array.from({ length: count - head }, (_, i) => head + i));
        // Durable: nothing flushed is lost, and a restart never goes backwards.
        expect(count).toBeGreaterThanOrEqual(flushed);
        expect(count).toBeGreaterThanOrEqual(previousCount);
        previousCount = count;
      } finally {
        await store.close();
      }
      const names = await readdir(dir);
      expect(names.filter((n) => n.includes('.corrupt-'))).toEqual([]);
      expect(names.filter((n) => n.includes('.tmp-'))).toEqual([]); // stale temp files cleaned on open
    }
    // The runs did real work (otherwise the test proves nothing).
    expect(previousCount).toBeGreaterThan(0);
  }, 180_000);
});
