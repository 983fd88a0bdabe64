import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readMLmodel } from "../../src/models/mlmodel.js";
import { parseSignature } from "../../src/models/signature.js";
import { removeDir, tempDir } from "../helpers.js";

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

describe("signatures", () => {
  it("given a tensor signature, when parsed, then it has tensor inputs and no columns", () => {
    const signature = parseSignature(
      {
        inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 12]}}]',
        outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]',
      },
      "models:/m/1",
    );
    expect(signature).toEqual({
      inputs: undefined,
      outputs: undefined,
      tensorInputs: [{ name: undefined, dtype: "float32", shape: [-1, 12] }],
    });
  });

  it("given outputs of types mlbatch does not feed (object, any), when parsed, then their names are kept", () => {
    const signature = parseSignature(
      {
        inputs: '[{"type": "double", "name": "temp", "required": true}]',
        outputs:
          '[{"type": "string", "name": "output_label", "required": true}, {"type": "object", "name": "output_probability", "properties": {}}]',
      },
      "models:/m/1",
    );
    expect(signature.outputs?.map((o) => o.name)).toEqual(["output_label", "output_probability"]);
    expect(parseSignature({ outputs: '[{"type": "any", "required": true}]' }, "m").outputs).toBeUndefined();
  });

  it("given an input column of a type mlbatch cannot feed, when parsed, then E_MODEL_LOAD names it", () => {
    expect(() =>
      parseSignature({ inputs: '[{"type": "object", "name": "x", "properties": {}}]' }, "models:/m/1"),
    ).toThrow(
      expect.objectContaining({ code: "E_MODEL_LOAD", message: expect.stringContaining('column "x"') }),
    );
  });
});

describe("input examples", () => {
  const folder = (info: string, file: string, example: string) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "MLmodel"),
      `flavors: {onnx: {data: model.onnx}}\nsaved_input_example_info: ${info}\n`,
    );
    writeFileSync(join(dir, file), example);
    return readMLmodel(dir, "models:/m/1");
  };

  it.each([
    ["split (MLflow's default)", '{"columns": ["hr", "temp"], "data": [[0, 0.2]]}'],
    ["records", '[{"hr": 0, "temp": 0.2}]'],
    ["a serving input", '{"dataframe_split": {"columns": ["hr", "temp"], "data": [[0, 0.2]]}}'],
  ])("given a DataFrame example in %s orient, when read, then its columns are known", async (_, example) => {
    const mlmodel = await folder(
      "{artifact_path: input_example.json, type: dataframe}",
      "input_example.json",
      example,
    );
    expect(mlmodel.inputExample).toEqual({ columns: ["hr", "temp"] });
  });

  it.each([
    ["a numpy example", "{artifact_path: input_example.json, type: ndarray}", '{"inputs": [[0, 0.2]]}'],
    ["a missing file", "{artifact_path: other.json, type: dataframe}", "{}"],
    ["a file that is not JSON", "{artifact_path: input_example.json, type: dataframe}", "nan"],
    ["JSON null", "{artifact_path: input_example.json, type: dataframe}", "null"],
  ])("given %s, when read, then no columns are known", async (_, info, example) => {
    expect((await folder(info, "input_example.json", example)).inputExample).toBeUndefined();
  });
});
