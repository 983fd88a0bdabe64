import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Batch, Column } from "../../../src/data/batch.js";
import { MlbatchError } from "../../../src/errors.js";
import { CustomLoader } from "../../../src/models/loaders/custom-loader.js";
import { type MLmodel, readMLmodel } from "../../../src/models/mlmodel.js";
import type { Model } from "../../../src/models/model.js";
import { openRegistry } from "../../../src/registry/index.js";
import { BIKES, cli, EXAMPLE_REGISTRY, query, ROOT, removeDir, tempDir } from "../../helpers.js";
import { encodeEnsemble } from "./onnx-builder.js";

const dir = tempDir();
afterAll(() => removeDir(dir));

async function bikes(): Promise<MLmodel> {
  const registry = openRegistry(EXAMPLE_REGISTRY);
  try {
    const version = await registry.getModelVersion({ name: "bikes", version: 2 });
    return await readMLmodel(await registry.modelDirectory(version), "models:/bikes/2");
  } finally {
    registry.close();
  }
}

/** A batch of `n` rows of plausible bikes features (the model's input types). */
function batch(model: Model, n: number): Batch {
  const columns = model.inputs.map((input, j): Column => {
    const data =
      input.type === "int64"
        ? BigInt64Array.from({ length: n }, (_, r) => BigInt((r * 7 + j * 3) % 12))
        : Float32Array.from({ length: n }, (_, r) => ((r * 13 + j) % 100) / 100);
    return { name: input.name, type: input.type, data };
  });
  return { length: n, columns };
}

/** An MLmodel of a model folder holding `bytes`, without signature. */
function folderWith(name: string, bytes: Uint8Array): MLmodel {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "model.onnx"), bytes);
  return {
    directory: folder,
    flavors: ["onnx"],
    onnx: { data: "model.onnx", sessionOptions: undefined },
    signature: { inputs: undefined, outputs: undefined },
    runId: undefined,
    mlflowVersion: undefined,
  };
}

/** A model folder holding a two-class classifier with PROBIT, which the engine leaves to ONNX Runtime. */
function probitClassifier(): MLmodel {
  const bytes = encodeEnsemble({
    op: "TreeEnsembleClassifier",
    features: 1,
    attributes: {
      nodes_treeids: { ints: [0, 0, 0] },
      nodes_nodeids: { ints: [0, 1, 2] },
      nodes_featureids: { ints: [0, 0, 0] },
      nodes_modes: { strings: ["BRANCH_LEQ", "LEAF", "LEAF"] },
      nodes_values: { floats: [0.5, 0, 0] },
      nodes_truenodeids: { ints: [1, 0, 0] },
      nodes_falsenodeids: { ints: [2, 0, 0] },
      class_treeids: { ints: [0, 0] },
      class_nodeids: { ints: [1, 2] },
      class_ids: { ints: [1, 1] },
      class_weights: { floats: [0.2, 0.9] },
      classlabels_int64s: { ints: [0, 1] },
      post_transform: { string: "PROBIT" },
    },
    outputs: [
      { name: "label", elemType: 7 },
      { name: "probabilities", elemType: 1 },
    ],
  });
  return folderWith("probit", bytes);
}

