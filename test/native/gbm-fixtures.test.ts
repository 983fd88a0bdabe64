import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "../../src/data/database.js";
import { readMLmodel } from "../../src/models/mlmodel.js";
import { loadNativeModel, nativeFlavor } from "../../src/models/native/index.js";
import { predictFile, worst } from "./compare.js";

const ROOT = join(import.meta.dirname, "../fixtures/native/gbm");

interface Expected {
  readonly via: "pyfunc" | "library";
  readonly dtype: string;
  readonly shape: number[];
  readonly prediction: number[];
  readonly proba?: number[][];
}

/**
 * Tolerances, relative to max(1, |expected|). XGBoost adds float32 leaves in tree order from its base
 * margin, and so does the engine with one thread: with one thread the engine gives XGBoost's bits (its
 * sigmoid, softmax and exp are reproduced in float32, dart's inplace rounding too), but for an ulp where
 * glibc's `expf` rounds otherwise than `Math.exp` rounded to float32 (2^-22 relative). With two threads the
 * engine adds two shares of trees and then their sums, as ONNX Runtime does: a few float32 roundings of
 * the margin (2^-24 relative each), amplified by an exp link by |margin| (the Poisson models reach
 * margins near 88): 2e-5. LightGBM adds double leaves where the engine adds float32 ones: each leaf and
 * each of the few dozen partial sums is rounded to float32, a few 2^-24 of the sum: 2e-6 (the fixtures
 * measure at most 7e-7), more for the exp link's amplification (4e-6).
 */
function tolerance(name: string, threads: number): number {
  if (name.startsWith("xgb")) return threads === 1 ? 2 ** -22 : 2e-5;
  return name.includes("poisson") ? 4e-6 : 2e-6;
}

let db: Database;
beforeAll(async () => {
  db = await Database.create();
});
afterAll(() => db.close());

for (const version of ["mlflow2", "mlflow3"]) {
  const dir = join(ROOT, version);
  const fixture = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as {
    versions: Record<string, string>;
    models: Record<string, Expected>;
  };
  const rows = join(dir, "rows.parquet");
  describe(`native XGBoost and LightGBM models saved by MLflow ${fixture.versions.mlflow} (xgboost ${fixture.versions.xgboost}, lightgbm ${fixture.versions.lightgbm})`, () => {
    it.each(Object.entries(fixture.models))(
      "given %s, when predicted natively, then it returns what the library returns",
      async (name, expected) => {
        const mlmodel = await readMLmodel(join(dir, name), `models:/${name}/1`);
        const flavor = nativeFlavor(mlmodel);
        expect(flavor).toBe(name.startsWith("xgb") ? "xgboost" : "lightgbm");
        const proba = expected.proba !== undefined;
        // pyfunc's float32 values are stored by their shortest text: read back as float32.
        const f32 = (v: number) => (name.startsWith("xgb") ? Math.fround(v) : v);
        for (const threads of [1, 2]) {
          const model = await loadNativeModel(mlmodel.directory, mlmodel, {
            probabilities: proba,
            engineThreads: threads,
          });
          const tol = tolerance(name, threads);
          try {
            const out = await predictFile(db, model, rows);
            const k = expected.shape[1];
            if (k === undefined) {
              // One column, `prediction`, of pyfunc's dtype.
              expect(model.outputs[0]).toEqual({ name: "prediction", type: expected.dtype });
              const actual = out.get("prediction")!;
              if (expected.dtype.startsWith("int")) expect(actual).toEqual(expected.prediction);
              else expect(worst(actual, expected.prediction.map(f32)).error).toBeLessThanOrEqual(tol);
            } else {
              // A Booster's [n, classes] probabilities, one column per class.
              for (let c = 0; c < k; c++) {
                const column = expected.prediction.filter((_, i) => i % k === c).map(f32);
                expect(worst(out.get(`probability_${c}`)!, column).error).toBeLessThanOrEqual(tol);
              }
            }
            for (let c = 0; proba && c < expected.proba![0]!.length; c++) {
              const column = expected.proba!.map((row) => f32(row[c]!));
              expect(worst(out.get(`probability_${c}`)!, column).error).toBeLessThanOrEqual(tol);
            }
          } finally {
            await model.close();
          }
        }
      },
    );
  });
}
