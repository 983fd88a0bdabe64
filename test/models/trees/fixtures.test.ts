import { readFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { afterAll, describe, it } from "vitest";
import type { WireTensor } from "../../../src/models/onnx-worker.js";
import { TreeSession } from "../../../src/models/trees/tree-session.js";
import { expectSameOutputs } from "./compare.js";

const DIR = join(import.meta.dirname, "../../fixtures/trees");
const manifest = JSON.parse(readFileSync(join(DIR, "manifest.json"), "utf8")) as {
  models: { name: string; file: string; inputs: { name: string; shape: (number | null)[] }[] }[];
};
const raw = readFileSync(join(DIR, "inputs.bin"));
const ROWS = 1000;
const X = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));

/** The fixture inputs as a model's feeds: one [n, 8] matrix, or eight [n, 1] columns. */
function feeds(inputs: { name: string }[]): Record<string, WireTensor> {
  if (inputs.length === 1)
    return { [inputs[0]!.name]: { type: "float32", data: X.slice(), dims: [ROWS, 8] } };
  return Object.fromEntries(
    inputs.map((input, j) => [
      input.name,
      {
        type: "float32",
        data: Float32Array.from({ length: ROWS }, (_, r) => X[r * 8 + j]!),
        dims: [ROWS, 1],
      },
    ]),
  );
}

const sessions: TreeSession[] = [];
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
});

describe("tree engine on real exports (skl2onnx, onnxmltools)", () => {
  it.each(manifest.models.map((m) => [m.name, m] as const))("%s equals ONNX Runtime", async (_, model) => {
    const file = join(DIR, model.file);
    const input = feeds(model.inputs);
    for (const threads of [1, 2]) {
      // ONNX Runtime with as many threads as the engine: both add the same shares of trees in order.
      const reference = await ort.InferenceSession.create(file, { intraOpNumThreads: threads });
      const expected = await reference.run(
        Object.fromEntries(
          Object.entries(input).map(([name, t]) => [
            name,
            new ort.Tensor("float32", t.data as Float32Array, t.dims),
          ]),
        ),
      );
      const session = await TreeSession.create(file, {}, threads);
      sessions.push(session);
      const actual = await session.run(input);
      expectSameOutputs(actual, expected, reference.outputNames);
      await reference.release();
    }
  });
});
