import fc from "fast-check";
import ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { OnnxModelFile } from "../../../src/models/onnx/graph.js";
import type { WireTensor } from "../../../src/models/onnx-worker.js";
import { compileForest, Unsupported } from "../../../src/models/trees/forest/index.js";
import { TreePool } from "../../../src/models/trees/pool.js";
import { expectSameOutputs } from "./compare.js";
import { ensemble, ensembleV5, type Options } from "./random-ensemble.js";

async function check(options: Options & { v5?: boolean }): Promise<void> {
  const { bytes, x, rows, features, outputs, threads, post } = options.v5
    ? ensembleV5(options)
    : ensemble(options);
  // ONNX Runtime with as many threads as the engine: both add the same shares of trees in the same order.
  const reference = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads });
  const expected = await reference.run({ X: new ort.Tensor("float32", x, [rows, features]) });
  const model = OnnxModelFile.parse(bytes);
  let forest: ReturnType<typeof compileForest>;
  try {
    forest = compileForest(model.nodes[0]!);
  } catch (error) {
    // Refusing is allowed only for the cases ONNX Runtime leaves undefined.
    expect(error).toBeInstanceOf(Unsupported);
    expect((error as Error).message).toMatch(/PROBIT/);
    return;
  }
  const pool = await TreePool.create(forest, threads);
  try {
    const { z, label } = await pool.run(x, rows, features);
    const E = forest.kernel.nTargets;
    const actual: Record<string, WireTensor> = {};
    if (forest.labels === undefined) actual[outputs[0]!] = { type: "float32", data: z, dims: [rows, E] };
    else {
      const labels = forest.labels;
      const at = (i: number) => (i >= 0 ? i : i === -1 ? 0 : 1);
      actual[outputs[0]!] =
        "strings" in labels
          ? { type: "string", data: Array.from(label, (i) => labels.strings[at(i)]!), dims: [rows] }
          : {
              type: "int64",
              data: BigInt64Array.from(label, (i) => (i >= 0 ? labels.ints[i]! : BigInt(at(i)))),
              dims: [rows],
            };
      actual[outputs[1]!] = { type: "float32", data: z, dims: [rows, E] };
    }
    expectSameOutputs(actual, expected, outputs, post === "PROBIT");
  } finally {
    await pool.close();
    await reference.release();
  }
}

describe("tree engine on random ensembles, against ONNX Runtime", () => {
  const runs = { numRuns: Number(process.env.MLBATCH_PROPERTY_RUNS ?? 120) };
  it.each([
    ["regressors, every mode, NaN and infinities", false, false, false],
    ["regressors, WebAssembly path", false, true, false],
    ["classifiers, every mode, NaN and infinities", true, false, false],
    ["classifiers, WebAssembly path", true, true, false],
    ["opset-5 TreeEnsemble, every mode and set membership", false, false, true],
    ["opset-5 TreeEnsemble, WebAssembly path", false, true, true],
  ] as const)(
    "%s",
    async (_, classifier, canonical, v5) => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) =>
          check({ seed, classifier, canonical, v5 }),
        ),
        runs,
      );
    },
    120_000,
  );
});
