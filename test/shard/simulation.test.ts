/**
 * A simulated cluster on one machine: shard processes of the built CLI, a SIGKILL in the middle of a run,
 * a rerun, a moved alias, and twin shards (same index), checked against a single-process run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assignUnits } from "../../src/shard/units.js";
import { BIKES, cli, copyStore, query, ROOT, removeDir, reportedError, tempDir } from "../helpers.js";

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Starts the built CLI in a child process; `exit` resolves when it ends. */
function start(args: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [join(ROOT, "bin", "mlbatch.js"), ...args], { cwd: ROOT });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<Exit>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exit };
}

let dir: string;
let store: string;
let single: string;

/** A config file for the multi-file input, the copied registry, and `output`. */
function config(name: string, output: string, extra = ""): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `job:
  KIND: InferenceJob
  inputs: {KIND: ParquetReader, path: '${join(dir, "inputs")}'}
  outputs: {KIND: ParquetWriter, path: '${output}'}
  id_columns: [instant]
  batch_size: 64
  # One ORT thread: tree sums in a fixed order, so predictions are bit-identical whatever the batch sizes.
  loader: {KIND: CustomLoader, intra_op_num_threads: 1}
  logger_service: {level: INFO}
  alerts_service: {app_name: Bikes}
  mlflow_service: {registry_uri: 'sqlite:///${join(store, "mlflow.db")}'}
${extra}`,
  );
  return path;
}

interface Manifest {
  plan_id: string;
  model: { name: string; version: number; run_id: string | null };
  parts: { unit: string; file: string; rows: number; dropped: number; sha256: string }[];
  rows: { read: number; written: number; dropped: number };
  inputs: { files: { path: string; digest: string }[] };
}

/**
 * Checks a committed output against the single-process output, row for row, and the manifest's counts
 * and checksums against the parts.
 */
async function expectCommittedEqualsSingle(output: string): Promise<Manifest> {
  const manifest = JSON.parse(readFileSync(join(output, "_SUCCESS"), "utf8")) as Manifest;
  const files = manifest.parts.map((p) => `'${join(output, p.file)}'`).join(", ");
  const [compare] = await query(
    `SELECT count(*)::INT AS n, count(DISTINCT s.instant)::INT AS ids,
            count(*) FILTER (s.instant IS DISTINCT FROM o.instant)::INT AS other_ids,
            count(*) FILTER (s.prediction IS DISTINCT FROM o.prediction)::INT AS other_predictions
     FROM read_parquet([${files}]) s POSITIONAL JOIN '${single}' o`,
  );
  expect(compare).toEqual({ n: 17379, ids: 17379, other_ids: 0, other_predictions: 0 });
  const parquet = readdirSync(output).filter((name) => name.endsWith(".parquet"));
  expect(parquet.sort()).toEqual(manifest.parts.map((p) => p.file).sort());
  expect(manifest.rows).toEqual({ read: 17379, written: 17379, dropped: 0 });
  expect(manifest.parts.reduce((n, p) => n + p.rows, 0)).toBe(17379);
  for (const part of manifest.parts) {
    const [rows] = await query(`SELECT count(*)::INT AS n FROM '${join(output, part.file)}'`);
    expect(rows?.n).toBe(part.rows);
    expect(
      createHash("sha256")
        .update(readFileSync(join(output, part.file)))
        .digest("hex"),
    ).toBe(part.sha256);
  }
  return manifest;
}

