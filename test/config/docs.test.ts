// The example config and the README must document every key the schema knows.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configKeyPaths } from '../../src/config/schema.js';
import { uncommentTelegram } from './helpers.js';

const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');

/** Leaf key paths present in a YAML tree (lists and scalars are leaves). */
function leafPaths(tree: unknown, prefix = ''): string[] {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return [prefix];
  return Object.entries(tree).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe('config docs', () => {
  const keys = configKeyPaths();

  it('the schema has the fixed key set', () => {
    expect(keys).toContain('telegram.webhook.secretToken');
    expect(keys).toContain('replies.editIntervalMs.group');
    expect(keys.length).toBe(38);
  });

  it('the example config holds every key (commented ones included) with a default noted', () => {
    const example = read('../../config/loopbridge.example.yaml');
    // Uncomment everything the example marks as optional-to-enable, then read the keys it really holds.
    const full = uncommentTelegram(example, { webhook: true })
      .replace(/^ {2}# (pairingCodeTtlMs|httpHost):/gm, '  $1:');
    const present = leafPaths(parse(full));
    for (const key of keys) expect(present, key).toContain(key);
    expect(example.match(/\(default: /g)!.length).toBeGreaterThanOrEqual(30);
  });

  it('config/README.md has a table row for every key', () => {
    const readme = read('../../config/README.md');
    for (const key of keys) expect(readme, key).toContain(`| \`${key}\` |`);
  });
});
