// What the production image runs, without a container engine: the Dockerfile's build (tsc into dist/),
// its runtime stage's files and `npm ci` (production dependencies only), then plain `node` from that
// copy: check-config, the simulator, and `start` with the console against PostgreSQL, with the image's
// HEALTHCHECK script asking /healthz. The runtime stage is read from the Dockerfile, so the two agree.
// Not checked here (no engine): the base image, USER/VOLUME/HEALTHCHECK as Docker applies them, compose.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, pgAdmin, pgUrl, uniqueSchema } from '../helpers/pg.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const TOKEN = `la_${'5a'.repeat(24)}`;

interface RuntimeStage {
  /** `COPY src dest` lines copied from the repository. */
  copies: Array<{ from: string[]; to: string }>;
  /** The `npm ci …` command of the stage. */
  npmCi: string[];
  entrypoint: string[];
  cmd: string[];
  healthcheck: string[];
}

/** Reads the runtime stage of the Dockerfile (the last FROM). */
function runtimeStage(): RuntimeStage {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const stage = text.slice(text.lastIndexOf('\nFROM '));
  const json = (re: RegExp) => JSON.parse(re.exec(stage)?.[1] ?? '[]') as string[];
  const copies = [...stage.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => {
    const parts = m[1]!.trim().split(/\s+/);
    return { from: parts.slice(0, -1), to: parts.at(-1)! };
  });
  const ci = /RUN (npm ci [^&\n]+)/.exec(stage)?.[1]?.trim().split(/\s+/) ?? [];
  return { copies, npmCi: ci, entrypoint: json(/^ENTRYPOINT (\[.+\])$/m), cmd: json(/^CMD (\[.+\])$/m), healthcheck: json(/^HEALTHCHECK .*CMD (\[.+\])$/m) };
}

let app: string;
let stage: RuntimeStage;
const children: ChildProcess[] = [];
const schemas: string[] = [];

beforeAll(async () => {
  stage = runtimeStage();
  app = mkdtempSync(join(tmpdir(), 'lb-image-'));
  // The build stage: the same tsconfig as `npm run build`, into the copy's dist/.
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], { cwd: ROOT });
  for (const { from, to } of stage.copies) {
    for (const src of from) {
      const dest = to.endsWith('/') ? join(app, to, src.split('/').at(-1)!) : join(app, to);
      mkdirSync(dirname(dest), { recursive: true });
      cpSync(join(ROOT, src), dest, { recursive: true });
    }
  }
  const [npm, ...args] = stage.npmCi;
  expect(npm).toBe('npm');
  await run('npm', [...args, '--prefer-offline'], { cwd: app, timeout: 120_000 });
}, 180_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const schema of schemas) await dropSchema(schema);
  if (app) rmSync(app, { recursive: true, force: true });
});

