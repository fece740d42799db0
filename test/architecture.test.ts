// The folder rules of the design (§1), checked by reading every import line: adapters never import each
// other and see only the core's public seam and `adapters/shared/` (code common to adapters, itself no
// adapter: it sees only the seam); the core never imports an adapter; the client, the store and
// the config import nothing of ours; the simulator only the wire types.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of a file, resolved to repository paths (e.g. 'src/core/adapter-types.ts'). */
function localImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)].map((m) => m[1]);
  return specs.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)).replace(/\.js$/, '.ts'));
}

const under = (prefix: string) => (p: string) => p.startsWith(prefix);

describe('import boundaries', () => {
  it('finds the files it checks', () => {
    expect(files('src/core').length).toBeGreaterThan(5);
    expect(files('adapters').length).toBeGreaterThan(5);
  });

  it('adapters import only the core seam (src/core/adapter-types.ts) and adapters/shared/, never each other', () => {
    for (const file of files('adapters')) {
      const platform = file.split('/')[1];
      for (const dep of localImports(file)) {
        const ok = dep === 'src/core/adapter-types.ts' || dep.startsWith(`adapters/${platform}/`) || dep.startsWith('adapters/shared/');
        expect(ok, `${file} imports ${dep}`).toBe(true);
      }
    }
  });

  it('adapters/shared/ imports only itself and the core seam (no adapter, nothing else of ours)', () => {
    const shared = files('adapters/shared');
    expect(shared.length).toBeGreaterThan(0);
    for (const file of shared) {
      for (const dep of localImports(file)) {
        const ok = dep === 'src/core/adapter-types.ts' || under('adapters/shared/')(dep);
        expect(ok, `${file} imports ${dep}`).toBe(true);
      }
    }
  });

  it('the core imports no adapter, only the client, the store and itself', () => {
    for (const file of files('src/core')) {
      for (const dep of localImports(file)) {
        const ok = ['src/core/', 'src/loop-api/', 'src/store/'].some((p) => under(p)(dep));
        expect(ok, `${file} imports ${dep}`).toBe(true);
      }
    }
  });

  it('the loop client, the store and the config import nothing of ours outside themselves', () => {
    for (const dir of ['src/loop-api/', 'src/store/', 'src/config/']) {
      for (const file of files(dir)) {
        for (const dep of localImports(file)) expect(under(dir)(dep), `${file} imports ${dep}`).toBe(true);
      }
    }
  });

  it('the simulator imports only itself and the wire types', () => {
    for (const file of files('src/sim')) {
      for (const dep of localImports(file)) {
        expect(under('src/sim/')(dep) || dep === 'src/loop-api/types.ts', `${file} imports ${dep}`).toBe(true);
      }
    }
  });
});
