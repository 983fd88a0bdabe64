/**
 * Missing values as pandas writes them (NaN in a float column becomes a Parquet null) reach models
 * trained to take them (HistGradientBoosting, XGBoost, LightGBM, a pipeline with per-column inputs) as
 * NaN: with both engines, the predictions over the Parquet file with nulls are ONNX Runtime's over the
 * same rows fed NaN directly.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { ParquetReader } from "../../src/data/readers/parquet-reader.js";
import { validateInputs } from "../../src/data/schema.js";
import type { Source } from "../../src/data/source.js";
import { readMLmodel } from "../../src/models/mlmodel.js";
import type { FeatureSpec, Model } from "../../src/models/model.js";
import { OnnxModel } from "../../src/models/onnx-model.js";
import { FEED_TYPE } from "../../src/models/signature.js";
import { python, ROOT, removeDir, tempDir } from "../helpers.js";

const TREES = join(ROOT, "test", "fixtures", "trees");
const ROWS = 1000;
const COLUMNS = Array.from({ length: 8 }, (_, j) => `f${j}`);
const raw = readFileSync(join(TREES, "inputs.bin"));
/** 1000 x 8 float32, row-major; rows 860-939 and 980-999 hold NaN (test/fixtures/trees/README.md). */
const X = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));

let dir: string;
let db: Database;
let source: Source;
beforeAll(async () => {
  dir = tempDir();
  db = await Database.create();
  // As a pandas user writes it: a float64 frame with NaN, which pyarrow stores as nulls.
  const parquet = join(dir, "inputs.parquet");
  python(
    inject("python"),
    `import sys, numpy as np, pandas as pd
x = np.fromfile(sys.argv[1], dtype="<f4").reshape(-1, 8).astype("float64")
pd.DataFrame(x, columns=[f"f{j}" for j in range(8)]).to_parquet(sys.argv[2])`,
    [join(TREES, "inputs.bin"), parquet],
  );
  source = await new ParquetReader({ path: parquet }).open(db);
});
afterAll(() => {
  db.close();
  removeDir(dir);
});

/** An MLflow model folder around a fixture graph, its signature eight double columns, as pandas frames give. */
async function load(name: string, engine: "trees" | "onnxruntime"): Promise<Model> {
  const folder = join(dir, `${name}-${engine}`);
  mkdirSync(folder, { recursive: true });
  copyFileSync(join(TREES, `${name}.onnx`), join(folder, "model.onnx"));
  const inputs = COLUMNS.map((c) => ({ type: "double", name: c, required: true }));
  writeFileSync(
    join(folder, "MLmodel"),
    `flavors:\n  onnx:\n    data: model.onnx\nsignature:\n  inputs: '${JSON.stringify(inputs)}'\n`,
  );
  const uri = `models:/${name}/1`;
  return OnnxModel.create(uri, await readMLmodel(folder, uri), "signature", { engine });
}

/** Every output column of the model over the whole source, streamed as a job streams it. */
async function predicted(model: Model): Promise<Record<string, number[]>> {
  const columns: Record<string, number[]> = {};
  for await (const batch of source.batches(model.inputs, 300)) {
    const outputs = await model.predict(batch);
    for (const c of outputs.columns) {
      const values = columns[c.name] ?? [];
      values.push(...Array.from(c.data as ArrayLike<number | bigint>, Number));
      columns[c.name] = values;
    }
  }
  return columns;
}

/** ONNX Runtime's outputs for the rows fed NaN directly, as the model's output columns. */
async function reference(name: string, model: Model): Promise<Record<string, number[]>> {
  const session = await ort.InferenceSession.create(join(TREES, `${name}.onnx`));
  try {
    const feeds: Record<string, ort.Tensor> =
      session.inputNames.length === 1
        ? { [session.inputNames[0]!]: new ort.Tensor("float32", X.slice(), [ROWS, 8]) }
        : Object.fromEntries(
            session.inputNames.map((input, j) => [
              input,
              new ort.Tensor(
                "float32",
                Float32Array.from({ length: ROWS }, (_, r) => X[r * 8 + j]!),
                [ROWS, 1],
              ),
            ]),
          );
    const results = await session.run(feeds);
    const columns: Record<string, number[]> = {};
    for (const output of session.outputNames) {
      const tensor = results[output]!;
      const width = tensor.dims.length === 2 ? tensor.dims[1]! : 1;
      const values = Array.from(tensor.data as ArrayLike<number | bigint>, Number);
      for (let k = 0; k < width; k++) {
        const name = width === 1 ? output : `${output}_${k}`;
        columns[name] = values.filter((_, i) => i % width === k);
      }
    }
    expect(Object.keys(columns).sort()).toEqual(model.outputs.map((o) => o.name).sort());
    return columns;
  } finally {
    await session.release();
  }
}

describe("missing values fed as NaN", () => {
  it("given a float64 frame with NaN written by pandas, then its Parquet file holds nulls and passes validation", async () => {
    const [counts] = await db.rows(
      `SELECT ${COLUMNS.map((c) => `count_if(${c} IS NULL)`).join(" + ")} AS nulls,
              ${COLUMNS.map((c) => `count_if(isnan(${c}))`).join(" + ")} AS nans FROM ${source.query()}`,
    );
    const nans = X.filter(Number.isNaN).length;
    expect(nans).toBeGreaterThan(100);
    expect(counts).toEqual({ nulls: BigInt(nans), nans: 0n });
    const features = COLUMNS.map(
      (c): FeatureSpec => ({ name: c, signatureType: "double", type: FEED_TYPE.double }),
    );
    const { report } = await validateInputs(db, source, features, "models:/m/1");
    expect(report.problems).toEqual([]);
  });

  it.each([
    "hgb_reg",
    "hgb_clf_bin",
    "hgb_clf_multi",
    "xgb_reg",
    "xgb_clf_multi",
    "lgbm_reg",
    "lgbm_clf_multi",
    "multi_input_reg",
  ])(
    "given %s, when the file with nulls is predicted by each engine, then it is ONNX Runtime fed NaN",
    async (name) => {
      for (const engine of ["trees", "onnxruntime"] as const) {
        const model = await load(name, engine);
        try {
          if (engine === "trees" && name !== "multi_input_reg") expect(model.engine).toMatch(/^trees/);
          const expected = await reference(name, model);
          const actual = await predicted(model);
          for (const [column, values] of Object.entries(expected)) {
            const got = actual[column] ?? [];
            expect(got, `${engine}: ${column}`).toHaveLength(ROWS);
            // Labels exactly; scores exactly from ONNX Runtime, within 1e-6 from the tree engine, whose
            // post-transforms' exp is the platform's (as test/models/trees/compare.ts allows).
            const tolerance = (e: number) => (engine === "trees" ? 1e-6 + 1e-6 * Math.abs(e) : 0);
            const bad = values.findIndex(
              (e, i) => !(Object.is(got[i], e) || Math.abs(got[i]! - e) <= tolerance(e)),
            );
            const found =
              bad === -1 ? "same" : `${column}[${bad}] = ${got[bad]}, ONNX Runtime ${values[bad]}`;
            expect(found, engine).toBe("same");
          }
        } finally {
          await model.close();
        }
      }
    },
  );
});
