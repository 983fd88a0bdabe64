/** Runs logged into MLflow SQLite stores (2.x and 3.x schemas), read back by MLflow 3.17.2 itself. */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { logRun } from "../../src/tracking/index.js";
import { copyStore, removeDir, tempDir } from "../helpers.js";
import { mlflowCli, mlflowPython, readRun, readRuns, sampleRecord, unique } from "./helpers.js";

let dirs: string[] = [];
beforeEach(() => {
  dirs = [];
});
afterEach(() => {
  for (const dir of dirs) removeDir(dir);
});

function store(name: "mlflow2-sqlite" | "mlflow3-sqlite"): { dir: string; uri: string; db: string } {
  const dir = copyStore(name);
  dirs.push(dir);
  const db = join(dir, "mlflow.db");
  return { dir, uri: `sqlite:///${db}`, db };
}

function rows(db: string, sql: string, ...params: unknown[]): Record<string, unknown>[] {
  const connection = new Sqlite(db, { readonly: true });
  try {
    return connection.prepare(sql).all(...params) as Record<string, unknown>[];
  } finally {
    connection.close();
  }
}

describe("an MLflow 3 SQLite store", () => {
  it("given the existing experiment, when a FINISHED run is logged, then MLflow reads it with everything logged", async () => {
    const { dir, uri } = store("mlflow3-sqlite");
    const record = sampleRecord();
    const run = await logRun(uri, record, { cwd: dir });

    expect(run.runId).toMatch(/^[0-9a-f]{32}$/);
    expect(run.experimentId).toBe("1");
    // The store was made elsewhere: the artifacts go to its own mlruns/1, and the run records that folder.
    expect(run.artifactUri).toBe(join(dir, "mlruns", "1", run.runId, "artifacts"));
    const read = readRun(uri, run.runId);
    expect(read.info).toEqual({
      run_id: run.runId,
      run_name: record.runName,
      experiment_id: "1",
      user_id: "tester",
      status: "FINISHED",
      start_time: record.startTime,
      end_time: record.endTime,
      lifecycle_stage: "active",
      artifact_uri: run.artifactUri,
    });
    expect(read.experiment.name).toBe("bikes");
    expect(read.params).toEqual(record.params);
    expect(read.metrics).toEqual(record.metrics);
    expect(read.metric_history.rows_read).toEqual([[record.endTime, 3476, 0]]);
    expect(read.tags).toEqual({ ...record.tags, "mlflow.runName": record.runName });
    expect(read.searched).toEqual([run.runId]);
    expect(read.artifacts).toEqual({ "report.json": record.artifacts[0]?.content });
  });

  it("given a new experiment name, when a run is logged, then the experiment is made as MLflow makes it, artifacts under ./mlruns", async () => {
    const { dir, uri, db } = store("mlflow3-sqlite");
    const cwd = join(dir, "work");
    mkdirSync(cwd);
    const name = unique("nightly");
    const record = sampleRecord({
      experimentName: name,
      artifacts: [
        { path: "report.json", content: "{}\n" },
        { path: "reports/validation.json", content: '{"valid": true}\n' },
      ],
    });
    const run = await logRun(uri, record, { cwd });

    expect(run.experimentId).toBe("2");
    const [experiment] = rows(db, "SELECT * FROM experiments WHERE name = ?", name);
    expect(experiment).toMatchObject({
      experiment_id: 2,
      artifact_location: `${join(cwd, "mlruns")}/2`,
      lifecycle_stage: "active",
      workspace: "default",
    });
    expect(run.artifactUri).toBe(`${join(cwd, "mlruns")}/2/${run.runId}/artifacts`);
    const read = readRun(uri, run.runId);
    expect(read.experiment).toEqual({
      experiment_id: "2",
      name,
      artifact_location: `${join(cwd, "mlruns")}/2`,
      lifecycle_stage: "active",
    });
    expect(read.artifacts).toEqual({ "report.json": "{}\n", "reports/validation.json": '{"valid": true}\n' });
  });

  it("given a FAILED record and odd metric values, when logged, then MLflow reads the status and the values", async () => {
    const { dir, uri } = store("mlflow3-sqlite");
    const record = sampleRecord({
      status: "FAILED",
      metrics: { rows_read: 10, nan_metric: Number.NaN, inf_metric: Number.POSITIVE_INFINITY, tiny: 1e-7 },
      tags: { "mlflow.user": "tester", "mlbatch.error_code": "E_SCHEMA" },
      artifacts: [],
    });
    const run = await logRun(uri, record, { cwd: dir });
    const read = readRun(uri, run.runId);
    expect(read.info.status).toBe("FAILED");
    expect(read.info.end_time).toBe(record.endTime);
    expect(read.tags["mlbatch.error_code"]).toBe("E_SCHEMA");
    expect(read.metrics).toEqual({
      rows_read: 10,
      nan_metric: "nan",
      inf_metric: 1.7976931348623157e308,
      tiny: 1e-7,
    });
    expect(read.artifacts).toEqual({});
  });

  it("given another process holding the write lock, when a run is logged, then it waits and writes the run", async () => {
    const { dir, uri, db } = store("mlflow3-sqlite");
    const holder = spawn(
      mlflowPython(),
      [
        "-c",
        "import sqlite3, sys, time\n" +
          "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n" +
          "c.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\ntime.sleep(1.5)\nc.execute('COMMIT')",
        db,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((locked, failed) => {
      holder.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("locked") && locked());
      holder.on("exit", () => failed(new Error("the lock holder exited before locking")));
    });
    const run = await logRun(uri, sampleRecord(), { cwd: dir });
    await new Promise((done) => holder.on("exit", done).exitCode !== null && done(undefined));
    expect(rows(db, "SELECT status FROM runs WHERE run_uuid = ?", run.runId)).toEqual([
      { status: "FINISHED" },
    ]);
  });
});

describe("an MLflow 2 SQLite store", () => {
  it("given the 2.x schema, when a run is logged, then its rows are MLflow's and MLflow 3 reads them after `mlflow db upgrade`", async () => {
    const { dir, uri, db } = store("mlflow2-sqlite");
    const record = sampleRecord();
    const run = await logRun(uri, record, { cwd: dir });

    // MLflow 3.17.2 refuses to open a 2.x database before it is upgraded: check the rows first, as written.
    expect(rows(db, "SELECT * FROM runs WHERE run_uuid = ?", run.runId)).toEqual([
      {
        run_uuid: run.runId,
        name: record.runName,
        source_type: "UNKNOWN",
        source_name: "",
        entry_point_name: "",
        user_id: "tester",
        status: "FINISHED",
        start_time: record.startTime,
        end_time: record.endTime,
        source_version: "",
        lifecycle_stage: "active",
        artifact_uri: join(dir, "mlruns", "1", run.runId, "artifacts"),
        experiment_id: 1,
        deleted_time: null,
      },
    ]);
    expect(
      rows(
        db,
        "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? ORDER BY key",
        run.runId,
      ),
    ).toEqual(
      Object.entries(record.metrics)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, value]) => ({ key, value, timestamp: record.endTime, step: 0, is_nan: 0 })),
    );
    expect(rows(db, "SELECT count(*) AS n FROM latest_metrics WHERE run_uuid = ?", run.runId)).toEqual([
      { n: 5 },
    ]);
    expect(rows(db, "SELECT count(*) AS n FROM params WHERE run_uuid = ?", run.runId)).toEqual([{ n: 4 }]);
    expect(
      rows(db, "SELECT value FROM tags WHERE run_uuid = ? AND key = 'mlflow.runName'", run.runId),
    ).toEqual([{ value: record.runName }]);
    expect(existsSync(join(dir, "mlruns", "1", run.runId, "artifacts", "report.json"))).toBe(true);

    // Upgrade a copy, as a user moving to MLflow 3 would, then read the run with MLflow 3.
    const upgraded = join(dir, "upgraded.db");
    copyFileSync(db, upgraded);
    mlflowCli(["db", "upgrade", `sqlite:///${upgraded}`]);
    const read = readRun(`sqlite:///${upgraded}`, run.runId);
    expect(read.info.status).toBe("FINISHED");
    expect(read.params).toEqual(record.params);
    expect(read.metrics).toEqual(record.metrics);
    expect(read.tags["mlflow.runName"]).toBe(record.runName);
    expect(read.artifacts).toEqual({ "report.json": record.artifacts[0]?.content });
  });
});

