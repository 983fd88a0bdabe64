import type { SkValue } from "../skops/index.js";
import { Attrs, classesOf, NotNative } from "./attrs.js";
import { decodeTrees, type TreeNodes, TreeRunner } from "./engine.js";
import { argmax, type Estimator, type Frame, float32Rows, type Prediction } from "./frame.js";

/** A `sklearn.tree._tree.Tree`: its nodes and its values `[nodes, outputs, classes]`. */
export interface SkTree {
  readonly nodes: TreeNodes;
  readonly nFeatures: number;
  /** Values per node (the largest class count, 1 for a regressor). */
  readonly width: number;
  readonly values: Float64Array;
}

/** Reads the `tree_` of a fitted decision tree (single output). */
export function readTree(estimator: Attrs): SkTree {
  const tree = estimator.object("tree_");
  const state = new Attrs(tree, "a sklearn.tree._tree.Tree");
  const nodes = state.array("nodes");
  const fields = nodes.fields;
  const field = (name: string) => {
    const column = fields?.get(name);
    if (column === undefined) throw new NotNative(`${estimator.type}.tree_.nodes has no field ${name}`);
    return column;
  };
  const values = state.array("values");
  const [count, outputs, width] = values.shape;
  if (outputs !== 1) throw estimator.refuse("n_outputs_", "multi-output trees are not run natively");
  const left = field("left_child");
  if (count !== left.length)
    throw new NotNative(`${estimator.type}.tree_ has ${left.length} nodes and ${count} values`);
  const args = Array.isArray(tree.args) ? (tree.args as SkValue[]) : [];
  return {
    nodes: {
      feature: field("feature"),
      threshold: field("threshold"),
      left,
      right: field("right_child"),
      // scikit-learn < 1.3 stores no missing_go_to_left: NaN was refused there, and goes right here.
      missingLeft: fields?.get("missing_go_to_left") ?? new Float64Array(left.length),
      values: values.values as Float64Array,
    },
    nFeatures: typeof args[0] === "number" ? args[0] : estimator.number("n_features_in_"),
    width: width ?? 1,
    values: values.values as Float64Array,
  };
}

/** A tree's nodes with each leaf's values divided by their sum (a classifier's per-tree probabilities), times `scale`. */
function normalized(tree: SkTree, scale: number): TreeNodes {
  const k = tree.width;
  const values = new Float64Array(tree.values.length);
  for (let i = 0; i < tree.nodes.left.length; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += tree.values[i * k + j]!;
    for (let j = 0; j < k; j++) values[i * k + j] = sum > 0 ? (tree.values[i * k + j]! / sum) * scale : 0;
  }
  return { ...tree.nodes, values };
}

/**
 * DecisionTree, RandomForest and ExtraTrees, regressors and classifiers: the trees' leaf values averaged
 * (a classifier's normalized per tree, as `predict_proba` does), rows cast to float32 as scikit-learn does.
 */
export async function forestEstimator(estimator: Attrs, threads: number): Promise<Estimator> {
  const single = estimator.className.startsWith("DecisionTree");
  const classifier = estimator.className.endsWith("Classifier");
  if (estimator.has("n_outputs_") && estimator.number("n_outputs_") !== 1) {
    throw estimator.refuse("n_outputs_", "multi-output models are not run natively");
  }
  const members = single
    ? [estimator]
    : estimator.list("estimators_").map((e) => new Attrs(e, `a tree of ${estimator.type}`));
  const trees = members.map(readTree);
  const classes = classifier ? classesOf(estimator) : undefined;
  const k = classes?.values.length ?? 1;
  const nodes = trees.map((t) => (classifier ? normalized(t, 1) : t.nodes));
  for (const t of trees)
    if (t.width !== k)
      throw new NotNative(`${estimator.type}: a tree has ${t.width} values per node for ${k} classes`);
  const width = trees[0]?.nFeatures ?? 0;
  const runner = await TreeRunner.create(decodeTrees(nodes, k, "average", width), threads);
  return {
    classes,
    description: `${estimator.className} (${runner.description})`,
    async predict(frame: Frame): Promise<Prediction> {
      checkWidth(estimator, frame, width);
      const z = await runner.run(float32Rows(frame, estimator.type), frame.length, width);
      const values = Float64Array.from(z);
      if (classes === undefined) return { kind: "values", values };
      return { kind: "classes", proba: values, label: argmax(values, frame.length, k) };
    },
    close: () => runner.close(),
  };
}

/**
 * GradientBoosting regressor and classifier: the init estimator's raw prediction (a DummyRegressor's
 * constant, a DummyClassifier's prior through the loss' link, or 'zero') plus `learning_rate` times the
 * trees' values, then the loss' inverse link (logistic, softmax).
 */