/** A model folder holding one balanced tree of the given depth over 3 features: large enough to be cached. */
function deepTree(depth: number): MLmodel {
  const internal = 2 ** depth - 1;
  const n = 2 * internal + 1;
  const ids = Array.from({ length: n }, (_, i) => i);
  const leaves = ids.slice(internal);
  const bytes = encodeEnsemble({
    op: "TreeEnsembleRegressor",
    features: 3,
    attributes: {
      n_targets: { int: 1 },
      nodes_treeids: { ints: ids.map(() => 0) },
      nodes_nodeids: { ints: ids },
      nodes_featureids: { ints: ids.map((i) => (i < internal ? i % 3 : 0)) },
      nodes_modes: { strings: ids.map((i) => (i < internal ? "BRANCH_LEQ" : "LEAF")) },
      nodes_values: { floats: ids.map((i) => (i < internal ? ((i * 37) % 100) / 100 : 0)) },
      nodes_truenodeids: { ints: ids.map((i) => (i < internal ? 2 * i + 1 : 0)) },
      nodes_falsenodeids: { ints: ids.map((i) => (i < internal ? 2 * i + 2 : 0)) },
      target_treeids: { ints: leaves.map(() => 0) },
      target_nodeids: { ints: leaves },
      target_ids: { ints: leaves.map(() => 0) },
      target_weights: { floats: leaves.map((i) => i / 1000) },
    },
    outputs: [{ name: "variable", elemType: 1 }],
  });
  return folderWith(`deep-${depth}`, bytes);
}

