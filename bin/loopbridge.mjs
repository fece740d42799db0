#!/usr/bin/env node
// A development checkout (src/ present and tsx installed) runs the TypeScript sources through tsx, so
// an edit takes effect without a build and a stale dist/ is never run by mistake. Anything else (the
// image, an install with production dependencies only) runs the compiled dist/ with plain node.
// LOOPBRIDGE_DIST=1 forces dist/ in a checkout too (after `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
const sources = fileURLToPath(new URL('src/cli.ts', root));
const compiled = new URL('dist/src/cli.js', root);

async function tsxRegister() {
  try {
    return (await import('tsx/esm/api')).register;
  } catch {
    return undefined; // production dependencies only: tsx is a dev dependency
  }
}

const register = process.env.LOOPBRIDGE_DIST === '1' || !existsSync(sources) ? undefined : await tsxRegister();
if (register) {
  register();
  await import('../src/cli.ts');
} else if (existsSync(fileURLToPath(compiled))) {
  await import(compiled.href);
} else {
  process.stderr.write('loopbridge: dist/ is missing — run `npm run build` (or `npm ci` with dev dependencies to run the sources)\n');
  process.exit(1);
}
