// The `loopbridge` command: start | demo | sim | check-config | pairing. Each subcommand returns an exit
// code; errors name the flag or config key and what to do.

import { loadConfig, ConfigError, runCheckConfig } from './config/index.js';
import { scrubSecrets, secretValues } from './config/mask.js';
import { startDaemon } from './daemon.js';
import { runDemo } from './demo.js';
import { createLogger } from './ops/logging.js';
import { runSimCli } from './sim/cli.js';
import { ControlError } from './ops/control-protocol.js';
import { operate } from './ops/operator.js';
import type { PairingView } from './ops/pairing-operations.js';

const USAGE = `usage: loopbridge <command> [options]

  start --config FILE             run the bridge with a config file
  demo                            simulator + console chat, nothing to configure (what \`npm start\` runs)
  sim --port N --token la_…       run the Loop API v1 simulator (several --token: several users)
  check-config --config FILE      validate a config and print it resolved, secrets masked
  pairing list --config FILE      pending pairing codes and approved users
  pairing approve CODE --config FILE   let that person in (at once, also while the daemon runs)
  pairing deny CODE --config FILE      refuse that request
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

/** The loaded config's secret values: scrubbed from any error this command prints. */
let knownSecrets: string[] = [];

/** After SIGTERM/SIGINT the process exits within this long, whatever is stuck, ms. */
const FORCED_EXIT_MS = 10_000;

async function start(argv: string[]): Promise<number> {
  const { config, warnings } = loadConfig(requireConfigPath(argv, 'start'));
  knownSecrets = secretValues(config);
  const log = createLogger({ level: config.ops.logLevel, format: config.ops.logFormat, secrets: knownSecrets });
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
  // Shutdown is bounded inside the bridge; this is the last resort if something below it hangs anyway,
  // and a second signal means "now".
  const force = (why: string) => {
    log.error({}, `shutdown: ${why}; exiting now (in-flight turns resume on the next start)`);
    process.exit(1);
  };
  setTimeout(() => force('still not done after 10 s'), FORCED_EXIT_MS).unref();
  process.once('SIGINT', () => force('second signal'));
  process.once('SIGTERM', () => force('second signal'));
  await daemon.stop();
  clearInterval(keepAlive);
  return 0;
}

async function pairing(argv: string[]): Promise<number> {
  const [sub, code] = argv;
  const { config } = loadConfig(requireConfigPath(argv, 'pairing'));
  knownSecrets = secretValues(config);
  const needsCode = sub === 'approve' || sub === 'deny';
  if (sub !== 'list' && !needsCode) throw new UsageError('usage: loopbridge pairing list|approve CODE|deny CODE --config FILE');
  if (needsCode && (!code || code.startsWith('-'))) throw new UsageError(`loopbridge pairing ${sub} CODE --config FILE: CODE is required`);
  try {
    // Through the running daemon if there is one (the change takes effect at once), else on the store file.
    const { result } = await operate(config, `pairing.${sub}`, needsCode ? { code } : {});
    if (sub === 'list') {
      const { pending, approved } = result as { pending: PairingView[]; approved: string[] };
      process.stdout.write(`pending:\n${pending.map((p) => `  ${p.code}  ${p.user}${p.displayName ? ` (${p.displayName})` : ''}  since ${new Date(p.createdAt).toISOString()}`).join('\n') || '  (none)'}\n`);
      process.stdout.write(`approved:\n${approved.map((u) => `  ${u}`).join('\n') || '  (none)'}\n`);
      return 0;
    }
    const rec = result as PairingView;
    process.stdout.write(`${sub === 'approve' ? 'approved' : 'denied'} ${rec.user}${rec.displayName ? ` (${rec.displayName})` : ''}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ControlError)) throw err;
    process.stderr.write(`${scrubSecrets(err.message, knownSecrets)}\n`);
    return 1;
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
    process.stderr.write(`loopbridge ${command}: ${scrubSecrets(err instanceof Error ? err.message : String(err), knownSecrets)}\n`);
    return 1;
  }
}

// Exit explicitly: keep-alive sockets and timers must not hold a finished command open.
process.exit(await main(process.argv.slice(2)));
