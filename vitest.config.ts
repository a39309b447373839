import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Four workers on two cores: most of the long files wait (on lease TTLs, token rotations, a
    // worker's minute of queries) rather than compute, so two more overlap their waits with the
    // PostgreSQL-heavy files instead of queueing behind them (docs/design.md §11).
    maxWorkers: 4,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
