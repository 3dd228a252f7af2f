import { defineConfig } from 'vitest/config';

// `vitest run` runs both projects; `vitest run --project unit` only the unit tests.
export default defineConfig({
  test: {
    // Root-only option: the integration globalSetup teardown stops dockerd
    // (docker rm -f, SIGTERM, up to 15 s before SIGKILL).
    teardownTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          // One private dockerd for the whole run (see harness/global-setup.ts).
          globalSetup: ['test/integration/harness/global-setup.ts'],
          // Test files share that daemon: run them one after another, in one
          // child process. (`fileParallelism` is a root-only option in vitest 3
          // and would serialize the unit tests too; per project, this is the
          // equivalent.)
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
