import { isArray, type SkValue } from "../skops/index.js";
import { Attrs, classesOf, NotNative } from "./attrs.js";
import { decodeTrees, type TreeNodes, TreeRunner } from "./engine.js";
import {
  argmax,
  type Estimator,
  type Frame,
  float32Rows,
  numeric,
  type Prediction,
  type Transform,
} from "./frame.js";
import { expit, softmaxRows } from "./trees.js";

/**
 * HistGradientBoosting regressor and classifier: `_baseline_prediction` plus the `_predictors`' leaf
 * values (learning rate included), through the loss' inverse link (identity; exp for poisson and gamma;
 * logistic; softmax). Categorical features (`_preprocessor`,
 * an OrdinalEncoder: unknown categories are NaN) split on the `raw_left_cat_bitsets` sets, NaN as
 * `missing_go_to_left` says. scikit-learn compares float64 rows with float64 thresholds here (no cast to
 * float32): numeric features go to the engine as their rank among the thresholds, which is exact.
 *
 * @param preprocess - the compiled `_preprocessor`, when the model has one
 */
export async function histEstimator(
  estimator: Attrs,
  preprocess: Transform | undefined,
  threads: number,
): Promise<Estimator> {
  const classifier = estimator.className.endsWith("Classifier");
  const iterations = estimator.list("_predictors");
  const baseline = estimator.numbers("_baseline_prediction");
  const k = baseline.length;
  const trees: TreeNodes[] = [];
  iterations.forEach((iteration, i) => {
    if (!Array.isArray(iteration) || iteration.length !== k) {
      throw new NotNative(`${estimator.type}._predictors[${i}] does not hold ${k} trees`);
    }
    (iteration as SkValue[]).forEach((predictor, j) => {
      trees.push(readPredictor(estimator, predictor, j, k));
    });
  });
  const classes = classifier ? classesOf(estimator) : undefined;
  const loss = estimator.get("loss");
  const logLink = loss === "poisson" || loss === "gamma";
  if (
    !classifier &&
    !logLink &&
    loss !== "squared_error" &&
    loss !== "absolute_error" &&
    loss !== "quantile"
  ) {
    throw estimator.refuse(
      "loss",
      "mlbatch reproduces squared_error, absolute_error, quantile, poisson and gamma",
    );
  }
  const width = estimator.number("_n_features");
  const coder = rankCoder(trees, width);
  const runner = await TreeRunner.create(decodeTrees(coder.trees, k, "sum", width), threads);
  return {
    classes,
    description: `${estimator.className} (${runner.description})`,
    async predict(input: Frame): Promise<Prediction> {
      const frame = preprocess === undefined ? input : preprocess.apply(input);
      if (frame.columns.length !== width) {
        throw new Error(`${estimator.type} takes ${width} features, and is given ${frame.columns.length}`);
      }
      const n = frame.length;
      const z = await runner.run(float32Rows(coder.code(frame, estimator.type), estimator.type), n, width);
      const raw = new Float64Array(n * k);
      for (let i = 0; i < raw.length; i++) raw[i] = baseline[i % k]! + z[i]!;
      if (classes === undefined) return { kind: "values", values: logLink ? raw.map(Math.exp) : raw };
      if (k === 1) {
        const proba = new Float64Array(2 * n);
        for (let i = 0; i < n; i++) {
          proba[2 * i + 1] = expit(raw[i]!);
          proba[2 * i] = 1 - proba[2 * i + 1]!;
        }
        return { kind: "classes", proba, label: argmax(proba, n, 2) };
      }
      const proba = softmaxRows(raw, n, k);
      return { kind: "classes", proba, label: argmax(proba, n, k) };
    },
    close: () => runner.close(),
  };
}

/** A `TreePredictor`: its `nodes` record array and categorical bitsets, tree `target` of its iteration. */
function readPredictor(estimator: Attrs, value: SkValue, target: number, k: number): TreeNodes {
  const predictor = new Attrs(value, `a TreePredictor of ${estimator.type}`);
  const fields = predictor.array("nodes").fields;
  const field = (name: string) => {
    const column = fields?.get(name);
    if (column === undefined) throw new NotNative(`${predictor.type}.nodes has no field ${name}`);
    return column;
  };
  const isLeaf = field("is_leaf");
  const n = isLeaf.length;
  const left = Float64Array.from(field("left"), (v, i) => (isLeaf[i] ? -1 : v));
  const leafValues = field("value");
  const values = new Float64Array(n * k);
  for (let i = 0; i < n; i++) values[i * k + target] = leafValues[i]!;
  const categorical = fields?.get("is_categorical");
  const categories: (number[] | undefined)[] = new Array(n).fill(undefined);
  if (categorical?.some((c, i) => c !== 0 && !isLeaf[i])) {
    const bitsets = predictor.array("raw_left_cat_bitsets");
    const words = bitsets.shape[1] ?? 8;
    const bits = bitsets.values as Float64Array;
    const index = field("bitset_idx");
    for (let i = 0; i < n; i++) {
      if (!categorical[i] || isLeaf[i]) continue;
      const set: number[] = [];
      for (let w = 0; w < words; w++) {
        const word = bits[index[i]! * words + w]!;
        for (let b = 0; b < 32; b++) if ((word >>> b) & 1) set.push(32 * w + b);
      }
      categories[i] = set;
    }
  }
  if (!isArray(predictor.get("nodes"))) throw new NotNative(`${predictor.type} has no nodes`);
  return {
    feature: field("feature_idx"),
    threshold: field("num_threshold"),
    left,
    right: field("right"),
    missingLeft: field("missing_go_to_left"),
    values,
    categories,
  };
}

/**
 * Rank coding of the numeric features: a value becomes the number of its feature's thresholds below it,
 * and threshold j of the sorted list becomes j, so that `x <= t` is `rank(x) <= j` exactly, in float32
 * (scikit-learn compares float64 values with float64 thresholds, which float32 cannot).
 */
function rankCoder(
  trees: readonly TreeNodes[],
  width: number,
): { trees: TreeNodes[]; code: (frame: Frame, what: string) => Frame } {
  const sets = Array.from({ length: width }, () => new Set<number>());
  for (const tree of trees) {
    for (let i = 0; i < tree.left.length; i++) {
      if (tree.left[i]! >= 0 && tree.categories?.[i] === undefined)
        sets[tree.feature[i]!]?.add(tree.threshold[i]!);
    }
  }
  const sorted = sets.map((set) => Float64Array.from(set).sort());
  const coded = trees.map((tree): TreeNodes => {
    const threshold = Float64Array.from(tree.threshold);
    for (let i = 0; i < tree.left.length; i++) {
      if (tree.left[i]! >= 0 && tree.categories?.[i] === undefined) {
        threshold[i] = lowerBound(sorted[tree.feature[i]!]!, tree.threshold[i]!);
      }
    }
    return { ...tree, threshold };
  });
  return {
    trees: coded,
    code(frame: Frame, what: string): Frame {
      const columns = frame.columns.map((_c, j) => {
        const column = numeric(frame, j, what);
        const t = sorted[j]!;
        if (t.length === 0) return column;
        return Float64Array.from(column, (v) => (Number.isNaN(v) ? v : lowerBound(t, v)));
      });
      return { length: frame.length, columns };
    },
  };
}

/** The number of values of a sorted array below `v`. */
function lowerBound(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
