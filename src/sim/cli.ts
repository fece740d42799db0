// `loopbridge sim`: runs the simulator as a process until SIGINT/SIGTERM.
import { TOKEN_RE, newToken } from './ids.js';
import { startSimulator, type Simulator } from './index.js';

/** A usage error of `loopbridge sim` (message says what to fix; never contains a token). */
export class SimCliError extends Error {
  override name = 'SimCliError';
}

const DEFAULT_USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'];

/** `--tool-ms` default: long enough for a person to type /steer while a `tools` turn runs a tool. */
export const CLI_TOOL_MS = 3000;

export const SIM_USAGE = `usage: loopbridge sim [--port <n>] [--host <addr>] [--token <la_…>[:user]]... [--user <name>]...
                     [--idle-cut-ms <n|off>] [--ping-ms <n>] [--delta-ms <n>] [--tool-ms <n>]
  --token may be repeated; each token is a different user (named by :user, else by the next --user,
  else alice, bob, carol, …). Without --token one token for alice is generated and printed.
  --tool-ms: how long each tool of a \`tools\` turn runs (default ${CLI_TOOL_MS}, time to /steer it by hand).`;

/** Parsed `loopbridge sim` arguments. */
export interface SimCliArgs {
  port: number;
  host: string;
  tokens: Record<string, string>;
  /** Tokens the CLI generated (printed in full, since nobody has seen them yet). */
  generated: string[];
  idleCutMs: number | null;
  pingMs?: number;
  deltaMs?: number;
  toolMs: number;
}

function intArg(flag: string, v: string | undefined, min: number, max: number): number {
  if (v === undefined || !/^\d+$/.test(v)) throw new SimCliError(`${flag} needs a whole number between ${min} and ${max}`);
  const n = Number(v);
  if (n < min || n > max) throw new SimCliError(`${flag} must be between ${min} and ${max} (got ${n})`);
  return n;
}

export function parseSimArgs(argv: string[]): SimCliArgs {
  let port = 0;
  let host = '127.0.0.1';
  const rawTokens: Array<{ token: string; user?: string }> = [];
  const users: string[] = [];
  let idleCutMs: number | null = 10_000;
  let pingMs: number | undefined;
  let deltaMs: number | undefined;
  let toolMs = CLI_TOOL_MS;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--port':
        port = intArg('--port', value(), 0, 65535);
        break;
      case '--host': {
        const v = value();
        if (!v) throw new SimCliError('--host needs an address, e.g. 127.0.0.1');
        host = v;
        break;
      }
      case '--token': {
        const v = value();
        if (!v) throw new SimCliError('--token needs a value: la_ followed by 48 lowercase hex characters');
        const colon = v.indexOf(':');
        const token = colon >= 0 ? v.slice(0, colon) : v;
        const user = colon >= 0 ? v.slice(colon + 1) : undefined;
        if (!TOKEN_RE.test(token))
          throw new SimCliError(`--token #${rawTokens.length + 1} is malformed: it must be la_ followed by 48 lowercase hex characters`);
        if (user !== undefined && !/^[A-Za-z0-9_.-]+$/.test(user))
          throw new SimCliError(`--token #${rawTokens.length + 1}: the user name after ':' must be letters, digits, '_', '.' or '-'`);
        rawTokens.push({ token, user });
        break;
      }
      case '--user': {
        const v = value();
        if (!v || !/^[A-Za-z0-9_.-]+$/.test(v)) throw new SimCliError("--user needs a name of letters, digits, '_', '.' or '-'");
        users.push(v);
        break;
      }
      case '--idle-cut-ms': {
        const v = value();
        idleCutMs = v === 'off' ? null : intArg('--idle-cut-ms', v, 1, 86_400_000);
        break;
      }
      case '--ping-ms':
        pingMs = intArg('--ping-ms', value(), 1, 86_400_000);
        break;
      case '--tool-ms':
        toolMs = intArg('--tool-ms', value(), 0, 600_000);
        break;
      case '--delta-ms':
        deltaMs = intArg('--delta-ms', value(), 0, 60_000);
        break;
      default:
        throw new SimCliError(`unknown argument '${a}'\n${SIM_USAGE}`);
    }
  }
  const tokens: Record<string, string> = {};
  const generated: string[] = [];
  const pool = [...users];
  const taken = new Set<string>();
  const nextDefault = (): string => {
    const n = pool.shift() ?? DEFAULT_USERS.find((u) => !taken.has(u)) ?? `user${taken.size + 1}`;
    return n;
  };
  for (const t of rawTokens) {
    if (tokens[t.token]) throw new SimCliError(`--token #${rawTokens.indexOf(t) + 1} is given twice`);
    const user = t.user ?? nextDefault();
    if (taken.has(user)) throw new SimCliError(`user '${user}' has two tokens; give each --token a different user`);
    taken.add(user);
    tokens[t.token] = user;
  }
  if (rawTokens.length === 0) {
    for (const u of pool.length > 0 ? pool : ['alice']) {
      const t = newToken();
      tokens[t] = u;
      generated.push(t);
    }
  }
  return { port, host, tokens, generated, idleCutMs, pingMs, deltaMs, toolMs };
}

/** Shows only enough of a token to tell tokens apart. */
const mask = (t: string): string => `${t.slice(0, 7)}…`;

/**
 * Runs `loopbridge sim` until SIGINT/SIGTERM (or `io.signal` aborts, for tests). Throws
 * {@link SimCliError} on bad arguments. `io.out` receives the printed lines (default console.log).
 */
export async function runSimCli(argv: string[], io: { out?: (line: string) => void; signal?: AbortSignal; onReady?: (sim: Simulator) => void } = {}): Promise<void> {
  const out = io.out ?? ((l: string) => console.log(l));
  if (argv.includes('--help') || argv.includes('-h')) {
    out(SIM_USAGE);
    return;
  }
  const args = parseSimArgs(argv);
  const sim = await startSimulator({
    port: args.port,
    host: args.host,
    tokens: args.tokens,
    idleCutMs: args.idleCutMs,
    pingIntervalMs: args.pingMs,
    deltaDelayMs: args.deltaMs,
    toolDelayMs: args.toolMs,
  }).catch((e: unknown) => {
    const code = (e as { code?: string }).code;
    throw new SimCliError(code === 'EADDRINUSE' ? `port ${args.port} is already in use; pick another --port` : `cannot listen: ${String(e)}`);
  });
  out(`Loop API v1 simulator listening on ${sim.url} (routes under ${sim.url}/api/v1)`);
  for (const [token, user] of Object.entries(sim.tokens))
    out(`  user ${user}: token ${args.generated.includes(token) ? token : mask(token)}`);
  out(`  idle cut: ${args.idleCutMs === null ? 'off' : `${args.idleCutMs} ms`}; Ctrl-C to stop`);
  io.onReady?.(sim);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    io.signal?.addEventListener('abort', stop, { once: true });
  });
  await sim.close();
  out('simulator stopped');
}
