/**
 * Champion and Challenger in one pass, and drift against the training inputs, on the bikes example: the
 * Champion (version 2) and version 1 over the test inputs with `temp` shifted by +0.3. The comparison's
 * figures are checked against numpy over the outputs written, the Challenger's predictions against a run
 * of version 1 alone.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { RunReport } from "../../src/report/run-report.js";
import {
  BIKES,
  cli,
  EXAMPLE_REGISTRY,
  failure,
  INPUTS_TEST,
  inferenceJob,
  python,
  removeDir,
  tempDir,
} from "../helpers.js";

const TRAIN = join(BIKES, "data", "inputs_train.parquet");

let dir: string;
let shifted: string;
beforeAll(() => {
  dir = tempDir();
  shifted = join(dir, "shifted.parquet");
  // The test inputs, temp + 0.3 (their pandas index, instant, kept).
  python(
    inject("python"),
    "import sys, pandas as pd\nd = pd.read_parquet(sys.argv[1]); d['temp'] += 0.3; d.to_parquet(sys.argv[2])",
    [INPUTS_TEST, shifted],
  );
});
afterAll(() => removeDir(dir));

function config(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    inputs: { KIND: "ParquetReader", path: shifted },
    outputs: { KIND: "ParquetWriter", path: join(dir, `${name}.parquet`) },
    mlflow_service: { registry_uri: EXAMPLE_REGISTRY, registry_name: "bikes" },
    report: join(dir, `${name}.json`),
    ...overrides,
  };
}

function report(name: string): RunReport {
  return JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as RunReport;
}

/** numpy's comparison of the two output columns, and the ids of the rows that differ most. */
const NUMPY = `
import json, sys, numpy as np, pandas as pd
d = pd.read_parquet(sys.argv[1]); a = d["prediction"].to_numpy("float64"); b = d["challenger_prediction"].to_numpy("float64")
diff = np.abs(a - b); order = np.argsort(-diff, kind="stable")[:10]
print(json.dumps({"columns": list(d.reset_index().columns), "mean": float(diff.mean()), "max": float(diff.max()),
  "corr": float(np.corrcoef(a, b)[0, 1]), "top": [int(i) for i in order], "ids": [int(d.index[i]) for i in order]}))
`;

