import { MlbatchError } from "../../../errors.js";
import { type Ensemble, EnsembleBuilder, float32Down, LEQ } from "../ensemble.js";
import type { Link } from "../head.js";

/** A LightGBM text model read for the engine. */
export interface LightgbmModel {
  readonly ensemble: Ensemble;
  readonly objective: string;
  /** Trees per iteration: classes of a multi-class model, else 1. */
  readonly groups: number;
  readonly link: Link;
  /** `sigmoid:` of binary and `multiclassova` objectives. */
  readonly scale: number;
  /** The iterations when the model averages its trees (`average_output`, random forests), else 1. */
  readonly divisor: number;
  readonly nFeatures: number;
  readonly featureNames: readonly string[] | undefined;
  /**
   * The categories of the features trained from pandas category columns, by feature (undefined for the
   * others): a category's position is the code the trees split on (`pandas_categorical`). Undefined when
   * the model was not trained on category columns, or when they cannot be matched to its features.
   */
  readonly categories: readonly (readonly (string | number)[] | undefined)[] | undefined;
}

const IDENTITY = new Set([
  "regression",
  "regression_l1",
  "huber",
  "fair",
  "quantile",
  "mape",
  "lambdarank",
  "rank_xendcg",
  "custom",
]);
const EXP = new Set(["poisson", "gamma", "tweedie"]);

/** Masks of a node's `decision_type` (LightGBM's tree.h). */
const CATEGORICAL = 1;
const DEFAULT_LEFT = 2;
/** `(decision_type >> 2) & 3`: how a node reads missing values. */
const MISSING_NONE = 0;
const MISSING_ZERO = 1;
const MISSING_NAN = 2;

/**
 * Reads LightGBM's text model (`model.lgb`, as `Booster.save_model` writes it, LightGBM 2.x to 4.x; or the
 * same text inside a scikit-learn API estimator's skops file).
 *
 * LightGBM compares doubles (`x <= t`), the engine float32: each threshold becomes the largest float32
 * not above it, which is exact for inputs that are float32 values (and LightGBM's own thresholds sit
 * halfway between training values); a float64 input differs only when it rounds to float32 across a
 * threshold, that is when it lies within a float32 rounding (about 6e-8 relative) of it. Missing values
 * as LightGBM's `NumericalDecision`: type None reads NaN as 0, type NaN sends it to the default child,
 * type Zero sends NaN and `|x| <= 1e-35` there (done by feeding the engine NaN for them). Categorical
 * splits send the categories of the node's bitset left; NaN, negatives and others go right; values are
 * truncated to integers first, as LightGBM casts them. Leaf values and sums are float32 in the engine
 * where LightGBM adds doubles: predictions agree within float32 rounding of the sum.
 *
 * @param where - what the text is, for messages (`model models:/m/1: LightGBM model file model.lgb`)
 * @param iterations - the iterations to keep (a scikit-learn API estimator's `best_iteration`), 0 for all
 * @throws MlbatchError `E_MODEL_LOAD` naming the model, the file and what is not supported
 */
export function readLightgbm(where: string, content: string, iterations = 0): LightgbmModel {
  const refuse = (why: string, what = "Train it without that option, or export it to ONNX."): never => {
    throw new MlbatchError("E_MODEL_LOAD", `${where}: ${why}. ${what}`);
  };
  const blocks = content.split(/\n(?=Tree=)/);
  const header = keyValues(blocks[0] ?? "");
  if (!content.startsWith("tree"))
    refuse("is not a LightGBM text model (it does not start with `tree`)", "Is the file complete?");
  const objectiveLine = (header.get("objective") ?? "regression").split(" ");
  const objective = objectiveLine[0]!;
  const option = (name: string) =>
    objectiveLine.find((t) => t.startsWith(`${name}:`))?.slice(name.length + 1);
  const groups = Number(header.get("num_tree_per_iteration") ?? header.get("num_class") ?? 1);
  const nFeatures = Number(header.get("max_feature_idx") ?? -1) + 1;
  const scale = Number(option("sigmoid") ?? 1);
  let link: Link;
  if (objectiveLine.includes("sqrt")) link = refuse(`objective "${objective}" with sqrt is not supported`);
  if (objective === "binary" || objective === "cross_entropy" || objective === "xentropy") link = "sigmoid";
  else if (objective === "multiclass" || objective === "softmax") link = "softmax";
  else if (objective === "multiclassova" || objective === "multiclass_ova" || objective === "ova")
    link = "ova";
  else if (EXP.has(objective)) link = "exp";
  else if (IDENTITY.has(objective) || objective.startsWith("regression")) link = "identity";
  else link = refuse(`objective "${objective}" is not supported`);
  if (groups > 1 && link !== "softmax" && link !== "ova")
    refuse(`objective "${objective}" has ${groups} trees per iteration`);

  const builder = new EnsembleBuilder(groups);
  let t = 0;
  const kept = iterations > 0 ? blocks.slice(1, 1 + iterations * groups) : blocks.slice(1);
  for (const block of kept) {
    const tree = keyValues(block.split("end of trees")[0]!);
    readTree(builder, tree, t, t % groups, refuse);
    t++;
  }
  if (t === 0) refuse("has no trees", "Is the file complete?");
  const names = header
    .get("feature_names")
    ?.split(" ")
    .filter((s) => s !== "");
  return {
    ensemble: builder.build(),
    objective,
    groups,
    link,
    scale,
    divisor: header.has("average_output") ? Math.max(1, Math.floor(t / groups)) : 1,
    nFeatures,
    categories: categoriesOf(header.get("feature_infos"), content, nFeatures),
    // LightGBM names unnamed columns Column_0, Column_1, ...: those name nothing.
    featureNames:
      names !== undefined && names.length > 0 && !names.every((s, i) => s === `Column_${i}`)
        ? names
        : undefined,
  };
}

