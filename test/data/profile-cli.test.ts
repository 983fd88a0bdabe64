/**
 * `mlbatch profile`: the training inputs profiled over the model's input columns into a profile file,
 * which `drift.reference` then names: the drift found is the one against the dataset itself.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunReport } from "../../src/report/run-report.js";
import type { DataProfile } from "../../src/report/sections.js";
import { BIKES, cli, removeDir, reportedError, tempDir } from "../helpers.js";

const CONFIG = join(BIKES, "confs", "inference.yaml");
const TRAIN = join(BIKES, "data", "inputs_train.parquet");

let dir: string;
beforeAll(() => {
  dir = tempDir();
});
afterAll(() => removeDir(dir));

function runWithDrift(name: string, reference: string): RunReport {
  const extra =
    `job: {outputs: {path: ${join(dir, `${name}.parquet`)}}, report: ${join(dir, `${name}.json`)}, ` +
    `drift: {reference: ${reference}}}`;
  const run = cli(["run", CONFIG, "-e", extra]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as RunReport;
}

describe("mlbatch profile", () => {
  it("given the training inputs, then the profile file holds the model's 14 inputs and drift against it is drift against the data", () => {
    const output = join(dir, "train.profile.json");
    const run = cli(["profile", CONFIG, "--data", TRAIN, "--output", output]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`profile ${output}: 13903 rows, 14 columns of ${TRAIN}, model models:/bikes/2\n`);
    const profile = JSON.parse(readFileSync(output, "utf8")) as DataProfile;
    expect(profile).toMatchObject({ mlbatch_profile: 1, rows: 13903, source: TRAIN });
    expect(Object.keys(profile.columns)).toHaveLength(14);
    expect(profile.columns.dteday).toBeUndefined(); // not an input of the model
    const fromFile = runWithDrift("file", output);
    const fromData = runWithDrift("data", TRAIN);
    expect(fromFile.drift!.columns).toEqual(fromData.drift!.columns);
    expect(fromFile.drift!.reference).toBe(output.replace(/$/, ` (${TRAIN})`));
  });

  it("given no --output, an output not named .profile.json, or --data on run, then exit 2", () => {
    const output = join(dir, "bad.json");
    for (const args of [
      ["profile", CONFIG, "--data", TRAIN],
      ["profile", CONFIG, "--data", TRAIN, "--output", output],
      ["run", CONFIG, "--data", TRAIN],
    ]) {
      const run = cli(args);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr).toContain("E_USAGE");
    }
    expect(existsSync(output)).toBe(false);
  });

  it("given data without the model's input columns, then exit 1 with E_SCHEMA naming them, and no profile", () => {
    const output = join(dir, "targets.profile.json");
    const run = cli([
      "profile",
      CONFIG,
      "--data",
      join(BIKES, "data", "targets_test.parquet"),
      "--output",
      output,
    ]);
    expect(run.code).toBe(1);
    expect(reportedError(run.stderr)).toMatch(
      /^error \[E_SCHEMA\] \(step: read\): the dataset .* has no column "season"/,
    );
    expect(existsSync(output)).toBe(false);
  });

  it("given a drift reference file that is no profile, then the run fails with E_READ saying so, nothing written", () => {
    const reference = join(dir, "not.profile.json");
    writeFileSync(reference, '{"rows": 3}\n');
    const out = join(dir, "not.parquet");
    const run = cli([
      "run",
      CONFIG,
      "-e",
      `job: {outputs: {path: ${out}}, drift: {reference: ${reference}}}`,
    ]);
    expect(run.code).toBe(1);
    expect(reportedError(run.stderr)).toContain(
      `[E_READ] (step: validate): "${reference}" is no mlbatch profile`,
    );
    expect(existsSync(out)).toBe(false);
  });
});
