/**
 * LightGBM's scikit-learn API estimators as MLflow 3 stores them (skops), in a scikit-learn Pipeline, and
 * LightGBM and XGBoost models trained on pandas category columns of text: predicted natively on text
 * columns, compared with each fitted model's own predict (test/fixtures/native/gbm-categories/make.py says
 * why not pyfunc's).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { Source } from "../../src/data/source.js";
import { quotedString } from "../../src/data/sql.js";
import { readMLmodel } from "../../src/models/mlmodel.js";
import type { Model } from "../../src/models/model.js";
import { loadNativeModel, nativeFlavor } from "../../src/models/native/index.js";

const DIR = join(import.meta.dirname, "../fixtures/native/gbm-categories");
const ROWS = join(DIR, "rows.parquet");
const fixture = JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8")) as {
  versions: Record<string, string>;
  models: Record<string, { prediction: (number | string)[]; proba?: number[][] }>;
};
/**
 * LightGBM adds double leaves, the engine float32 ones (see gbm-fixtures.test.ts): each partial sum is
 * rounded to float32, so the error scales with the sums, not with one row's value (the early-stopped
 * regressor's predictions run from -15 to 854, its leaves in the hundreds). Errors are measured against
 * the largest expected value, which bounds the sums' magnitude.
 */
const TOLERANCE = 2e-6;
/** XGBoost computes in float32: with two threads the engine rounds two partial sums more (gbm-fixtures). */
const tolerance = (name: string) => (name.startsWith("xgb") ? 2e-5 : TOLERANCE);

/** The largest difference, relative to `max(1, max |expected|)`. */
function scaledError(actual: readonly number[], expected: readonly number[]): number {
  expect(actual.length).toBe(expected.length);
  const scale = Math.max(1, ...expected.map(Math.abs));
  return Math.max(...expected.map((e, i) => Math.abs(actual[i]! - e) / scale));
}

let db: Database;
beforeAll(async () => {
  db = await Database.create();
});
afterAll(() => db.close());

/** Every row through the model, in batches of 64, each output column as plain values. */
async function predictRows(model: Model): Promise<Map<string, (number | string | null)[]>> {
  const source = await Source.open(db, { from: `read_parquet(${quotedString(ROWS)})`, label: ROWS });
  const out = new Map<string, (number | string | null)[]>(model.outputs.map((o) => [o.name, []]));
  for await (const batch of source.batches(model.inputs, 64)) {
    for (const column of (await model.predict(batch)).columns) {
      const values = out.get(column.name)!;
      for (const v of column.data as Iterable<number | bigint | string | null>)
        values.push(typeof v === "bigint" ? Number(v) : v);
    }
  }
  return out;
}

async function load(name: string, probabilities = false): Promise<Model> {
  const mlmodel = await readMLmodel(join(DIR, name), `models:/${name}/1`);
  expect(nativeFlavor(mlmodel)).toBe(
    name === "pipe_reg" ? "sklearn" : name.startsWith("xgb") ? "xgboost" : "lightgbm",
  );
  return loadNativeModel(`models:/${name}/1`, mlmodel, { probabilities, engineThreads: 2 });
}

describe(`LightGBM's scikit-learn API, and category columns of text (MLflow ${fixture.versions.mlflow}, lightgbm ${fixture.versions.lightgbm}, xgboost ${fixture.versions.xgboost})`, () => {
  it.each(["sk_reg", "booster_cat", "pipe_reg", "xgb_reg"])(
    "given the regressor %s and text columns (unknown and null values among them), when predicted, then its values are the library's",
    async (name) => {
      const model = await load(name);
      try {
        expect(model.inputs.find((i) => i.name === "season")?.type).toBe("string");
        const out = await predictRows(model);
        const expected = fixture.models[name]!.prediction as number[];
        expect(scaledError(out.get("prediction") as number[], expected)).toBeLessThanOrEqual(tolerance(name));
      } finally {
        await model.close();
      }
    },
  );

  it.each(["sk_bin", "sk_multi", "xgb_bin"])(
    "given the classifier %s, when predicted with probabilities, then its labels and predict_proba are the library's",
    async (name) => {
      const model = await load(name, true);
      try {
        const out = await predictRows(model);
        const expected = fixture.models[name]!;
        expect(out.get("prediction")).toEqual(expected.prediction);
        const classes = [...new Set(expected.prediction)].sort();
        const columns = model.outputs.filter((o) => o.name.startsWith("probability_")).map((o) => o.name);
        // XGBClassifier's labels are its class indexes: its columns are named by them too.
        expect(columns).toEqual(classes.map((c) => `probability_${c}`));
        columns.forEach((column, c) => {
          const p = expected.proba!.map((row) => row[c]!);
          expect(scaledError(out.get(column) as number[], p)).toBeLessThanOrEqual(tolerance(name));
        });
      } finally {
        await model.close();
      }
    },
  );

  it("given the early-stopped regressor, when loaded, then it runs the trees up to its best iteration only", async () => {
    const model = await load("sk_reg");
    try {
      // make.py trained 60 iterations and stopped early: the engine holds best_iteration_ trees.
      const trees = Number(/(\d+) trees/.exec(model.engine)?.[1]);
      expect(trees).toBeGreaterThan(0);
      expect(trees).toBeLessThan(60);
    } finally {
      await model.close();
    }
  });
});
