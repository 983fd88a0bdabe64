/** Runs logged into MLflow file stores (mlruns/, 2.x and 3.x), read back by MLflow 3.17.2 itself. */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { logRun } from "../../src/tracking/index.js";
import { copyStore, removeDir, tempDir } from "../helpers.js";
import { readRun, readRuns, sampleRecord, unique } from "./helpers.js";

const MLFLOW3_BIKES = "203094262630301047";
const MLFLOW2_BIKES = "721970169990021092";

let dirs: string[] = [];
beforeEach(() => {
  dirs = [];
});
afterEach(() => {
  for (const dir of dirs) removeDir(dir);
});

function store(name: "mlflow2-file" | "mlflow3-file"): string {
  const dir = copyStore(name);
  dirs.push(dir);
  return join(dir, "mlruns");
}

function yamlOf(path: string): Record<string, unknown> {
  return parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

describe("an MLflow 3 file store", () => {
  it("given the existing experiment, when a FINISHED run is logged, then MLflow reads it, from MLflow's files", async () => {
    const root = store("mlflow3-file");
    const record = sampleRecord();
    const run = await logRun(root, record);

    expect(run.experimentId).toBe(MLFLOW3_BIKES);
    const folder = join(root, MLFLOW3_BIKES, run.runId);
    // The store was made elsewhere: artifacts go to its own folder, and the run records that one.
    expect(run.artifactUri).toBe(`${pathToFileURL(folder).href}/artifacts`);
    expect(yamlOf(join(folder, "meta.yaml"))).toEqual({
      artifact_uri: run.artifactUri,
      end_time: record.endTime,
      entry_point_name: "",
      experiment_id: MLFLOW3_BIKES,
      lifecycle_stage: "active",
      run_id: run.runId,
      run_name: record.runName,
      source_name: "",
      source_type: 4,
      source_version: "",
      start_time: record.startTime,
      status: 3,
      tags: [],
      user_id: "tester",
    });
    expect(readFileSync(join(folder, "params", "model_uri"), "utf8")).toBe("models:/bikes@Champion");
    expect(readFileSync(join(folder, "metrics", "rows_read"), "utf8")).toBe(`${record.endTime} 3476.0 0\n`);
    expect(readFileSync(join(folder, "metrics", "rows_per_second"), "utf8")).toBe(
      `${record.endTime} 281.57 0\n`,
    );
    expect(readFileSync(join(folder, "tags", "mlflow.runName"), "utf8")).toBe(record.runName);
    expect(readdirSync(join(root, MLFLOW3_BIKES)).filter((name) => name.startsWith("."))).toEqual([]);

    const read = readRun(root, run.runId);
    expect(read.info).toEqual({
      run_id: run.runId,
      run_name: record.runName,
      experiment_id: MLFLOW3_BIKES,
      user_id: "tester",
      status: "FINISHED",
      start_time: record.startTime,
      end_time: record.endTime,
      lifecycle_stage: "active",
      artifact_uri: run.artifactUri,
    });
    expect(read.params).toEqual(record.params);
    expect(read.metrics).toEqual(record.metrics);
    expect(read.metric_history.duration_s).toEqual([[record.endTime, 12.345, 0]]);
    expect(read.tags).toEqual({ ...record.tags, "mlflow.runName": record.runName });
    expect(read.searched).toEqual([run.runId]);
    expect(read.artifacts).toEqual({ "report.json": record.artifacts[0]?.content });
  });

  it("given a new experiment name, when a run is logged, then the experiment gets MLflow 3's meta.yaml and an 18-digit id", async () => {
    const root = store("mlflow3-file");
    const name = unique("nightly");
    const run = await logRun(`file://${root}`, sampleRecord({ experimentName: name, status: "FAILED" }));

    expect(run.experimentId).toMatch(/^[1-9]\d{17}$/);
    expect(yamlOf(join(root, run.experimentId, "meta.yaml"))).toEqual({
      artifact_location: `${pathToFileURL(root).href}/${run.experimentId}`,
      creation_time: expect.any(Number),
      effective_trace_archival_retention: null,
      experiment_id: run.experimentId,
      last_update_time: expect.any(Number),
      lifecycle_stage: "active",
      name,
      trace_location: null,
      workspace: "default",
    });
    const read = readRun(root, run.runId);
    expect(read.experiment).toEqual({
      experiment_id: run.experimentId,
      name,
      artifact_location: `${pathToFileURL(root).href}/${run.experimentId}`,
      lifecycle_stage: "active",
    });
    expect(read.info.status).toBe("FAILED");
    expect(read.artifacts).toEqual({ "report.json": expect.any(String) });
  });
});

describe("an MLflow 2 file store", () => {
  it("given the 2.x files, when runs are logged (existing and new experiment), then they are 2.x files MLflow 3 reads", async () => {
    const root = store("mlflow2-file");
    const existing = await logRun(root, sampleRecord());
    const created = await logRun(root, sampleRecord({ experimentName: unique("other") }));

    expect(existing.experimentId).toBe(MLFLOW2_BIKES);
    // MLflow 2 writes run_uuid next to run_id (its reader needs it), and no MLflow 3 experiment fields.
    expect(yamlOf(join(root, MLFLOW2_BIKES, existing.runId, "meta.yaml"))).toMatchObject({
      run_id: existing.runId,
      run_uuid: existing.runId,
    });
    expect(Object.keys(yamlOf(join(root, created.experimentId, "meta.yaml"))).sort()).toEqual([
      "artifact_location",
      "creation_time",
      "experiment_id",
      "last_update_time",
      "lifecycle_stage",
      "name",
    ]);
    const read = readRuns(root, [existing.runId, created.runId]);
    expect(read[existing.runId]?.info.status).toBe("FINISHED");
    expect(read[existing.runId]?.experiment.name).toBe("bikes");
    expect(read[created.runId]?.params).toEqual(sampleRecord().params);
    expect(read[created.runId]?.artifacts).toEqual({ "report.json": sampleRecord().artifacts[0]?.content });
  });
});

describe("a store that does not exist yet", () => {
  it("given an empty working directory, when a run is logged to ./mlruns, then the store is made as MLflow makes it", async () => {
    const cwd = tempDir();
    dirs.push(cwd);
    const record = sampleRecord({ experimentName: "bikes" });
    const run = await logRun("./mlruns", record, { cwd });

    const root = join(cwd, "mlruns");
    expect(yamlOf(join(root, "0", "meta.yaml"))).toMatchObject({ experiment_id: "0", name: "Default" });
    expect(existsSync(join(root, ".trash"))).toBe(true);
    const read = readRun("./mlruns", run.runId, { cwd });
    expect(read.experiment.name).toBe("bikes");
    expect(read.info.artifact_uri).toBe(
      `${pathToFileURL(root).href}/${run.experimentId}/${run.runId}/artifacts`,
    );
    expect(read.metrics).toEqual(record.metrics);
  });
});

describe("failures", () => {
  it("given an experiment of that name in .trash, when logged, then E_TRACKING says how to restore it", async () => {
    const root = store("mlflow3-file");
    mkdirSync(join(root, ".trash"), { recursive: true });
    renameSync(join(root, MLFLOW3_BIKES), join(root, ".trash", MLFLOW3_BIKES));
    const error = await logRun(root, sampleRecord()).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "E_TRACKING",
      message: expect.stringContaining(`mlflow experiments restore --experiment-id ${MLFLOW3_BIKES}`),
    });
  });

  it("given a tracking path that is a file, when logged, then E_TRACKING names it", async () => {
    const dir = tempDir();
    dirs.push(dir);
    writeFileSync(join(dir, "mlruns"), "");
    const error = await logRun(join(dir, "mlruns"), sampleRecord()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_TRACKING", message: expect.stringContaining("is a file") });
  });

  it("given artifacts that cannot be written (a path under a file), when logged, then E_TRACKING and no half-written run is left", async () => {
    const root = store("mlflow3-file");
    const before = readdirSync(join(root, MLFLOW3_BIKES)).sort();
    // An artifact path under another artifact (a file): the run cannot be assembled.
    const error = await logRun(
      root,
      sampleRecord({
        artifacts: [
          { path: "a", content: "file" },
          { path: "a/b.json", content: "{}" },
        ],
      }),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_TRACKING", message: expect.stringContaining(root) });
    expect(readdirSync(join(root, MLFLOW3_BIKES)).sort()).toEqual(before);
  });
});

describe("one run per call", () => {
  it("given a store, when a run is logged, then exactly one run folder is added to the experiment", async () => {
    const root = store("mlflow3-file");
    const copy = tempDir();
    dirs.push(copy);
    cpSync(root, copy, { recursive: true });
    await logRun(root, sampleRecord());
    const runs = (path: string) =>
      readdirSync(join(path, MLFLOW3_BIKES)).filter((name) => /^[0-9a-f]{32}$/.test(name));
    expect(runs(root).length).toBe(runs(copy).length + 1);
  });
});
