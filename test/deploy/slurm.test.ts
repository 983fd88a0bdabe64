/**
 * deploy/slurm/mlbatch.sbatch on a real one-node Slurm cluster (slurm-cluster.ts): a 4-task array job
 * over 3,476,000 rows, then the same with one task's mlbatch killed (SIGKILL) mid-way and requeued, and
 * with the node failing under the running tasks (requeued by Slurm itself), each checked against a single
 * (unsharded) run row for row. Slurm and munge are installed with apt-get
 * when missing (CI: root on a fresh Debian 12 machine).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { assignUnits } from "../../src/shard/units.js";
import { copyStore, INPUTS_TEST, query, ROOT, removeDir, tempDir } from "../helpers.js";
import { ensureSlurm, SlurmCluster } from "./slurm-cluster.js";

/** 1,000 copies of the bikes test set (3,476 rows), ids made unique: 4 files of 7 row groups, 28 units. */
const COPIES = 1000;
const ROWS = 3476 * COPIES;
const TASKS = 4;
const SBATCH = join("deploy", "slurm", "mlbatch.sbatch");

let dir: string;
let store: string;
let cluster: SlurmCluster | undefined;
let single: string;
let singleSeconds: number;

function config(name: string, output: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `job:
  KIND: InferenceJob
  inputs: {KIND: ParquetReader, path: '${join(dir, "inputs")}'}
  outputs: {KIND: ParquetWriter, path: '${output}'}
  id_columns: [instant]
  # One ORT thread: tree sums in a fixed order, so predictions are bit-identical whatever the batches.
  loader: {KIND: CustomLoader, intra_op_num_threads: 1}
  logger_service: {colorize: false}
  alerts_service: {app_name: Bikes}
  mlflow_service: {registry_uri: 'sqlite:///${join(store, "mlflow.db")}'}
`,
  );
  return path;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Submits the sbatch script from the repository root, as the README says; the array's job id. */
function submit(conf: string): string {
  const output = join(dir, "slurm-%A_%a.out");
  const args = ["--parsable", `--array=0-${TASKS - 1}`, `--output=${output}`, SBATCH, conf];
  // An extra, as users pass them: the notification's app name.
  args.push("-e", "job: {alerts_service: {app_name: Slurm}}");
  return slurm().command("sbatch", args, true, ROOT).trim().split(";")[0]!;
}

function slurm(): SlurmCluster {
  if (cluster === undefined) throw new Error("the Slurm cluster did not start (see beforeAll's error)");
  return cluster;
}

interface Task {
  readonly state: string;
  readonly exitCode: string;
  readonly restarts: number;
}

/** The array's tasks by task id, as `scontrol show job` reports them. */
function tasks(job: string): Map<number, Task> {
  const lines = slurm().command("scontrol", ["-o", "show", "job", job]).split("\n").filter(Boolean);
  const result = new Map<number, Task>();
  for (const line of lines) {
    const field = (name: string) => new RegExp(`\\b${name}=(\\S+)`).exec(line)?.[1] ?? "";
    result.set(Number(field("ArrayTaskId")), {
      state: field("JobState"),
      exitCode: field("ExitCode"),
      restarts: Number(field("Restarts")),
    });
  }
  return result;
}

async function until(what: string, seconds: number, done: () => boolean): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!done()) {
    slurm().checkAlive();
    if (Date.now() > deadline) {
      const queue = slurm().command("squeue", ["-a"], false);
      throw new Error(`${what}: not after ${seconds} s.\nsqueue:\n${queue}\n${slurm().logs()}`);
    }
    await sleep(50);
  }
}

/** Waits until no task of the array is pending or running; the seconds since `start`. */
async function finished(job: string, start: number, seconds = 150): Promise<number> {
  await until(`array job ${job} finished`, seconds, () => {
    const queued = slurm().command("squeue", ["-h", "-j", job, "-o", "%T"], false).trim();
    return queued === "";
  });
  return (performance.now() - start) / 1000;
}

function taskLog(job: string, task: number): string {
  return readFileSync(join(dir, `slurm-${job}_${task}.out`), "utf8");
}

function logsOf(job: string): string[] {
  return Array.from({ length: TASKS }, (_, task) => taskLog(job, task));
}