describe("loader engine", () => {
  it("given the bikes forest, when engine is auto, then the tree engine runs it and predicts what ONNX Runtime predicts", async () => {
    const mlmodel = await bikes();
    const trees = await new CustomLoader().load("models:/bikes/2", mlmodel);
    const onnxruntime = await new CustomLoader({ engine: "onnxruntime" }).load("models:/bikes/2", mlmodel);
    try {
      expect(trees.engine).toMatch(
        /^trees \(20 trees, 10,122 nodes, \d+ threads, preprocessing in mlbatch\)$/,
      );
      expect(onnxruntime.engine).toBe("onnxruntime");
      const input = batch(trees, 5000);
      const [a, b] = [await trees.predict(input), await onnxruntime.predict(input)];
      const x = a.columns[0]!.data as Float32Array;
      const y = b.columns[0]!.data as Float32Array;
      expect(a.columns.map((c) => c.name)).toEqual(b.columns.map((c) => c.name));
      let worst = 0;
      for (let i = 0; i < x.length; i++)
        worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / Math.max(1, Math.abs(y[i]!)));
      expect(worst).toBeLessThan(1e-5);
    } finally {
      await trees.close();
      await onnxruntime.close();
    }
  });

  it("given a two-target forest whose output declares no shape, then both engines make the same two columns", async () => {
    const bytes = encodeEnsemble({
      op: "TreeEnsembleRegressor",
      features: 1,
      attributes: {
        n_targets: { int: 2 },
        nodes_treeids: { ints: [0, 0, 0] },
        nodes_nodeids: { ints: [0, 1, 2] },
        nodes_featureids: { ints: [0, 0, 0] },
        nodes_modes: { strings: ["BRANCH_LEQ", "LEAF", "LEAF"] },
        nodes_values: { floats: [0.5, 0, 0] },
        nodes_truenodeids: { ints: [1, 0, 0] },
        nodes_falsenodeids: { ints: [2, 0, 0] },
        target_treeids: { ints: [0, 0, 0, 0] },
        target_nodeids: { ints: [1, 1, 2, 2] },
        target_ids: { ints: [0, 1, 0, 1] },
        target_weights: { floats: [1, 2, 3, 4] },
      },
      outputs: [{ name: "variable", elemType: 1 }],
    });
    const mlmodel = folderWith("two-targets", bytes);
    const input: Batch = {
      length: 3,
      columns: [{ name: "X", type: "float32", data: Float32Array.from([0, 1, 0.5]) }],
    };
    for (const engine of ["trees", "onnxruntime"] as const) {
      const model = await new CustomLoader({ engine }).load("models:/two/1", mlmodel);
      try {
        expect(model.outputs.map((o) => o.name)).toEqual(["variable_0", "variable_1"]);
        const out = await model.predict(input);
        expect(out.columns.map((c) => Array.from(c.data as Float32Array))).toEqual([
          [1, 3, 1],
          [2, 4, 2],
        ]);
      } finally {
        await model.close();
      }
    }
  });

  it("given a large forest and the loader's forest cache, when it is loaded twice, then the second load reads the cached forest and both predict what ONNX Runtime predicts", async () => {
    const mlmodel = deepTree(17);
    const forestCache = { enable: true, dir: join(dir, "forests") };
    const names = ["a", "b", "c"];
    const input: Batch = {
      length: 2000,
      columns: names.map((name, j) => ({
        name,
        type: "float32",
        data: Float32Array.from({ length: 2000 }, (_, i) => ((i * 7919 + j * 31) % 997) / 997),
      })),
    };
    const lines: string[] = [];
    const log = { debug: (line: string) => lines.push(line) };
    const results: Float32Array[] = [];
    for (const options of [{ forestCache }, { forestCache }, { engine: "onnxruntime" as const }]) {
      const model = await new CustomLoader(options).load("models:/deep/1", mlmodel, names, log);
      try {
        results.push((await model.predict(input)).columns[0]!.data as Float32Array);
      } finally {
        await model.close();
      }
    }
    expect(
      lines
        .filter((line) => line.startsWith("[Trees] Forest cache:"))
        .map((line) => line.split(":")[1]!.trim().split(" ")[0]),
    ).toEqual(["no", "wrote", "read"]);
    expect(Array.from(results[1]!)).toEqual(Array.from(results[0]!));
    expect(Array.from(results[0]!)).toEqual(Array.from(results[2]!));
  });

  it("given engine_threads, then the engine runs that many worker threads", async () => {
    const model = await new CustomLoader({ engine: "trees", engineThreads: 3 }).load(
      "models:/bikes/2",
      await bikes(),
    );
    try {
      expect(model.engine).toContain("3 threads");
    } finally {
      await model.close();
    }
  });

  it("given a model the engine cannot run exactly, when auto, then ONNX Runtime runs it and the engine says why", async () => {
    const model = await new CustomLoader().load("models:/probit/1", probitClassifier());
    try {
      expect(model.engine).toBe(
        "onnxruntime (tree engine not used: a two-class classifier with post_transform PROBIT writes one score per row)",
      );
    } finally {
      await model.close();
    }
  });

  it("given a model the engine cannot run exactly, when engine is trees, then E_MODEL_LOAD names the reason and the way out", async () => {
    const error = await new CustomLoader({ engine: "trees" })
      .load("models:/probit/1", probitClassifier())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(MlbatchError);
    expect(error).toMatchObject({ code: "E_MODEL_LOAD" });
    expect((error as Error).message).toBe(
      'model models:/probit/1: loader engine "trees" cannot run this model: a two-class classifier with post_transform PROBIT writes one score per row. Set the loader\'s engine to "auto" or "onnxruntime" to run it in ONNX Runtime.',
    );
  });

  it("given the example with engine trees and with engine onnxruntime, then the CLI logs the engine and both outputs agree", async () => {
    const example = join(BIKES, "confs", "inference.yaml");
    const outputs: string[] = [];
    for (const engine of ["trees", "onnxruntime"]) {
      const output = join(dir, `${engine}.parquet`);
      outputs.push(output);
      const { code, stderr } = cli([
        "run",
        example,
        "-e",
        `job: {outputs: {path: '${output}'}, loader: {engine: ${engine}}}`,
      ]);
      expect(code).toBe(0);
      expect(stderr).toContain(
        engine === "trees" ? "Model engine: trees (20 trees" : "Model engine: onnxruntime",
      );
    }
    const [row] = await query(
      `SELECT count(*)::INT AS n, max(abs(a.prediction - b.prediction))::DOUBLE AS worst FROM '${outputs[0]}' a POSITIONAL JOIN '${outputs[1]}' b`,
    );
    expect(row).toMatchObject({ n: 3476 });
    expect(Number(row!.worst)).toBeLessThan(0.01);
  });

  it("given the committed WebAssembly kernel, then it is what wasm/trees.ts compiles to", () => {
    const check = spawnSync(process.execPath, [join(ROOT, "wasm", "build.mjs"), "--check"], {
      encoding: "utf8",
    });
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
  });
});
