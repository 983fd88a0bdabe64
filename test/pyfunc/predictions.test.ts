// Real pyfunc models made by real MLflow 2 and 3 (test/fixtures/pyfunc/make_models.py) run by the example job
// in Python workers give the predictions mlflow.pyfunc.load_model(folder).predict(df) gives on the same rows.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query, removeDir, reportedError } from "../helpers.js";
import { MLFLOW2, mlflow3, mlflowPredictions, runJob, type Store, tempDir } from "./fixture.js";

const work = tempDir("mlbatch-pyfunc-");
afterAll(() => removeDir(work));
let MLFLOW3: Store;
beforeAll(async () => {
  MLFLOW3 = await mlflow3();
}, 300_000);

/** The largest difference of each output column between mlbatch's outputs and MLflow's, by position. */
async function compare(out: string, expected: string, columns: readonly string[], text: boolean) {
  const diffs = columns.map((c) =>
    text
      ? `sum(CASE WHEN o."${c}" = e."${c}" THEN 0 ELSE 1 END)::DOUBLE AS "${c}"`
      : `max(abs(o."${c}" - e."${c}"))::DOUBLE AS "${c}"`,
  );
  const [row] = await query(
    `SELECT count(*)::INT AS n, ${diffs.join(", ")} FROM '${out}' o POSITIONAL JOIN '${expected}' e`,
  );
  return row!;
}

const MODELS = [
  {
    model: "bikes_custom",
    columns: ["prediction"],
    what: "a PythonModel wrapping a Pipeline, its module in code_paths, a DataFrame out",
  },
  {
    model: "bikes_artifacts",
    columns: ["prediction"],
    what: "load_context reading an artifact, a Series out",
  },
  { model: "bikes_busy", columns: ["prediction"], what: "a Series of strings out", text: true },
  { model: "bikes_scores", columns: ["prediction_0", "prediction_1"], what: "a 2-D ndarray out" },
  {
    model: "bikes_sklearn_pickle",
    columns: ["prediction"],
    what: "a pickled scikit-learn Pipeline (mlflow.sklearn)",
  },
] as const;

describe.each(["mlflow2", "mlflow3"] as const)("pyfunc models logged by %s", (name) => {
  const store = () => (name === "mlflow2" ? MLFLOW2 : MLFLOW3);

  it.each(MODELS)(
    "given $model ($what), when the job runs it with pyfunc auto, then its outputs are mlflow.pyfunc's predictions",
    async ({ model, columns, ...rest }) => {
      const text = "text" in rest;
      const out = join(work, `${name}-${model}.parquet`);
      // Two workers for one model of each store: the batches cut in slices, put back in order.
      const workers = model === "bikes_custom" ? 2 : 1;
      const [result, expected] = await Promise.all([
        runJob(store(), model, out, { loader: { workers } }).done,
        mlflowPredictions(store(), model, work),
      ]);
      expect(result.stderr + result.stdout).toMatch(/Model engine: pyfunc \(\d Python worker/);
      expect(result.stderr + result.stdout).toContain(`Outputs Shape: (3476, ${1 + columns.length})`);
      expect(result.code).toBe(0);
      const row = await compare(out, expected, columns, text);
      expect(row.n).toBe(3476);
      // One worker predicts the frames mlflow.pyfunc predicts: the same bits. Two cut them in slices, and
      // the Ridge's matrix product (BLAS) may round a row differently in a slice of another size or
      // alignment: an ulp or two of predictions in the hundreds (2.8e-14 seen in CI).
      for (const c of columns) {
        if (workers === 1) expect(row[c]).toBe(0);
        else expect(row[c]).toBeLessThan(1e-9);
      }
    },
    240_000,
  );
});

describe("the pyfunc tier turned off", () => {
  it("given a pickled scikit-learn model and loader.pyfunc never, when the job runs, then it is refused and the message says how to run it with pyfunc", async () => {
    const out = join(work, "refused.parquet");
    const result = await runJob(MLFLOW2, "bikes_sklearn_pickle", out, { loader: { pyfunc: "never" } }).done;
    expect(result.code).toBe(1);
    expect(reportedError(result.stderr)).toMatch(/E_MODEL_LOAD.*pickle.*pyfunc: auto/s);
    expect(existsSync(out)).toBe(false);
  }, 120_000);

  it("given a custom PythonModel and pyfunc auto, when the job runs, then the log says pyfunc runs it and why", async () => {
    const out = join(work, "why.parquet");
    const result = await runJob(MLFLOW2, "bikes_artifacts", out).done;
    expect(result.code).toBe(0);
    expect(result.stderr + result.stdout).toMatch(
      /Model engine: pyfunc .*auto: a custom PythonModel \(python_model\.pkl\) has no flavor mlbatch runs natively/,
    );
  }, 120_000);
});
