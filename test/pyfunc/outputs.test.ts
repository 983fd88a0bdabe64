// How a pyfunc model's predictions are named and typed, as MLflow's spark_udf does under the output
// signature MLflow wrote (the raw JSON of real MLmodel files: a DataFrame's, a Series', an ndarray's).
import { describe, expect, it } from "vitest";
import type { MLmodel } from "../../src/models/mlmodel.js";
import { pyfuncOutputs } from "../../src/models/pyfunc/outputs.js";

const model = (rawOutputs?: Record<string, unknown>[]): MLmodel => ({
  directory: "/m",
  flavors: ["python_function"],
  onnx: undefined,
  signature: { inputs: undefined, outputs: undefined },
  runId: undefined,
  mlflowVersion: undefined,
  rawOutputs,
});

describe("pyfunc outputs", () => {
  it("given named output columns (a DataFrame), then they are the columns, typed as declared", () => {
    const m = model([
      { type: "double", name: "prediction", required: true },
      { type: "long", name: "label", required: true },
      { type: "string", name: "why", required: true },
    ]);
    expect(pyfuncOutputs(m, "signature", {})).toEqual([
      { name: "prediction", type: "float64" },
      { name: "label", type: "int64" },
      { name: "why", type: "string" },
    ]);
  });

  it("given one unnamed column (a Series), then it is prediction; a type mlbatch does not write is text", () => {
    expect(pyfuncOutputs(model([{ type: "float", required: true }]), "signature", {})).toEqual([
      { name: "prediction", type: "float32" },
    ]);
    expect(pyfuncOutputs(model([{ type: "any", required: true }]), "signature", {})).toEqual([
      { name: "prediction", type: "string" },
    ]);
  });

  it("given a tensor output of shape [-1, 3], then it is prediction_0 to prediction_2 of its dtype", () => {
    const m = model([{ type: "tensor", "tensor-spec": { dtype: "int32", shape: [-1, 3] } }]);
    expect(pyfuncOutputs(m, "signature", {}).map((o) => `${o.name}:${o.type}`)).toEqual([
      "prediction_0:int32",
      "prediction_1:int32",
      "prediction_2:int32",
    ]);
  });

  it("given no output signature, then one prediction of result_type, double by default", () => {
    expect(pyfuncOutputs(model(), "signature", {})).toEqual([{ name: "prediction", type: "float64" }]);
    expect(pyfuncOutputs(model(), "signature", { resultType: "string" })).toEqual([
      { name: "prediction", type: "string" },
    ]);
  });

  it("given BuiltinLoader's naming, then only the first output, as prediction", () => {
    const m = model([
      { type: "long", name: "label" },
      { type: "double", name: "score" },
    ]);
    expect(pyfuncOutputs(m, "prediction", {})).toEqual([{ name: "prediction", type: "int64" }]);
  });
});
