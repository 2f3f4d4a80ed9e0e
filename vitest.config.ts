import { defineConfig } from 'vitest/config';

// Integration tests start real processes and servers on loopback; two cores are shared
// between them, so keep parallelism modest and time limits generous (tests never assert on time).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
