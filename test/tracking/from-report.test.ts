/** The MLflow run of a job's run report: names and values, success and failure, and MLflow reading it. */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/run-report.js";
import { logRun, REPORT_ARTIFACT, runRecordFromReport } from "../../src/tracking/index.js";
import { copyStore, removeDir } from "../helpers.js";
import { readRun } from "./helpers.js";

const SUCCESS: RunReport = {
  mlbatch_version: "0.1.0",
  job: "Inference Job",
  status: "success",
  started_at: "2026-11-27T10:15:30.125Z",
  finished_at: "2026-11-27T10:15:42.470Z",
  duration_s: 12.345,
  config_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  model: {
    uri: "models:/bikes@Champion",
    name: "bikes",
    alias: "Champion",
    version: 2,
    run_id: "baced74b86c043a5afd839464c01860b",
    source: "models:/m-1832ea049dcd4577870ab6a09a4a16e4",
  },
  inputs: { path: "data/inputs_test.parquet", rows: 3476 },
  outputs: { path: "outputs/predictions_test.parquet", rows: 3476 },
  rows: { read: 3476, written: 3476, rejected: 0 },
  durations: {
    services: 0.012,
    read: 0.2,
    validate: 0.1,
    load: 1.5,
    predict: 8.4,
    write: 2.1,
    total: 12.345,
  },
  peak_memory_mb: 312,
  warnings: [],
  error: null,
};

const FAILURE: RunReport = {
  ...SUCCESS,
  status: "failure",
  model: null,
  outputs: { path: null, rows: null },
  rows: { read: null, written: null, rejected: null },
  durations: { services: 0.01, read: 0.02, total: 0.03 },
  duration_s: 0.03,
  warnings: ["something odd"],
  error: { step: "read", code: "E_READ", message: 'cannot read inputs "data/x.parquet": no such file' },
};

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) removeDir(dir);
  dir = undefined;
});

describe("runRecordFromReport", () => {
  it("given a successful report, when converted, then params, metrics, tags and the report artifact are named as documented", () => {
    const record = runRecordFromReport(SUCCESS, { experimentName: "bikes", user: "alice" });
    expect(record).toEqual({
      experimentName: "bikes",
      runName: "mlbatch-inference-20261127-101530",
      status: "FINISHED",
      startTime: Date.parse(SUCCESS.started_at),
      endTime: Date.parse(SUCCESS.finished_at),
      params: {
        job: "Inference Job",
        model_uri: "models:/bikes@Champion",
        model_name: "bikes",
        model_version: "2",
        model_alias: "Champion",
        model_run_id: "baced74b86c043a5afd839464c01860b",
        model_source: "models:/m-1832ea049dcd4577870ab6a09a4a16e4",
        inputs_path: "data/inputs_test.parquet",
        outputs_path: "outputs/predictions_test.parquet",
        config_hash: SUCCESS.config_hash,
      },
      metrics: {
        rows_read: 3476,
        rows_written: 3476,
        rows_rejected: 0,
        rows_per_second: 3476 / 12.345,
        duration_s: 12.345,
        peak_memory_mb: 312,
        warnings: 0,
        duration_services_s: 0.012,
        duration_read_s: 0.2,
        duration_validate_s: 0.1,
        duration_load_s: 1.5,
        duration_predict_s: 8.4,
        duration_write_s: 2.1,
      },
      tags: {
        "mlflow.runName": "mlbatch-inference-20261127-101530",
        "mlflow.user": "alice",
        "mlflow.source.name": "mlbatch",
        "mlflow.source.type": "LOCAL",
        "mlbatch.version": "0.1.0",
        "mlbatch.job": "Inference Job",
        "mlbatch.status": "success",
      },
      artifacts: [{ path: REPORT_ARTIFACT, content: `${JSON.stringify(SUCCESS, null, 2)}\n` }],
    });
  });

  it("given a failed report, when converted, then FAILED, the error as tags, and no param or metric of what never happened", () => {
    const record = runRecordFromReport(FAILURE, { experimentName: "bikes", runName: "nightly-1" });
    expect(record.status).toBe("FAILED");
    expect(record.runName).toBe("nightly-1");
    expect(Object.keys(record.params).sort()).toEqual(["config_hash", "inputs_path", "job"]);
    expect(record.metrics).toEqual({
      duration_s: 0.03,
      peak_memory_mb: 312,
      warnings: 1,
      duration_services_s: 0.01,
      duration_read_s: 0.02,
    });
    expect(record.tags).toMatchObject({
      "mlbatch.status": "failure",
      "mlbatch.error_code": "E_READ",
      "mlbatch.error_step": "read",
      "mlbatch.error_message": FAILURE.error?.message,
    });
    expect(record.tags["mlflow.user"]).toEqual(expect.any(String));
  });

  it("given a report's record, when logged to a SQLite store, then MLflow reads the run and the report back", async () => {
    dir = copyStore("mlflow3-sqlite");
    const uri = `sqlite:///${join(dir, "mlflow.db")}`;
    const record = runRecordFromReport(FAILURE, { experimentName: "bikes" });
    const run = await logRun(uri, record, { cwd: dir });
    const read = readRun(uri, run.runId);
    expect(read.info.status).toBe("FAILED");
    expect(read.tags["mlbatch.error_code"]).toBe("E_READ");
    expect(JSON.parse(read.artifacts[REPORT_ARTIFACT] ?? "null")).toEqual(FAILURE);
  });
});
