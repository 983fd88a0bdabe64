/** Batches scored on the calling thread and by the worker threads give the same bits. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OnnxModelFile } from "../../../src/models/onnx/graph.js";
import { compileForest, type Forest } from "../../../src/models/trees/forest/index.js";
import { INLINE_VISITS, TreePool } from "../../../src/models/trees/pool.js";
import { ensemble } from "./random-ensemble.js";

const DIR = join(import.meta.dirname, "../../fixtures/trees");
const raw = readFileSync(join(DIR, "inputs.bin"));
const X = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));

function forestOf(bytes: Uint8Array): Forest {
  return compileForest(OnnxModelFile.parse(bytes).nodes.find((n) => n.opType.startsWith("TreeEnsemble"))!);
}

/** `n` rows of the fixture inputs, repeated. */
function rows(n: number): Float32Array {
  return Float32Array.from({ length: n * 8 }, (_, i) => X[i % X.length]!);
}

function bits(result: { z: Float32Array; label: Int32Array }) {
  return { z: Array.from(new Uint32Array(result.z.buffer)), label: Array.from(result.label) };
}

describe("tree pool", () => {
  it.each(["rf_reg.onnx", "gb_clf_multi.onnx", "lgbm_clf_bin.onnx", "xgb_reg.onnx"])(
    "given %s, when batches of 1 to 1,000 rows are scored here and by 1 to 3 workers, then the bits are the same",
    async (name) => {
      const forest = forestOf(readFileSync(join(DIR, name)));
      for (const threads of [1, 2, 3]) {
        const workers = await TreePool.create(forest, threads);
        const here = TreePool.lazy(forest, threads);
        try {
          for (const n of [1, 50, 51, 333, 1000]) {
            const x = X.subarray(0, n * 8);
            expect(bits(await here.run(x, n, 8)), `${threads} threads, ${n} rows`).toEqual(
              bits(await workers.run(x, n, 8)),
            );
          }
        } finally {
          await Promise.all([workers.close(), here.close()]);
        }
      }
    },
  );

  it("given random ensembles with NaN and every mode, then scoring here and by workers gives the same bits", async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const { bytes, x, rows, features, threads } = ensemble({
        seed,
        classifier: seed % 2 === 0,
        canonical: false,
      });
      let forest: Forest;
      try {
        forest = forestOf(bytes);
      } catch {
        continue; // an ensemble left to ONNX Runtime (see random.test.ts)
      }
      const workers = await TreePool.create(forest, threads);
      const here = TreePool.lazy(forest, threads);
      try {
        expect(bits(await here.run(x, rows, features)), `seed ${seed}`).toEqual(
          bits(await workers.run(x, rows, features)),
        );
      } finally {
        await Promise.all([workers.close(), here.close()]);
      }
    }
  });

  it("given a lazy pool and batches worth the workers, then they start, later batches go to them, and the bits do not change", async () => {
    const forest = forestOf(readFileSync(join(DIR, "rf_reg.onnx")));
    const visits = forest.kernel.depths.reduce((a, b) => a + b, 0);
    const n = Math.ceil(INLINE_VISITS / visits) + 1;
    const pool = TreePool.lazy(forest, 2);
    const reference = TreePool.lazy(forest, 2);
    try {
      const x = rows(n);
      // The first batch starts the workers and is scored here; once they are up, batches go to them.
      expect(pool.running).toBe(0);
      const first = bits(await pool.run(x, n, 8));
      for (let waited = 0; pool.running === 0 && waited < 10_000; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(pool.running).toBe(2);
      const later = bits(await pool.run(x, n, 8));
      expect(later).toEqual(first);
      // The reference never starts workers: batches under the bound stay here.
      expect(bits(await reference.run(x.subarray(0, 8), 1, 8))).toEqual(
        bits(await pool.run(x.subarray(0, 8), 1, 8)),
      );
    } finally {
      await Promise.all([pool.close(), reference.close()]);
    }
  });

  it("given a lazy pool closed while its workers start, then it closes cleanly", async () => {
    const forest = forestOf(readFileSync(join(DIR, "rf_reg.onnx")));
    const pool = TreePool.lazy(forest, 2);
    const visits = forest.kernel.depths.reduce((a, b) => a + b, 0);
    const n = Math.ceil(INLINE_VISITS / visits) + 1;
    await pool.run(rows(n), n, 8);
    await pool.close();
  });
});
