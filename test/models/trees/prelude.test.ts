/**
 * The nodes before an ensemble, run in mlbatch, give ONNX Runtime's bits: every value of the ensemble's
 * input is compared bit for bit with ONNX Runtime running the same nodes, on real exports and on small
 * graphs of each operator with edge values.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { describe, expect, it, vi } from "vitest";
import { OnnxModelFile } from "../../../src/models/onnx/graph.js";
import { Writer } from "../../../src/models/onnx/protobuf.js";
import type { WireTensor } from "../../../src/models/onnx-worker.js";
import { Prelude } from "../../../src/models/trees/prelude/index.js";
import { TreeSession } from "../../../src/models/trees/tree-session.js";
import { ROOT } from "../../helpers.js";
import { varint } from "./onnx-builder.js";
import { random } from "./random-ensemble.js";

const N = 64;
const TYPES: Record<number, string> = {
  1: "float32",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  11: "float64",
};

/** Edge and ordinary values of each input type, `n` of them. */
function column(type: string, n: number, seed: number): WireTensor["data"] {
  const floats = [
    0,
    -0,
    1,
    -1,
    0.1,
    1e-45,
    -3.4e38,
    3.4028234663852886e38,
    Number.NaN,
    Infinity,
    -Infinity,
    2.5,
  ];
  const ints = [
    0n,
    1n,
    2n,
    3n,
    4n,
    5n,
    -1n,
    2n ** 31n,
    -(2n ** 31n) - 1n,
    2n ** 53n + 1n,
    2n ** 62n + 2n ** 38n + 1n,
  ];
  const pick = <T>(values: readonly T[], i: number) => values[(i * 7 + seed) % values.length]!;
  // Categories and counts as a table holds them (the bikes pipeline's one-hot categories are 1 to 4).
  if (type === "int64small") return BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 7 + seed) % 6));
  if (type === "int64")
    return BigInt64Array.from({ length: n }, (_, i) => pick(ints, i) * (i % 5 === 4 ? -1n : 1n));
  if (type === "int32")
    return Int32Array.from({ length: n }, (_, i) => Number(BigInt.asIntN(32, pick(ints, i))));
  if (type === "float64") return Float64Array.from({ length: n }, (_, i) => pick(floats, i) * (1 + 1e-9 * i));
  if (type === "bool") return Uint8Array.from({ length: n }, (_, i) => (i + seed) % 2);
  if (type === "string") return Array.from({ length: n }, (_, i) => pick(["a", "b", "ç", "", "zz"], i));
  return Float32Array.from({ length: n }, (_, i) => pick(floats, i) + (i % 3) * 0.37);
}

/**
 * The tensor ONNX Runtime's session gives for `x`, and the prelude's, from the same feeds; the prelude's
 * when `fused` says it is fused (one generated loop over the rows, see `fused.ts`), checked to be the same bits as
 * node by node.
 */
async function both(bytes: Uint8Array, x: string, n = N, fused = true): Promise<[WireTensor, ort.Tensor]> {
  const model = OnnxModelFile.parse(bytes);
  const producer = new Map(model.nodes.flatMap((node) => node.outputs.map((o) => [o, node] as const)));
  const needed = new Set<(typeof model.nodes)[number]>();
  const stack = [x];
  while (stack.length > 0) {
    const node = producer.get(stack.pop()!);
    if (node === undefined || needed.has(node)) continue;
    needed.add(node);
    stack.push(...node.inputs);
  }
  const nodes = model.nodes.filter((node) => needed.has(node));
  const sub = model.subModel(nodes, [], [{ name: x, elemType: 1 }], true);
  const feeds: Record<string, WireTensor> = {};
  model.inputs.forEach((input, j) => {
    const type = TYPES[input.elemType!]!;
    const dims = input.shape.map((d) => (typeof d === "number" && d > 0 ? d : n));
    feeds[input.name] = {
      type,
      data: column(
        type,
        dims.reduce((a, b) => a * b, 1),
        j,
      ),
      dims,
    };
  });
  const prelude = Prelude.of(model, nodes, x);
  expect(prelude, "the prelude runs these nodes").toBeDefined();
  const session = await ort.InferenceSession.create(sub, { intraOpNumThreads: 1 });
  try {
    const ortFeeds = Object.fromEntries(
      Object.entries(feeds).map(([name, t]) => [
        name,
        new ort.Tensor(t.type as "float32", t.data as Float32Array, t.dims),
      ]),
    );
    const expected = (await session.run(ortFeeds))[x]!;
    expect(prelude!.fused).toBe(fused);
    const stepwise = Prelude.of(model, nodes, x, { fuse: false })!;
    expect(stepwise.fused).toBe(false);
    const actual = prelude!.run(feeds);
    expectSameBits(stepwise.run(feeds), expected);
    // Into a used buffer (the engine's are reused from batch to batch): the same bits.
    const used = new Float32Array(expected.data.length + 5).fill(7);
    expectSameBits(prelude!.run(feeds, used), expected);
    return [actual, expected];
  } finally {
    await session.release();
  }
}

