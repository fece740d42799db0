// The `loopbridge` command: start | demo | sim | check-config | pairing | conversations | usage. Each
// subcommand returns an exit code; errors name the flag or config key and what to do.

import { loadConfig, ConfigError, runCheckConfig } from './config/index.js';
import { scrubSecrets, secretValues } from './config/mask.js';
import { startDaemon } from './daemon.js';
import { runDemo } from './demo.js';
import { createLogger } from './ops/logging.js';
import { runSimCli } from './sim/cli.js';
import { conversationsCommand, OperatorUsageError, pairingCommand, usageCommand } from './ops/operator-cli.js';

const USAGE = `usage: loopbridge <command> [options]

  start --config FILE             run the bridge with a config file
  demo                            simulator + console chat, nothing to configure (what \`npm start\` runs)
  sim --port N --token la_…       run the Loop API v1 simulator (several --token: several users)
  check-config --config FILE      validate a config and print it resolved, secrets masked
  pairing list [--json] --config FILE     pending pairing codes and approved users
  pairing approve CODE --config FILE      let that person in (at once, also while the daemon runs)
  pairing deny CODE --config FILE         refuse that request
  conversations list [--platform P] [--json] --config FILE
                                  every conversation: loop, binding, state, last activity, who started it
  conversations show KEY [--json] --config FILE   one conversation in detail
  conversations bind KEY LOOP_ID --config FILE    send its messages to that existing loop (at once)
  conversations reset KEY --config FILE           as /new: its next message starts a fresh loop
  conversations stop KEY --config FILE            as /stop: interrupt its running turn
  usage [--since YYYY-MM-DD] [--json] --config FILE   turns, tokens and cost per conversation and per person
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
        return await pairingCommand(rest);
      case 'conversations':
        return await conversationsCommand(rest);
      case 'usage':
        return await usageCommand(rest);
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
    if (err instanceof ConfigError || err instanceof UsageError || err instanceof OperatorUsageError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    process.stderr.write(`loopbridge ${command}: ${scrubSecrets(err instanceof Error ? err.message : String(err), knownSecrets)}\n`);
    return 1;
  }
}

// Exit explicitly: keep-alive sockets and timers must not hold a finished command open.
process.exit(await main(process.argv.slice(2)));
