import { MlbatchError } from "../../../errors.js";
import { type Ensemble, EnsembleBuilder, LT } from "../ensemble.js";
import type { Link } from "../head.js";
import { parseUbjson, type UbjValue } from "./ubjson.js";

/** An XGBoost model file read for the engine. */
export interface XgboostModel {
  readonly ensemble: Ensemble;
  readonly objective: string;
  /** Output groups: classes for `multi:*`, else 1. */
  readonly groups: number;
  /** How margins become predictions. */
  readonly link: Link;
  /** Margins to add per group after the trees (0 where folded into the group's first tree). */
  readonly base: Float64Array;
  readonly nFeatures: number;
  /** The booster's `feature_names`, when it was trained on named columns. */
  readonly featureNames: readonly string[] | undefined;
  /**
   * The training categories of features trained from pandas category columns of strings, by feature
   * (XGBoost 3.1+ keeps them, `cats`): a category's position is the code the trees split on.
   */
  readonly categories: readonly (readonly string[] | undefined)[] | undefined;
  /** `[major, minor, patch]` of the XGBoost that wrote the file. */
  readonly version: readonly number[];
}

type Obj = { [key: string]: UbjValue };
type Nums = ArrayLike<number>;

/** Identity-link objectives: the prediction is the margin. */
const IDENTITY = new Set([
  "reg:squarederror",
  "reg:linear",
  "reg:squaredlogerror",
  "reg:pseudohubererror",
  "reg:absoluteerror",
  "reg:quantileerror",
  "binary:logitraw",
  "rank:pairwise",
  "rank:ndcg",
  "rank:map",
]);
const LOGISTIC = new Set(["binary:logistic", "reg:logistic"]);
const LOG_LINK = new Set(["count:poisson", "reg:gamma", "reg:tweedie", "survival:cox"]);

/**
 * Reads an XGBoost model file (JSON or UBJSON, XGBoost 1.6 to 3.x) as `mlflow.xgboost` saves it.
 *
 * Splits are XGBoost's: `x < t` on float32 x (XGBoost casts inputs to float32 first, as the engine
 * does), so the engine reproduces its branches exactly; a NaN takes `default_left`; categorical splits
 * send the categories listed to the right, anything else (unlisted, negative) to the left, the value cast
 * to an integer first. The `base_score` (stored in the objective's output space by every version, a
 * vector since 3.1) becomes a margin with the objective's link, in float32, and is added to the first
 * tree of its group, as XGBoost starts its float32 sums from it. Dart trees are scaled by `weight_drop`.
 *
 * @param uri - the model URI, for messages
 * @param file - the file's path, for messages
 * @param sklearn - the model is one of XGBoost's scikit-learn API classes, whose `predict` cuts the trees
 * at `best_iteration` and runs dart models through inplace prediction (which rounds differently)
 * @throws MlbatchError `E_MODEL_LOAD` for a file that is not such a model, or what the engine cannot run
 */
