/**
 * ZipMaps mlbatch cannot take off, and other outputs that are not tensors: refused with what to do, in
 * the converter's terms. The models are written here, field by field, as their converters would.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CustomLoader } from "../../src/models/loaders/custom-loader.js";
import type { MLmodel } from "../../src/models/mlmodel.js";
import { Writer } from "../../src/models/onnx/protobuf.js";
import { failure, removeDir, tempDir } from "../helpers.js";

const FLOAT = 1;
const INT64 = 7;

let dir: string;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => removeDir(dir));

function tensorType(elemType: number, dims?: readonly (number | string)[]): Writer {
  const tensor = new Writer().uint(1, elemType);
  if (dims !== undefined) {
    const shape = new Writer();
    for (const d of dims)
      shape.bytes(1, typeof d === "number" ? new Writer().uint(1, d) : new Writer().bytes(2, d));
    tensor.bytes(2, shape);
  }
  return new Writer().bytes(1, tensor);
}

/** `seq(map(int64, tensor(float)))`, a ZipMap's output type. */
function zipMapType(): Writer {
  const map = new Writer().uint(1, INT64).bytes(2, tensorType(FLOAT));
  return new Writer().bytes(4, new Writer().bytes(1, new Writer().bytes(5, map)));
}

function node(
  op: string,
  inputs: string[],
  outputs: string[],
  domain = "",
  attributes: Writer[] = [],
): Writer {
  const w = new Writer();
  for (const i of inputs) w.bytes(1, i);
  for (const o of outputs) w.bytes(2, o);
  w.bytes(3, op).bytes(4, op);
  for (const a of attributes) w.bytes(5, a);
  return domain === "" ? w : w.bytes(7, domain);
}

/** A model folder: X float [N, 2] -> Mul by an initializer W -> `tail` nodes; external W when asked. */
function folder(options: {
  producer: string;
  tail: Writer[];
  output: { name: string; type: Writer };
  external?: boolean;
}): MLmodel {
  const path = join(dir, options.producer);
  mkdirSync(path, { recursive: true });
  const weights = new Uint8Array(new Float32Array([1, 1]).buffer);
  const w = new Writer().uint(1, 2).uint(2, FLOAT).bytes(8, "W");
  if (options.external) {
    writeFileSync(join(path, "weights.bin"), weights);
    w.bytes(13, new Writer().bytes(1, "location").bytes(2, "weights.bin")).uint(14, 1);
  } else w.bytes(9, weights);
  const graph = new Writer().bytes(1, node("Mul", ["X", "W"], ["P"]));
  for (const n of options.tail) graph.bytes(1, n);
  graph
    .bytes(2, "g")
    .bytes(5, w)
    .bytes(11, new Writer().bytes(1, "X").bytes(2, tensorType(FLOAT, ["N", 2])))
    .bytes(12, new Writer().bytes(1, options.output.name).bytes(2, options.output.type));
  const model = new Writer()
    .uint(1, 8)
    .bytes(2, options.producer)
    .bytes(8, new Writer().bytes(1, "").uint(2, 17))
    .bytes(8, new Writer().bytes(1, "ai.onnx.ml").uint(2, 3))
    .bytes(7, graph)
    .finish();
  writeFileSync(join(path, "model.onnx"), model);
  return {
    directory: path,
    flavors: ["onnx"],
    onnx: { data: "model.onnx", sessionOptions: undefined },
    signature: { inputs: undefined, outputs: undefined },
    runId: undefined,
    mlflowVersion: undefined,
  };
}

const zipmap = () => {
  const labels = new Writer().bytes(1, "classlabels_int64s").uint(8, 0).uint(8, 1).uint(20, 7);
  return node("ZipMap", ["P"], ["output_probability"], "ai.onnx.ml", [labels]);
};

describe("outputs that are not tensors", () => {
  it.each([
    [
      "OnnxMLTools",
      "model without ZipMap with onnxmltools' option zipmap=False (e.g. onnxmltools.convert_lightgbm(model, initial_types=..., zipmap=False)).",
    ],
    [
      "skl2onnx",
      `classifier without ZipMap with skl2onnx's option options={id(classifier): {"zipmap": False}} (to_onnx(pipeline, X, options=...)).`,
    ],
  ])(
    "given a %s classifier whose ZipMap cannot be taken off (external weights), when loaded, then E_MODEL_LOAD says why and names the converter's option",
    async (producer, option) => {
      const mlmodel = folder({
        producer,
        tail: [zipmap()],
        output: { name: "output_probability", type: zipMapType() },
        external: true,
      });
      for (const engine of ["auto", "onnxruntime"] as const) {
        const error = await failure(new CustomLoader({ engine }).load("models:/zipped/1", mlmodel));
        expect(error.code).toBe("E_MODEL_LOAD");
        expect(error.message).toBe(
          'model models:/zipped/1: output "output_probability" is not a tensor (a sequence or a map), which mlbatch ' +
            "cannot handle. It comes from a ZipMap, which mlbatch takes off a classifier, but not here: its weights are " +
            `in an external data file, which mlbatch cannot re-encode. Export the ${option}`,
        );
      }
    },
  );

  it("given the same classifier with its weights inside, when loaded, then the ZipMap is taken off and the probabilities are columns", async () => {
    const columns = ["a", "b"].map((name) => ({ name, type: "float" as const, required: true }));
    const folded = folder({
      producer: "OnnxMLTools",
      tail: [zipmap()],
      output: { name: "output_probability", type: zipMapType() },
    });
    const mlmodel = { ...folded, signature: { inputs: columns, outputs: undefined } };
    const model = await new CustomLoader().load("models:/zipped/1", mlmodel);
    try {
      expect(model.outputs).toEqual([
        { name: "probability_0", type: "float32" },
        { name: "probability_1", type: "float32" },
      ]);
      const out = await model.predict({
        length: 2,
        columns: [
          { name: "a", type: "float32", data: Float32Array.from([0.25, 0.5]) },
          { name: "b", type: "float32", data: Float32Array.from([0.75, 0.5]) },
        ],
      });
      expect(out.columns.map((c) => Array.from(c.data as Float32Array))).toEqual([
        [0.25, 0.5],
        [0.75, 0.5],
      ]);
    } finally {
      await model.close();
    }
  });

  it("given a sequence output not made by a ZipMap, when loaded, then E_MODEL_LOAD asks for tensor outputs", async () => {
    const sequence = new Writer().bytes(4, new Writer().bytes(1, tensorType(FLOAT)));
    const mlmodel = folder({
      producer: "skl2onnx",
      tail: [node("SequenceConstruct", ["P"], ["S"])],
      output: { name: "S", type: sequence },
    });
    const error = await failure(new CustomLoader().load("models:/sequence/1", mlmodel));
    expect(error.code).toBe("E_MODEL_LOAD");
    expect(error.message).toBe(
      'model models:/sequence/1: output "S" is not a tensor (a sequence or a map), which mlbatch cannot handle. ' +
        "Export the model with tensor outputs only.",
    );
  });
});
