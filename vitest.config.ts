import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/python.ts", "test/setup/mlflow-server.ts"],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // Native addons (DuckDB, ONNX Runtime, better-sqlite3) are safest in forked processes.
    pool: "forks",
  },
});