const count = (texts: string[], pattern: RegExp) =>
  texts.reduce((n, text) => n + (text.match(new RegExp(pattern, "g"))?.length ?? 0), 0);

interface Manifest {
  plan_id: string;
  model: { name: string; version: number };
  parts: { file: string; rows: number }[];
  rows: { read: number; written: number; dropped: number };
}

/** The committed output against the single run, row for row; the manifest. */
async function expectCommittedEqualsSingle(output: string): Promise<Manifest> {
  const manifest = JSON.parse(readFileSync(join(output, "_SUCCESS"), "utf8")) as Manifest;
  const files = manifest.parts.map((p) => `'${join(output, p.file)}'`).join(", ");
  const [compare] = await query(
    `SELECT count(*)::INT AS n, count(DISTINCT s.instant)::INT AS ids,
            count(*) FILTER (s.instant IS DISTINCT FROM o.instant)::INT AS other_ids,
            count(*) FILTER (s.prediction IS DISTINCT FROM o.prediction)::INT AS other_predictions
     FROM read_parquet([${files}]) s POSITIONAL JOIN '${single}' o`,
  );
  expect(compare).toEqual({ n: ROWS, ids: ROWS, other_ids: 0, other_predictions: 0 });
  expect(manifest.rows).toEqual({ read: ROWS, written: ROWS, dropped: 0 });
  expect(manifest.parts).toHaveLength(28);
  return manifest;
}