export async function boostingEstimator(estimator: Attrs, threads: number): Promise<Estimator> {
  const classifier = estimator.className.endsWith("Classifier");
  const stages = estimator.need("estimators_");
  if (!(typeof stages === "object" && stages !== null && "kind" in stages && stages.kind === "objects")) {
    throw new NotNative(`${estimator.type}.estimators_ is not an array of trees`);
  }
  const [, perStage = 1] = stages.shape;
  const rate = estimator.number("learning_rate");
  const trees = stages.items.map((e) => readTree(new Attrs(e, `a tree of ${estimator.type}`)));
  // Tree j of a stage adds to target j (stages are rows of the array, in C order).
  const scaled = trees.map((t, i) => {
    const values = new Float64Array(t.nodes.left.length * perStage);
    for (let n = 0; n < t.nodes.left.length; n++) values[n * perStage + (i % perStage)] = rate * t.values[n]!;
    return { ...t.nodes, values };
  });
  const classes = classifier ? classesOf(estimator) : undefined;
  const loss = estimator.has("loss") ? estimator.get("loss") : "squared_error";
  if (classifier && loss !== "log_loss" && loss !== "deviance" && loss !== "exponential") {
    throw estimator.refuse("loss", "only log_loss and exponential are reproduced");
  }
  const init = initRaw(estimator, perStage, classifier, loss === "exponential");
  const width = trees[0]?.nFeatures ?? 0;
  const runner = await TreeRunner.create(decodeTrees(scaled, perStage, "sum", width), threads);
  return {
    classes,
    description: `${estimator.className} (${runner.description})`,
    async predict(frame: Frame): Promise<Prediction> {
      checkWidth(estimator, frame, width);
      const n = frame.length;
      const z = await runner.run(float32Rows(frame, estimator.type), n, width);
      const raw = new Float64Array(n * perStage);
      for (let i = 0; i < raw.length; i++) raw[i] = z[i]! + init[i % perStage]!;
      if (classes === undefined) return { kind: "values", values: raw };
      if (perStage === 1) {
        const proba = new Float64Array(2 * n);
        const factor = loss === "exponential" ? 2 : 1;
        const label = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          proba[2 * i + 1] = expit(factor * raw[i]!);
          proba[2 * i] = 1 - proba[2 * i + 1]!;
          label[i] = raw[i]! >= 0 ? 1 : 0;
        }
        return { kind: "classes", proba, label };
      }
      return { kind: "classes", proba: softmaxRows(raw, n, perStage), label: argmax(raw, n, perStage) };
    },
    close: () => runner.close(),
  };
}

/** The init estimator's raw prediction, per target. */
function initRaw(estimator: Attrs, k: number, classifier: boolean, exponential: boolean): Float64Array {
  const init = estimator.need("init_");
  if (init === "zero") return new Float64Array(k);
  const dummy = new Attrs(init, `the init estimator of ${estimator.type}`);
  if (!classifier) {
    if (dummy.type !== "sklearn.dummy.DummyRegressor") throw unsupportedInit(estimator, dummy.type);
    return Float64Array.from({ length: k }, (_, j) => dummy.numbers("constant_")[j] ?? Number.NaN);
  }
  if (dummy.type !== "sklearn.dummy.DummyClassifier" || dummy.get("strategy") !== "prior") {
    throw unsupportedInit(estimator, dummy.type);
  }
  // As scikit-learn's _init_raw_predictions: probabilities clipped to [eps, 1 - eps] (float32's eps).
  const eps = 2 ** -23;
  const prior = Array.from(dummy.numbers("class_prior_"), (p) => Math.min(Math.max(p, eps), 1 - eps));
  if (k === 1) {
    const p = prior[1]!;
    return Float64Array.of(Math.log(p / (1 - p)) * (exponential ? 0.5 : 1));
  }
  // The symmetric multinomial logit: log(p) - mean(log(p)).
  const logs = prior.map(Math.log);
  const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
  return Float64Array.from(logs, (v) => v - mean);
}

function unsupportedInit(estimator: Attrs, type: string): NotNative {
  return new NotNative(
    `${estimator.type} with init=${type}: mlbatch reproduces the default init (DummyRegressor, DummyClassifier prior) and 'zero'`,
  );
}

function checkWidth(estimator: Attrs, frame: Frame, width: number): void {
  if (frame.columns.length !== width) {
    throw new Error(`${estimator.type} takes ${width} features, and is given ${frame.columns.length}`);
  }
}

export function expit(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** Softmax of each row of a row-major [n, k] matrix (max subtracted first, as scipy does). */
export function softmaxRows(raw: Float64Array, n: number, k: number): Float64Array {
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) max = Math.max(max, raw[i * k + j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += out[i * k + j] = Math.exp(raw[i * k + j]! - max);
    for (let j = 0; j < k; j++) out[i * k + j] = out[i * k + j]! / sum;
  }
  return out;
}
