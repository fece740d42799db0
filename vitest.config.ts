import { defineConfig } from 'vitest/config';

/** Test files that talk to the real Synapse homeserver (test/peers/synapse): their own project, so the
 * server starts only when one of them runs. */
const SYNAPSE_TESTS = ['test/**/*.synapse.test.ts', 'test/contract/matrix.contract.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests run real servers on 127.0.0.1; two workers match this 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: SYNAPSE_TESTS, globalSetup: ['test/peers/postgres-setup.ts'] } },
      { extends: true, test: { name: 'synapse', include: SYNAPSE_TESTS, globalSetup: ['test/peers/synapse/global-setup.ts'] } },
    ],
  },
});
