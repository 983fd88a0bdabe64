/** What flows through a compiled scikit-learn pipeline: columns of one batch, by position. */
import type { Classes } from "./attrs.js";

/** A column: numbers (float64, NaN for missing) or strings. */
export type Col = Float64Array | readonly string[];

/** The columns of one batch, in the order the next step reads them. */
export interface Frame {
  readonly length: number;
  readonly columns: readonly Col[];
}

/** A fitted transformer: a frame in, a frame out. */
export interface Transform {
  apply(frame: Frame): Frame;
}

/** A final estimator's prediction: regressor values, or class probabilities (row-major) and label indexes. */
export type Prediction =
  | { readonly kind: "values"; readonly values: Float64Array }
  | { readonly kind: "classes"; readonly proba: Float64Array; readonly label: Int32Array };

/** A fitted final estimator. */
export interface Estimator {
  /** The class labels of a classifier (its `classes_`), undefined for a regressor. */
  readonly classes: Classes | undefined;
  /** For logs: `RandomForestRegressor (5 trees, 310 nodes, tree engine 2 threads)`. */
  readonly description: string;
  predict(frame: Frame): Promise<Prediction>;
  close(): Promise<void>;
}

/** The numeric column `i` of a frame (a string column there is an error the caller names). */
export function numeric(frame: Frame, i: number, what: string): Float64Array {
  const column = frame.columns[i];
  if (column instanceof Float64Array) return column;
  throw new Error(`${what} reads column ${i} as numbers, but it holds strings`);
}

/** The frame's columns as a row-major float32 matrix (numpy's cast of float64 to float32: to nearest). */
export function float32Rows(frame: Frame, what: string): Float32Array {
  const width = frame.columns.length;
  const n = frame.length;
  const x = new Float32Array(n * width);
  for (let j = 0; j < width; j++) {
    const column = numeric(frame, j, what);
    for (let i = 0; i < n; i++) x[i * width + j] = column[i]!;
  }
  return x;
}

/** Index of the largest value of each row of a row-major [n, k] matrix (the first on ties, as numpy's argmax). */
export function argmax(values: Float64Array, n: number, k: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (values[i * k + j]! > values[i * k + best]!) best = j;
    out[i] = best;
  }
  return out;
}
