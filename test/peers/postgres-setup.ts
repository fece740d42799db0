// vitest globalSetup: one PostgreSQL server per test run, shared by every PG test (each uses its own
// schema). Its URL reaches tests through `inject('postgres')` (see test/helpers/pg.ts). If it cannot
// start, the reason is provided instead, and every PG test fails with it: nothing is skipped silently.
// LOOPBRIDGE_TEST_PG_URL points the tests at a server you run yourself instead.

import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test PostgreSQL server's superuser URL, or why there is none. */
    postgres: { url: string } | { error: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.LOOPBRIDGE_TEST_PG_URL;
  if (external) {
    project.provide('postgres', { url: external });
    return async () => {};
  }
  try {
    const server = await startPostgres();
    project.provide('postgres', { url: server.url });
    return () => server.stop();
  } catch (error) {
    project.provide('postgres', { error: error instanceof Error ? error.message : String(error) });
    return async () => {};
  }
}
