import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests share one PostgreSQL server and create their own databases;
    // files run in parallel, tests inside a file in order.
    fileParallelism: true,
    pool: "forks",
  },
});
