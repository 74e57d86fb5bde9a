import { defineConfig } from 'vitest/config'

// Unit tests run in parallel; end-to-end tests spawn real master and slave processes,
// so on a 2-core machine they run one file at a time, after the unit tests. The benchmark's
// smoke tests (every scenario's code path on tiny inputs) are a project of their own, run by
// `npm run test:bench` (which .ci/run calls after `npm test`), not by `npm test`.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'bench',
          include: ['test/bench/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
})
