// Runs the `loopbridge` command as a child process, as an operator would, without blocking this process
// (the fakes and the simulator a test talks to live in it).

import { spawn, type ChildProcess } from 'node:child_process';
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

/** A `loopbridge start` child process. */
export interface DaemonProcess {
  child: ChildProcess;
  /** Resolves with its exit code (null when a signal ended it) once it exited. */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM) unless it has exited already; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `loopbridge start --config <config>` with `env` over this process's; everything it prints (stdout and
 * stderr) goes to `onOutput`. Does not wait for it to be ready: each test knows what "ready" means for it.
 */
export function startDaemonProcess(config: string, onOutput: (text: string) => void, env: Record<string, string | undefined> = {}): DaemonProcess {
  const child = spawn(process.execPath, [BIN, 'start', '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdout!.on('data', (d: Buffer) => onOutput(d.toString()));
  child.stderr!.on('data', (d: Buffer) => onOutput(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