describe("champion and challenger", () => {
  it("given Champion and version 1 over shifted temp, then both predict, compared as numpy does, and temp drifted", async () => {
    const { job, alerts } = inferenceJob(
      config("both", { challenger: { alias_or_version: 1 }, drift: { reference: TRAIN } }),
    );
    const locals = await job.execute();
    expect(locals.modelVersion.version).toBe(2);
    expect(locals.outputs.columns).toEqual(["instant", "prediction", "challenger_prediction"]);
    expect(locals.shape).toEqual([3476, 3]);
    const numpy = JSON.parse(python(inject("python"), NUMPY, [join(dir, "both.parquet")])) as {
      columns: string[];
      mean: number;
      max: number;
      corr: number;
      top: number[];
      ids: number[];
    };
    expect(numpy.columns).toEqual(["instant", "prediction", "challenger_prediction"]);
    const r = report("both");
    const c = r.challenger!;
    expect(c).toMatchObject({ uri: "models:/bikes/1", version: 1 });
    const p = c.outputs.prediction!;
    expect(p.kind).toBe("regression");
    expect(p.rows).toBe(3476);
    expect(p.mean_abs_diff).toBeCloseTo(numpy.mean, 6);
    expect(p.max_abs_diff).toBeCloseTo(numpy.max, 6);
    expect(p.correlation).toBeCloseTo(numpy.corr, 8);
    // Two real, different models: close, not equal.
    expect(p.mean_abs_diff).toBeGreaterThan(0.5);
    expect(p.correlation).toBeGreaterThan(0.95);
    expect(p.top_differences.map((d) => d.row)).toEqual(numpy.top);
    expect(p.top_differences.map((d) => Number(d.ids.instant))).toEqual(numpy.ids);
    for (const d of [p.champion_distribution, p.challenger_distribution]) {
      expect(d.counts.reduce((x, y) => x + y, 0)).toBe(3476);
      expect(d.sampled).toBe(false);
    }
    // The drift against the training inputs: temp moved, hr did not.
    expect(r.drift!.columns.temp!.drifted).toBe(true);
    expect(r.drift!.columns.hr!.drifted).toBe(false);
    expect(r.drift!.columns.temp!.psi).toBeGreaterThan(0.25);
    expect(r.drift!.columns.hr!.psi).toBeLessThan(0.1);
    expect(r.profile!.rows).toBe(3476);
    expect(r.profile!.columns.temp).toMatchObject({ kind: "numeric", count: 3476, nulls: 0 });
    expect(r.predictions!.prediction!.counts.reduce((x, y) => x + y, 0)).toBe(3476);
    // A warning in the notification, and in the report.
    expect(alerts.text).toMatch(/Outputs Shape: \(3476, 3\); Warning: inputs drifted from .* temp \(PSI/);
    expect(r.warnings.some((w) => w.includes("temp (PSI"))).toBe(true);
  });

  it("given version 1 alone over the same inputs, then its predictions are the challenger's", async () => {
    const { job } = inferenceJob(config("v1", { alias_or_version: 1 }));
    await job.execute();
    const same = python(
      inject("python"),
      "import sys, pandas as pd\na = pd.read_parquet(sys.argv[1]); b = pd.read_parquet(sys.argv[2])\n" +
        "print(bool((a['challenger_prediction'] == b['prediction']).all()) and a.index.equals(b.index))",
      [join(dir, "both.parquet"), join(dir, "v1.parquet")],
    );
    expect(same.trim()).toBe("True");
  });

  it("given on_drift fail, then E_DRIFT, a failure notification, the report's drift, and no output", async () => {
    const { job, alerts } = inferenceJob(config("fail", { drift: { reference: TRAIN, on_drift: "fail" } }));
    const error = await failure(job.execute());
    expect(error.code).toBe("E_DRIFT");
    expect(error.message).toMatch(/temp \(PSI \d/);
    expect(existsSync(join(dir, "fail.parquet"))).toBe(false);
    expect(alerts.text).toContain("Inference Job Failed: [E_DRIFT]");
    const r = report("fail");
    expect(r.status).toBe("failure");
    expect(r.drift!.columns.temp!.drifted).toBe(true);
  });

  it("given on_drift fail from the CLI, then exit 1 and nothing written", () => {
    const out = join(dir, "cli.parquet");
    const extra =
      `job: {inputs: {path: ${shifted}}, outputs: {path: ${out}, mode: error}, ` +
      `drift: {reference: ${TRAIN}, on_drift: fail}}`;
    const run = cli([
      "run",
      join(BIKES, "confs", "inference.yaml"),
      "-e",
      extra,
      "-e",
      "job: {validation: {constraints: {temp: {le: 2}}}}",
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toContain("E_DRIFT");
    expect(existsSync(out)).toBe(false);
  });

  it("given drift against the previous run, then the first run warns it has none and the second compares", async () => {
    const previous = config("previous", {
      inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
      outputs: { KIND: "ParquetWriter", path: join(dir, "previous.parquet"), mode: "overwrite" },
      drift: { reference: "previous" },
    });
    const first = inferenceJob(previous);
    await first.job.execute();
    expect(report("previous").drift).toBeNull();
    expect(report("previous").warnings.some((w) => w.includes("no previous run's profile"))).toBe(true);
    const second = inferenceJob({ ...previous, inputs: { KIND: "ParquetReader", path: shifted } });
    await second.job.execute();
    const r = report("previous");
    expect(r.drift!.columns.temp!.drifted).toBe(true);
    expect(r.drift!.columns.hr).toMatchObject({ drifted: false, psi: 0 });
  });

  it("given a challenger that does not exist, then E_MODEL_NOT_FOUND and nothing written", async () => {
    const { job } = inferenceJob(config("missing", { challenger: { alias_or_version: 99 } }));
    const error = await failure(job.execute());
    expect(error.code).toBe("E_MODEL_NOT_FOUND");
    expect(existsSync(join(dir, "missing.parquet"))).toBe(false);
  });

  it("given a sharded run with a challenger, then E_CONFIG says it is not supported (drift is: test/shard/drift)", () => {
    const extra = "job: {challenger: {alias_or_version: 1}}";
    const run = cli(["run", join(BIKES, "confs", "inference.yaml"), "--shard", "0/2", "-e", extra]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/sharded runs do not support job\.challenger yet/);
  });

  it("given a challenger named twice or not at all, then the config is refused", () => {
    for (const challenger of [{}, { alias_or_version: 1, model_uri: "models:/bikes/1" }]) {
      expect(() => inferenceJob(config("bad", { challenger }))).toThrow(
        /exactly one of alias_or_version or model_uri/,
      );
    }
  });
});
