/**
 * deploy/slurm/mlbatch.sbatch run by bash with the variables Slurm sets in an array task (no cluster:
 * slurm.test.ts runs it under a real one): which shard it runs, which CLI, and its refusals.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyStore, INPUTS_TEST, query, ROOT, removeDir, tempDir } from "../helpers.js";

const SCRIPT = join(ROOT, "deploy", "slurm", "mlbatch.sbatch");

let dir: string;
let store: string;
let conf: string;

/** Slurm's variables for task `id` of an array of `count` tasks from `min` to `max`. */
function task(id: number, min: number, max: number, count: number): NodeJS.ProcessEnv {
  return {
    SLURM_ARRAY_JOB_ID: "41",
    SLURM_ARRAY_TASK_ID: String(id),
    SLURM_ARRAY_TASK_MIN: String(min),
    SLURM_ARRAY_TASK_MAX: String(max),
    SLURM_ARRAY_TASK_COUNT: String(count),
    SLURM_SUBMIT_DIR: ROOT,
  };
}

function sbatchTask(env: NodeJS.ProcessEnv, args: string[], cwd = ROOT) {
  const run = spawnSync("bash", [SCRIPT, ...args], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  dir = tempDir("mlbatch-sbatch-");
  store = copyStore("mlflow3-sqlite");
  mkdirSync(join(dir, "inputs"));
  for (let k = 0; k < 4; k++) {
    await query(
      `COPY (SELECT * FROM '${INPUTS_TEST}' WHERE instant % 4 = ${k}) TO '${join(dir, "inputs", `f${k}.parquet`)}' (FORMAT parquet)`,
    );
  }
  conf = join(dir, "inference.yaml");
  writeFileSync(
    conf,
    `job:
  KIND: InferenceJob
  inputs: {KIND: ParquetReader, path: '${join(dir, "inputs")}'}
  outputs: {KIND: ParquetWriter, path: '${join(dir, "predictions")}'}
  id_columns: [instant]
  alerts_service: {app_name: Bikes}
  mlflow_service: {registry_uri: 'sqlite:///${join(store, "mlflow.db")}'}
`,
  );
}, 60_000);

afterAll(() => {
  removeDir(dir);
  removeDir(store);
});

describe("deploy/slurm/mlbatch.sbatch", () => {
  it("given task 3 of --array=1-4 submitted from the repository root, then it runs shard 2/4 with the repository's CLI, whatever MLBATCH_SHARD_* the submitting shell exported", () => {
    const env = { ...task(3, 1, 4, 4), MLBATCH_SHARD_INDEX: "0", MLBATCH_SHARD_COUNT: "9" };
    const run = sbatchTask(env, [conf]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("mlbatch.sbatch: array 41 task 3 (shard 2/4), attempt 1");
    expect(run.stderr).toMatch(/\[Inference\] Shard 2\/4: 1 of 4 units/);
    // Three shards have not run: nothing is committed, nothing notified.
    expect(run.stderr).toContain("Not committed yet: 3 of 4 units still missing");
    expect(run.stdout).toBe("");
  });

  it("given MLBATCH, then that command runs the shard, from any folder (the requeued attempt counted)", () => {
    const env = {
      ...task(0, 0, 3, 4),
      SLURM_RESTART_COUNT: "1",
      SLURM_SUBMIT_DIR: dir,
      MLBATCH: `${process.execPath} ${join(ROOT, "bin", "mlbatch.js")}`,
    };
    const run = sbatchTask(env, [conf], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("task 0 (shard 0/4), attempt 2");
    expect(run.stderr).toMatch(/\[Inference\] Shard 0\/4: 1 of 4 units/);
  });

  it("given no array task, no config, or task ids with gaps, then it exits 2 saying what to submit (expected failures)", () => {
    const noArray = sbatchTask({ SLURM_SUBMIT_DIR: ROOT }, [conf]);
    expect(noArray.code).toBe(2);
    expect(noArray.stderr).toContain(
      "mlbatch.sbatch: error: not an array task: submit with sbatch --array=0-",
    );
    const noConfig = sbatchTask(task(0, 0, 3, 4), []);
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toContain("mlbatch.sbatch: error: no config");
    // --array=0,2,5: three tasks, ids 0 to 5; mlbatch refuses them (shard 1 would never run).
    const gaps = sbatchTask(task(2, 0, 5, 3), [conf]);
    expect(gaps.code).toBe(2);
    expect(gaps.stderr).toMatch(/\[E_CONFIG\].*not contiguous \(3 tasks from 0 to 5\).*--array=0-2/);
  });

  it("given an extra mlbatch refuses, then mlbatch's own exit 2 and message are the task's (expected failure)", () => {
    const run = sbatchTask(task(1, 0, 3, 4), [conf, "-e", "job: {batch_size: -1}"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/\[E_CONFIG\][\s\S]*job\.batch_size/);
  });

  it("given a folder without mlbatch and no CLI on PATH, then it exits 2 naming the ways to provide one (expected failure)", () => {
    const env = { ...task(0, 0, 3, 4), SLURM_SUBMIT_DIR: dir, PATH: "/usr/bin:/bin" };
    const run = spawnSync("bash", [SCRIPT, conf], { cwd: dir, env, encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("mlbatch.sbatch: error: mlbatch not found: submit from the repository root");
  });
});
