// `loopbridge demo`: the embedded default. Starts the loop simulator and the console adapter in one
// process, with a throwaway store, so a newcomer can chat with no accounts and nothing to configure.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from './config/index.js';
import { secretValues } from './config/mask.js';
import { startDaemon } from './daemon.js';
import { createLogger } from './ops/logging.js';
import { CLI_TOOL_MS } from './sim/cli.js';
import { startSimulator } from './sim/index.js';

const BANNER = `loopbridge demo — you are chatting with a simulated loop through the console adapter.
Try: "hello", "tools", "permission", "question", "long", "markdown", "error", "slow 5"; /help for commands.
While a turn runs, "/steer <text>" sends text into it (try it during "tools").
Ctrl-D or Ctrl-C quits.
`;

export async function runDemo(argv: string[]): Promise<number> {
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const markers = argv.includes('--markers');
  // Typed by a person, tools run a few seconds as real ones do: time to try /steer on a `tools` turn.
  // Piped input does not type mid-turn, so its turns run at full speed.
  const sim = await startSimulator({ toolDelayMs: interactive ? CLI_TOOL_MS : 0 });
  const dir = mkdtempSync(join(tmpdir(), 'loopbridge-demo-'));
  const { config } = resolveConfig(
    {
      loop: { token: sim.token },
      store: { path: join(dir, 'store.json') },
      access: { users: ['console:you'] },
      console: { user: 'you' },
      ops: { logLevel: process.env.LOOPBRIDGE_LOG_LEVEL ?? 'warn' },
    },
    process.env,
    { demo: true },
  );
  config.loop.baseUrl = sim.url;
  const log = createLogger({ level: config.ops.logLevel, format: config.ops.logFormat, secrets: secretValues(config) });
  let finish!: () => void;
  const inputDone = new Promise<void>((r) => (finish = r));
  if (interactive) process.stdout.write(BANNER);
  const daemon = await startDaemon(config, {
    log,
    console: { input: process.stdin, output: process.stdout, interactive, markers, onInputEnd: () => finish() },
  });
  const shutdown = new Promise<void>((r) => {
    process.once('SIGINT', r);
    process.once('SIGTERM', r);
  });
  await Promise.race([
    shutdown,
    // At end of input, wait until every accepted message has had its turn.
    inputDone.then(async () => {
      while ((await daemon.bridge.backlog()) > 0 || daemon.bridge.sessions.running.size > 0) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }),
  ]);
  await daemon.stop();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
  return 0;
}
