/**
 * `job.drift` in sharded runs: the whole input profiled once, when the plan is made; the committing shard
 * reports the same drift as a single run over the same input, and `on_drift: fail` stops the run before
 * any unit is predicted, leaving nothing on disk.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/run-report.js";
import { BIKES, cli, copyStore, INPUTS_TEST, query, removeDir, reportedError, tempDir } from "../helpers.js";

const TRAIN = join(BIKES, "data", "inputs_train.parquet");

let dir: string;
let store: string;

function config(name: string, output: string, drift: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `job:
  KIND: InferenceJob
  inputs: {KIND: ParquetReader, path: '${join(dir, "inputs")}'}
  outputs: {KIND: ParquetWriter, path: '${output}'}
  id_columns: [instant]
  report: '${join(dir, `${name}.json`)}'
  drift: ${drift}
  logger_service: {level: INFO}
  alerts_service: {app_name: Bikes}
  mlflow_service: {registry_uri: 'sqlite:///${join(store, "mlflow.db")}'}
`,
  );
  return path;
}

function report(name: string): RunReport {
  return JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as RunReport;
}

beforeAll(async () => {
  dir = tempDir("mlbatch-shard-drift-");
  store = copyStore("mlflow3-sqlite");
  // The test inputs with temp shifted by +0.3, in 3 files.
  mkdirSync(join(dir, "inputs"));
  for (const [k, [low, high]] of [
    [0, 14000],
    [14000, 16000],
    [16000, 20000],
  ].entries()) {
    await query(
      `COPY (SELECT * REPLACE (temp + 0.3 AS temp) FROM '${INPUTS_TEST}' WHERE instant > ${low} AND instant <= ${high} ` +
        `ORDER BY instant) TO '${join(dir, "inputs", `file-${k}.parquet`)}' (FORMAT parquet)`,
    );
  }
});
afterAll(() => {
  removeDir(dir);
  removeDir(store);
});

describe("job.drift in a sharded run", () => {
  it("given 2 shards over shifted temp, then the commit reports the single run's drift and warns", () => {
    const drift = `{reference: '${TRAIN}'}`;
    const single = cli(["run", config("single", join(dir, "single.parquet"), drift)]);
    expect(single.code, single.stderr).toBe(0);
    const conf = config("sharded", join(dir, "sharded"), drift);
    const first = cli(["run", conf, "--shard", "0/2"]);
    expect(first.code, first.stderr).toBe(0);
    const second = cli(["run", conf, "--shard", "1/2"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/Inference Job \(shard 1\/2\) Finished: .*Warning: inputs drifted from /);

    const expected = report("single").drift!;
    expect(expected.drifted).toContain("temp");
    const committed = report("sharded");
    expect(committed.drift!.columns).toEqual(expected.columns);
    expect(committed.drift!.drifted).toEqual(expected.drifted);
    expect(committed.profile!.rows).toBe(3476);
    expect(committed.drift!.columns.temp!.drifted).toBe(true);
    expect(committed.drift!.columns.hr!.drifted).toBe(false);
    expect(committed.warnings.some((w) => w.includes("inputs drifted from"))).toBe(true);
  });

  it("given on_drift: fail, then the first shard fails with E_DRIFT before predicting, and nothing is left", () => {
    const output = join(dir, "failed");
    const before = readdirSync(dir).sort();
    const conf = config("fail", output, `{reference: '${TRAIN}', on_drift: fail}`);
    const run = cli(["run", conf, "--shard", "0/2"]);
    expect(run.code).toBe(1);
    expect(reportedError(run.stderr)).toMatch(
      /^error \[E_DRIFT\] \(step: validate\): inputs drifted from .* in \d+ column\(s\): .*temp/,
    );
    expect(`${run.stdout}${run.stderr}`).toContain("Failed: [E_DRIFT]");
    expect(run.stderr).not.toContain("Unit ");
    // Only the config and its failure report are new: no plan, no staging folder, no part, no output.
    expect(readdirSync(dir).sort()).toEqual([...before, "fail.json", "fail.yaml"].sort());
  });
});
