import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { BuiltinLoader } from "../../src/models/loaders/builtin-loader.js";
import { CustomLoader } from "../../src/models/loaders/custom-loader.js";
import type { Loader } from "../../src/models/loaders/loader.js";
import { readMLmodel } from "../../src/models/mlmodel.js";
import type { Model } from "../../src/models/model.js";
import { openRegistry } from "../../src/registry/index.js";
import { copyStore, removeDir, STORES } from "../helpers.js";

async function load(
  loader: Loader,
  name: string,
  version: number,
  store: string = STORES["mlflow3-sqlite"],
): Promise<Model> {
  const registry = openRegistry(store);
  try {
    const resolved = await registry.getModelVersion({ name, version });
    const uri = `models:/${name}/${version}`;
    return await loader.load(uri, await readMLmodel(await registry.modelDirectory(resolved), uri));
  } finally {
    registry.close();
  }
}

async function loadError(
  loader: Loader,
  name: string,
  version: number,
  store?: string,
): Promise<MlbatchError> {
  const error = await load(loader, name, version, store).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MlbatchError);
  return error as MlbatchError;
}

describe("ONNX loaders", () => {
  const copies: string[] = [];
  afterAll(() => copies.forEach(removeDir));

  it("given a one-input-per-column model, when loaded, then each signature column feeds its input with the graph's type", async () => {
    const model = await load(new CustomLoader(), "bikes", 2);
    try {
      expect(model.inputs).toHaveLength(14);
      expect(model.inputs.find((i) => i.name === "hr")).toEqual({
        name: "hr",
        signatureType: "long",
        type: "int64",
      });
      // MLflow casts float64 columns to float32 for tensor(float) inputs.
      expect(model.inputs.find((i) => i.name === "temp")).toEqual({
        name: "temp",
        signatureType: "double",
        type: "float32",
      });
      expect(model.outputs).toEqual([{ name: "prediction", type: "float32" }]);
    } finally {
      await model.close();
    }
  });

  it("given a custom loader, when a batch is predicted, then outputs are named by the signature and one value per row", async () => {
    const model = await load(new CustomLoader(), "bikes_tensor", 1);
    try {
      expect(model.inputs.map((i) => `${i.name}:${i.type}`)).toEqual([
        "temp:float32",
        "atemp:float32",
        "hum:float32",
        "windspeed:float32",
      ]);
      const n = 3;
      const column = () => new Float32Array([0.1, 0.5, 0.9]);
      const out = await model.predict({
        length: n,
        columns: model.inputs.map((i) => ({ name: i.name, type: i.type, data: column() })),
      });
      expect(out.length).toBe(3);
      expect(out.columns.map((c) => c.name)).toEqual(["prediction"]);
      const values = [...(out.columns[0]!.data as Float32Array)];
      // A linear model of increasing inputs: finite, distinct values.
      expect(new Set(values).size).toBe(3);
      expect(values.every(Number.isFinite)).toBe(true);
    } finally {
      await model.close();
    }
  });

  it("given a batch of the wrong tensor types, when predicted, then E_PREDICT names the model and the batch", async () => {
    const model = await load(new CustomLoader({ intraOpNumThreads: 1 }), "bikes", 2);
    try {
      const columns = model.inputs.map((i) => ({
        name: i.name,
        type: "float64" as const,
        data: new Float64Array(2),
      }));
      const error = await model.predict({ length: 2, columns }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MlbatchError);
      expect(error).toMatchObject({ code: "E_PREDICT" });
      expect((error as MlbatchError).message).toContain(
        "models:/bikes/2 failed to predict a batch of 2 rows",
      );
    } finally {
      await model.close();
    }
  });

  it("given a builtin loader, when loaded, then the raw prediction is wrapped into a prediction column", async () => {
    const model = await load(new BuiltinLoader(), "bikes", 1, STORES["mlflow2-file"]);
    try {
      expect(model.outputs).toEqual([{ name: "prediction", type: "float32" }]);
    } finally {
      await model.close();
    }
  });

  it("given a model without onnx flavor (pickled sklearn), when loaded, then E_MODEL_LOAD refuses to unpickle it and says how to log it", async () => {
    const error = await loadError(new CustomLoader(), "bikes", 3);
    expect(error.code).toBe("E_MODEL_LOAD");
    expect(error.message).toContain("saved as a cloudpickle (model.pkl");
    expect(error.message).toContain("never unpickles");
    expect(error.message).toContain('serialization_format="skops"');
    expect(error.message).toContain("skl2onnx");
  });

  it("given a corrupt model.onnx, when loaded, then E_MODEL_LOAD names the file", async () => {
    const copy = copyStore("mlflow2-sqlite");
    copies.push(copy);
    const store = `sqlite:///${join(copy, "mlflow.db")}`;
    const registry = openRegistry(store);
    const directory = await registry.modelDirectory(
      await registry.getModelVersion({ name: "bikes", version: 2 }),
    );
    registry.close();
    writeFileSync(join(directory, "model.onnx"), "not an onnx model");
    const error = await loadError(new CustomLoader(), "bikes", 2, store);
    expect(error.code).toBe("E_MODEL_LOAD");
    expect(error.message).toContain(`ONNX Runtime cannot load ${join(directory, "model.onnx")}`);
  });
});
