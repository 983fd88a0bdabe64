/** The REST registry against a live `mlflow server`: resolution, downloads, MLflow 2 and 3 registrations, errors. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { openRegistry } from "../../src/registry/index.js";
import type { ModelReference } from "../../src/registry/model-uri.js";
import { BIKES, EXAMPLE_REGISTRY, failure, REGISTRIES, removeDir, tempDir } from "../helpers.js";
import {
  FAST_HTTP,
  failing,
  maxDifference,
  messages,
  mlflowService,
  stack,
  succeeding,
} from "./rest-helpers.js";
import { FaultProxy } from "./rest-proxy.js";

const EXPECTED = join(REGISTRIES, "expected_predictions.parquet");
const SKLEARN = join(BIKES, "data", "sklearn_predictions_test.parquet");
const POLICY = { timeout: 5, maxRetries: 3, backoffFactor: 0.05, backoffJitter: 0.05 };

let dir: string;
beforeEach(() => {
  dir = tempDir("mlbatch-rest-");
});
afterEach(() => removeDir(dir));

async function notFound(ref: ModelReference): Promise<MlbatchError> {
  const registry = openRegistry(stack().uri, { http: POLICY });
  try {
    return await failure(registry.getModelVersion(ref));
  } finally {
    registry.close();
  }
}

describe("a job against a live MLflow tracking server", () => {
  it("given alias Champion of an MLflow 3 registration, when run, then it predicts exactly as the local registry run and records the version", async () => {
    const remote = await succeeding({
      mlflow_service: mlflowService(stack().uri, { cacheDir: join(dir, "cache") }),
      outputs: join(dir, "remote.parquet"),
    });
    const local = await succeeding({
      mlflow_service: { registry_uri: EXAMPLE_REGISTRY, tracking_uri: EXAMPLE_REGISTRY },
      outputs: join(dir, "local.parquet"),
    });
    expect(remote.locals.shape).toEqual([3476, 2]);
    expect(await maxDifference(remote.locals.outputs.path, local.locals.outputs.path)).toBe(0);
    expect(await maxDifference(remote.locals.outputs.path, SKLEARN, "v2")).toBeLessThan(1e-3);
    expect(remote.locals.modelVersion).toMatchObject({
      name: "bikes",
      version: 2,
      alias: "Champion",
      aliases: ["Champion"],
      runId: expect.stringMatching(/^[0-9a-f]{32}$/),
      source: expect.stringMatching(/^models:\/m-[0-9a-f]{32}$/),
      artifactUri: expect.stringMatching(/^mlflow-artifacts:\/.+\/models\/m-[0-9a-f]{32}\/artifacts$/),
    });
    expect(messages(remote)).toEqual(
      expect.arrayContaining([
        "[Registry] Alias Champion of model bikes points to version 2",
        "[Inference] Resolved models:/bikes@Champion to version 2",
        expect.stringMatching(/^\[Registry\] Cache miss: download models:\/bikes\/2 from mlflow-artifacts:/),
      ]),
    );
    const resolved = remote.lines.find((l) => l.msg.startsWith("[Inference] Resolved"));
    expect(resolved).toMatchObject({
      run_id: remote.locals.modelVersion.runId,
      source: remote.locals.modelVersion.source,
    });
  });

  it("given a version number, when run, then that version predicts (the example's version 1)", async () => {
    const run = await succeeding({
      mlflow_service: mlflowService(stack().uri),
      outputs: join(dir, "v1.parquet"),
      alias_or_version: 1,
    });
    expect(run.locals.modelVersion).toMatchObject({ version: 1, alias: undefined, aliases: ["Challenger"] });
    expect(await maxDifference(run.locals.outputs.path, SKLEARN, "v1")).toBeLessThan(1e-3);
    expect(messages(run).some((m) => m.startsWith("[Registry] Alias"))).toBe(false);
  });

  it("given an MLflow 2 registration (run artifact URI as source), when run, then it downloads the run's model folder", async () => {
    const run = await succeeding({
      mlflow_service: mlflowService(stack().uri, { name: "bikes_mlflow2" }),
      outputs: join(dir, "mlflow2.parquet"),
    });
    expect(run.locals.modelVersion.source).toMatch(/^mlflow-artifacts:\/.+\/artifacts\/model$/);
    expect(run.locals.modelVersion.artifactUri).toBe(run.locals.modelVersion.source);
    expect(await maxDifference(run.locals.outputs.path, EXPECTED, "bikes_v2")).toBeLessThan(1e-4);
  });

  it("given a version registered from runs:/<run>/model, when run, then the run's artifact URI is asked to the server", async () => {
    const proxy = await FaultProxy.start(stack().uri);
    try {
      const run = await succeeding({
        mlflow_service: mlflowService(proxy.uri, { name: "bikes_runs" }),
        outputs: join(dir, "runs.parquet"),
      });
      expect(run.locals.modelVersion.artifactUri).toMatch(/^runs:\/[0-9a-f]{32}\/model$/);
      expect(proxy.count(/\/api\/2\.0\/mlflow\/runs\/get\?run_id=/)).toBe(1);
      expect(await maxDifference(run.locals.outputs.path, EXPECTED, "bikes_v1")).toBeLessThan(1e-4);
    } finally {
      await proxy.close();
    }
  });

  it("given artifacts in a folder this machine sees (file:), when run on a server without artifact proxying, then they are copied", async () => {
    const run = await succeeding({
      mlflow_service: mlflowService(stack().noProxyUri, { name: "bikes_file", cacheDir: join(dir, "cache") }),
      outputs: join(dir, "file.parquet"),
    });
    expect(run.locals.modelVersion.artifactUri).toMatch(/^file:\/\/\/.+\/artifacts\/model$/);
    expect(await maxDifference(run.locals.outputs.path, EXPECTED, "bikes_v1")).toBeLessThan(1e-4);
  });
});

describe("failures the server's answer makes final (expected failures)", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await FaultProxy.start(stack().noProxyUri);
  });
  afterAll(() => proxy.close());

  it("given a server started with --no-serve-artifacts and proxied artifacts, when run, then it fails at once saying so", async () => {
    proxy.reset();
    const run = await failing({
      mlflow_service: mlflowService(proxy.uri, { name: "bikes_mlflow2" }),
      outputs: join(dir, "x.parquet"),
    });
    expect(run.error.code).toBe("E_REGISTRY");
    expect(run.error.message).toContain("it was started with --no-serve-artifacts");
    expect(run.error.message).toContain("Start it with --serve-artifacts");
    expect(proxy.count(/mlflow-artifacts/)).toBe(1); // no retries
    expect(run.alerts).toContain("Inference Job Failed: [E_REGISTRY]");
    expect(existsSync(join(dir, "x.parquet"))).toBe(false);
  });
});

describe("what the registry does not hold (expected failures)", () => {
  it("given an unknown alias, when resolved, then E_MODEL_NOT_FOUND lists the aliases that exist", async () => {
    const error = await notFound({ name: "bikes", alias: "NoSuchAlias" });
    expect(error.code).toBe("E_MODEL_NOT_FOUND");
    expect(error.message).toContain(
      'alias "NoSuchAlias" not found for model "bikes"; aliases: Challenger -> 1, Champion -> 2; ' +
        "stages (newest version in each): None -> 2.",
    );
  });

  it("given an unknown version, when resolved, then E_MODEL_NOT_FOUND lists the versions", async () => {
    const error = await notFound({ name: "bikes", version: 99 });
    expect(error.code).toBe("E_MODEL_NOT_FOUND");
    expect(error.message).toContain('version 99 not found for model "bikes"; versions: 1, 2.');
  });

  it("given an unknown model, by alias or version, when resolved, then E_MODEL_NOT_FOUND lists the models", async () => {
    for (const ref of [
      { name: "bicycles", alias: "Champion" },
      { name: "bicycles", version: 1 },
    ] as const) {
      const error = await notFound(ref);
      expect(error.code).toBe("E_MODEL_NOT_FOUND");
      expect(error.message).toContain(`model "bicycles" not found in registry ${stack().uri}`);
      expect(error.message).toMatch(/models: bikes, bikes_empty, bikes_file, bikes_mlflow2, bikes_moving/);
    }
  });

  it("given a version whose artifact folder is empty, when its files are asked, then E_REGISTRY says no files are there", async () => {
    const registry = openRegistry(stack().uri, { http: POLICY });
    try {
      const version = await registry.getModelVersion({ name: "bikes_empty", version: 1 });
      const error = await registry.modelDirectory(version).catch((e: unknown) => e as MlbatchError);
      expect(error).toBeInstanceOf(MlbatchError);
      expect((error as MlbatchError).code).toBe("E_REGISTRY");
      expect((error as MlbatchError).message).toContain(`no model files at ${version.artifactUri}`);
    } finally {
      registry.close();
    }
  });

  it("given a port where no server listens, when run, then E_REGISTRY says the server is unreachable after the retries", async () => {
    const closed = await FaultProxy.start(stack().uri);
    const uri = closed.uri;
    await closed.close();
    const run = await failing({
      mlflow_service: mlflowService(uri, { http: { ...FAST_HTTP, max_retries: 2 } }),
      outputs: join(dir, "x.parquet"),
    });
    expect(run.error.code).toBe("E_REGISTRY");
    expect(run.error.message).toContain(
      `MLflow tracking server ${uri} is unreachable: connection refused (ECONNREFUSED)`,
    );
    expect(run.error.message).toContain("3 tries");
    expect(run.error.message).toContain("mlflow_service.tracking_uri");
    expect(run.lines.filter((l) => l.level === 40 && /retry \d\/2/.test(l.msg))).toHaveLength(2);
  });
});

describe("an alias that moves between runs", () => {
  async function moveAlias(version: number): Promise<void> {
    const answer = await fetch(`${stack().uri}/api/2.0/mlflow/registered-models/alias`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "bikes_moving", alias: "Moving", version: String(version) }),
    });
    expect(answer.status).toBe(200);
  }
  afterAll(() => moveAlias(1));

  it("given an alias moved after a run, when run again, then it is resolved afresh, and a version seen before comes from the cache", async () => {
    const cacheDir = join(dir, "cache");
    const run = (n: number) =>
      succeeding({
        mlflow_service: mlflowService(stack().uri, { name: "bikes_moving", cacheDir }),
        outputs: join(dir, `moving-${n}.parquet`),
        alias_or_version: "Moving",
      });
    await moveAlias(1);
    const first = await run(1);
    await moveAlias(2);
    const second = await run(2);
    await moveAlias(1);
    const third = await run(3);
    expect([first, second, third].map((r) => r.locals.modelVersion.version)).toEqual([1, 2, 1]);
    const cacheLines = [first, second, third].map((r) => messages(r).find((m) => /Cache (hit|miss)/.test(m)));
    expect(cacheLines).toEqual([
      expect.stringContaining("Cache miss: download models:/bikes_moving/1"),
      expect.stringContaining("Cache miss: download models:/bikes_moving/2"),
      expect.stringContaining("Cache hit: models:/bikes_moving/1"),
    ]);
    expect(await maxDifference(third.locals.outputs.path, EXPECTED, "bikes_v1")).toBeLessThan(1e-4);
  });
});