describe("failures leave nothing behind", () => {
  it("given artifacts that cannot be written, when logged, then E_TRACKING and no row of the run exists", async () => {
    const { dir, uri, db } = store("mlflow3-sqlite");
    const runsBefore = rows(db, "SELECT count(*) AS n FROM runs");
    const name = unique("blocked");
    // The new experiment's artifact root is <cwd>/mlruns: a file there makes every artifact write fail.
    const cwd = join(dir, "work");
    mkdirSync(cwd);
    writeFileSync(join(cwd, "mlruns"), "not a folder");
    const error = await logRun(uri, sampleRecord({ experimentName: name }), { cwd }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "E_TRACKING",
      message: expect.stringContaining("Nothing was written"),
    });
    expect(rows(db, "SELECT count(*) AS n FROM runs")).toEqual(runsBefore);
    expect(rows(db, "SELECT count(*) AS n FROM experiments WHERE name = ?", name)).toEqual([{ n: 0 }]);
    expect(readFileSync(join(cwd, "mlruns"), "utf8")).toBe("not a folder");
  });

  it("given a database file that does not exist, when logged, then E_TRACKING and no file is made", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const error = await logRun("sqlite:///missing.db", sampleRecord(), { cwd: dir }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_TRACKING", message: expect.stringContaining("does not exist") });
    expect(existsSync(join(dir, "missing.db"))).toBe(false);
  });

  it("given a SQLite file that is not MLflow's, when logged, then E_TRACKING says so", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = new Sqlite(join(dir, "other.db"));
    db.exec("CREATE TABLE t (x INTEGER)");
    db.close();
    const error = await logRun(`sqlite:///${join(dir, "other.db")}`, sampleRecord()).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "E_TRACKING",
      message: expect.stringContaining("is not an MLflow database"),
    });
  });

  it("given a deleted experiment of that name, when logged, then E_TRACKING says how to restore it", async () => {
    const { dir, uri, db } = store("mlflow3-sqlite");
    const writable = new Sqlite(db);
    writable.prepare("UPDATE experiments SET lifecycle_stage = 'deleted' WHERE name = 'bikes'").run();
    writable.close();
    const error = await logRun(uri, sampleRecord(), { cwd: dir }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "E_TRACKING",
      message: expect.stringContaining("mlflow experiments restore --experiment-id 1"),
    });
  });
});

describe("several runs", () => {
  it("given two runs logged in turn, when read by MLflow, then both are there with distinct ids", async () => {
    const { dir, uri } = store("mlflow3-sqlite");
    const first = await logRun(uri, sampleRecord(), { cwd: dir });
    const second = await logRun(uri, sampleRecord({ status: "FAILED" }), { cwd: dir });
    expect(first.runId).not.toBe(second.runId);
    const read = readRuns(uri, [first.runId, second.runId]);
    expect(read[first.runId]?.info.status).toBe("FINISHED");
    expect(read[second.runId]?.info.status).toBe("FAILED");
  });
});
