import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { readMLmodel } from "../../src/models/mlmodel.js";
import { loadNativeModel } from "../../src/models/native/index.js";
import { predictFile } from "./compare.js";

const FIXTURES = join(import.meta.dirname, "../fixtures/native/gbm/mlflow3");
const ROWS = join(FIXTURES, "rows.parquet");
const work = mkdtempSync(join(tmpdir(), "mlbatch-native-"));
let db: Database;
beforeAll(async () => {
  db = await Database.create();
});
afterAll(() => {
  db.close();
  rmSync(work, { recursive: true, force: true });
});

async function predict(dir: string, options = {}): Promise<Map<string, number[]>> {
  const model = await loadNativeModel("models:/m/1", await readMLmodel(dir, "models:/m/1"), options);
  try {
    return await predictFile(db, model, ROWS);
  } finally {
    await model.close();
  }
}

describe("NativeModel", () => {
  it("given a LightGBM binary Booster and probabilities, when predicted, then probability_1 is its prediction and probability_0 the rest", async () => {
    const out = await predict(join(FIXTURES, "lgb_bin"), { probabilities: true });
    expect([...out.keys()]).toEqual(["prediction", "probability_0", "probability_1"]);
    const p = out.get("prediction")!;
    expect(out.get("probability_1")).toEqual(p);
    expect(out.get("probability_0")).toEqual(p.map((v) => 1 - v));
  });

  it("given a signature whose columns are in another order than the booster's, when loaded, then the booster's feature names order the columns", async () => {
    const dir = join(work, "shuffled");
    cpSync(join(FIXTURES, "xgb_reg"), dir, { recursive: true });
    const file = join(dir, "MLmodel");
    const text = readFileSync(file, "utf8");
    const mlmodel = await readMLmodel(dir, "models:/m/1");
    const inputs = mlmodel.signature.inputs!;
    const reversed = [...inputs].reverse().map((c) => ({ type: c.type, name: c.name, required: true }));
    const line = `  inputs: '${JSON.stringify(reversed)}'\n`;
    writeFileSync(file, text.replace(/ {2}inputs: '[^']*'\n/, line));
    const model = await loadNativeModel("models:/m/1", await readMLmodel(dir, "models:/m/1"));
    try {
      expect(model.inputs.map((i) => i.name)).toEqual(inputs.map((c) => c.name));
      expect(model.engine).toMatch(
        /^trees \(xgboost 3\.2\.0 model\.ubj, 8 trees, \d+ nodes, \d+ threads?, compiled\)$/,
      );
      expect(await predictFile(db, model, ROWS)).toEqual(await predict(join(FIXTURES, "xgb_reg")));
    } finally {
      await model.close();
    }
  });

  it("given XGBoost 2's JSON with bare NaN, laid out on several lines, when loaded, then it predicts as the compact file", async () => {
    const original = join(FIXTURES, "../mlflow2/xgb_cat");
    const dir = join(work, "pretty");
    cpSync(original, dir, { recursive: true });
    const text = readFileSync(join(dir, "model.json"), "utf8");
    expect(text).toContain("NaN");
    writeFileSync(join(dir, "model.json"), `{\n  ${text.slice(1).replaceAll(",", ",\n    ")}`);
    expect(await predict(dir)).toEqual(await predict(original));
  });

  it("given feature_columns for a model with a column signature, when loaded, then E_CONFIG", async () => {
    const mlmodel = await readMLmodel(join(FIXTURES, "lgb_reg"), "models:/m/1");
    await expect(loadNativeModel("models:/m/1", mlmodel, { featureColumns: ["hr"] })).rejects.toMatchObject({
      code: "E_CONFIG",
    });
  });

  it("given a batch with a string column for a feature, when predicted, then E_PREDICT names the column", async () => {
    const model = await loadNativeModel("models:/m/1", await readMLmodel(join(FIXTURES, "lgb_reg"), "m"));
    try {
      const columns = model.inputs.map((spec, j) =>
        j === 0
          ? { name: spec.name, type: "string" as const, data: ["1", "2"] }
          : { name: spec.name, type: "float64" as const, data: new Float64Array(2) },
      );
      await expect(model.predict({ length: 2, columns })).rejects.toMatchObject({
        code: "E_PREDICT",
        message: expect.stringContaining(`column "${model.inputs[0]!.name}" is a string column`),
      });
      await expect(model.predict({ length: 2, columns: columns.slice(1) })).rejects.toMatchObject({
        code: "E_PREDICT",
      });
    } finally {
      await model.close();
    }
  });
});
