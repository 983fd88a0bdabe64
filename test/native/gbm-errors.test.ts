import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readMLmodel } from "../../src/models/mlmodel.js";
import { loadNativeModel, nativeFlavor } from "../../src/models/native/index.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/native/gbm/mlflow3");
const work = mkdtempSync(join(tmpdir(), "mlbatch-gbm-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of a fixture model folder, its model file edited. */
function edited(name: string, file: string, edit: (text: string) => string): string {
  const dir = join(work, `${name}-${Math.random().toString(36).slice(2)}`);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), "utf8")));
  return dir;
}

async function loadError(dir: string, options = {}): Promise<{ code: string; message: string }> {
  const mlmodel = await readMLmodel(dir, "models:/m/1");
  return loadNativeModel("models:/m/1", mlmodel, options).then(
    async (model) => {
      await model.close();
      throw new Error("expected the load to fail");
    },
    (error: { code: string; message: string }) => error,
  );
}

describe("native models mlbatch refuses, and why", () => {
  it("given a gblinear XGBoost model, when loaded, then E_MODEL_LOAD names the URI, the file and the booster", async () => {
    const dir = edited("xgb_reg_json", "model.json", (t) =>
      t.replace('"name":"gbtree"', '"name":"gblinear"'),
    );
    const error = await loadError(dir);
    expect(error.code).toBe("E_MODEL_LOAD");
    expect(error.message).toContain("models:/m/1");
    expect(error.message).toContain("model.json");
    expect(error.message).toContain("gblinear");
  });

  it("given an unknown XGBoost objective, when loaded, then E_MODEL_LOAD names it", async () => {
    const dir = edited("xgb_reg_json", "model.json", (t) =>
      t.replace('"name":"reg:squarederror"', '"name":"reg:made-up"'),
    );
    const error = await loadError(dir);
    expect(error.code).toBe("E_MODEL_LOAD");
    expect(error.message).toContain('objective "reg:made-up" is not supported');
  });

  it("given a legacy binary XGBoost file, when loaded, then E_MODEL_LOAD says to save it as JSON or UBJSON", async () => {
    const dir = edited("xgb_reg", "model.ubj", () => "binf\u0000\u0000\u0000?");
    const error = await loadError(dir);
    expect(error.code).toBe("E_MODEL_LOAD");
    expect(error.message).toContain("legacy binary format");
    expect(error.message).toContain('model_format="json" or "ubj"');
  });

  it("given a LightGBM linear tree, when loaded, then E_MODEL_LOAD names the tree and the option", async () => {
    const dir = edited("lgb_reg", "model.lgb", (t) => t.replace("is_linear=0", "is_linear=1"));
    const error = await loadError(dir);
    expect(error.code).toBe("E_MODEL_LOAD");
    expect(error.message).toContain("model.lgb: tree 0 is a linear tree");
    expect(error.message).toContain("linear_tree=false");
  });

  it("given a LightGBM scikit-learn estimator pickled whole (MLflow 2), when loaded, then E_MODEL_LOAD says it is never unpickled, and to log it with MLflow 3 or its booster", async () => {
    const dir = edited("lgb_bin", "MLmodel", (t) =>
      t
        .replace(/data: model\.lgb/g, "data: model.pkl")
        .replace("model_class: lightgbm.basic.Booster", "model_class: lightgbm.sklearn.LGBMClassifier")
        .replace(/serialization_format: \w+/, "serialization_format: cloudpickle"),
    );
    const mlmodel = await readMLmodel(dir, "models:/m/1");
    expect(nativeFlavor(mlmodel)).toBe("lightgbm");
    const error = await loadError(dir);
    expect(error.code).toBe("E_MODEL_LOAD");
    expect(error.message).toContain("lightgbm.sklearn.LGBMClassifier");
    expect(error.message).toContain("never unpickles");
    expect(error.message).toContain("model.booster_");
  });

  it("given a regressor, when probabilities are asked, then E_CONFIG", async () => {
    const error = await loadError(join(FIXTURES, "xgb_reg"), { probabilities: true });
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toContain("is a regressor");
  });

  it("given a model with an sklearn flavor only, when loaded natively, then it is read as sklearn and a missing estimator file is E_MODEL_LOAD naming it", async () => {
    const dir = edited("xgb_reg", "MLmodel", (t) =>
      t.replace(
        / {2}xgboost:\n(?: {4}.*\n)+/,
        "  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n",
      ),
    );
    const mlmodel = await readMLmodel(dir, "models:/m/1");
    expect(mlmodel.sklearn).toEqual({
      data: "model.skops",
      serializationFormat: "skops",
      skopsTrustedTypes: [],
      sklearnVersion: undefined,
    });
    expect(nativeFlavor(mlmodel)).toBe("sklearn");
    const error = await loadError(dir);
    expect(error.code).toBe("E_MODEL_LOAD");
    expect(error.message).toMatch(/cannot read .*model\.skops/);
  });

  it("given a model without a column signature or feature names, when the table has the wrong columns, then E_SCHEMA", async () => {
    const dir = edited("lgb_reg", "MLmodel", (t) => t.replace(/signature:\n(?: {2}.*\n)+/, ""));
    const text = readFileSync(join(dir, "model.lgb"), "utf8").replace(
      /^feature_names=.*$/m,
      "feature_names=",
    );
    writeFileSync(join(dir, "model.lgb"), text);
    const mlmodel = await readMLmodel(dir, "models:/m/1");
    const error = await loadNativeModel("models:/m/1", mlmodel, {}, ["hr", "temp"]).then(
      () => ({ code: "none" }),
      (e: { code: string }) => e,
    );
    expect(error.code).toBe("E_SCHEMA");
  });
});
