/**
 * The command as installed: bin/mlbatch.js runs the bundle (scripts/bundle.mjs, dist/bin/mlbatch.cjs)
 * with a V8 code cache. Lazy parts must stay lazy once bundled, and the cache must never change a run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
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

/** The quick start, its output in the temporary folder, its code cache in `cache`. */
function quickStart(cache: string) {
  return cli([...QUICK_START, "-e", `job: {outputs: {path: '${join(dir, "out.parquet")}'}}`], {
    env: { XDG_CACHE_HOME: cache },
  });
}

/** The code cache's entries. */
function entries(cache: string): string[] {
  const folder = join(cache, "mlbatch", "code");
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

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
    // The bundle itself is compiled by vm.Script, not required: no file of ours is.
    expect(ours.filter((file) => file !== preload)).toEqual([]);
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
});

describe("the code cache", () => {
  it("given no cache, when the quick start runs twice, then the first writes one entry for run and the second uses it unchanged", () => {
    const cache = join(dir, "cache");
    const first = quickStart(cache);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(FINISHED);
    const [entry, ...others] = entries(cache);
    expect(others).toEqual([]);
    expect(entry).toMatch(new RegExp(`^${process.version}-${process.arch}-\\d+-\\d+-run\\.v8$`));
    const path = join(cache, "mlbatch", "code", entry!);
    const written = { mtime: statSync(path).mtimeMs, bytes: readFileSync(path) };
    const second = quickStart(cache);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    // V8 took it: a refused cache is written again.
    expect(statSync(path).mtimeMs).toBe(written.mtime);
    expect(readFileSync(path).equals(written.bytes)).toBe(true);
  });

  it("given a damaged entry, then the run is the same and the entry is written again", () => {
    const cache = join(dir, "cache");
    quickStart(cache);
    const [entry] = entries(cache);
    const path = join(cache, "mlbatch", "code", entry!);
    writeFileSync(path, "not a code cache");
    const run = quickStart(cache);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(FINISHED);
    expect(readFileSync(path).length).toBeGreaterThan(100_000);
  });

  it("given entries of another build, then this Node's are removed when the new one is written, another Node's kept", () => {
    const cache = join(dir, "cache");
    const folder = join(cache, "mlbatch", "code");
    mkdirSync(folder, { recursive: true });
    const old = `${process.version}-${process.arch}-1-1-run.v8`;
    const otherNode = `v0.0.0-${process.arch}-1-1-run.v8`;
    writeFileSync(join(folder, old), "old build");
    writeFileSync(join(folder, otherNode), "another Node");
    expect(quickStart(cache).code).toBe(0);
    const now = entries(cache);
    expect(now).not.toContain(old);
    expect(now).toContain(otherNode);
    expect(now).toHaveLength(2);
  });

  it("given a failed run (invalid config), then no entry is written (a run that stopped early compiled little)", () => {
    const cache = join(dir, "cache");
    const run = cli([...QUICK_START, "-e", "job: {no_such_key: 1}"], { env: { XDG_CACHE_HOME: cache } });
    expect(run.code).toBe(2);
    expect(entries(cache)).toEqual([]);
  });

  it("given a cache folder that cannot be made, then the run is the same and nothing is said about it", () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const run = quickStart(file);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(FINISHED);
    expect(run.stderr).not.toMatch(/cache|EEXIST|ENOTDIR/i);
  });
});