function readTree(
  b: EnsembleBuilder,
  tree: Map<string, string>,
  t: number,
  group: number,
  refuse: (why: string, what?: string) => never,
): void {
  if ((tree.get("is_linear") ?? "0") !== "0") {
    refuse(
      `tree ${t} is a linear tree (linear_tree=true)`,
      "Train it with linear_tree=false, or export it to ONNX.",
    );
  }
  const leaves = Number(tree.get("num_leaves") ?? 0);
  const values = numbers(tree.get("leaf_value"));
  if (leaves < 1 || values.length !== leaves)
    refuse(`tree ${t} has ${values.length} leaf values for ${leaves} leaves`);
  const inner = leaves - 1;
  const root = b.tree(inner + leaves, (i) =>
    i < inner ? `node ${i} of tree ${t}` : `leaf ${i - inner} of tree ${t}`,
  );
  for (let j = 0; j < leaves; j++) b.leaf(root + inner + j, group, values[j]!);
  if (inner === 0) return;
  const feature = numbers(tree.get("split_feature"));
  const threshold = numbers(tree.get("threshold"));
  const decision = numbers(tree.get("decision_type"));
  const left = numbers(tree.get("left_child"));
  const right = numbers(tree.get("right_child"));
  const boundaries = numbers(tree.get("cat_boundaries"));
  const bits = numbers(tree.get("cat_threshold"));
  for (const [name, a] of [
    ["split_feature", feature],
    ["threshold", threshold],
    ["decision_type", decision],
    ["left_child", left],
    ["right_child", right],
  ] as const) {
    if (a.length !== inner)
      refuse(`tree ${t} has ${a.length} ${name} values for ${inner} splits`, "Is the file complete?");
  }
  const node = (c: number) => {
    const i = c >= 0 ? c : inner + ~c;
    if (i < 0 || i >= inner + leaves)
      refuse(`tree ${t} has a child ${c} out of range`, "Is the file complete?");
    return root + i;
  };
  for (let i = 0; i < inner; i++) {
    const d = decision[i]!;
    const f = feature[i]!;
    const yes = node(left[i]!);
    const no = node(right[i]!);
    if ((d & CATEGORICAL) !== 0) {
      const k = Math.trunc(threshold[i]!);
      if (k < 0 || k + 1 >= boundaries.length)
        refuse(`node ${i} of tree ${t} names category set ${k}, which is missing`);
      const set: number[] = [];
      for (let w = boundaries[k]!; w < boundaries[k + 1]!; w++) {
        const word = bits[w]! >>> 0;
        for (let bit = 0; bit < 32; bit++) if ((word >>> bit) & 1) set.push(32 * (w - boundaries[k]!) + bit);
      }
      // Listed categories go left; NaN and everything else right.
      b.member(root + i, b.column(f, "trunc"), set, yes, no, false);
      continue;
    }
    const missing = (d >> 2) & 3;
    const defaultLeft = (d & DEFAULT_LEFT) !== 0;
    const th = threshold[i]!;
    if (missing === MISSING_ZERO) {
      b.split(root + i, LEQ, b.column(f, "zero-nan"), float32Down(th), yes, no, defaultLeft);
    } else if (missing === MISSING_NAN) {
      b.split(root + i, LEQ, b.column(f, "flush"), float32Down(th), yes, no, defaultLeft);
    } else if (missing === MISSING_NONE) {
      // NaN is read as 0.
      b.split(root + i, LEQ, b.column(f, "flush"), float32Down(th), yes, no, 0 <= th);
    } else refuse(`node ${i} of tree ${t} has an unknown missing type ${missing}`);
  }
}

/**
 * The categories of each categorical feature: `pandas_categorical` (the JSON list the Python package
 * appends to the text, one list per category column in column order) matched, in order, to the features
 * whose `feature_infos` is a category list (`-1:3:0:2:1`, where numerical features have `[min:max]`).
 * Undefined when there is no such list, or when the counts differ (categorical_feature named columns that
 * were not pandas categories: their codes are the values themselves).
 */
function categoriesOf(
  infos: string | undefined,
  content: string,
  nFeatures: number,
): (readonly (string | number)[] | undefined)[] | undefined {
  const line = /\npandas_categorical:(.*)\n?\s*$/.exec(content)?.[1];
  if (line === undefined || infos === undefined) return undefined;
  let lists: unknown;
  try {
    lists = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!Array.isArray(lists) || lists.length === 0) return undefined;
  const categorical = infos
    .split(" ")
    .map((info, f) => ({ info, f }))
    .filter(({ info }) => info !== "none" && !info.startsWith("["))
    .map(({ f }) => f);
  if (categorical.length !== lists.length) return undefined;
  const out: (readonly (string | number)[] | undefined)[] = Array.from(
    { length: nFeatures },
    () => undefined,
  );
  for (const [i, f] of categorical.entries()) {
    const list = lists[i] as unknown;
    if (!Array.isArray(list) || !list.every((v) => typeof v === "string" || typeof v === "number"))
      return undefined;
    out[f] = list as (string | number)[];
  }
  return out;
}

/** The `key=value` lines of a block (a line without `=` is a key with an empty value). */
function keyValues(block: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of block.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) map.set(line.trim(), "");
    else map.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return map;
}

function numbers(value: string | undefined): number[] {
  if (value === undefined || value === "") return [];
  return value.split(" ").map((s) => (s === "inf" ? Infinity : s === "-inf" ? -Infinity : Number(s)));
}
