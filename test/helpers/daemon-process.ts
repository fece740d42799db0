// `loopbridge start --config` as a real child process, for end-to-end tests (killed and restarted at will).

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** How the daemon process is started. */
export interface SpawnOptions {
  /** Extra environment variables (on top of this process's). Default none. */
  env?: Record<string, string>;
  /** Give it a stdin to write to (the console adapter reads it). Default false (no input). */
  stdin?: boolean;
}

/** Starts the daemon on `config`; everything it prints (stdout and stderr) goes to `onOutput`. */
export function spawnDaemon(config: string, onOutput: (text: string) => void, options: SpawnOptions = {}): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, 'bin/loopbridge.mjs'), 'start', '--config', config], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => onOutput(d.toString()));
  child.stderr!.on('data', (d: Buffer) => onOutput(d.toString()));
  return child;
}

/** Sends `signal` and resolves once the process has exited (at once if it already had). */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  await exited;
}

/** The `loop:` and `store:` lines of a test config: the simulator, and a store file that flushes fast. */
export function loopAndStoreYaml(sim: { url: string; token: string }, storePath: string): string {
  return `loop: { baseUrl: "${sim.url}", token: "${sim.token}" }\nstore: { path: "${storePath}", flushDelayMs: 10 }\n`;
}
