/**
 * The command as installed: bin/mlbatch.js runs the bundle (scripts/bundle.mjs, dist/bin/mlbatch.cjs)
 * with the code cache the build made (bin/bundle.js). Lazy parts must stay lazy once bundled, the cache
 * is used only for its own bundle, and the command writes nothing outside the job's outputs.
 */
import { isAscii } from "node:buffer";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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
  it("given the quick start, then it loads the bundle and the native addons' packages, none of the lazy ones, nothing of tsc's dist/, and no HTTP or TLS module", () => {
    // Every CommonJS file loaded (the bundle's externals are required), printed at exit.
    const preload = join(dir, "list.cjs");
    writeFileSync(
      preload,
      'process.on("exit", () => process.stderr.write(`LOADED ${JSON.stringify(Object.keys(require.cache))}\\n` +\n' +
        '  `BUILTINS ${JSON.stringify(process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13)))}\\n`));',
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
    // The bundle itself is compiled by vm.Script (bin/bundle.js), not required: no file of ours is (no
    // module of tsc's dist/).
    expect(ours.filter((file) => file !== preload)).toEqual([]);
    const packages = new Set(
      files.flatMap((file) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? []),
    );
    // better-sqlite3's addon only (its JavaScript is bundled), found without the bindings package.
    expect(files.filter((file) => file.includes("/node_modules/better-sqlite3/"))).toEqual([
      expect.stringMatching(/\/better-sqlite3\/build\/Release\/better_sqlite3\.node$/),
    ]);
    expect(packages).not.toContain("bindings");
    // DuckDB's addon, of this platform's package; on a glibc Linux, without asking detect-libc.
    expect([...packages].some((name) => name.startsWith("@duckdb/node-bindings"))).toBe(true);
    const musl = (
      { x64: "/lib/ld-musl-x86_64.so.1", arm64: "/lib/ld-musl-aarch64.so.1" } as Record<string, string>
    )[process.arch];
    if (process.platform === "linux" && musl !== undefined && !existsSync(musl))
      expect(packages).not.toContain("detect-libc");
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
    // Nor Node's HTTP and TLS modules: a local registry and the console channel send no request.
    const builtins = JSON.parse(
      result.stderr
        .split("\n")
        .find((l) => l.startsWith("BUILTINS "))
        ?.slice("BUILTINS ".length) ?? "[]",
    ) as string[];
    expect(builtins).toContain("fs");
    for (const unused of ["http", "https", "tls"]) expect(builtins).not.toContain(unused);
  });

  it("given the bundle's folder, then it holds the bundle, its source map and its code cache only (nothing of an older build)", () => {
    expect(readdirSync(join(ROOT, "dist", "bin")).sort()).toEqual([
      "mlbatch.cjs",
      "mlbatch.cjs.map",
      "mlbatch.cjs.v8",
    ]);
  });

  it("given the bundle, then it is ASCII only (read as a one-byte string)", () => {
    expect(isAscii(readFileSync(join(ROOT, "dist", "bin", "mlbatch.cjs")))).toBe(true);
  });

  it("given the build's code cache, then V8 takes it for the bundle, and it is not used for a bundle of other bytes, even of the same length", () => {
    const bundle = join(ROOT, "dist", "bin", "mlbatch.cjs");
    // One byte of a comment changed: V8's own check (the source's length) would take the cache.
    const source = readFileSync(bundle, "utf8");
    const at = source.indexOf("// src/cli.ts");
    expect(at).toBeGreaterThan(0);
    const other = join(dir, "other.cjs");
    writeFileSync(other, `${source.slice(0, at)}// src/cli.tS${source.slice(at + "// src/cli.ts".length)}`);
    const script = `
      import { compileBundle } from ${JSON.stringify(join(ROOT, "bin", "bundle.js"))};
      const cache = ${JSON.stringify(`${bundle}.v8`)};
      console.log(compileBundle().cache, compileBundle(${JSON.stringify(other)}, cache).cache, compileBundle(undefined, null).cache);
    `;
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("accepted none none");
  });

  it("given --enable-source-maps, then the quick start runs with the bundle required by Node's loader", () => {
    const result = spawnSync(
      process.execPath,
      [
        "--enable-source-maps",
        join(ROOT, "bin", "mlbatch.js"),
        ...QUICK_START,
        "-e",
        `job: {outputs: {path: '${join(dir, "o.parquet")}'}}`,
      ],
      { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, XDG_CACHE_HOME: dir } },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(FINISHED);
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
