import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configHash } from "../../src/report/config-hash.js";
import type { RunReport } from "../../src/report/run-report.js";
import { BIKES, cli, copyStore, INPUTS_TEST, inferenceJob, removeDir, STORES, tempDir } from "../helpers.js";

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

  it("given a report path holding a file mlbatch did not write, when the job runs, then the file is left untouched, with a warning, and the run succeeds", async () => {
    mkdirSync(join(dir, "reports"));
    writeFileSync(join(dir, "reports", "run.json"), "precious,data\n1,2\n");
    const { job } = inferenceJob(config());
    await job.execute();
    expect(readFileSync(join(dir, "reports", "run.json"), "utf8")).toBe("precious,data\n1,2\n");
    expect(existsSync(join(dir, "predictions.parquet"))).toBe(true);
  });

  it("given a report of an earlier run at the report path, when the job runs again, then it is replaced", async () => {
    await inferenceJob(config()).job.execute();
    const first = report().finished_at;
    await inferenceJob(
      config({ outputs: { KIND: "ParquetWriter", path: join(dir, "again.parquet") } }),
    ).job.execute();
    expect(report().finished_at).not.toBe(first);
  });

  it("given a sharded run whose report names its input, when it runs, then it fails with E_CONFIG and the input keeps every byte", () => {
    const input = join(dir, "inputs.parquet");
    copyFileSync(INPUTS_TEST, input);
    const before = statSync(input).size;
    const extra = `job: {inputs: {path: '${input}'}, outputs: {path: '${join(dir, "out")}/'}, report: '${input}'}`;
    const run = cli(["run", join(BIKES, "confs", "inference.yaml"), "--shard", "0/2", "-e", extra]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain("[E_CONFIG]");
    expect(statSync(input).size).toBe(before);
    expect(readFileSync(input).subarray(0, 4).toString()).toBe("PAR1");
  });

  it("given the same config with keys in another order, then the config hash is the same", () => {
    expect(configHash({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 3 } })).toBe(
      configHash({ a: { c: 3, d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    expect(configHash({ a: 1 })).not.toBe(configHash({ a: 2 }));
  });
});

describe("mlflow_run", () => {
  it("given mlflow_run on a SQLite store, when the job runs, then MLflow's tables hold the run with its facts and report", async () => {
    const store = copyStore("mlflow3-sqlite");
    try {
      const uri = `sqlite:///${join(store, "mlflow.db")}`;
      const { job, logs } = inferenceJob(
        config({
          mlflow_run: true,
          mlflow_service: { tracking_uri: uri, registry_uri: uri, experiment_name: "bikes" },
        }),
      );
      await job.execute();
      const logged = logs.lines
        .map((l) => JSON.parse(l) as { msg: string; run_id?: string })
        .find((l) => l.msg.includes("Run logged"));
      expect(logged?.run_id).toMatch(/^[0-9a-f]{32}$/);
      const db = new Sqlite(join(store, "mlflow.db"), { readonly: true });
      try {
        const run = db
          .prepare("SELECT status, artifact_uri FROM runs WHERE run_uuid = ?")
          .get(logged?.run_id) as {
          status: string;
          artifact_uri: string;
        };
        expect(run.status).toBe("FINISHED");
        const params = Object.fromEntries(
          (
            db.prepare("SELECT key, value FROM params WHERE run_uuid = ?").all(logged?.run_id) as {
              key: string;
              value: string;
            }[]
          ).map((p) => [p.key, p.value]),
        );
        expect(params).toMatchObject({
          model_uri: "models:/bikes@Champion",
          model_version: "2",
          inputs_path: INPUTS_TEST,
        });
        const rows = db
          .prepare("SELECT value FROM metrics WHERE run_uuid = ? AND key = 'rows_written'")
          .pluck()
          .get(logged?.run_id);
        expect(rows).toBe(3476);
        const artifact = join(run.artifact_uri.replace(/^file:\/\//, ""), "report.json");
        expect(existsSync(artifact) ? JSON.parse(readFileSync(artifact, "utf8")).status : "missing").toBe(
          "success",
        );
      } finally {
        db.close();
      }
    } finally {
      removeDir(store);
    }
  });
});
