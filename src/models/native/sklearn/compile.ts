import { describe, isArray, isDict, isObject, type SkValue } from "../skops/index.js";
import { Attrs, NotNative, unsupported } from "./attrs.js";
import { oneHotEncoder, ordinalEncoder } from "./encoders.js";
import type { Estimator, Frame, Transform } from "./frame.js";
import { LIGHTGBM_ESTIMATORS, lightgbmEstimator } from "./gbm.js";
import { histEstimator } from "./hgb.js";
import { linearRegressor, logisticRegression } from "./linear.js";
import { minMaxScaler, simpleImputer, standardScaler } from "./scalers.js";
import { boostingEstimator, forestEstimator } from "./trees.js";

const FORESTS = new Set([
  "sklearn.tree._classes.DecisionTreeRegressor",
  "sklearn.tree._classes.DecisionTreeClassifier",
  "sklearn.tree._classes.ExtraTreeRegressor",
  "sklearn.tree._classes.ExtraTreeClassifier",
  "sklearn.ensemble._forest.RandomForestRegressor",
  "sklearn.ensemble._forest.RandomForestClassifier",
  "sklearn.ensemble._forest.ExtraTreesRegressor",
  "sklearn.ensemble._forest.ExtraTreesClassifier",
]);
const BOOSTING = new Set([
  "sklearn.ensemble._gb.GradientBoostingRegressor",
  "sklearn.ensemble._gb.GradientBoostingClassifier",
]);
const HIST = "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoosting";
const LINEAR = new Set([
  "sklearn.linear_model._base.LinearRegression",
  "sklearn.linear_model._ridge.Ridge",
  "sklearn.linear_model._coordinate_descent.Lasso",
  "sklearn.linear_model._coordinate_descent.ElasticNet",
]);
const PIPELINE = "sklearn.pipeline.Pipeline";
const COLUMNS = "sklearn.compose._column_transformer.ColumnTransformer";
/** The function HistGradientBoosting's `_preprocessor` validates its numeric features with (no change to them). */
const CHECK_ARRAY = "sklearn.utils.validation.check_array";

/** A model compiled from its skops tree: its transformers, its final estimator, and the inputs it reads. */
export interface Compiled {
  readonly transforms: readonly Transform[];
  readonly estimator: Estimator;
  /** The names of the features the root step was fitted on (`feature_names_in_`), when it was on a DataFrame. */
  readonly featureNames: readonly string[] | undefined;
  /** The number of features the root step takes. */
  readonly nFeatures: number | undefined;
  /** The positions of the root's features something reads (a ColumnTransformer may drop some); undefined: all. */
  readonly reads: ReadonlySet<number> | undefined;
  /** The class names of every step, for logs. */
  readonly steps: readonly string[];
}

/**
 * Compiles a decoded scikit-learn estimator or Pipeline.
 *
 * @throws NotNative naming the class or attribute mlbatch does not run
 */
export async function compileModel(root: SkValue, threads: number): Promise<Compiled> {
  const top = new Attrs(root, "a scikit-learn estimator");
  const steps = top.type === PIPELINE ? pipelineSteps(top) : [root];
  const last = steps[steps.length - 1];
  const first = steps.find((s) => isObject(s));
  const transforms = steps.slice(0, -1).map(compileTransform);
  const estimator = await compileEstimator(last, threads);
  const head = first === undefined ? top : new Attrs(first);
  const names = head.get("feature_names_in_");
  return {
    transforms,
    estimator,
    featureNames:
      isArray(names) && !(names.values instanceof Float64Array) ? (names.values as string[]) : undefined,
    nFeatures: head.has("n_features_in_") ? head.number("n_features_in_") : undefined,
    reads: head.type === COLUMNS ? columnReads(head) : undefined,
    steps: steps.map((s) => (isObject(s) ? new Attrs(s).className : String(s))),
  };
}

function pipelineSteps(pipeline: Attrs): SkValue[] {
  return pipeline.list("steps").map((step, i) => {
    if (!Array.isArray(step) || step.length !== 2)
      throw new NotNative(`${pipeline.type}.steps[${i}] is not a (name, step) pair`);
    return step[1] as SkValue;
  });
}

async function compileEstimator(value: SkValue | undefined, threads: number): Promise<Estimator> {
  const estimator = new Attrs(value, "a final estimator");
  const type = estimator.type;
  if (FORESTS.has(type)) return forestEstimator(estimator, threads);
  if (BOOSTING.has(type)) return boostingEstimator(estimator, threads);
  if (type === `${HIST}Regressor` || type === `${HIST}Classifier`) {
    const pre = estimator.get("_preprocessor");
    return histEstimator(
      estimator,
      pre === null || pre === undefined ? undefined : compileTransform(pre),
      threads,
    );
  }
  if (LIGHTGBM_ESTIMATORS.has(type)) return lightgbmEstimator(estimator, threads);
  if (LINEAR.has(type)) return linearRegressor(estimator);
  if (type === "sklearn.linear_model._logistic.LogisticRegression") return logisticRegression(estimator);
  if (type === PIPELINE) {
    const steps = pipelineSteps(estimator);
    const transforms = steps.slice(0, -1).map(compileTransform);
    const inner = await compileEstimator(steps[steps.length - 1], threads);
    return {
      classes: inner.classes,
      description: inner.description,
      predict: (frame) => inner.predict(applyAll(transforms, frame)),
      close: () => inner.close(),
    };
  }
  throw unsupported(type);
}

