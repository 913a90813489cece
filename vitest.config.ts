import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Generous: CLI tests spawn many processes, and CI shares two cores with the database.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: keep parallelism modest so timing-sensitive protocol tests are not starved.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
