// The daemon and the CLI as the user runs them: `bin/loopbridge.mjs` in a child process, its output
// collected. Every daemon started here is remembered until it exits, so a suite's afterAll can make sure
// none outlives it (killDaemons).

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The repository root (the child's working directory). */
export const ROOT = join(import.meta.dirname, '..', '..');
/** The CLI entry point. */
export const BIN = join(ROOT, 'bin/loopbridge.mjs');

/** One `loopbridge start` process. */
export interface DaemonProcess {
  child: ChildProcess;
  /** What it wrote so far: stdout, then stderr interleaved as it came (stderr left out with `stderr: false`). */
  output(): string;
  /** Its exit code (null when a signal ended it), once it exited. */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface DaemonOptions {
  /** Added to this process's environment. Default none. */
  env?: NodeJS.ProcessEnv;
  /** Written to its stdin (the console adapter's input); stdin is closed to the child when absent. */
  stdin?: string;
  /** Collect stderr into output(); default true. */
  stderr?: boolean;
}

const running = new Set<ChildProcess>();

/** Starts `loopbridge start --config <config>`. */
export function startDaemon(config: string, o: DaemonOptions = {}): DaemonProcess {
  const child = spawn(process.execPath, [BIN, 'start', '--config', config], {
    cwd: ROOT,
    env: { ...process.env, ...o.env },
    stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    if (o.stderr !== false) out += d.toString();
  });
  if (o.stdin !== undefined) child.stdin!.write(o.stdin);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    output: () => out,
    exited,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The runs of one daemon config through a test file, restarts included (the current run last). */
export class DaemonRuns {
  private readonly runs: DaemonProcess[] = [];

  constructor(
    private readonly config: string,
    private readonly options: DaemonOptions = {},
  ) {}

  /** Starts a new run (the previous one should be stopped first). */
  start(): DaemonProcess {
    const run = startDaemon(this.config, this.options);
    this.runs.push(run);
    return run;
  }

  /** The latest run; throws before the first start. */
  get current(): DaemonProcess {
    const run = this.runs.at(-1);
    if (!run) throw new Error('DaemonRuns: no run started');
    return run;
  }

  /** Stops the current run with `signal` and starts the next one. */
  async restart(signal: NodeJS.Signals): Promise<DaemonProcess> {
    await this.current.stop(signal);
    return this.start();
  }

  /** Stops the current run, if any (SIGTERM). */
  async stop(): Promise<void> {
    await this.runs.at(-1)?.stop();
  }

  /** What every run wrote, run after run. */
  output(): string {
    return this.runs.map((r) => r.output()).join('');
  }
}

/** SIGKILLs every daemon started here that is still running, and waits for them to exit. */
export async function killDaemons(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Runs the CLI to its exit, asynchronously (peers the child talks to may live in this process). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}
