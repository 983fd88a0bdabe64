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
      `${pool.threads} thread${pool.threads === 1 ? "" : "s"}`;
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
    this.columns.forEach((c, k) => {
      const column = features[c.feature];
      if (column === undefined) return;
      fill(x, k, width, n, column, c);
    });
    const { z } = await this.pool.run(x, n, width);
    return z;
  }

  /** Stops the engine's workers. */
  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Writes column `k` of the matrix from a batch column, through the column's transform. */
function fill(x: Float32Array, k: number, width: number, n: number, column: Column, c: MatrixColumn): void {
  // The model checked that every feature column is numeric.
  const data = column.data as ArrayLike<number> | BigInt64Array;
  const big = data instanceof BigInt64Array;
  for (let i = 0; i < n; i++) {
    let v = big ? Number((data as BigInt64Array)[i]!) : (data as ArrayLike<number>)[i]!;
    if (c.transform === "trunc") v = Math.trunc(v);
    else if (c.transform === "flush") v = v >= -ZERO && v <= ZERO ? 0 : v;
    else if (c.transform === "zero-nan") v = v >= -ZERO && v <= ZERO ? Number.NaN : v;
    x[i * width + k] = v;
  }
}
