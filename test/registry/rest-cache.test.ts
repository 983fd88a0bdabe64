/** The local model cache: hits without artifact requests, misses, repairs, and concurrent fills by two processes. */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CacheKey, ModelCache } from "../../src/registry/cache.js";
import { REGISTRIES, ROOT, removeDir, tempDir } from "../helpers.js";
import { FAST_HTTP, maxDifference, messages, mlflowService, stack, succeeding } from "./rest-helpers.js";
import { FaultProxy } from "./rest-proxy.js";

const EXPECTED = join(REGISTRIES, "expected_predictions.parquet");
const ARTIFACTS = /\/api\/2\.0\/mlflow-artifacts\//;

let proxy: FaultProxy;
let dir: string;
beforeAll(async () => {
  proxy = await FaultProxy.start(stack().uri);
});
afterAll(() => proxy.close());
beforeEach(() => {
  proxy.reset();
  dir = tempDir("mlbatch-cache-");
});
afterEach(() => removeDir(dir));

/** Every file and folder under a folder, relative, sorted. */
function tree(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: "utf8" }).sort();
}

function job(n: number, cacheDir: string | undefined) {
  return {
    mlflow_service: mlflowService(proxy.uri, { name: "bikes_mlflow2", cacheDir }),
    outputs: join(dir, `predictions-${n}.parquet`),
  };
}

describe("a job with the model cache", () => {
  it("given an empty cache, when run twice, then the second run makes no artifact request and predicts the same", async () => {
    const cacheDir = join(dir, "cache");
    const first = await succeeding(job(1, cacheDir));
    const firstArtifactRequests = proxy.count(ARTIFACTS);
    proxy.reset();
    const second = await succeeding(job(2, cacheDir));

    expect(firstArtifactRequests).toBeGreaterThan(1); // a listing, then the files
    expect(proxy.count(ARTIFACTS)).toBe(0);
    expect(proxy.count(/registered-models\/alias/)).toBe(1); // the alias is still resolved afresh
    expect(messages(first)).toContainEqual(
      expect.stringMatching(/^\[Registry\] Cache miss: download models:\/bikes_mlflow2\/2/),
    );
    expect(messages(second)).toContainEqual(
      expect.stringMatching(/^\[Registry\] Cache hit: models:\/bikes_mlflow2\/2 from /),
    );
    expect(await maxDifference(second.locals.outputs.path, first.locals.outputs.path)).toBe(0);

    const entries = tree(cacheDir);
    expect(entries.filter((e) => /\.tmp-|\.trash-/.test(e))).toEqual([]);
    const entry = join(cacheDir, entries.find((e) => e.endsWith(join("bikes_mlflow2", "2")))!);
    const manifest = JSON.parse(readFileSync(join(entry, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({
      registry_uri: proxy.uri,
      name: "bikes_mlflow2",
      version: 2,
      run_id: first.locals.modelVersion.runId,
      source: first.locals.modelVersion.source,
    });
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual(
      expect.arrayContaining(["MLmodel", "model.onnx"]),
    );
  });

  it("given a cache entry with a file missing, when run, then the entry is downloaded again", async () => {
    const cacheDir = join(dir, "cache");
    await succeeding(job(1, cacheDir));
    const onnx = tree(cacheDir).find((e) => e.endsWith("model.onnx"))!;
    rmSync(join(cacheDir, onnx));
    proxy.reset();
    const run = await succeeding(job(2, cacheDir));
    expect(messages(run)).toContainEqual(expect.stringMatching(/Cache miss/));
    expect(proxy.count(ARTIFACTS)).toBeGreaterThan(1);
    expect(existsSync(join(cacheDir, onnx))).toBe(true);
    expect(await maxDifference(run.locals.outputs.path, EXPECTED, "bikes_v2")).toBeLessThan(1e-4);
  });

  it("given the cache disabled, when run twice, then each run downloads into a temporary folder it removes", async () => {
    const runs = [await succeeding(job(1, undefined)), await succeeding(job(2, undefined))];
    for (const run of runs) {
      const line = run.lines.find((l) => l.cache === "disabled");
      expect(line?.msg).toContain("(no cache: into a temporary folder)");
      expect(existsSync(String(line?.directory))).toBe(false);
    }
    expect(proxy.seen.filter((s) => ARTIFACTS.test(s.path) && s.path.endsWith("model.onnx"))).toHaveLength(2);
  });
});

describe("two processes filling the cache at once", () => {
  /** Runs the built CLI; resolves with its exit code and stderr. */
  function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, "bin", "mlbatch.js"), ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ["ignore", "ignore", "pipe"],
        timeout: 120_000,
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stderr }));
    });
  }

  function config(n: number): string {
    const path = join(dir, `conf-${n}.yaml`);
    writeFileSync(
      path,
      JSON.stringify({
        job: {
          KIND: "InferenceJob",
          inputs: {
            KIND: "ParquetReader",
            path: join(ROOT, "examples", "bikes", "data", "inputs_test.parquet"),
          },
          outputs: { KIND: "ParquetWriter", path: join(dir, `cli-${n}.parquet`) },
          logger_service: { serialize: true },
          // The default cache: $XDG_CACHE_HOME/mlbatch/models.
          mlflow_service: {
            tracking_uri: proxy.uri,
            registry_uri: proxy.uri,
            registry_name: "bikes_mlflow2",
            http: FAST_HTTP,
          },
        },
      }),
    );
    return path;
  }

  it("given two CLI runs started together on an empty default cache, when both download, then both succeed and one complete entry remains", async () => {
    // Slow model files, so that both processes are downloading at the same time.
    proxy.inject({ match: /model\.onnx$/, fault: { kind: "delay", ms: 1500 } });
    const env = { XDG_CACHE_HOME: join(dir, "xdg") };
    const [a, b] = await Promise.all([cli(["run", config(1)], env), cli(["run", config(2)], env)]);
    expect([a.code, b.code]).toEqual([0, 0]);

    const cacheDir = join(dir, "xdg", "mlbatch", "models");
    const entries = tree(cacheDir);
    expect(entries.filter((e) => /\.tmp-|\.trash-/.test(e))).toEqual([]);
    expect(entries.filter((e) => e.endsWith("manifest.json"))).toHaveLength(1);
    const logs = `${a.stderr}\n${b.stderr}`;
    const misses = logs.match(/Cache miss/g)?.length ?? 0;
    const meanwhile = logs.match(/was cached meanwhile by another process/g)?.length ?? 0;
    expect(misses + (logs.match(/Cache hit/g)?.length ?? 0)).toBe(2);
    expect(meanwhile).toBe(misses - 1); // every miss but the first rename used the winner's copy
    expect(await maxDifference(join(dir, "cli-1.parquet"), join(dir, "cli-2.parquet"))).toBe(0);
    expect(await maxDifference(join(dir, "cli-1.parquet"), EXPECTED, "bikes_v2")).toBeLessThan(1e-4);
  });

  it("given --no-cache, when the CLI runs, then it creates no cache", async () => {
    const env = { XDG_CACHE_HOME: join(dir, "xdg") };
    const run = await cli(["run", config(1), "--no-cache"], env);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("(no cache: into a temporary folder)");
    expect(existsSync(join(dir, "xdg", "mlbatch"))).toBe(false); // (ONNX Runtime keeps files of its own there)
  });
});

