/** Trees compiled to WebAssembly give the bits of the node-walking kernel, NaN and every mode included. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OnnxModelFile } from "../../../src/models/onnx/graph.js";
import { compilable } from "../../../src/models/trees/compiled.js";
import { compileForest, type Forest } from "../../../src/models/trees/forest/index.js";
import { INLINE_VISITS, TreePool } from "../../../src/models/trees/pool.js";
import { ensemble } from "./random-ensemble.js";

const DIR = join(import.meta.dirname, "../../fixtures/trees");
const raw = readFileSync(join(DIR, "inputs.bin"));
const X = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));

function forestOf(bytes: Uint8Array): Forest {
  return compileForest(OnnxModelFile.parse(bytes).nodes.find((n) => n.opType.startsWith("TreeEnsemble"))!);
}

/** `n` rows of the fixture inputs (8 features), repeated, one value in 7 replaced by NaN when `nan`. */
function rows(n: number, nan: boolean): Float32Array {
  return Float32Array.from({ length: n * 8 }, (_, i) => (nan && i % 7 === 3 ? Number.NaN : X[i % X.length]!));
}

function bits(result: { z: Float32Array; label: Int32Array }) {
  return { z: Array.from(new Uint32Array(result.z.buffer)), label: Array.from(result.label) };
}

/**
 * Scores x with the compiled trees (on this thread, and by workers, which compile them as they start) and
 * with the node walk, on `threads` shares; the three results.
 */
async function both(forest: Forest, threads: number, x: Float32Array, n: number, width: number) {
  const compiled = TreePool.lazy(forest, threads, { compile: true });
  const workers = await TreePool.create(forest, threads);
  const walked = TreePool.lazy(forest, threads, { compile: false });
  try {
    expect(compiled.compiledTrees).toBe(true);
    expect(workers.compiledTrees).toBe(true);
    expect(walked.compiledTrees).toBe(false);
    return {
      compiled: bits(await compiled.run(x, n, width)),
      workers: bits(await workers.run(x, n, width)),
      walked: bits(await walked.run(x, n, width)),
    };
  } finally {
    await Promise.all([compiled.close(), workers.close(), walked.close()]);
  }
}

describe("compiled trees", () => {
  it.each([
    "rf_reg.onnx",
    "et_reg.onnx",
    "gb_reg.onnx",
    "hgb_reg.onnx",
    "lgbm_reg.onnx",
    "xgb_reg.onnx",
    "rf_clf_bin.onnx",
    "gb_clf_bin.onnx",
    "gb_clf_multi.onnx",
    "hgb_clf_bin.onnx",
    "hgb_clf_multi.onnx",
    "lgbm_clf_bin.onnx",
    "lgbm_clf_multi.onnx",
    "xgb_clf_bin.onnx",
    "xgb_clf_multi.onnx",
  ])(
    "given %s, when 1 to 1,000 rows with and without NaN are scored on 1 to 3 shares, then the bits are the node walk's",
    async (name) => {
      const forest = forestOf(readFileSync(join(DIR, name)));
      expect(compilable(forest.kernel)).toBe(true);
      for (const threads of [1, 2, 3]) {
        for (const n of [1, 50, 51, 513, 1000]) {
          for (const nan of [false, true]) {
            const { compiled, workers, walked } = await both(forest, threads, rows(n, nan), n, 8);
            expect(compiled, `${threads} threads, ${n} rows, NaN ${nan}`).toEqual(walked);
            expect(workers, `${threads} workers, ${n} rows, NaN ${nan}`).toEqual(walked);
          }
        }
      }
    },
  );

  it("given random regressors and classifiers with NaN, infinities and every comparison mode, then the bits are the node walk's", async () => {
    let seen = 0;
    for (let seed = 1; seed <= 4000 && seen < 80; seed++) {
      const classifier = seed % 2 === 0;
      const { bytes, x, rows: n, features, threads } = ensemble({ seed, classifier, canonical: false });
      let forest: Forest;
      try {
        forest = forestOf(bytes);
      } catch {
        continue; // an ensemble left to ONNX Runtime (see random.test.ts)
      }
      if (!compilable(forest.kernel)) continue;
      seen++;
      const { compiled, workers, walked } = await both(forest, threads, x, n, features);
      expect(compiled, `seed ${seed}`).toEqual(walked);
      expect(workers, `seed ${seed}, workers`).toEqual(walked);
    }
    expect(seen).toBe(80);
  });

  it("given a lazy pool, when it scores only small batches here, then it never compiles; when a batch starts its workers, then they run compiled trees", async () => {
    const forest = forestOf(readFileSync(join(DIR, "xgb_reg.onnx")));
    const pool = TreePool.lazy(forest, 2);
    const walked = TreePool.lazy(forest, 2, { compile: false });
    try {
      const small = rows(10, true);
      expect(bits(await pool.run(small, 10, 8))).toEqual(bits(await walked.run(small, 10, 8)));
      expect(pool.compiledTrees).toBe(false);
      const visits = forest.kernel.depths.reduce((a, b) => a + b, 0);
      const n = Math.ceil(INLINE_VISITS / visits) + 1;
      const large = rows(n, true);
      // The workers start in the background: batches are scored here until they are ready.
      const deadline = Date.now() + 20_000;
      while (pool.running === 0 && Date.now() < deadline) {
        await pool.run(large, n, 8);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(pool.running).toBeGreaterThan(0);
      expect(pool.compiledTrees).toBe(true);
      expect(bits(await pool.run(large, n, 8))).toEqual(bits(await walked.run(large, n, 8)));
    } finally {
      await Promise.all([pool.close(), walked.close()]);
    }
  });

  it("given leaves weighing several targets (a random forest's classes, two regression targets), then the forest is not compiled", () => {
    for (const name of ["rf_clf_multi.onnx", "et_clf_multi.onnx", "rf_reg_multi.onnx"]) {
      expect(compilable(forestOf(readFileSync(join(DIR, name))).kernel), name).toBe(false);
    }
  });
});
