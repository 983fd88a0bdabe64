import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isMlbatchError } from "../../src/errors.js";
import { readMLmodel } from "../../src/models/mlmodel.js";
import type { Model } from "../../src/models/model.js";
import { loadSklearnModel } from "../../src/models/native/sklearn/index.js";
import { CASES, inputBatch, SKLEARN_DIR } from "./sklearn-cases.js";

const models: Model[] = [];
afterAll(async () => {
  await Promise.all(models.map((m) => m.close()));
});

async function load(name: string, probabilities = false): Promise<Model> {
  const mlmodel = await readMLmodel(join(SKLEARN_DIR, "models", name), `models:/${name}/1`);
  const model = await loadSklearnModel(`models:/${name}/1`, mlmodel, { probabilities, engineThreads: 1 });
  models.push(model);
  return model;
}

async function loadError(name: string): Promise<Error> {
  try {
    await load(name);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${name} loaded`);
}

describe("scikit-learn models run natively: inputs and outputs", () => {
  it("reads the bikes pipeline's 14 feature columns by name, typed per the signature", async () => {
    // Given the reference's bikes pipeline (ColumnTransformer: one-hot season and weathersit, passthrough numericals)
    const model = await load("bikes_rf");
    // Then it reads its fitted columns (not dteday), fed as float64, with the signature's types
    expect(model.inputs.map((i) => i.name)).toEqual(CASES.models.bikes_rf!.columns);
    expect(model.inputs.find((i) => i.name === "season")).toEqual({
      name: "season",
      signatureType: "long",
      type: "float64",
    });
    expect(model.outputs).toEqual([{ name: "prediction", type: "float64" }]);
    expect(model.engine).toMatch(/RandomForestRegressor \(tree engine \(5 trees/);
  });

  it("leaves out the columns a ColumnTransformer drops, and feeds strings as strings", async () => {
    const model = await load("logreg_multi", true);
    const names = model.inputs.map((i) => i.name);
    expect(names).not.toContain("yr");
    expect(model.inputs.find((i) => i.name === "weather")?.type).toBe("string");
    expect(model.outputs.map((o) => o.name)).toEqual([
      "prediction",
      ...CASES.models.logreg_multi!.classes!.map((c) => `probability_${c}`),
    ]);
    expect(model.outputs[0]).toEqual({ name: "prediction", type: "string" });
  });

  it("gives integer class labels as int64, and no probabilities unless asked", async () => {
    const model = await load("rf_clf");
    expect(model.outputs).toEqual([{ name: "prediction", type: "int64" }]);
    const out = await model.predict(inputBatch(true));
    expect(out.columns[0]!.data).toBeInstanceOf(BigInt64Array);
  });

  it("treats an unknown category as scikit-learn's handle_unknown='ignore' does (all zeros)", async () => {
    // Given rows whose season and weather were never seen in training
    const batch = inputBatch(false);
    const unseen = {
      ...batch,
      columns: batch.columns.map((c) =>
        c.name === "season"
          ? { ...c, data: new Float64Array(batch.length).fill(9) }
          : c.name === "weather"
            ? { ...c, data: new Array<string>(batch.length).fill("hail") }
            : c,
      ),
    };
    // When the pipelines predict them, then they do, without error
    for (const name of ["bikes_rf", "logreg_multi"]) {
      const out = await (await load(name)).predict(unseen);
      expect(out.length).toBe(batch.length);
    }
  });
});

describe("scikit-learn models mlbatch does not run natively (expected failures)", () => {
  it("refuses a pickle-format model (MLflow 2's default) without opening it, saying why and what to do", async () => {
    const error = await loadError("pickle_dt");
    expect(isMlbatchError(error, "E_MODEL_LOAD")).toBe(true);
    expect(error.message).toMatch(/cloudpickle/);
    expect(error.message).toMatch(/never unpickles/);
    expect(error.message).toMatch(/serialization_format="skops"/);
  });

  it.each(Object.entries(CASES.refused ?? {}))(
    "refuses %s, naming %s and the tier to use",
    async (name, type) => {
      const error = await loadError(name);
      expect(isMlbatchError(error, "E_MODEL_LOAD")).toBe(true);
      expect(error.message).toContain(`${type} is not`);
      expect(error.message).toMatch(/pyfunc worker/);
    },
  );
});
