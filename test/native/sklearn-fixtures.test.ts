import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Column } from "../../src/data/batch.js";
import { readMLmodel } from "../../src/models/mlmodel.js";
import type { Model } from "../../src/models/model.js";
import { loadSklearnModel } from "../../src/models/native/sklearn/index.js";
import { CASES, inputBatch, SKLEARN_DIR, type SklearnCase } from "./sklearn-cases.js";

/**
 * Tolerances against scikit-learn's own predict/predict_proba (float64). Trees: the engine sums float32
 * leaf values (as ONNX Runtime does), so each of T terms may be off by half a float32 ulp of the running
 * sum: 2^-24 * T relative, bounded here by 1e-6 * max(1, |value|) * (T + 1). Linear models and the
 * preprocessing compute in float64, as scikit-learn does, in another summation order: 1e-9 relative.
 */
const TREE_TOLERANCE = 1e-6;
const FLOAT64_TOLERANCE = 1e-9;
const TREES: Record<string, number> = {
  bikes_rf: 5,
  dt_reg: 1,
  dt_clf: 1,
  rf_clf: 6,
  rf_clf3: 4,
  et_reg: 5,
  et_clf: 5,
  gb_reg: 20,
  gb_reg_zero: 10,
  gb_bin: 15,
  gb_multi: 10,
  hgb_reg: 20,
  hgb_bin: 15,
  hgb_multi: 10,
  gb_pipeline: 3,
};

const models: Model[] = [];
afterAll(async () => {
  await Promise.all(models.map((m) => m.close()));
});

async function load(name: string): Promise<Model> {
  const mlmodel = await readMLmodel(join(SKLEARN_DIR, "models", name), `models:/${name}/1`);
  const model = await loadSklearnModel(`models:/${name}/1`, mlmodel, {
    probabilities: true,
    engineThreads: 2,
  });
  models.push(model);
  return model;
}

function tolerance(name: string, value: number): number {
  const trees = TREES[name];
  const relative = trees === undefined ? FLOAT64_TOLERANCE : TREE_TOLERANCE * (trees + 1);
  return relative * Math.max(1, Math.abs(value));
}

function expectClose(name: string, column: Column, expected: readonly number[]): void {
  const data = column.data as Float64Array;
  expect(data.length).toBe(expected.length);
  expected.forEach((want, i) => {
    const got = data[i]!;
    if (Math.abs(got - want) > tolerance(name, want)) {
      expect.fail(`${name} ${column.name} row ${i}: ${got} vs scikit-learn's ${want}`);
    }
  });
}

describe("scikit-learn models from skops, run natively, against scikit-learn's predictions", () => {
  it.each(Object.entries(CASES.models))("%s", async (name, c: SklearnCase) => {
    // Given the model MLflow 3 saved, and the rows scikit-learn predicted
    const model = await load(name);
    expect(model.inputs.map((i) => i.name).every((n) => c.columns.includes(n))).toBe(true);
    // When mlbatch predicts them
    const out = await model.predict(inputBatch(c.nan));
    // Then the values, labels and probabilities are scikit-learn's
    const prediction = out.columns[0]!;
    expect(prediction.name).toBe("prediction");
    if (c.classes === undefined) {
      expectClose(name, prediction, c.predict as number[]);
      return;
    }
    const labels = Array.from(prediction.data as ArrayLike<unknown>, (v) =>
      typeof v === "bigint" ? Number(v) : v,
    );
    expect(labels).toEqual(c.predict);
    expect(out.columns.slice(1).map((col) => col.name)).toEqual(c.classes.map((k) => `probability_${k}`));
    c.classes.forEach((_, j) => {
      expectClose(
        name,
        out.columns[j + 1]!,
        c.proba!.map((row) => row[j]!),
      );
    });
  });
});
