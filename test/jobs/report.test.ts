import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunReport } from "../../src/jobs/report.js";
import { configHash } from "../../src/jobs/report.js";
import { INPUTS_TEST, inferenceJob, removeDir, STORES, tempDir } from "../helpers.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

function config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
    outputs: { KIND: "ParquetWriter", path: join(dir, "predictions.parquet") },
    mlflow_service: { registry_uri: STORES["mlflow3-sqlite"] },
    report: join(dir, "reports", "run.json"),
    ...overrides,
  };
}

function report(): RunReport {
  return JSON.parse(readFileSync(join(dir, "reports", "run.json"), "utf8")) as RunReport;
}

describe("run report", () => {
  it("given a successful run, then the report's numbers match the run", async () => {
    const { job } = inferenceJob(config());
    const locals = await job.execute();
    const r = report();
    expect(r).toMatchObject({
      job: "Inference Job",
      status: "success",
      model: {
        uri: "models:/bikes@Champion",
        name: "bikes",
        alias: "Champion",
        version: locals.modelVersion.version,
        run_id: locals.modelVersion.runId,
        source: locals.modelVersion.source,
      },
      inputs: { path: INPUTS_TEST, rows: 3476 },
      outputs: { path: join(dir, "predictions.parquet"), rows: locals.outputs.rows },
      rows: { read: 3476, written: 3476, rejected: 0 },
      error: null,
    });
    expect(r.config_hash).toMatch(/^[0-9a-f]{64}$/);
    for (const step of ["read", "load", "validate", "predict", "write", "total"])
      expect(r.durations[step]).toBeGreaterThan(0);
    expect(r.duration_s).toBe(r.durations.total);
    expect(r.peak_memory_mb).toBeGreaterThan(10);
    expect(Date.parse(r.finished_at)).toBeGreaterThanOrEqual(Date.parse(r.started_at));
  });

  it("given a failing run, then the report carries the step, code and message, and no output exists", async () => {
    const { job } = inferenceJob(config({ alias_or_version: "NoSuchAlias" }));
    const error = await job.execute().catch((e: unknown) => e);
    expect(report()).toMatchObject({
      status: "failure",
      model: { uri: "models:/bikes@NoSuchAlias", version: null, run_id: null },
      rows: { read: null, written: null },
      error: { step: "load", code: "E_MODEL_NOT_FOUND", message: (error as Error).message },
    });
    expect(existsSync(join(dir, "predictions.parquet"))).toBe(false);
  });

  it("given the same config with keys in another order, then the config hash is the same", () => {
    expect(configHash({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 3 } })).toBe(
      configHash({ a: { c: 3, d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    expect(configHash({ a: 1 })).not.toBe(configHash({ a: 2 }));
  });
});
