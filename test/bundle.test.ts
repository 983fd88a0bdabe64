/**
 * The command as installed: bin/mlbatch.js runs the bundle (scripts/bundle.mjs, dist/bin/mlbatch.cjs).
 * Lazy parts must stay lazy once bundled, and the command writes nothing outside the job's outputs.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BIKES, cli, ROOT, removeDir, tempDir } from "./helpers.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

const QUICK_START = ["run", join(BIKES, "confs", "inference.yaml")];
const FINISHED = "[Bikes] Inference Job Finished: Outputs Shape: (3476, 2)";

describe("the command's bundle", () => {
  it("given the quick start, then it loads the bundle and the native addons' packages, none of the lazy ones, and nothing of tsc's dist/", () => {
    // Every CommonJS file loaded (the bundle's externals are required), printed at exit.
    const preload = join(dir, "list.cjs");
    writeFileSync(
      preload,
      'process.on("exit", () => process.stderr.write(`LOADED ${JSON.stringify(Object.keys(require.cache))}\\n`));',
    );
    const result = spawnSync(
      process.execPath,
      [
        "--require",
        preload,
        join(ROOT, "bin", "mlbatch.js"),
        ...QUICK_START,
        "-e",
        `job: {outputs: {path: '${join(dir, "o.parquet")}'}}`,
      ],
      { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, XDG_CACHE_HOME: dir } },
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(FINISHED);
    const line = result.stderr.split("\n").find((l) => l.startsWith("LOADED "));
    const files = JSON.parse(line?.slice("LOADED ".length) ?? "[]") as string[];
    const ours = files.filter((file) => file.startsWith(ROOT) && !file.includes("/node_modules/"));
    // The bundle, and nothing else of ours (no module of tsc's dist/).
    expect(ours.filter((file) => file !== preload)).toEqual([join(ROOT, "dist", "bin", "mlbatch.cjs")]);
    const packages = new Set(
      files.flatMap((file) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? []),
    );
    expect(packages).toContain("better-sqlite3");
    expect(packages).toContain("@duckdb/node-bindings");
    for (const lazy of [
      "apache-arrow",
      "@aws-sdk/client-s3",
      "onnxruntime-node",
      "nodemailer",
      "node-notifier",
    ])
      expect(packages).not.toContain(lazy);
    // Bundled, not loaded from node_modules.
    for (const bundled of ["zod", "yaml", "pino", "@duckdb/node-api"])
      expect(packages).not.toContain(bundled);
  });

  it("given the bundle's folder, then it holds the bundle and its source map only (nothing of an older build)", () => {
    expect(readdirSync(join(ROOT, "dist", "bin")).sort()).toEqual(["mlbatch.cjs", "mlbatch.cjs.map"]);
  });

  it("given the quick start, then nothing appears in the cache folder (no code cache, no model cache for a local store)", () => {
    const cache = join(dir, "cache");
    const run = cli([...QUICK_START, "-e", `job: {outputs: {path: '${join(dir, "out.parquet")}'}}`], {
      env: { XDG_CACHE_HOME: cache },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(FINISHED);
    expect(existsSync(join(cache, "mlbatch"))).toBe(false);
  });
});
