/**
 * The bridge from the native readers to the tree engine: the ONE file that imports the engine (its decoded
 * form `Decoded`, its layout `layOut`, its worker pool), so that their paths are changed here only.
 */
import type { Decoded } from "../trees/forest/decoded.js";
import type { Forest } from "../trees/forest/index.js";
import { layOut } from "../trees/forest/layout.js";

export { TreePool } from "../trees/pool.js";
export type { Decoded, Forest };
export { layOut };

/** Engine node modes used here (the `BRANCH_*` codes of `Decoded.modes`). */
export const LEQ = 0;
export const LT = 1;
export const LEAF = 6;
export const MEMBER = 7;

/** How a column of the engine's matrix is made from a model feature. */
export type ColumnTransform =
  /** The value as float32. */
  | "none"
  /** Truncated toward zero first (a categorical feature: both libraries cast the value to int). */
  | "trunc"
  /** 0 where `|x| <= 1e-35` (LightGBM drops such values from a row, so they read as 0). */
  | "flush"
  /** NaN where LightGBM's missing type `Zero` reads a zero (`|x| <= 1e-35`, and NaN), else the value. */
  | "zero-nan";

/** A column of the engine's matrix: the model feature it reads, and how. */
export interface MatrixColumn {
  readonly feature: number;
  readonly transform: ColumnTransform;
}

/** A tree ensemble as the native readers give it: the engine's decoded form and the matrix it reads. */
export interface Ensemble {
  readonly decoded: Decoded;
  /** The engine's feature k is `columns[k]`. */
  readonly columns: readonly MatrixColumn[];
  /** Trees in the ensemble (after any iteration limit). */
  readonly trees: number;
}

/**
 * Collects nodes tree by tree into the engine's decoded form: a sum of trees (no base value, no
 * post-transform: the native heads finish the margins themselves), one target per output group.
 */
export class EnsembleBuilder {
  private readonly modes: number[] = [];
  private readonly features: number[] = [];
  private readonly thresholds: number[] = [];
  private readonly missing: number[] = [];
  private readonly trueChild: number[] = [];
  private readonly falseChild: number[] = [];
  private readonly roots: number[] = [];
  private readonly leafTarget: number[] = [];
  private readonly leafValue: number[] = [];
  private readonly memberStart: number[] = [];
  private readonly memberEnd: number[] = [];
  private readonly members: number[] = [];
  private readonly names: string[] = [];
  private readonly columnIndex = new Map<string, number>();
  readonly columns: MatrixColumn[] = [];

  constructor(private readonly nTargets: number) {}

  /** The engine feature that reads model feature `feature` through `transform` (made on first use). */
  column(feature: number, transform: ColumnTransform): number {
    const key = `${feature}:${transform}`;
    let k = this.columnIndex.get(key);
    if (k === undefined) {
      k = this.columns.length;
      this.columns.push({ feature, transform });
      this.columnIndex.set(key, k);
    }
    return k;
  }

  /** Reserves `count` nodes for a new tree and returns the index of its first node (its root). */
  tree(count: number, name: (node: number) => string): number {
    const first = this.modes.length;
    this.roots.push(first);
    for (let i = 0; i < count; i++) {
      this.modes.push(LEAF);
      this.features.push(0);
      this.thresholds.push(0);
      this.missing.push(0);
      this.trueChild.push(-1);
      this.falseChild.push(-1);
      this.leafTarget.push(-1);
      this.leafValue.push(0);
      this.memberStart.push(0);
      this.memberEnd.push(0);
      this.names.push(name(i));
    }
    return first;
  }

  /**
   * Sets node `i` to a split: `mode` on engine feature `column` with `threshold` (a float32), the true
   * branch to `yes`, the false one to `no`; `nanYes`: a NaN takes the true branch.
   */
  split(
    i: number,
    mode: number,
    column: number,
    threshold: number,
    yes: number,
    no: number,
    nanYes: boolean,
  ): void {
    this.modes[i] = mode;
    this.features[i] = column;
    this.thresholds[i] = threshold;
    this.trueChild[i] = yes;
    this.falseChild[i] = no;
    this.missing[i] = nanYes ? 1 : 0;
  }

  /** Sets node `i` to a set-membership split: a value in `set` takes the true branch. */
  member(i: number, column: number, set: readonly number[], yes: number, no: number, nanYes: boolean): void {
    this.split(i, MEMBER, column, 0, yes, no, nanYes);
    this.memberStart[i] = this.members.length;
    for (const v of set) this.members.push(v);
    this.memberEnd[i] = this.members.length;
  }

  /** Sets node `i` to a leaf adding `value` to output group `target`. */
  leaf(i: number, target: number, value: number): void {
    this.modes[i] = LEAF;
    this.leafTarget[i] = target;
    this.leafValue[i] = value;
  }

  /** The ensemble collected so far. */
  build(): Ensemble {
    const n = this.modes.length;
    const weightStart = new Int32Array(n + 1);
    const weightTargets: number[] = [];
    const weightValues: number[] = [];
    for (let i = 0; i < n; i++) {
      if (this.modes[i] === LEAF) {
        weightTargets.push(this.leafTarget[i]!);
        weightValues.push(this.leafValue[i]!);
      }
      weightStart[i + 1] = weightTargets.length;
    }
    const names = this.names;
    const decoded: Decoded = {
      classifier: false,
      nTargets: this.nTargets,
      aggregate: 0,
      post: 0,
      base: new Float32Array(0),
      labels: undefined,
      binaryCase: false,
      allPositive: true,
      n,
      modes: Int8Array.from(this.modes),
      features: Int32Array.from(this.features),
      thresholds: Float32Array.from(this.thresholds),
      missing: Uint8Array.from(this.missing),
      trueChild: Int32Array.from(this.trueChild),
      falseChild: Int32Array.from(this.falseChild),
      roots: Int32Array.from(this.roots),
      weightStart,
      weightTargets: Int32Array.from(weightTargets),
      weightValues: Float32Array.from(weightValues),
      memberStart: Int32Array.from(this.memberStart),
      memberEnd: Int32Array.from(this.memberEnd),
      members: Float32Array.from(this.members),
      name: (i) => names[i] ?? `node ${i}`,
    };
    return { decoded, columns: this.columns, trees: this.roots.length };
  }
}

/** Lays an ensemble out in the engine's shared memory. */
export function compile(ensemble: Ensemble): Forest {
  return layOut(ensemble.decoded);
}

/** The largest float32 not above `t` (a double): for float32 x, `x <= t` exactly when `x <= down(t)`. */
export function float32Down(t: number): number {
  if (Number.isNaN(t)) return t;
  const f = Math.fround(t);
  if (f <= t) return f;
  const a = new Float32Array([f]);
  const u = new Uint32Array(a.buffer);
  if (f === 0) u[0] = 0x80000001;
  else if (f > 0) u[0] = u[0]! - 1;
  else u[0] = u[0]! + 1;
  return a[0]!;
}