function expectSameBits(actual: WireTensor, expected: ort.Tensor): void {
  expect(actual.type).toBe(expected.type);
  expect(actual.dims).toEqual(expected.dims);
  const a = actual.data as Float32Array;
  const e = expected.data as Float32Array;
  const first = a.findIndex((v, i) => !Object.is(v, e[i]));
  expect(first === -1 ? "same" : `[${first}]: mlbatch ${a[first]}, ONNX Runtime ${e[first]}`).toBe("same");
  expect(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).toEqual(
    new Uint8Array(e.buffer, e.byteOffset, e.byteLength),
  );
}

/** A model of one or a few nodes over typed inputs. */
function graph(
  nodes: readonly { op: string; domain?: string; inputs: string[]; output: string; attributes?: Writer[] }[],
  inputs: readonly { name: string; elemType: number; dims: (number | string)[] }[],
  output: string,
  initializers: readonly Uint8Array[] = [],
): Uint8Array {
  const g = new Writer();
  nodes.forEach((n, i) => {
    const node = new Writer();
    for (const input of n.inputs) node.bytes(1, input);
    node.bytes(2, n.output).bytes(3, `n${i}`).bytes(4, n.op);
    if (n.domain) node.bytes(7, n.domain);
    for (const attribute of n.attributes ?? []) node.bytes(5, attribute);
    g.bytes(1, node);
  });
  g.bytes(2, "g");
  for (const init of initializers) g.bytes(5, init);
  const shape = (dims: (number | string)[]) => {
    const s = new Writer();
    for (const d of dims)
      s.bytes(1, typeof d === "number" ? new Writer().uint(1, d) : new Writer().bytes(2, d));
    return s;
  };
  for (const input of inputs) {
    g.bytes(
      11,
      new Writer()
        .bytes(1, input.name)
        .bytes(2, new Writer().bytes(1, new Writer().uint(1, input.elemType).bytes(2, shape(input.dims)))),
    );
  }
  g.bytes(12, new Writer().bytes(1, output).bytes(2, new Writer().bytes(1, new Writer().uint(1, 1))));
  return new Writer()
    .uint(1, 8)
    .bytes(8, new Writer().bytes(1, "").uint(2, 17))
    .bytes(8, new Writer().bytes(1, "ai.onnx.ml").uint(2, 1))
    .bytes(7, g)
    .finish();
}

const int = (name: string, value: number) =>
  new Writer()
    .bytes(1, name)
    .raw(Uint8Array.of(0x18), varint(BigInt(value)))
    .uint(20, 2);
const ints = (name: string, values: readonly bigint[]) => {
  const w = new Writer().bytes(1, name);
  for (const v of values) w.raw(Uint8Array.of(0x40), varint(v));
  return w.uint(20, 7);
};
const floats = (name: string, values: readonly number[]) => {
  const bytes = new Uint8Array(4 * values.length);
  values.forEach((v, i) => {
    new DataView(bytes.buffer).setFloat32(4 * i, v, true);
  });
  return new Writer().bytes(1, name).bytes(7, bytes).uint(20, 6);
};
const strings = (name: string, values: readonly string[]) => {
  const w = new Writer().bytes(1, name);
  for (const v of values) w.bytes(9, v);
  return w.uint(20, 8);
};

/** An int64 initializer (a Reshape's shape). */
function shapeTensor(name: string, values: readonly bigint[]): Uint8Array {
  const raw = new Uint8Array(8 * values.length);
  values.forEach((v, i) => {
    new DataView(raw.buffer).setBigInt64(8 * i, v, true);
  });
  return new Writer().uint(1, values.length).uint(2, 7).bytes(8, name).bytes(9, raw).finish();
}

