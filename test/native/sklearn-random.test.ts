import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { applyAll, type Compiled, compileModel } from "../../src/models/native/sklearn/compile.js";
import type { Frame } from "../../src/models/native/sklearn/frame.js";
import { decodeSkops } from "../../src/models/native/skops/index.js";
import { sklearnPython } from "./sklearn-python.js";

/**
 * Random small trees, forests and boosted ensembles, trained by scikit-learn at test time
 * (sklearn_random.py: inputs on grids, on the splits' midpoints, off the grid, NaNs, categorical features
 * for HistGradientBoosting; and random pipelines of imputers, encoders and scalers), against
 * scikit-learn's predict and predict_proba. The seed is random, or
 * MLBATCH_SKLEARN_SEED; a failure names it.
 */
const SEED = Number(process.env.MLBATCH_SKLEARN_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** 24 models in CI (about 20 s); more with MLBATCH_SKLEARN_COUNT. */
const COUNT = Number(process.env.MLBATCH_SKLEARN_COUNT ?? 24);
/**
 * float32 leaf values summed in float32 (at most 15 trees here), against scikit-learn's float64: the
 * error is relative to the partial sums, which for boosting start from a baseline and large early trees
 * (a value of 3 may be 970 - 827 - 115 ...): regression values are compared relative to the largest
 * |value| of the case; probabilities (in [0, 1]) absolutely.
 */
const RELATIVE = 2e-5;

interface RandomCase {
  readonly estimator: string;
  /** A matrix's rows, or a DataFrame's columns (a pipeline's). */
  readonly rows?: readonly (readonly (number | null)[])[];
  readonly columns?: Readonly<Record<string, readonly (number | string | null)[]>>;
  readonly predict: readonly (number | string)[];
  readonly proba?: readonly (readonly number[])[];
}

let dir: string;
let cases: RandomCase[];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "mlbatch-sklearn-"));
  const python = sklearnPython(inject("python"));
  execFileSync(python, [join(import.meta.dirname, "sklearn_random.py"), dir, String(SEED), String(COUNT)]);
  cases = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) as RandomCase[];
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The case's inputs as the compiled model's root frame (a DataFrame's columns in its fitted order). */
function frame(c: RandomCase, compiled: Compiled): Frame {
  if (c.columns !== undefined) {
    const names = compiled.featureNames ?? Object.keys(c.columns);
    const columns = names.map((name) => {
      const cells = c.columns![name]!;
      if (cells.some((v) => typeof v === "string")) return cells.map((v) => (v === null ? "" : String(v)));
      return Float64Array.from(cells, (v) => (v === null ? Number.NaN : Number(v)));
    });
    return { length: c.predict.length, columns };
  }
  const rows = c.rows ?? [];
  const width = rows[0]?.length ?? 0;
  const columns = Array.from({ length: width }, (_, j) =>
    Float64Array.from(rows, (r) => (r[j] === null ? Number.NaN : r[j]!)),
  );
  return { length: rows.length, columns };
}

describe(`random scikit-learn models against scikit-learn (seed ${SEED})`, () => {
  it(`${COUNT} models predict as scikit-learn does`, async () => {
    for (const [i, c] of cases.entries()) {
      let compiled: Compiled | undefined;
      try {
        // Given a random model scikit-learn trained and dumped with skops
        compiled = await compileModel(decodeSkops(readFileSync(join(dir, `case${i}.skops`))).root, 2);
        // When mlbatch predicts scikit-learn's rows
        const out = await compiled.estimator.predict(applyAll(compiled.transforms, frame(c, compiled)));
        // Then values, labels and probabilities are scikit-learn's
        const where = `case ${i} (${c.estimator}, seed ${SEED})`;
        if (out.kind === "values") {
          const scale = Math.max(1, ...c.predict.map((v) => Math.abs(v as number)));
          out.values.forEach((v, r) => {
            const want = c.predict[r] as number;
            if (Math.abs(v - want) > RELATIVE * scale) expect.fail(`${where} row ${r}: ${v} vs ${want}`);
          });
          continue;
        }
        const classes = compiled.estimator.classes!.values;
        const k = classes.length;
        for (const [r, row] of c.proba!.entries()) {
          for (const [j, want] of row.entries()) {
            const got: number = out.proba[r * k + j]!;
            if (Math.abs(got - want) > RELATIVE)
              expect.fail(`${where} row ${r} class ${j}: ${got} vs ${want}`);
          }
        }
        // A label may differ only where scikit-learn's own probabilities tie within the tolerance.
        out.label.forEach((j, r) => {
          if (classes[j] === c.predict[r]) return;
          const p = c.proba![r]!;
          const want = classes.indexOf(c.predict[r]!);
          if (Math.abs(p[j]! - p[want]!) > RELATIVE)
            expect.fail(`${where} row ${r}: label ${classes[j]} vs ${c.predict[r]}`);
        });
      } finally {
        await compiled?.estimator.close();
      }
    }
  }, 60_000);
});
