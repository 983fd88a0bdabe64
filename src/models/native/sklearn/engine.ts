/**
 * scikit-learn trees in mlbatch's tree engine, through the native bridge (`../ensemble.ts`, the one file
 * that imports the engine).
 */
import { type Decoded, float32Down, layOut, TreePool } from "../ensemble.js";

/** One tree, as scikit-learn stores it: nodes by index, node 0 the root, leaves with `left < 0`. */
export interface TreeNodes {
  readonly feature: ArrayLike<number>;
  /** Splits go left when `x <= threshold` (float64, as scikit-learn stores it). */
  readonly threshold: ArrayLike<number>;
  readonly left: ArrayLike<number>;
  readonly right: ArrayLike<number>;
  /** 1 where a NaN goes left. */
  readonly missingLeft: ArrayLike<number>;
  /** The leaf values of node i: `values[i * targets + k]`. */
  readonly values: ArrayLike<number>;
  /** Categorical splits: the categories that go left, by node (undefined: a numeric split). */
  readonly categories?: readonly (readonly number[] | undefined)[];
}

/** How the trees' leaf values combine. */
export type Aggregate = "sum" | "average";

/**
 * Builds the engine's decoded ensemble from scikit-learn trees (a regressor form: `targets` sums per row).
 *
 * @param width - the number of features a row has: a node reading beyond it is refused
 * @throws Error for a tree whose children or features are out of range (a damaged or crafted file)
 */
export function decodeTrees(
  trees: readonly TreeNodes[],
  targets: number,
  aggregate: Aggregate,
  width: number,
): Decoded {
  let n = 0;
  let memberCount = 0;
  for (const tree of trees) {
    n += tree.left.length;
    for (const set of tree.categories ?? []) memberCount += set?.length ?? 0;
  }
  const modes = new Int8Array(n);
  const features = new Int32Array(n);
  const thresholds = new Float32Array(n);
  const missing = new Uint8Array(n);
  const trueChild = new Int32Array(n).fill(-1);
  const falseChild = new Int32Array(n).fill(-1);
  const roots = new Int32Array(trees.length);
  const weightStart = new Int32Array(n + 1);
  const weightTargets: number[] = [];
  const weightValues: number[] = [];
  const memberStart = new Int32Array(n);
  const memberEnd = new Int32Array(n);
  const members = new Float32Array(memberCount);
  const owner = new Int32Array(n);
  let at = 0;
  let m = 0;
  trees.forEach((tree, t) => {
    roots[t] = at;
    for (let i = 0; i < tree.left.length; i++, at++) {
      owner[at] = t;
      const left = tree.left[i]!;
      if (left < 0) {
        modes[at] = 6;
        for (let k = 0; k < targets; k++) {
          weightTargets.push(k);
          weightValues.push(tree.values[i * targets + k]!);
        }
      } else {
        const size = tree.left.length;
        const right = tree.right[i]!;
        const feature = tree.feature[i]!;
        if (!(left > i && left < size && right > i && right < size && feature >= 0 && feature < width)) {
          throw new Error(
            `node ${i} of tree ${t} has children ${left}, ${right} and feature ${feature}: out of range`,
          );
        }
        const set = tree.categories?.[i];
        modes[at] = set === undefined ? 0 : 7;
        features[at] = tree.feature[i]!;
        thresholds[at] = set === undefined ? float32Down(tree.threshold[i]!) : 0;
        missing[at] = tree.missingLeft[i]! ? 1 : 0;
        trueChild[at] = roots[t]! + left;
        falseChild[at] = roots[t]! + tree.right[i]!;
        if (set !== undefined) {
          memberStart[at] = m;
          for (const c of set) members[m++] = c;
          memberEnd[at] = m;
        }
      }
      weightStart[at + 1] = weightTargets.length;
    }
  });
  return {
    classifier: false,
    nTargets: targets,
    aggregate: aggregate === "sum" ? 0 : 1,
    post: 0,
    base: new Float32Array(0),
    labels: undefined,
    binaryCase: false,
    allPositive: true,
    n,
    modes,
    features,
    thresholds,
    missing,
    trueChild,
    falseChild,
    roots,
    weightStart,
    weightTargets: Int32Array.from(weightTargets),
    weightValues: Float32Array.from(weightValues),
    memberStart,
    memberEnd,
    members,
    name: (i) => `node ${i - roots[owner[i]!]!} of tree ${owner[i]}`,
  };
}

/** Trees laid out in the engine, and its worker threads. */
export class TreeRunner {
  private constructor(
    private readonly pool: TreePool,
    readonly nodes: number,
    readonly trees: number,
    readonly targets: number,
  ) {}

  /** Lays the trees out and starts `threads` workers. */
  static async create(decoded: Decoded, threads: number): Promise<TreeRunner> {
    const forest = layOut(decoded);
    const pool = await TreePool.create(forest, threads);
    return new TreeRunner(pool, forest.nodeCount, decoded.roots.length, decoded.nTargets);
  }

  /** `tree engine (5 trees, 310 nodes, 2 threads)`. */
  get description(): string {
    return `tree engine (${this.trees} tree${this.trees === 1 ? "" : "s"}, ${this.nodes} nodes, ${this.pool.threads} thread${this.pool.threads === 1 ? "" : "s"})`;
  }

  /** The aggregated leaf values `[n, targets]` (float32 sums or averages) of a row-major float32 matrix. */
  async run(x: Float32Array, n: number, width: number): Promise<Float32Array> {
    if (n === 0) return new Float32Array(0);
    return (await this.pool.run(x, n, width)).z;
  }

  /** Stops the workers. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
