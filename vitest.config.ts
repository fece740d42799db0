import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/peers/postgres-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests run real servers on 127.0.0.1; two workers match this 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
  },
});
