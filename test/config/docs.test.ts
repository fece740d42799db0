// The example config and the README must document every key the schema knows.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configKeyPaths } from '../../src/config/schema.js';
import { uncommentMatrix, uncommentSlack, uncommentTelegram } from './helpers.js';

const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');

/** Leaf key paths present in a YAML tree (lists and scalars are leaves). */
function leafPaths(tree: unknown, prefix = ''): string[] {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return [prefix];
  return Object.entries(tree).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe('config docs', () => {
  const keys = configKeyPaths();

  it('the schema lists leaf keys of every section, nested ones by their full path', () => {
    for (const key of ['telegram.webhook.secretToken', 'replies.editIntervalMs.group', 'store.url', 'ops.controlSocket', 'slack.threadFollow', 'matrix.autoJoin', 'replies.maxTextChars']) expect(keys).toContain(key);
    // Leaves only: a section name alone is never a key.
    expect(keys).not.toContain('telegram.webhook');
  });

  it('the example config holds every key (commented ones included) with a default noted', () => {
    const example = read('../../config/loopbridge.example.yaml');
    // Uncomment everything the example marks as optional-to-enable, then read the keys it really holds.
    const full = uncommentMatrix(uncommentSlack(uncommentTelegram(example, { webhook: true })))
      .replace(/^ {2}# (pairingCodeTtlMs|httpHost|controlSocket):/gm, '  $1:');
    const present = leafPaths(parse(full));
    for (const key of keys) expect(present, key).toContain(key);
    expect(example.match(/\(default: /g)!.length).toBeGreaterThanOrEqual(30);
  });

  it('config/README.md has a table row for every key', () => {
    const readme = read('../../config/README.md');
    for (const key of keys) expect(readme, key).toContain(`| \`${key}\` |`);
  });
});
