// The `loopbridge` command: start | demo | sim | check-config | pairing. Each subcommand returns an exit
// code; errors name the flag or config key and what to do.

import { loadConfig, ConfigError, runCheckConfig } from './config/index.js';
import { approvePairing, listPairings } from './core/access.js';
import { startDaemon } from './daemon.js';
import { runDemo } from './demo.js';
import { createLogger } from './ops/logging.js';
import { runSimCli } from './sim/cli.js';
import { openStore } from './store/open-store.js';

const USAGE = `usage: loopbridge <command> [options]

  start --config FILE             run the bridge with a config file
  demo                            simulator + console chat, nothing to configure (what \`npm start\` runs)
  sim --port N --token la_…       run the Loop API v1 simulator (several --token: several users)
  check-config --config FILE      validate a config and print it resolved, secrets masked
  pairing list --config FILE      pending pairing codes and approved users
  pairing approve CODE --config FILE
`;

function flag(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i].startsWith(`${name}=`)) return argv[i].slice(name.length + 1);
  }
  return undefined;
}

function requireConfigPath(argv: string[], command: string): string {
  const path = flag(argv, '--config') ?? flag(argv, '-c');
  if (!path) throw new UsageError(`loopbridge ${command}: --config FILE is required`);
  return path;
}

class UsageError extends Error {}

async function start(argv: string[]): Promise<number> {
  const { config, warnings } = loadConfig(requireConfigPath(argv, 'start'));
  const log = createLogger({ level: config.ops.logLevel, format: config.ops.logFormat });
  for (const w of warnings) log.warn({}, `config: ${w}`);
  let finishInput: () => void = () => {};
  const daemon = await startDaemon(config, {
    log,
    console: config.console
      ? {
          input: process.stdin,
          output: process.stdout,
          markers: process.env.LOOPBRIDGE_CONSOLE_MARKERS === '1',
          session: process.env.LOOPBRIDGE_CONSOLE_SESSION,
          onInputEnd: () => finishInput(),
        }
      : undefined,
  });
  log.info({}, 'loopbridge started');
  // Timers and idle sockets are unref'd, so between long polls nothing else would hold the process open.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    finishInput = () => {}; // stdin ending does not stop a daemon
  });
  log.info({}, 'shutting down: intake stopped, in-flight turns persisted');
  await daemon.stop();
  clearInterval(keepAlive);
  return 0;
}

async function pairing(argv: string[]): Promise<number> {
  const [sub, code] = argv;
  const { config } = loadConfig(requireConfigPath(argv, 'pairing'));
  // A short flush delay: this process only makes a change or two.
  const store = await openStore(config.store, { flushDelayMs: 1 });
  try {
    if (sub === 'list') {
      const { pending, approved } = await listPairings(store);
      process.stdout.write(`pending:\n${pending.map((p) => `  ${p.code}  ${p.user}${p.displayName ? ` (${p.displayName})` : ''}  since ${new Date(p.createdAt).toISOString()}`).join('\n') || '  (none)'}\n`);
      process.stdout.write(`approved:\n${approved.map((u) => `  ${u}`).join('\n') || '  (none)'}\n`);
      return 0;
    }
    if (sub === 'approve') {
      if (!code || code.startsWith('-')) throw new UsageError('loopbridge pairing approve CODE --config FILE: CODE is required');
      const rec = await approvePairing(store, code);
      if (!rec) {
        process.stderr.write(`no pending pairing code ${code.toUpperCase()} (codes expire after access.pairingCodeTtlMs)\n`);
        return 1;
      }
      process.stdout.write(`approved ${rec.user}${rec.displayName ? ` (${rec.displayName})` : ''}\n`);
      return 0;
    }
    throw new UsageError('usage: loopbridge pairing list|approve CODE --config FILE');
  } finally {
    await store.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await start(rest);
      case 'demo':
        return await runDemo(rest);
      case 'sim':
        await runSimCli(rest);
        return 0;
      case 'check-config':
        return await runCheckConfig(rest);
      case 'pairing':
        return await pairing(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command ? 0 : 2;
      default:
        process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    process.stderr.write(`loopbridge ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

// Exit explicitly: keep-alive sockets and timers must not hold a finished command open.
process.exit(await main(process.argv.slice(2)));