export function readXgboost(uri: string, file: string, bytes: Uint8Array, sklearn: boolean): XgboostModel {
  const refuse = (
    why: string,
    what = "Log it with a gbtree or dart booster and a supported objective.",
  ): never => {
    throw new MlbatchError("E_MODEL_LOAD", `model ${uri}: XGBoost model file ${file}: ${why}. ${what}`);
  };
  let doc: UbjValue;
  try {
    // Both start with "{": UBJSON continues with a type marker (a letter, `#` or `$`), JSON does not.
    const ubj = bytes[0] !== 0x7b || /[A-Za-z#$]/.test(String.fromCharCode(bytes[1] ?? 0));
    doc = ubj ? parseUbjson(bytes) : parseJson(new TextDecoder().decode(bytes));
  } catch (error) {
    const legacy = bytes[0] !== 0x7b;
    return refuse(
      legacy
        ? "is not JSON or UBJSON (XGBoost's legacy binary format, written by XGBoost < 2 for model.xgb)"
        : `cannot be parsed (${(error as Error).message})`,
      legacy
        ? 'Save it again with XGBoost >= 1.6 as JSON or UBJSON (mlflow.xgboost.log_model(..., model_format="json" or "ubj")).'
        : "Is the file complete?",
    );
  }
  const learner = obj(obj(doc).learner);
  const version = nums(obj(doc).version);
  const params = obj(learner.learner_model_param);
  const objective = String(obj(learner.objective).name ?? "");
  const nClass = Number(params.num_class ?? 0);
  const nTarget = Number(params.num_target ?? 1);
  const nFeatures = Number(params.num_feature ?? 0);
  if (nTarget > 1) refuse(`it has ${nTarget} targets (multi-target regression is not supported)`);
  const groups = Math.max(1, nClass);
  const booster = obj(learner.gradient_booster);
  const kind = String(booster.name ?? "");
  if (kind === "gblinear") refuse("its booster is gblinear (a linear model, not trees)");
  if (kind !== "gbtree" && kind !== "dart") refuse(`its booster "${kind}" is not gbtree or dart`);
  const model = obj(kind === "dart" ? obj(booster.gbtree).model : booster.model);
  const weights = kind === "dart" ? nums(booster.weight_drop) : undefined;
  const link = linkOf(objective, groups, refuse);

  const trees = list(model.trees);
  const treeInfo = nums(model.tree_info);
  let count = trees.length;
  const best = obj(learner.attributes).best_iteration;
  if (sklearn && best !== undefined) {
    const iteration = Number(best) + 1;
    const indptr = nums(model.iteration_indptr);
    const perIteration = groups * Number(obj(model.gbtree_model_param).num_parallel_tree ?? 1);
    count = Math.min(count, indptr.length > iteration ? indptr[iteration]! : iteration * perIteration);
  }

  const rawBase = parseBase(params.base_score);
  const base = new Float64Array(groups);
  for (let g = 0; g < groups; g++) {
    const b = rawBase.length === groups ? rawBase[g]! : (rawBase[0] ?? 0.5);
    base[g] = toMargin(objective, b);
  }
  const types = list(learner.feature_types).map(String);
  const builder = new EnsembleBuilder(groups);
  const folded = new Uint8Array(groups);
  for (let t = 0; t < count; t++) {
    const tree = obj(trees[t]);
    const group = treeInfo[t] ?? 0;
    if (group < 0 || group >= groups) refuse(`tree ${t} is for output group ${group} of ${groups}`);
    const margin = Math.fround(base[group]!);
    const dart =
      weights === undefined ? undefined : { weight: weights[t] ?? 1, base: margin, inplace: sklearn };
    const fold = folded[group] === 0;
    folded[group] = 1;
    readTree(builder, tree, t, group, dart, fold ? margin : undefined, types, nFeatures, refuse);
  }
  for (let g = 0; g < groups; g++) if (folded[g] === 1) base[g] = 0;
  const names = list(learner.feature_names).map(String);
  return {
    ensemble: builder.build(),
    objective,
    groups,
    link,
    base,
    nFeatures,
    featureNames: names.length > 0 ? names : undefined,
    categories: categoriesOf(obj(model.cats), nFeatures),
    version: Array.from(version),
  };
}

function readTree(
  b: EnsembleBuilder,
  tree: Obj,
  t: number,
  group: number,
  dart: { readonly weight: number; readonly base: number; readonly inplace: boolean } | undefined,
  base: number | undefined,
  types: readonly string[],
  nFeatures: number,
  refuse: (why: string) => never,
): void {
  const param = obj(tree.tree_param);
  if (Number(param.size_leaf_vector ?? 1) > 1)
    refuse(`tree ${t} has vector leaves (multi_strategy="multi_output_tree")`);
  const left = nums(tree.left_children);
  const right = nums(tree.right_children);
  const index = nums(tree.split_indices);
  const cond = nums(tree.split_conditions);
  const dleft = nums(tree.default_left);
  const splitType = nums(tree.split_type);
  const n = left.length;
  if (right.length !== n || index.length !== n || cond.length !== n)
    refuse(`tree ${t} has node arrays of different lengths`);
  // Category sets by node: categories[segments[k], + sizes[k]) go right at node nodes[k].
  const catNodes = nums(tree.categories_nodes);
  const segments = nums(tree.categories_segments);
  const sizes = nums(tree.categories_sizes);
  const categories = nums(tree.categories);
  const sets = new Map<number, number[]>();
  for (let k = 0; k < catNodes.length; k++) {
    const start = segments[k]!;
    sets.set(
      catNodes[k]!,
      Array.from({ length: sizes[k]! }, (_, j) => categories[start + j]!),
    );
  }
  const root = b.tree(n, (i) => `node ${i} of tree ${t}`);
  for (let i = 0; i < n; i++) {
    if (left[i] === -1) {
      const leaf = Math.fround(cond[i]!);
      let v = leaf;
      if (dart !== undefined) {
        // Booster.predict scales the leaf; the scikit-learn API's inplace predict scales each tree's
        // prediction less the base margin: ((base + leaf) - base) * weight, in float32.
        const f = Math.fround;
        v = dart.inplace ? f(f(f(dart.base + leaf) - dart.base) * dart.weight) : f(dart.weight * leaf);
      }
      if (base !== undefined) v = Math.fround(base + v);
      b.leaf(root + i, group, v);
      continue;
    }
    const f = index[i]!;
    const l = left[i]!;
    const r = right[i]!;
    if (f < 0 || f >= Math.max(nFeatures, 1))
      refuse(`node ${i} of tree ${t} splits on feature ${f} of ${nFeatures}`);
    if (l < 0 || l >= n || r < 0 || r >= n) refuse(`node ${i} of tree ${t} has a child out of range`);
    const defaultLeft = (dleft[i] ?? 0) !== 0;
    if ((splitType[i] ?? 0) === 1) {
      // Categorical: listed categories go right; NaN goes to the default child.
      const set = sets.get(i) ?? [];
      b.member(root + i, b.column(f, "trunc"), set, root + r, root + l, !defaultLeft);
    } else {
      const column = b.column(f, types[f] === "c" ? "trunc" : "none");
      b.split(root + i, LT, column, Math.fround(cond[i]!), root + l, root + r, defaultLeft);
    }
  }
}

function linkOf(objective: string, groups: number, refuse: (why: string) => never): Link {
  if (objective === "multi:softprob") return "softmax";
  if (objective === "multi:softmax") return "argmax";
  if (groups > 1) return refuse(`objective "${objective}" with ${groups} output groups is not supported`);
  if (IDENTITY.has(objective)) return "identity";
  if (LOGISTIC.has(objective)) return "sigmoid";
  if (LOG_LINK.has(objective)) return "exp";
  if (objective === "binary:hinge") return "hinge";
  return refuse(`objective "${objective}" is not supported`);
}

/** The objective's `ProbToMargin`, in float32 as XGBoost computes it (`binary:logitraw` keeps its base as is). */
function toMargin(objective: string, b: number): number {
  const f = Math.fround;
  if (LOGISTIC.has(objective)) return f(-f(Math.log(f(f(1 / f(b)) - 1))));
  if (LOG_LINK.has(objective)) return f(Math.log(f(b)));
  return f(b);
}

/**
 * XGBoost's JSON: standard JSON, except that XGBoost 2 writes the unused split conditions of categorical
 * nodes as bare `NaN` (and could write `Infinity`): those tokens, outside strings, are read as numbers.
 */
function parseJson(text: string): UbjValue {
  let out = "";
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "N" || c === "I") {
      const token = c === "N" ? "NaN" : "Infinity";
      if (text.startsWith(token, i)) {
        const minus = c === "I" && text[i - 1] === "-" ? 1 : 0;
        out += `${text.slice(from, i - minus)}"${minus ? "-" : ""}${token}"`;
        i += token.length - 1;
        from = i + 1;
      }
    }
  }
  return JSON.parse(out + text.slice(from)) as UbjValue;
}