/** An int64 feed cast to float32 and concatenated with a float32 feed: the nodes the tracer fuses. */
function castConcat(): OnnxModelFile {
  return OnnxModelFile.parse(
    graph(
      [
        { op: "Cast", inputs: ["a"], output: "af", attributes: [int("to", 1)] },
        { op: "Concat", inputs: ["af", "b"], output: "x", attributes: [int("axis", 1)] },
      ],
      [
        { name: "a", elemType: 7, dims: ["N", 1] },
        { name: "b", elemType: 1, dims: ["N", 2] },
      ],
      "x",
    ),
  );
}

/** Three rows of {@link castConcat}'s feeds, one int64 beyond 2^53. */
const CAST_CONCAT_FEEDS = {
  a: { type: "int64", data: BigInt64Array.of(1n, -2n, 2n ** 60n + 1n), dims: [3, 1] },
  b: { type: "float32", data: Float32Array.of(0.5, 1, 2, 3, 4, 5), dims: [3, 2] },
} satisfies Record<string, WireTensor>;

describe("prelude (the nodes before an ensemble, in mlbatch)", () => {
  it.each([
    ["int64", 7],
    ["int32", 6],
    ["float64", 11],
    ["bool", 9],
    ["float32", 1],
  ])(
    "given a Cast from %s to float32 of edge values, then the bits are ONNX Runtime's",
    async (_, elemType) => {
      const bytes = graph(
        [{ op: "Cast", inputs: ["a"], output: "x", attributes: [int("to", 1)] }],
        [{ name: "a", elemType, dims: ["N", 1] }],
        "x",
      );
      expectSameBits(...(await both(bytes, "x")));
    },
  );

  it("given a chain of Casts (which ONNX Runtime rewrites at load), then there is no prelude: ONNX Runtime runs it", () => {
    const model = OnnxModelFile.parse(
      graph(
        [
          { op: "Cast", inputs: ["a"], output: "ad", attributes: [int("to", 11)] },
          { op: "Cast", inputs: ["ad"], output: "x", attributes: [int("to", 1)] },
        ],
        [{ name: "a", elemType: 7, dims: ["N", 1] }],
        "x",
      ),
    );
    expect(Prelude.of(model, model.nodes, "x")).toBeUndefined();
  });

  it("given OneHotEncoders of int64 (negative, large, repeated categories) and string categories, concatenated on the last axis and reshaped, then the bits are ONNX Runtime's", async () => {
    const bytes = graph(
      [
        {
          op: "OneHotEncoder",
          domain: "ai.onnx.ml",
          inputs: ["a"],
          output: "ha",
          attributes: [ints("cats_int64s", [1n, -1n, 2n ** 31n, 2n ** 53n + 1n, 3n, 1n]), int("zeros", 1)],
        },
        {
          op: "OneHotEncoder",
          domain: "ai.onnx.ml",
          inputs: ["s"],
          output: "hs",
          attributes: [strings("cats_strings", ["a", "ç", "zz", ""])],
        },
        { op: "Concat", inputs: ["ha", "hs"], output: "h", attributes: [int("axis", -1)] },
        { op: "Reshape", inputs: ["h", "shape"], output: "r" },
        {
          op: "Scaler",
          domain: "ai.onnx.ml",
          inputs: ["f"],
          output: "fs",
          attributes: [floats("offset", [0.3]), floats("scale", [1.7])],
        },
        { op: "Concat", inputs: ["r", "fs"], output: "x", attributes: [int("axis", 1)] },
      ],
      [
        { name: "a", elemType: 7, dims: ["N", 1] },
        { name: "s", elemType: 8, dims: ["N", 1] },
        { name: "f", elemType: 1, dims: ["N", 1] },
      ],
      "x",
      [shapeTensor("shape", [-1n, 10n])],
    );
    expectSameBits(...(await both(bytes, "x")));
  });

  it("given a Scaler per feature over a concatenation, then the bits are ONNX Runtime's", async () => {
    const bytes = graph(
      [
        { op: "Concat", inputs: ["a", "b", "c"], output: "m", attributes: [int("axis", 1)] },
        {
          op: "Scaler",
          domain: "ai.onnx.ml",
          inputs: ["m"],
          output: "x",
          attributes: [floats("offset", [0.5, -1e30, 3.1]), floats("scale", [1e-30, 7.3, -0.1])],
        },
      ],
      ["a", "b", "c"].map((name) => ({ name, elemType: 1, dims: ["N", 1] })),
      "x",
    );
    expectSameBits(...(await both(bytes, "x")));
  });

  it("given a [N, 3] float64 input cast whole, an int32 cast to int64 before a OneHotEncoder, a Reshape to [0, -1], and the same columns twice, then it is fused and the bits are ONNX Runtime's", async () => {
    const bytes = graph(
      [
        { op: "Cast", inputs: ["m"], output: "mf", attributes: [int("to", 1)] },
        { op: "Cast", inputs: ["i"], output: "il", attributes: [int("to", 7)] },
        {
          op: "OneHotEncoder",
          domain: "ai.onnx.ml",
          inputs: ["il"],
          output: "h",
          attributes: [ints("cats_int64s", [0n, 5n, -1n, 2n ** 31n])],
        },
        { op: "Reshape", inputs: ["h", "shape"], output: "hr" },
        { op: "Concat", inputs: ["mf", "hr", "mf", "hr"], output: "x", attributes: [int("axis", 1)] },
      ],
      [
        { name: "m", elemType: 11, dims: ["N", 3] },
        { name: "i", elemType: 6, dims: ["N", 1] },
      ],
      "x",
      [shapeTensor("shape", [0n, -1n])],
    );
    expectSameBits(...(await both(bytes, "x")));
  });

  it.each(Array.from({ length: 40 }, (_, seed) => [seed]))(
    "given random ColumnTransformer-like graph %i (casts, encoders, reshapes, scalers, concatenations), then the bits are ONNX Runtime's, fused or not",
    async (seed) => {
      const r = random(1000 + seed);
      const nodes: Parameters<typeof graph>[0][number][] = [];
      const inputs: { name: string; elemType: number; dims: (number | string)[] }[] = [];
      const initializers: Uint8Array[] = [];
      const branches: string[] = [];
      let encoded = false;
      const count = 1 + r.int(5);
      for (let k = 0; k < count; k++) {
        const name = `i${k}`;
        const kind = r.pick([
          "float32",
          "float64",
          "int64",
          "int32",
          "bool",
          "string",
          "int64cat",
          "int32cat",
        ]);
        const elemType = {
          float32: 1,
          float64: 11,
          int64: 7,
          int32: 6,
          bool: 9,
          string: 8,
          int64cat: 7,
          int32cat: 6,
        }[kind]!;
        const categorical = kind === "string" || kind.endsWith("cat");
        const width = categorical ? 1 : 1 + r.int(3);
        inputs.push({ name, elemType, dims: [r.pick(["N", "batch"]), width] });
        let out = name;
        if (categorical) {
          if (kind === "int32cat") {
            nodes.push({ op: "Cast", inputs: [out], output: `${name}l`, attributes: [int("to", 7)] });
            out = `${name}l`;
          }
          const categories =
            kind === "string"
              ? strings("cats_strings", r.pick([["a", "b"], ["zz", "ç", ""], ["b"]]))
              : ints(
                  "cats_int64s",
                  r.pick([
                    [0n, 1n, 2n],
                    [5n, -1n, 2n ** 31n, 3n],
                    [1n, 1n, 4n],
                  ]),
                );
          nodes.push({
            op: "OneHotEncoder",
            domain: "ai.onnx.ml",
            inputs: [out],
            output: `${name}h`,
            attributes: [categories, int("zeros", 1)],
          });
          // [N, 1, C] to [N, C], C inferred.
          initializers.push(shapeTensor(`${name}s`, [0n, -1n]));
          nodes.push({ op: "Reshape", inputs: [`${name}h`, `${name}s`], output: `${name}r` });
          out = `${name}r`;
          encoded = true;
        } else if (kind !== "float32" || r.next() < 0.5) {
          nodes.push({ op: "Cast", inputs: [out], output: `${name}f`, attributes: [int("to", 1)] });
          out = `${name}f`;
        }
        if (!categorical && r.next() < 0.4) {
          const per = r.next() < 0.5;
          const values = () => Array.from({ length: per ? width : 1 }, () => r.value(true));
          nodes.push({
            op: "Scaler",
            domain: "ai.onnx.ml",
            inputs: [out],
            output: `${name}z`,
            attributes: [floats("offset", values()), floats("scale", values())],
          });
          out = `${name}z`;
        }
        branches.push(out);
      }
      // The branches in a shuffled order, one of them twice at times, then a Scaler over all at times.
      const order = [...branches].sort(() => r.next() - 0.5);
      if (r.next() < 0.3) order.push(order[0]!);
      nodes.push({ op: "Concat", inputs: order, output: "m", attributes: [int("axis", r.pick([1, -1]))] });
      const scaled = r.next() < 0.3;
      if (scaled) {
        nodes.push({
          op: "Scaler",
          domain: "ai.onnx.ml",
          inputs: ["m"],
          output: "x",
          attributes: [floats("offset", [r.value(false)]), floats("scale", [r.value(false)])],
        });
      } else nodes.push({ op: "Identity", inputs: ["m"], output: "x" });
      const bytes = graph(nodes, inputs, "x", initializers);
      expectSameBits(...(await both(bytes, "x", 200, !(scaled && encoded))));
    },
  );

  it("given a Scaler after a OneHotEncoder, or a Concat of the rows, then the nodes run one by one, with ONNX Runtime's bits", async () => {
    const onehotScaled = graph(
      [
        {
          op: "OneHotEncoder",
          domain: "ai.onnx.ml",
          inputs: ["a"],
          output: "h",
          attributes: [ints("cats_int64s", [1n, 2n, 3n])],
        },
        { op: "Reshape", inputs: ["h", "shape"], output: "hr" },
        {
          op: "Scaler",
          domain: "ai.onnx.ml",
          inputs: ["hr"],
          output: "x",
          attributes: [floats("offset", [0.5]), floats("scale", [3])],
        },
      ],
      [{ name: "a", elemType: 7, dims: ["N", 1] }],
      "x",
      [shapeTensor("shape", [-1n, 3n])],
    );
    expectSameBits(...(await both(onehotScaled, "x", N, false)));
    const rows = graph(
      [{ op: "Concat", inputs: ["a", "b"], output: "x", attributes: [int("axis", 0)] }],
      ["a", "b"].map((name) => ({ name, elemType: 1, dims: ["N", 2] })),
      "x",
    );
    expectSameBits(...(await both(rows, "x", N, false)));
  });

  it("given feeds of another shape than the graph declares, then the nodes run one by one; given a buffer large enough, the fused nodes write into it", () => {
    const model = castConcat();
    const prelude = Prelude.of(model, model.nodes, "x")!;
    expect(prelude.fused).toBe(true);
    const { a, b } = CAST_CONCAT_FEEDS;
    const into = new Float32Array(100).fill(7);
    const out = prelude.run({ a, b }, into);
    expect(out.data).toEqual(Float32Array.of(1, 0.5, 1, -2, 2, 3, 2 ** 60, 4, 5));
    expect((out.data as Float32Array).buffer).toBe(into.buffer);
    // b as [2, 3]: the Concat's shapes do not match, and it says so, node by node.
    expect(() => prelude.run({ a, b: { ...b, dims: [2, 3] } })).toThrow(/Concat node .* do not match/);
    // b as [3, 2, 1]: another rank than declared, run node by node (as ONNX Runtime would refuse it).
    expect(() => prelude.run({ a, b: { ...b, dims: [3, 2, 1] } })).toThrow(/Concat node/);
  });

  it("given a Node that refuses code generation, then the nodes run one by one, with the same values; another failure to build the loop is not hidden", () => {
    const model = castConcat();
    const { a, b } = CAST_CONCAT_FEEDS;
    const fused = Prelude.of(model, model.nodes, "x")!;
    const refusing = (error: Error) =>
      function Refused() {
        throw error;
      };
    // What V8 throws under --disallow-code-generation-from-strings.
    vi.stubGlobal("Function", refusing(new EvalError("Code generation from strings disallowed")));
    try {
      const stepwise = Prelude.of(model, model.nodes, "x")!;
      expect(stepwise.fused).toBe(false);
      expect(stepwise.run({ a, b }).data).toEqual(fused.run({ a, b }).data);
      vi.stubGlobal("Function", refusing(new TypeError("a bug")));
      expect(() => Prelude.of(model, model.nodes, "x")).toThrow("a bug");
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("given a node it does not run (Mul) or a cast from floats to integers, then there is no prelude", () => {
    for (const nodes of [
      [{ op: "Mul", inputs: ["a", "a"], output: "x" }],
      [
        { op: "Cast", inputs: ["a"], output: "i", attributes: [int("to", 7)] },
        {
          op: "OneHotEncoder",
          domain: "ai.onnx.ml",
          inputs: ["i"],
          output: "x",
          attributes: [ints("cats_int64s", [1n])],
        },
      ],
    ]) {
      const model = OnnxModelFile.parse(graph(nodes, [{ name: "a", elemType: 1, dims: ["N", 1] }], "x"));
      expect(Prelude.of(model, model.nodes, "x")).toBeUndefined();
    }
  });

  it("given an unknown category and zeros = 0, then the batch fails, as in ONNX Runtime", async () => {
    const bytes = graph(
      [
        {
          op: "OneHotEncoder",
          domain: "ai.onnx.ml",
          inputs: ["a"],
          output: "x",
          attributes: [ints("cats_int64s", [1n]), int("zeros", 0)],
        },
      ],
      [{ name: "a", elemType: 7, dims: ["N", 1] }],
      "x",
    );
    await expect(both(bytes, "x")).rejects.toThrow(/Unknown Category and zeros = 0/);
    const model = OnnxModelFile.parse(bytes);
    const prelude = Prelude.of(model, model.nodes, "x")!;
    expect(() => prelude.run({ a: { type: "int64", data: BigInt64Array.of(1n, 2n), dims: [2, 1] } })).toThrow(
      'OneHotEncoder node "n0": Unknown Category and zeros = 0.',
    );
  });

  const exports = [
    ...readdirSync(join(ROOT, "examples/bikes/mlruns/1/models")).map((m) =>
      join(ROOT, "examples/bikes/mlruns/1/models", m, "artifacts/model.onnx"),
    ),
    join(ROOT, "test/fixtures/trees/pipe_reg.onnx"),
    join(ROOT, "test/fixtures/trees/multi_input_reg.onnx"),
    join(
      ROOT,
      "test/fixtures/exported/mlflow3/mlruns/1/models/m-337022bb70844b0ba8139b87beadbfb6/artifacts/model.onnx",
    ),
  ];
  it.each(exports.map((file) => [file.replace(`${ROOT}/`, ""), file]))(
    "given the real export %s, then the ensemble's input is ONNX Runtime's, bit for bit",
    async (_, file) => {
      const model = OnnxModelFile.read(file);
      const tree = model.nodes.find((n) => n.opType.startsWith("TreeEnsemble"))!;
      expectSameBits(
        ...(await both(
          OnnxModelFile.read(file).withGraph(model.nodes, [{ name: tree.inputs[0]!, elemType: 1 }]),
          tree.inputs[0]!,
          3000,
        )),
      );
    },
  );

  it("given the bikes forest (160 node visits a row), large batches and its nodes run one by one, then ONNX Runtime takes them over, with the same bits", async () => {
    const file = exports[1]!;
    const session = await TreeSession.create(file, {}, 2, undefined, { fuse: false });
    try {
      const model = OnnxModelFile.read(file);
      const n = 8192;
      const feeds = Object.fromEntries(
        model.inputs.map((input, j) => {
          const type = TYPES[input.elemType!]!;
          return [
            input.name,
            { type, data: column(type === "int64" ? "int64small" : type, n, j), dims: [n, 1] },
          ];
        }),
      );
      const first = await session.run(feeds);
      expect(session.offloaded).toBe(false);
      for (let waited = 0; !session.offloaded && waited < 20_000; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(session.offloaded).toBe(true);
      const later = await session.run(feeds);
      expect(later.variable).toEqual(first.variable);
    } finally {
      await session.release();
    }
  });

  it("given the bikes forest and large batches, then its fused nodes stay in mlbatch, batch after batch into the same buffers, with the bits of the nodes run one by one", async () => {
    const file = exports[1]!;
    const [fused, stepwise] = await Promise.all([
      TreeSession.create(file, {}, 2),
      TreeSession.create(file, {}, 2, undefined, { fuse: false }),
    ]);
    const model = OnnxModelFile.read(file);
    try {
      for (const [n, seed] of [
        [8192, 0],
        [8192, 3],
        [100, 5],
        [8192, 1],
      ] as const) {
        const feeds = Object.fromEntries(
          model.inputs.map((input, j) => {
            const type = TYPES[input.elemType!]!;
            return [
              input.name,
              { type, data: column(type === "int64" ? "int64small" : type, n, j + seed), dims: [n, 1] },
            ];
          }),
        );
        const [a, b] = await Promise.all([fused.run(feeds), fused.run(feeds)]);
        const expected = await stepwise.run(feeds);
        const name = model.outputs[0]!.name;
        expect(a[name]!.data).toEqual(expected[name]!.data);
        expect(b[name]!.data).toEqual(expected[name]!.data);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(fused.offloaded).toBe(false);
      expect(fused.description).toContain("preprocessing in mlbatch");
    } finally {
      await Promise.all([fused.release(), stepwise.release()]);
    }
  });
});