/** Applies transformers in order. */
export function applyAll(transforms: readonly Transform[], frame: Frame): Frame {
  return transforms.reduce((f, t) => t.apply(f), frame);
}

const IDENTITY: Transform = { apply: (frame) => frame };

function compileTransform(value: SkValue): Transform {
  if (value === "passthrough" || value === null) return IDENTITY;
  const step = new Attrs(value, "a transformer");
  switch (step.type) {
    case PIPELINE: {
      const transforms = pipelineSteps(step).map(compileTransform);
      return { apply: (frame) => applyAll(transforms, frame) };
    }
    case COLUMNS:
      return columnTransformer(step);
    case "sklearn.preprocessing._encoders.OneHotEncoder":
      return oneHotEncoder(step);
    case "sklearn.preprocessing._encoders.OrdinalEncoder":
      return ordinalEncoder(step);
    case "sklearn.preprocessing._data.StandardScaler":
      return standardScaler(step);
    case "sklearn.preprocessing._data.MinMaxScaler":
      return minMaxScaler(step);
    case "sklearn.impute._base.SimpleImputer":
      return simpleImputer(step);
    case "sklearn.preprocessing._function_transformer.FunctionTransformer":
      return functionTransformer(step);
    default:
      throw unsupported(step.type, "a transformer");
  }
}

/** `passthrough` as fitted (no function), or HistGradientBoosting's numeric validation; any other function is refused. */
function functionTransformer(step: Attrs): Transform {
  const func = step.get("func");
  if (func === null || func === undefined) return IDENTITY;
  const partial =
    typeof func === "object" && !Array.isArray(func) && "kind" in func && func.kind === "partial";
  if (
    partial &&
    typeof func.func === "object" &&
    func.func !== null &&
    "name" in func.func &&
    func.func.name === CHECK_ARRAY
  ) {
    return IDENTITY;
  }
  throw step.refuse("func", "a FunctionTransformer runs Python code");
}

/** The fitted ColumnTransformer's parts: each transformer and the input positions it reads. */
function columnParts(ct: Attrs): { transform: Transform; columns: number[] }[] {
  if (ct.get("transformer_weights") !== null && ct.get("transformer_weights") !== undefined) {
    throw ct.refuse("transformer_weights", "weighted transformers are not reproduced natively");
  }
  const indices = ct.get("_transformer_to_input_indices");
  const names = ct.get("feature_names_in_");
  const featureNames = isArray(names) ? (names.values as readonly (string | number)[]) : [];
  const parts: { transform: Transform; columns: number[] }[] = [];
  for (const [i, entry] of ct.list("transformers_").entries()) {
    if (!Array.isArray(entry) || entry.length !== 3)
      throw new NotNative(`${ct.type}.transformers_[${i}] is not a (name, transformer, columns) triple`);
    const [name, transformer, selection] = entry as [SkValue, SkValue, SkValue];
    if (transformer === "drop") continue;
    const known = isDict(indices) ? indices.entries.get(String(name)) : undefined;
    const columns = Array.isArray(known) ? known.map(Number) : selected(ct, selection, featureNames);
    if (columns.length === 0) continue;
    parts.push({ transform: compileTransform(transformer), columns });
  }
  return parts;
}

/** Input positions of a column selection: names, positions, a boolean mask or a slice. */
function selected(ct: Attrs, selection: SkValue, names: readonly (string | number)[]): number[] {
  const list = isArray(selection) ? Array.from(selection.values as ArrayLike<number | string>) : selection;
  if (typeof list === "string" || typeof list === "number") return selected(ct, [list], names);
  if (Array.isArray(list)) {
    if (list.every((v) => typeof v === "boolean") || (isArray(selection) && selection.dtype.endsWith("b1"))) {
      return list.flatMap((v, i) => (v ? [i] : []));
    }
    return list.map((v) => {
      if (typeof v === "number") return v < 0 ? names.length + v : v;
      const at = names.indexOf(v as string);
      if (at < 0)
        throw new NotNative(`${ct.type} selects column ${JSON.stringify(v)}, which it was not fitted on`);
      return at;
    });
  }
  throw new NotNative(
    `${ct.type} selects columns with ${describe(selection)}; mlbatch reads names, positions and masks`,
  );
}

function columnTransformer(ct: Attrs): Transform {
  const parts = columnParts(ct);
  return {
    apply(frame: Frame): Frame {
      const columns = parts.flatMap(
        ({ transform, columns: at }) =>
          transform.apply({ length: frame.length, columns: at.map((i) => frame.columns[i]!) }).columns,
      );
      return { length: frame.length, columns };
    },
  };
}

function columnReads(ct: Attrs): Set<number> {
  return new Set(columnParts(ct).flatMap((p) => p.columns));
}