describe("ModelCache", () => {
  const key: CacheKey = { registryUri: "https://mlflow.example.com", name: "Bikes/EU", version: 3 };
  const manifest = {
    registry_uri: key.registryUri,
    name: key.name,
    version: key.version,
    run_id: "r1",
    source: "s3://models/1/r1/artifacts/model",
    artifact_uri: "s3://models/1/r1/artifacts/model",
  };
  const download = (text: string) => async (folder: string) => {
    mkdirSync(join(folder, "sub"));
    writeFileSync(join(folder, "MLmodel"), text);
    writeFileSync(join(folder, "sub", "weights.bin"), "0123456789");
    await new Promise((done) => setTimeout(done, 20));
    return [
      { path: "MLmodel", size: text.length },
      { path: "sub/weights.bin", size: 10 },
    ];
  };

  it("given two fills of one version at once, when both finish, then one entry remains and the loser uses it", async () => {
    const cache = new ModelCache(join(dir, "cache"));
    const results = await Promise.all([
      cache.fill(key, manifest, download("first")),
      cache.fill(key, manifest, download("second")),
    ]);
    expect(results[0].folder).toBe(results[1].folder);
    expect(results.map((r) => r.concurrent).sort()).toEqual([false, true]);
    expect(tree(join(cache.entry(key), ".."))).toEqual(
      ["3", "3/manifest.json", "3/model", "3/model/MLmodel", "3/model/sub", "3/model/sub/weights.bin"].map(
        (p) => join(...p.split("/")),
      ),
    );
    expect(await cache.lookup(key, { source: manifest.source, runId: "r1" })).toBe(results[0].folder);
  });

  it("given an entry made for another source (a server reinstalled at the same URI), when looked up, then it is discarded", async () => {
    const cache = new ModelCache(join(dir, "cache"));
    await cache.fill(key, manifest, download("x"));
    expect(await cache.lookup(key, { source: "mlflow-artifacts:/other", runId: "r1" })).toBeUndefined();
    expect(existsSync(cache.entry(key))).toBe(false);
  });

  it("given a download that fails, when filling, then nothing is left in the cache", async () => {
    const cache = new ModelCache(join(dir, "cache"));
    const failure = cache.fill(key, manifest, async () => {
      throw new Error("network down");
    });
    await expect(failure).rejects.toThrow("network down");
    expect(tree(join(cache.entry(key), ".."))).toEqual([]);
  });

  it("given model names that differ in case or hold slashes, when cached, then their entries are apart and inside the cache", () => {
    const cache = new ModelCache(join(dir, "cache"));
    const a = cache.entry({ ...key, name: "bikes" });
    const b = cache.entry({ ...key, name: "Bikes" });
    const c = cache.entry({ ...key, name: "../../etc" });
    expect(new Set([a, b, c]).size).toBe(3);
    for (const entry of [a, b, c]) expect(entry.startsWith(join(dir, "cache"))).toBe(true);
    expect(a).toMatch(/mlflow\.example\.com-[0-9a-f]{12}[/\\]bikes[/\\]3$/);
  });
});
