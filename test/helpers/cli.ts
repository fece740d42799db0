// Runs the `loopbridge` command as a child process, as an operator would, without blocking this process
// (the fakes and the simulator a test talks to live in it).

import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin/loopbridge.mjs');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `loopbridge <args…> --config <config>` (with `env` over this process's); resolves once it exited. */
export function runCli(config: string, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}