beforeAll(async () => {
  dir = tempDir("mlbatch-shards-");
  store = copyStore("mlflow3-sqlite");
  // 17,379 rows in 7 files, some of several row groups: 11 work units of 400 to 2,048 rows.
  const all = `(SELECT * FROM '${join(BIKES, "data", "inputs_train.parquet")}' UNION ALL SELECT * FROM '${join(BIKES, "data", "inputs_test.parquet")}')`;
  const bounds = [0, 1500, 6000, 6500, 11000, 11400, 15000, 17380];
  mkdirSync(join(dir, "inputs"));
  for (let k = 0; k < bounds.length - 1; k++) {
    await query(
      `COPY (SELECT * FROM ${all} WHERE instant > ${bounds[k]} AND instant <= ${bounds[k + 1]} ORDER BY instant) ` +
        `TO '${join(dir, "inputs", `file-${k}.parquet`)}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
    );
  }
  single = join(dir, "single.parquet");
  const run = cli(["run", config("single", single)]);
  expect(run.stderr).not.toContain("error");
  expect(run.code).toBe(0);
}, 120_000);

afterAll(() => {
  removeDir(dir);
  removeDir(store);
});

describe("sharded runs (simulated cluster)", () => {
  it("given 4 shards, when one is SIGKILLed mid-run, rerun and committed, then the output equals the single-process run", async () => {
    const output = join(dir, "killed", "predictions");
    const conf = config("killed", output);
    const planned = cli(["plan", conf]);
    expect(planned.code).toBe(0);
    expect(planned.stdout).toContain("11 units, 17379 rows, model models:/bikes/2");
    const staging = join(dir, "killed", ".predictions.shards");
    const plan = JSON.parse(readFileSync(join(staging, "_plan.json"), "utf8")) as {
      units: { id: string; rows: number }[];
    };
    // The shard with the most units is killed as soon as its first part is in place.
    const shards = assignUnits(plan.units, 4);
    const victim = shards.reduce((best, units, i) => (units.length > shards[best]!.length ? i : best), 0);
    const victimParts = new Set(shards[victim]!.map((u) => `part-${u.id}.parquet`));
    expect(victimParts.size).toBeGreaterThan(1);
    const runs = [0, 1, 2, 3].map((i) => start(["run", conf, "--shard", `${i}/4`]));
    const watcher = watch(staging, (_, name) => {
      if (name !== null && victimParts.has(String(name))) runs[victim]!.child.kill("SIGKILL");
    });
    const exits = await Promise.all(runs.map((r) => r.exit)).finally(() => watcher.close());

    expect(exits[victim]!.signal).toBe("SIGKILL");
    for (const [i, exit] of exits.entries()) if (i !== victim) expect(exit.code, exit.stderr).toBe(0);
    // Nothing is committed while a unit is missing, and the commit says which.
    expect(existsSync(output)).toBe(false);
    const early = cli(["commit", conf]);
    expect(early.code).toBe(1);
    expect(reportedError(early.stderr)).toMatch(/\[E_WRITE\].*units have no valid part yet/);
    const done = readdirSync(staging).filter((name) => victimParts.has(name));
    expect(done.length).toBeGreaterThan(0);
    expect(done.length).toBeLessThan(victimParts.size);

    const rerun = cli(["run", conf, "--shard", `${victim}/4`]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain(`Resume: ${done.length} units already have valid parts`);
    expect(rerun.stdout).toBe(
      `[Bikes] Inference Job (shard ${victim}/4) Finished: Outputs Shape: (17379, 2)\n`,
    );
    const commit = cli(["commit", conf]);
    expect(commit.code).toBe(0);
    expect(commit.stdout).toContain(`committed ${output}: 11 parts, 17379 rows`);
    expect(existsSync(staging)).toBe(false);
    expect(readdirSync(output).filter((name) => name.startsWith("."))).toEqual([]);
    const manifest = await expectCommittedEqualsSingle(output);
    expect(manifest.model).toMatchObject({ name: "bikes", version: 2 });
  });

  it("given a plan, when the alias moves before the shards run, then the shards use the planned version", async () => {
    const output = join(dir, "moved", "predictions");
    const conf = config("moved", output);
    expect(cli(["plan", conf]).stdout).toContain("model models:/bikes/2 (models:/bikes@Champion)");
    const db = new Sqlite(join(store, "mlflow.db"));
    try {
      db.prepare(
        "UPDATE registered_model_aliases SET version = 1 WHERE name = 'bikes' AND alias = 'Champion'",
      ).run();
      // The alias did move: a new plan would take version 1.
      expect(cli(["plan", config("other", join(dir, "other", "predictions"))]).stdout).toContain(
        "models:/bikes/1",
      );
      for (const i of [0, 1]) expect(cli(["run", conf, "--shard", `${i}/2`]).code).toBe(0);
    } finally {
      db.prepare(
        "UPDATE registered_model_aliases SET version = 2 WHERE name = 'bikes' AND alias = 'Champion'",
      ).run();
      db.close();
    }
    const manifest = await expectCommittedEqualsSingle(output);
    expect(manifest.model.version).toBe(2);
  });

  it("given two shards with the same index at once and no plan yet, then the output is whole, once", async () => {
    const output = join(dir, "twins", "predictions");
    const conf = config("twins", output);
    const runs = ["0/2", "1/2", "1/2"].map((shard) => start(["run", conf, "--shard", shard]));
    const exits = await Promise.all(runs.map((r) => r.exit));
    for (const exit of exits) expect(exit.code, exit.stderr).toBe(0);
    // One plan was written and used by all; one commit notified the shape.
    expect(exits.map((e) => e.stdout).join("")).toMatch(
      /^\[Bikes\] Inference Job \(shard \d\/2\) Finished: Outputs Shape: \(17379, 2\)\n$/,
    );
    await expectCommittedEqualsSingle(output);
    // Committed runs are idempotent: a late retry of a shard finds the commit and does nothing.
    const late = cli(["run", conf, "--shard", "1/2"]);
    expect(late.code).toBe(0);
    expect(late.stderr).toContain("Already committed");
  });

  it("given a plan made for another config, when a shard runs, then it fails with E_CONFIG and says to plan again", () => {
    const output = join(dir, "changed", "predictions");
    const conf = config("changed", output);
    expect(cli(["plan", conf]).code).toBe(0);
    const shard = cli(["run", conf, "--shard", "0/2", "-e", "job: {batch_size: 128}"]);
    expect(shard.code).toBe(2);
    expect(reportedError(shard.stderr)).toMatch(/\[E_CONFIG\].*was made for another config.*mlbatch plan/);
    expect(readdirSync(join(dir, "changed", ".predictions.shards"))).toEqual(["_plan.json"]);
  });
});