/** One plan, the manifest's: every run of every task (`runs` of them) used its model version. */
function expectPlannedOnce(output: string, manifest: Manifest, logs: string[], runs: number): void {
  const plan = JSON.parse(readFileSync(join(output, "_plan.json"), "utf8")) as {
    plan_id: string;
    model: { name: string; version: number };
  };
  expect(readdirSync(output).filter((name) => name.includes("plan"))).toEqual(["_plan.json"]);
  expect(manifest.plan_id).toBe(plan.plan_id);
  expect(plan.model).toMatchObject({ name: "bikes", version: 2 });
  const shardLines = logs.join("\n").match(/\[Inference\] Shard \d\/4: .*?, model (models:\/\S+)"/g) ?? [];
  expect(shardLines).toHaveLength(runs);
  for (const line of shardLines) expect(line).toContain("model models:/bikes/2");
  // Tasks starting before the plan is written may each resolve the alias; only the first plan written
  // is used (exclusive create), and every resolution gave the version it pins.
  for (const line of logs.join("\n").match(/\[Inference\] Plan: models:\S+ to version \d+/g) ?? []) {
    expect(line).toMatch(/to version 2$/);
  }
}

/**
 * Exactly one task committed and notified the outputs' shape; `interrupted` attempts were stopped by
 * Slurm's SIGTERM and notified that (a SIGKILLed one cannot notify anything).
 */
function expectOneCommit(logs: string[], interrupted = 0): void {
  expect(count(logs, /\[Inference\] Committed /)).toBe(1);
  expect(count(logs, /\[Slurm\] Inference Job \(shard \d\/4\) Finished: Outputs Shape: \(3476000, 2\)/)).toBe(
    1,
  );
  expect(
    count(logs, /\[Slurm\] Inference Job \(shard \d\/4\) Failed: \[E_INTERRUPTED\] interrupted by SIGTERM/),
  ).toBe(interrupted);
  expect(count(logs, /Failed:/)).toBe(interrupted);
}

beforeAll(async () => {
  ensureSlurm();
  dir = tempDir("mlbatch-slurm-");
  cluster = await SlurmCluster.start(join(dir, "cluster"));
  store = copyStore("mlflow3-sqlite");
  mkdirSync(join(dir, "inputs"));
  for (let file = 0; file < 4; file++) {
    const [from, to] = [(file * COPIES) / 4, ((file + 1) * COPIES) / 4];
    await query(
      `COPY (SELECT * REPLACE (instant + k * 100000 AS instant) FROM range(${from}, ${to}) r(k), '${INPUTS_TEST}'
             ORDER BY k, instant)
       TO '${join(dir, "inputs", `part-${file}.parquet`)}' (FORMAT parquet, ROW_GROUP_SIZE 131072)`,
    );
  }
  single = join(dir, "single.parquet");
  const start = performance.now();
  // The CLI as the tasks run it, with room for a machine busy with other tests (cli() allows 60 s).
  const run = spawnSync(
    process.execPath,
    [join(ROOT, "bin", "mlbatch.js"), "run", config("single", single)],
    {
      encoding: "utf8",
      timeout: 240_000,
    },
  );
  singleSeconds = (performance.now() - start) / 1000;
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toBe(`[Bikes] Inference Job Finished: Outputs Shape: (${ROWS}, 2)\n`);
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
  if (dir !== undefined) removeDir(dir);
  if (store !== undefined) removeDir(store);
}, 60_000);

describe("deploy/slurm/mlbatch.sbatch on a one-node Slurm cluster", () => {
  it("given a 4-task array over 3,476,000 rows, when it runs, then one task commits the single run's output", async () => {
    onTestFailed(() => {
      process.stderr.write(`${slurm().logs()}\n`);
    });
    const output = join(dir, "array", "predictions");
    const start = performance.now();
    const job = submit(config("array", output));
    const seconds = await finished(job, start);

    for (const [task, state] of tasks(job)) {
      expect(state, `task ${task}: ${taskLog(job, task)}`).toEqual({
        state: "COMPLETED",
        exitCode: "0:0",
        restarts: 0,
      });
    }
    const logs = logsOf(job);
    expectOneCommit(logs);
    const manifest = await expectCommittedEqualsSingle(output);
    expectPlannedOnce(output, manifest, logs, TASKS);
    console.info(
      `[slurm] ${ROWS} rows: the ${TASKS}-task array on one ${slurm().cpus}-CPU node took ${seconds.toFixed(1)} s ` +
        `(submit to last task done), the single run ${singleSeconds.toFixed(1)} s`,
    );
  }, 200_000);

  it("given a 4-task array, when one task's mlbatch is killed (SIGKILL) mid-way and the task requeued, then it resumes and the output equals the single run", async () => {
    onTestFailed(() => {
      process.stderr.write(`${slurm().logs()}\n`);
    });
    const output = join(dir, "killed", "predictions");
    const staging = join(dir, "killed", ".predictions.shards");
    const start = performance.now();
    const job = submit(config("killed", output));
    const victim = 1;

    // Once the plan is written and the victim has written one of its parts, its mlbatch is killed.
    let victimParts = new Set<string>();
    let killed: number | undefined;
    await until(`task ${victim} running with a part written`, 120, () => {
      // The staging folder appears when the first task plans.
      const files = existsSync(staging) ? readdirSync(staging) : [];
      if (victimParts.size === 0 && files.includes("_plan.json")) {
        const plan = JSON.parse(readFileSync(join(staging, "_plan.json"), "utf8")) as {
          units: { id: string; rows: number }[];
        };
        const mine = assignUnits(plan.units, TASKS)[victim] ?? [];
        victimParts = new Set(mine.map((unit) => `part-${unit.id}.parquet`));
      }
      if (!files.some((name) => victimParts.has(name))) return false;
      const variables = { SLURM_ARRAY_JOB_ID: job, SLURM_ARRAY_TASK_ID: String(victim) };
      [killed] = slurm().find(variables, "mlbatch.js");
      if (killed !== undefined) process.kill(killed, "SIGKILL");
      return killed !== undefined;
    });
    await until(`task ${victim} failed after the kill`, 60, () => tasks(job).get(victim)?.state === "FAILED");
    expect(tasks(job).get(victim)).toMatchObject({ exitCode: "0:9" });
    const done = readdirSync(staging).filter((name) => victimParts.has(name));
    expect(done.length).toBeGreaterThan(0);
    expect(done.length).toBeLessThan(victimParts.size);

    // Requeued jobs wait two minutes before they may start again; the test lets it start at once.
    slurm().command("scontrol", ["requeue", `${job}_${victim}`]);
    slurm().command("scontrol", ["update", `JobId=${job}_${victim}`, "StartTime=now"]);
    const seconds = await finished(job, start);

    const states = tasks(job);
    for (const [task, state] of states) {
      const restarts = task === victim ? 1 : 0;
      expect(state, `task ${task}: ${taskLog(job, task)}`).toEqual({
        state: "COMPLETED",
        exitCode: "0:0",
        restarts,
      });
    }
    const logs = logsOf(job);
    const [first, second = ""] = logs[victim]!.split(
      /(?=mlbatch\.sbatch: array \S+ task \d+ \(shard \d\/4\), attempt 2)/,
    );
    expect(first).toContain(`task ${victim} (shard ${victim}/4), attempt 1`);
    expect(second).toContain(`Resume: ${done.length} units already have valid parts`);
    expect(second).not.toContain("[Inference] Plan:");
    expectOneCommit(logs);
    const manifest = await expectCommittedEqualsSingle(output);
    expectPlannedOnce(output, manifest, logs, TASKS + 1);
    console.info(
      `[slurm] ${ROWS} rows: the ${TASKS}-task array with task ${victim} killed and requeued took ` +
        `${seconds.toFixed(1)} s, the single run ${singleSeconds.toFixed(1)} s`,
    );
  }, 200_000);

  it("given a 4-task array, when the node fails mid-way, then Slurm requeues the running tasks itself (--requeue) and the output equals the single run", async () => {
    onTestFailed(() => {
      process.stderr.write(`${slurm().logs()}\n`);
    });
    const output = join(dir, "node-failure", "predictions");
    const staging = join(dir, "node-failure", ".predictions.shards");
    const start = performance.now();
    const job = submit(config("node-failure", output));
    const { node } = slurm();

    // Once a running task has written a part, the node is marked DOWN, as slurmctld does when a node
    // stops answering: the jobs on it are killed and, with --requeue, put back in the queue.
    let running: number[] = [];
    await until("a task running with a part written", 120, () => {
      const parts = existsSync(staging)
        ? readdirSync(staging).filter((name) => name.startsWith("part-"))
        : [];
      running = [...tasks(job)].filter(([, t]) => t.state === "RUNNING").map(([id]) => id);
      return parts.length > 0 && running.length > 0;
    });
    slurm().command("scontrol", ["update", `NodeName=${node}`, "State=DOWN", "Reason=mlbatch-test"]);
    // (A task may have finished between the look and the failure: it is not requeued.)
    await until(`tasks ${running} requeued by Slurm`, 60, () => {
      const now = tasks(job);
      return running.every((id) => (now.get(id)?.restarts ?? 0) >= 1 || now.get(id)?.state === "COMPLETED");
    });
    running = running.filter((id) => (tasks(job).get(id)?.restarts ?? 0) >= 1);
    expect(running.length).toBeGreaterThan(0);
    // The node comes back when slurmd registers again (ReturnToService=2); the requeued tasks are let
    // start at once rather than after Slurm's hold.
    await until(`node ${node} back`, 60, () => {
      const state = slurm().command("sinfo", ["-h", "-n", node, "-o", "%T"], false).trim();
      if (state.startsWith("down"))
        slurm().command("scontrol", ["update", `NodeName=${node}`, "State=RESUME"], false);
      return !state.startsWith("down");
    });
    for (const id of running)
      slurm().command("scontrol", ["update", `JobId=${job}_${id}`, "StartTime=now"], false);
    const seconds = await finished(job, start);

    for (const [task, state] of tasks(job)) {
      const restarts = running.includes(task) ? 1 : 0;
      expect(state, `task ${task}: ${taskLog(job, task)}`).toEqual({
        state: "COMPLETED",
        exitCode: "0:0",
        restarts,
      });
    }
    const logs = logsOf(job);
    for (const id of running) expect(logs[id]).toContain(`task ${id} (shard ${id}/4), attempt 2`);
    expect(count(logs, /Resume: \d+ units already have valid parts/)).toBeGreaterThanOrEqual(1);
    expectOneCommit(logs, running.length);
    const manifest = await expectCommittedEqualsSingle(output);
    expectPlannedOnce(output, manifest, logs, TASKS + running.length);
    console.info(
      `[slurm] ${ROWS} rows: the ${TASKS}-task array with the node failed under tasks ${running} took ` +
        `${seconds.toFixed(1)} s, the single run ${singleSeconds.toFixed(1)} s`,
    );
  }, 200_000);

  it("given the cluster, when it is stopped, then no daemon, step or job process of it is left", async () => {
    expect(slurm().processes().length).toBeGreaterThanOrEqual(3);
    expect(await slurm().stop()).toEqual([]);
    expect(slurm().processes()).toEqual([]);
  });
});
