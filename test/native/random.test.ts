import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Batch } from "../../src/data/batch.js";
import type { MLmodel } from "../../src/models/mlmodel.js";
import { loadNativeModel } from "../../src/models/native/index.js";
import { parseSignature } from "../../src/models/signature.js";
import { worst } from "./compare.js";

/**
 * Property test: random small XGBoost and LightGBM models (every objective kind, gbtree and dart, rf,
 * categorical features, missing and zero handling), trained at test time by the real libraries, on rows
 * that sit on their thresholds, next to them, at 0 and NaN, compared with each library's Booster.predict.
 * The Python is the tests' (MLBATCH_TEST_PYTHON, test/requirements.txt has the libraries); if it lacks
 * them, a venv .venv-gbm/ is made from test/requirements.txt.
 */
const CASES = 16;
const SEED = Number(process.env.MLBATCH_GBM_SEED ?? 14);

interface Case {
  readonly library: "xgboost" | "lightgbm";
  readonly kind: string;
  readonly objective: string;
  readonly file: string;
  readonly features: string[];
  readonly rows: (number | string | null)[][];
  readonly shape: number[];
  readonly prediction: number[];
}

const run = promisify(execFile);

async function canImport(python: string): Promise<boolean> {
  return run(python, ["-c", "import xgboost, lightgbm, pandas"]).then(
    () => true,
    () => false,
  );
}

/** Asynchronously: a pip install takes minutes, and a blocked worker loses its test runner. */
async function pythonWithLibraries(): Promise<string> {
  const python = inject("python");
  if (await canImport(python)) return python;
  const venv = resolve(".venv-gbm");
  const own = join(venv, "bin", "python");
  if (!existsSync(own)) await run("python3", ["-m", "venv", venv]);
  if (!(await canImport(own))) {
    await run(own, ["-m", "pip", "install", "--quiet", "-r", "test/requirements.txt"], {
      maxBuffer: 1 << 26,
    });
  }
  return own;
}

const out = mkdtempSync(join(tmpdir(), "mlbatch-gbm-random-"));
let cases: Case[] = [];
beforeAll(async () => {
  const python = await pythonWithLibraries();
  await run(python, [join(import.meta.dirname, "random_models.py"), out, String(SEED), String(CASES)], {
    maxBuffer: 1 << 26,
  });
  cases = (JSON.parse(readFileSync(join(out, "cases.json"), "utf8")) as { cases: Case[] }).cases;
}, 600_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

function mlmodelOf(c: Case): MLmodel {
  const format = c.file.split(".").pop()!;
  return {
    directory: out,
    flavors: [c.library],
    onnx: undefined,
    xgboost:
      c.library === "xgboost"
        ? { data: c.file, modelClass: "xgboost.core.Booster", modelFormat: format, xgbVersion: undefined }
        : undefined,
    lightgbm:
      c.library === "lightgbm"
        ? {
            data: c.file,
            modelClass: "lightgbm.basic.Booster",
            serializationFormat: undefined,
            lgbVersion: undefined,
          }
        : undefined,
    signature: parseSignature(undefined, c.file),
    runId: undefined,
    mlflowVersion: undefined,
  };
}

function batchOf(c: Case): Batch {
  return {
    length: c.rows.length,
    columns: c.features.map((name, j) => ({
      name,
      type: "float64" as const,
      data: Float64Array.from(c.rows, (row) => {
        const v = row[j];
        return v === null || v === undefined
          ? Number.NaN
          : typeof v === "string"
            ? Number(v.replace("inf", "Infinity"))
            : v;
      }),
    })),
  };
}

describe(`random XGBoost and LightGBM models (seed ${SEED})`, () => {
  it(`given ${CASES} random models, when predicted natively, then each equals its library's Booster.predict`, async () => {
    expect(cases.length).toBe(CASES);
    for (const [i, c] of cases.entries()) {
      const model = await loadNativeModel(c.file, mlmodelOf(c), {
        engineThreads: 1,
        featureColumns: c.features,
      });
      try {
        const result = await model.predict(batchOf(c));
        const k = c.shape[1] ?? 1;
        for (let j = 0; j < k; j++) {
          const expected = c.prediction.filter((_, r) => r % k === j);
          const column = result.columns[k === 1 ? 0 : j]!;
          const actual = Array.from(column.data as Float32Array | Float64Array);
          const { error, at } = worst(actual, c.library === "xgboost" ? expected.map(Math.fround) : expected);
          // XGBoost: its bits with one thread, but for an ulp where glibc's expf (sigmoid, softmax) rounds
          // otherwise than Math.exp rounded to float32 (2^-22 relative); LightGBM: within the float32
          // rounding of its double sums.
          const tolerance = c.library === "xgboost" ? 2 ** -22 : 2e-6;
          expect(
            error,
            `case ${i} (${c.library} ${c.objective}, ${c.file}), output ${j}, row ${at}: ${JSON.stringify(c.rows[at])}`,
          ).toBeLessThanOrEqual(tolerance);
        }
      } finally {
        await model.close();
      }
    }
  });
});
