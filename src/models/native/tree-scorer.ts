import type { Column } from "../../data/batch.js";
import { compile, type Ensemble, type MatrixColumn, TreePool } from "./ensemble.js";

/** At or below this magnitude LightGBM reads a value as zero: its `kZeroThreshold`, the float `1e-35f`. */
const ZERO = Math.fround(1e-35);

/**
 * A native ensemble running in the tree engine: builds the row-major float32 matrix of a batch (the
 * engine's columns from the model's features, each through its transform) and returns the margins.
 *
 * @example
 * ```ts
 * const scorer = await TreeScorer.create(ensemble, 2);
 * const margins = await scorer.margins([hr, temp], batch.length);
 * await scorer.close();
 * ```
 */
export class TreeScorer {
  private constructor(
    private readonly pool: TreePool,
    private readonly columns: readonly MatrixColumn[],
    /** Trees and nodes, for logs. */
    readonly description: string,
  ) {}

  /** Lays the ensemble out and starts `threads` engine workers. */
  static async create(ensemble: Ensemble, threads: number): Promise<TreeScorer> {
    const forest = compile(ensemble);
    const pool = await TreePool.create(forest, threads);
    const description =
      `${ensemble.trees.toLocaleString("en-US")} trees, ${forest.nodeCount.toLocaleString("en-US")} nodes, ` +
      `${pool.threads} thread${pool.threads === 1 ? "" : "s"}${pool.compiledTrees ? ", compiled" : ""}`;
    return new TreeScorer(pool, ensemble.columns, description);
  }

  /**
   * The margins of `n` rows, row-major `[n, groups]` float32.
   *
   * @param features - the model's features, in its order (the batch's numeric columns that feed them)
   */
  async margins(features: readonly Column[], n: number): Promise<Float32Array> {
    const width = Math.max(1, this.columns.length);
    const x = new Float32Array(n * width);
    // In blocks of rows, so the block of the matrix being written stays in cache across its columns.
    for (let b = 0; b < n; b += FILL_ROWS) {
      const e = Math.min(n, b + FILL_ROWS);
      this.columns.forEach((c, k) => {
        const column = features[c.feature];
        if (column !== undefined) fill(x, k, width, b, e, column, c);
      });
    }
    const { z } = await this.pool.run(x, n, width);
    return z;
  }

  /** Stops the engine's workers. */
  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Rows of the matrix filled at a time (a block of 14 float32 columns: 112 KB). */
const FILL_ROWS = 2048;

/** The transforms by code, for the fill loops (a number compares faster than a string). */
const TRANSFORM = { none: 0, trunc: 1, flush: 2, "zero-nan": 3 } as const;

/**
 * Writes column `k` of the matrix from a batch column, through the column's transform. One loop per
 * array type, each seeing one element kind: a loop over any typed array reads each element through a
 * generic path, several times slower (measured: 0.43 s for 1M rows of 14 columns, the job's main thread
 * busier than the engine's two workers).
 */
function fill(
  x: Float32Array,
  k: number,
  width: number,
  begin: number,
  end: number,
  column: Column,
  c: MatrixColumn,
): void {
  // The model checked that every feature column is numeric.
  const data = column.data as ArrayLike<number> | BigInt64Array;
  const t = TRANSFORM[c.transform];
  if (data instanceof BigInt64Array) {
    // int64 as its two int32 halves (little-endian): hi * 2^32 + lo rounds once, as Number(bigint) does.
    const w = new Int32Array(data.buffer, data.byteOffset, 2 * end);
    for (let i = begin, o = begin * width + k; i < end; i++, o += width) {
      x[o] = apply(t, w[2 * i + 1]! * 4294967296 + (w[2 * i]! >>> 0));
    }
  } else if (data instanceof Float64Array) {
    for (let i = begin, o = begin * width + k; i < end; i++, o += width) x[o] = apply(t, data[i]!);
  } else if (data instanceof Float32Array) {
    for (let i = begin, o = begin * width + k; i < end; i++, o += width) x[o] = apply(t, data[i]!);
  } else if (data instanceof Int32Array) {
    for (let i = begin, o = begin * width + k; i < end; i++, o += width) x[o] = apply(t, data[i]!);
  } else {
    for (let i = begin, o = begin * width + k; i < end; i++, o += width) {
      x[o] = apply(t, (data as ArrayLike<number>)[i]!);
    }
  }
}

/** A value through a column's transform (see {@link TRANSFORM}). */
function apply(t: number, v: number): number {
  if (t === 0) return v;
  if (t === 1) return Math.trunc(v);
  if (t === 2) return v >= -ZERO && v <= ZERO ? 0 : v;
  return v >= -ZERO && v <= ZERO ? Number.NaN : v;
}