/** Starts `node <entrypoint> …args` in the copy. */
function node(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [...stage.entrypoint.slice(1), ...args], { cwd: app, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production', ...env } });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exit };
}

describe('the production image, run from a copy with production dependencies only', () => {
  it('has the runtime files and no dev dependencies or sources', () => {
    expect(stage.entrypoint).toEqual(['node', 'dist/src/cli.js']);
    expect(stage.cmd).toEqual(['start', '--config', '/config/loopbridge.yaml']);
    expect(existsSync(join(app, 'dist/src/cli.js'))).toBe(true);
    expect(existsSync(join(app, stage.healthcheck[1]!))).toBe(true);
    // @types/node stays: @slack/bolt's own packages depend on it at run time.
    for (const dev of ['tsx', 'typescript', 'vitest']) expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);
    for (const prod of ['pg', 'lowdb', 'grammy', 'pino']) expect(existsSync(join(app, 'node_modules', prod)), prod).toBe(true);
    expect(existsSync(join(app, 'src'))).toBe(false);
  });

  it('check-config validates the container config from the environment and masks the store password', async () => {
    cpSync(join(ROOT, 'deploy/loopbridge.yaml'), join(app, 'container.yaml'));
    const r = node(['check-config', '--config', 'container.yaml'], {
      LOOP_BASE_URL: 'https://loops.example.com',
      LOOP_TOKEN: TOKEN,
      TELEGRAM_BOT_TOKEN: `123456:${'A'.repeat(35)}`,
      LOOPBRIDGE_ADMIN: 'telegram:12345',
      LOOPBRIDGE_STORE_URL: 'postgres://loopbridge:hunter2-pw@db:5432/loopbridge',
    });
    expect(await r.exit, r.err()).toBe(0);
    expect(r.out()).toContain('url: postgres://***@db:5432/loopbridge');
    expect(r.out() + r.err()).not.toContain('hunter2-pw');
    expect(r.out() + r.err()).not.toContain(TOKEN);
  });

  it('bin/loopbridge.mjs runs dist/ when tsx is not installed', async () => {
    const r = spawn(process.execPath, ['bin/loopbridge.mjs', 'help'], { cwd: app });
    let out = '';
    r.stdout.on('data', (d: Buffer) => (out += d.toString()));
    expect(await new Promise((res) => r.once('exit', res))).toBe(0);
    expect(out).toContain('usage: loopbridge');
  });

  it('runs the simulator and `start` (console, PostgreSQL); the HEALTHCHECK passes, then fails once stopped', async () => {
    const simPort = await freePort();
    const sim = node(['sim', '--port', String(simPort), '--token', TOKEN, '--delta-ms', '1']);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${simPort}/api/v1/loops`, { headers: { authorization: `Bearer ${TOKEN}` } }).catch(() => undefined))?.ok, 'the simulator', 20_000);

    const schema = uniqueSchema('image');
    schemas.push(schema);
    // The test server's database, in a schema of its own (node-postgres passes `options` to the server).
    const storeUrl = new URL(pgUrl());
    storeUrl.searchParams.set('options', `-c search_path=${schema}`);
    const opsPort = await freePort();
    writeFileSync(
      join(app, 'console.yaml'),
      `loop: { baseUrl: "http://127.0.0.1:${simPort}", token: "\${LOOP_TOKEN}" }\nstore: { url: "\${LOOPBRIDGE_STORE_URL}" }\naccess: { users: ["console:you"] }\nconsole: { user: you }\nops: { httpPort: ${opsPort}, logLevel: warn, logFormat: json }\n`,
    );
    const daemon = node(['start', '--config', 'console.yaml'], { LOOP_TOKEN: TOKEN, LOOPBRIDGE_STORE_URL: storeUrl.toString(), LOOPBRIDGE_CONSOLE_MARKERS: '1' });
    const healthcheck = async () => {
      const r = await run(process.execPath, stage.healthcheck.slice(1), { cwd: app, env: { ...process.env, LOOPBRIDGE_HEALTH_URL: `http://127.0.0.1:${opsPort}/healthz` } }).then(
        (ok) => ({ code: 0, out: ok.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
      );
      return r;
    };
    await waitFor(async () => (await healthcheck()).code === 0, `the daemon to be healthy (stderr: ${daemon.err()})`, 30_000);
    expect((await healthcheck()).out).toMatch(/^200 .*"store":\{"ok":true,"kind":"postgres"\}/);

    daemon.child.stdin!.write('hello from the image\n');
    await waitFor(() => daemon.out().includes('**Echo:** hello from the image'), 'the reply', 20_000);
    // The state went to PostgreSQL: the conversation and its loop are rows in the schema.
    const rows = await pgAdmin(`select key from "${schema}".lb_entries where key like 'conv/%'`);
    expect(rows.rows).toEqual([{ key: expect.stringMatching(/^conv\/console:/) }]);

    daemon.child.kill('SIGTERM');
    expect(await daemon.exit).toBe(0);
    expect((await healthcheck()).code).toBe(1);
    expect(daemon.err()).not.toContain(TOKEN);
    sim.child.kill('SIGTERM');
    await sim.exit;
  });
});