/** `base_score`: "5E-1" (XGBoost < 3.1) or "[5E-1]" / "[a,b,c]" (3.1 and later). */
/**
 * The string categories of each feature from XGBoost's `cats` (3.1+): `enc[f]` holds feature f's
 * categories as UTF-8 bytes (`values`) cut at `offsets`; a numeric or non-categorical feature has no
 * offsets. Undefined when no feature has string categories.
 */
function categoriesOf(cats: Obj, nFeatures: number): (readonly string[] | undefined)[] | undefined {
  const enc = list(cats.enc);
  if (enc.length === 0) return undefined;
  const decoder = new TextDecoder();
  let any = false;
  const out = Array.from({ length: nFeatures }, (_, f): readonly string[] | undefined => {
    const e = obj(enc[f]);
    const offsets = nums(e.offsets);
    if (offsets.length < 2) return undefined;
    const bytes = Uint8Array.from(nums(e.values) as ArrayLike<number>);
    const names: string[] = [];
    for (let i = 0; i + 1 < offsets.length; i++)
      names.push(decoder.decode(bytes.subarray(offsets[i]!, offsets[i + 1]!)));
    any = true;
    return names;
  });
  return any ? out : undefined;
}

function parseBase(value: UbjValue | undefined): number[] {
  if (value === undefined || value === null) return [];
  const text = String(value)
    .trim()
    .replace(/^\[|\]$/g, "");
  return text === "" ? [] : text.split(",").map((s) => Number(s));
}

function obj(v: UbjValue | undefined): Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) ? (v as Obj) : {};
}

function list(v: UbjValue | undefined): UbjValue[] {
  return Array.isArray(v) ? v : [];
}

function nums(v: UbjValue | undefined): Nums {
  if (ArrayBuffer.isView(v)) return v as unknown as Nums;
  if (Array.isArray(v)) return v.map((e) => (typeof e === "boolean" ? (e ? 1 : 0) : Number(e)));
  return [];
}
