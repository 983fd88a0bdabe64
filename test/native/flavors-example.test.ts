// The example registries of MLflow's own flavors (examples/flavors/register.py: real scikit-learn, XGBoost
// and LightGBM models logged by real MLflow 2 and 3) run through the CLI, without Python, and give each
// library's own predictions (saved by the script beside each store).
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli, query, ROOT, removeDir, reportedError, tempDir } from "../helpers.js";

const EXAMPLE = join(ROOT, "examples", "flavors");
const CONF = join(EXAMPLE, "confs", "inference.yaml");
const MLFLOW2 = join(EXAMPLE, "confs", "mlflow2.yaml");
const work = tempDir("mlbatch-flavors-");
afterAll(() => removeDir(work));

/** Runs the example job on one registered model; the outputs' predictions by `instant`. */
function run(store: "mlflow2" | "mlflow3", name: string, loader = "", env: NodeJS.ProcessEnv = {}) {
  const out = join(work, `${store}-${name}.parquet`);
  const extras = `job: {outputs: {path: '${out}'}, mlflow_service: {registry_name: ${name}}${loader}}`;
  const result = cli(["run", CONF, ...(store === "mlflow2" ? [MLFLOW2] : []), "-e", extras], { env });
  return { ...result, out };
}

/** The largest difference between mlbatch's predictions and the library's, relative to max(1, |library|). */
async function largestError(store: string, name: string, out: string): Promise<number> {
  const expected = join(EXAMPLE, store, "predictions.parquet");
  const [row] = await query(
    `SELECT count(*)::INT AS n, max(abs(o.prediction - e."${name}") / greatest(1, abs(e."${name}")))::DOUBLE AS err
     FROM '${out}' o POSITIONAL JOIN '${expected}' e`,
  );
  expect(row!.n).toBe(3476);
  return row!.err as number;
}

describe.each(["mlflow2", "mlflow3"] as const)("the %s example store", (store) => {
  it.each(["bikes_xgboost", "bikes_lightgbm"])(
    "given %s, when the example job runs it, then its predictions are the library's within float32 rounding",
    async (name) => {
      const { code, stdout, stderr, out } = run(store, name);
      expect(stderr + stdout).toContain("Outputs Shape: (3476, 2)");
      expect(code).toBe(0);
      // XGBoost sums float32 as the engine does (one ulp of an exp at most); LightGBM sums doubles where the
      // engine sums float32: a few float32 ulps of the largest partial sum.
      expect(await largestError(store, name, out)).toBeLessThan(1e-5);
    },
  );
});
describe("the scikit-learn example models", () => {
  it("given the bikes pipeline saved as skops by MLflow 3, when the example job runs it, then its predictions are scikit-learn's", async () => {
    const { code, stdout, stderr, out } = run("mlflow3", "bikes_sklearn");
    expect(stderr + stdout).toContain("Outputs Shape: (3476, 2)");
    expect(code).toBe(0);
    expect(await largestError("mlflow3", "bikes_sklearn", out)).toBeLessThan(1e-5);
  });

  it("given the bikes pipeline pickled by MLflow 2 and loader.pyfunc never, when the example job runs it, then it is refused, never unpickled, with what to do", () => {
    const { code, stderr } = run("mlflow2", "bikes_sklearn", ", loader: {KIND: CustomLoader, pyfunc: never}");
    expect(code).toBe(1);
    expect(reportedError(stderr)).toMatch(/E_MODEL_LOAD.*pickle.*skops.*pyfunc: auto/s);
  });

  it("given the pickled pipeline, the default loader.pyfunc auto and a Python without mlflow, when the job runs, then E_MODEL_LOAD says why neither natively nor in Python, and what to do for each", () => {
    // The tests' own Python (pandas, pyarrow, scikit-learn: test/requirements.txt) has no mlflow.
    const python = process.env.MLBATCH_TEST_PYTHON ?? join(ROOT, ".venv", "bin", "python");
    const { code, stderr } = run("mlflow2", "bikes_sklearn", "", { MLBATCH_PYTHON: python });
    expect(code).toBe(1);
    const error = reportedError(stderr);
    expect(error).toMatch(/E_MODEL_LOAD.*runs neither natively nor in Python/s);
    expect(error).toMatch(/Natively: .*pickle.*skops/s);
    expect(error).toMatch(/In Python: .*cannot import mlflow/s);
  });
});
