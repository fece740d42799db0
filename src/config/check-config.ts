// `loopbridge check-config --config FILE`: validate a config without starting anything.
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from './load.js';
import { maskSecrets } from './mask.js';

/** Where {@link runCheckConfig} writes and which environment it substitutes from. */
export interface CheckConfigIo {
  /** Receives the resolved config as YAML. Default `process.stdout`. */
  stdout?: NodeJS.WritableStream;
  /** Receives warnings and errors. Default `process.stderr`. */
  stderr?: NodeJS.WritableStream;
  /** Environment for `${VAR}` substitution. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const USAGE = 'usage: loopbridge check-config --config FILE [--demo]';

/**
 * Runs `check-config` with the arguments after the subcommand (`--config FILE`, `--config=FILE`, `-c FILE`,
 * `--demo` to allow a missing loop.baseUrl). Prints the resolved config (secrets masked) on stdout and
 * warnings on stderr, then returns 0; on any problem prints each `path: message` on stderr and returns 2.
 */
export async function runCheckConfig(argv: string[], io: CheckConfigIo = {}): Promise<number> {
  const out = io.stdout ?? process.stdout;
  const err = io.stderr ?? process.stderr;
  const say = (stream: NodeJS.WritableStream, text: string) => stream.write(text.endsWith('\n') ? text : `${text}\n`);

  let file: string | undefined;
  let demo = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      say(out, USAGE);
      return 0;
    } else if (a === '--demo') {
      demo = true;
    } else if (a === '--config' || a === '-c') {
      file = argv[++i];
      if (file === undefined || file.startsWith('-')) {
        say(err, `check-config: --config needs a file path\n${USAGE}`);
        return 2;
      }
    } else if (a.startsWith('--config=')) {
      file = a.slice('--config='.length);
    } else {
      say(err, `check-config: unknown argument ${JSON.stringify(a)}\n${USAGE}`);
      return 2;
    }
  }
  if (!file) {
    say(err, `check-config: --config FILE is required\n${USAGE}`);
    return 2;
  }

  try {
    const { config, warnings } = loadConfig(file, io.env ?? process.env, { demo });
    say(out, `# ${file}: resolved config (secrets masked)\n${stringify(maskSecrets(config))}`);
    for (const w of warnings) say(err, `warning: ${w}`);
    say(err, `check-config: ${file} is valid${warnings.length ? ` (${warnings.length} warning${warnings.length > 1 ? 's' : ''})` : ''}`);
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (e.code === 'unreadable') {
      say(err, `check-config: --config ${e.issues[0]?.message ?? file}`);
    } else {
      say(err, e.message);
    }
    return 2;
  }
}
