import type { Batch, Column, ColumnType } from "../../data/batch.js";
import { MlbatchError, messageOf } from "../../errors.js";
import type { MLmodel } from "../mlmodel.js";
import type { FeatureSpec, Model, OutputSpec } from "../model.js";
import { categoryCodes, categoryLookups, type FeatureCategories } from "./categories.js";
import type { Ensemble } from "./ensemble.js";
import { argmax, finish, type Head, width } from "./head.js";
import { type NativeOptions, resolveFeatures } from "./options.js";
import { TreeScorer } from "./tree-scorer.js";

/** What a native reader gives the model: the ensemble, its finishing, and what pyfunc returns. */
export interface NativePlan {
  /** `xgboost` or `lightgbm`, for logs. */
  readonly library: string;
  /** The model file, for messages. */
  readonly file: string;
  readonly ensemble: Ensemble;
  readonly head: Head;
  readonly nFeatures: number;
  readonly featureNames: readonly string[] | undefined;
  /**
   * What the flavor's pyfunc returns: `values` (a regressor's predictions, a Booster's one probability or
   * class index), `labels` (a scikit-learn API classifier's `predict`), or `probabilities` (a Booster's
   * `[n, classes]`).
   */
  readonly returns: "values" | "labels" | "probabilities";
  /** The label type of `labels` (`int64` for XGBClassifier, `int32` for its `multi:softmax`). */
  readonly labelType: "int64" | "int32";
  /** Classes of a classifier (2 for binary), 0 for a regressor. */
  readonly classes: number;
  /**
   * The categories of features trained from pandas category columns, by feature: a string input there is
   * fed as its position in the list (see `categoryCodes`).
   */
  readonly categories?: FeatureCategories | undefined;
}

/**
 * A model of an MLflow flavor (XGBoost, LightGBM) run natively in the tree engine, its outputs as the
 * flavor's pyfunc returns them, and class probabilities as `probability_<class>` columns on request.
 */
export class NativeModel implements Model {
  private constructor(
    readonly uri: string,
    readonly inputs: readonly FeatureSpec[],
    readonly outputs: readonly OutputSpec[],
    readonly engine: string,
    private readonly plan: NativePlan,
    private readonly scorer: TreeScorer,
    private readonly probabilities: boolean,
  ) {
    this.codes = categoryLookups(plan.categories);
  }

  /** The code of each category of a categorical feature, by its text. */
  private readonly codes: readonly (ReadonlyMap<string, number> | undefined)[];

  /**
   * Starts the engine on a plan.
   *
   * @throws MlbatchError `E_MODEL_LOAD`, `E_CONFIG` or `E_SCHEMA` when the columns cannot be named (see
   * {@link resolveFeatures}); `E_CONFIG` when probabilities are asked of a regressor
   */
  static async create(
    uri: string,
    mlmodel: MLmodel,
    plan: NativePlan,
    options: NativeOptions,
    tableColumns: readonly string[] | undefined,
    threads: number,
  ): Promise<NativeModel> {
    const inputs = resolveFeatures(uri, mlmodel, plan, options, tableColumns);
    const probabilities = options.probabilities === true;
    if (probabilities && plan.classes === 0) {
      throw new MlbatchError(
        "E_CONFIG",
        `loader.probabilities is set, but model ${uri} (${plan.library}, ${plan.file}) is a regressor: it has no class probabilities. Remove the option.`,
      );
    }
    if (probabilities && plan.head.link === "argmax") {
      throw new MlbatchError(
        "E_CONFIG",
        `loader.probabilities is set, but model ${uri} (${plan.library}, ${plan.file}) has objective multi:softmax, ` +
          "which gives class indexes only (XGBoost's predict_proba refuses it too). Remove the option, or train with multi:softprob.",
      );
    }
    const outputs = planOutputs(plan, probabilities);
    let scorer: TreeScorer;
    try {
      scorer = await TreeScorer.create(plan.ensemble, threads);
    } catch (error) {
      throw new MlbatchError(
        "E_MODEL_LOAD",
        `model ${uri}: the tree engine cannot run ${plan.file} (${messageOf(error)}). Export the model to ONNX instead.`,
        { cause: error },
      );
    }
    const engine = `trees (${plan.library} ${plan.file}, ${scorer.description})`;
    return new NativeModel(uri, inputs, outputs, engine, plan, scorer, probabilities);
  }

  /** @inheritdoc */
  async predict(batch: Batch): Promise<Batch> {
    const n = batch.length;
    const features = this.inputs.map((spec, f) => {
      const column = batch.columns.find((c) => c.name === spec.name);
      if (column === undefined) {
        throw new MlbatchError("E_PREDICT", `model ${this.uri}: the batch has no column "${spec.name}"`);
      }
      const codes = this.codes[f];
      if (Array.isArray(column.data) && codes !== undefined) {
        return { name: column.name, type: "float64" as const, data: categoryCodes(column.data, codes) };
      }
      if (Array.isArray(column.data)) {
        throw new MlbatchError(
          "E_PREDICT",
          `model ${this.uri}: column "${column.name}" is a ${column.type} column; the model takes numbers (a ` +
            "categorical feature takes its integer codes). Cast it to a number in the input, or log the model " +
            "with numeric codes.",
        );
      }
      return column;
    });
    let z: Float32Array;
    try {
      z = await this.scorer.margins(features, n);
    } catch (error) {
      if (error instanceof MlbatchError) throw error;
      throw new MlbatchError("E_PREDICT", `model ${this.uri}: the tree engine failed: ${messageOf(error)}`, {
        cause: error,
      });
    }
    const { head, returns } = this.plan;
    const p = finish(head, z, n);
    const w = width(head);
    const columns: Column[] = [];
    if (returns === "labels") columns.push(labels(this.plan, p, n, w));
    else if (returns === "values") columns.push(floats("prediction", head.precision, p, n, w, 0));
    if (returns === "probabilities" || this.probabilities) {
      columns.push(...probabilityColumns(head.precision, p, n, w));
    }
    return { length: n, columns };
  }

  /** @inheritdoc */
  close(): Promise<void> {
    return this.scorer.close();
  }
}

function planOutputs(plan: NativePlan, probabilities: boolean): OutputSpec[] {
  const precision: ColumnType = plan.head.precision;
  const out: OutputSpec[] = [];
  if (plan.returns === "labels") out.push({ name: "prediction", type: plan.labelType });
  else if (plan.returns === "values") out.push({ name: "prediction", type: precision });
  if (plan.returns === "probabilities" || probabilities) {
    for (let c = 0; c < plan.classes; c++) out.push({ name: `probability_${c}`, type: precision });
  }
  return out;
}

function floats(name: string, type: ColumnType, p: Float64Array, n: number, w: number, j: number): Column {
  const data = type === "float32" ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = p[i * w + j]!;
  return { name, type, data };
}

/** The scikit-learn API's `predict`: the positive class when its probability is above 0.5, else the largest. */
function labels(plan: NativePlan, p: Float64Array, n: number, w: number): Column {
  const data = plan.labelType === "int32" ? new Int32Array(n) : new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const label = w === 1 ? (plan.head.link === "argmax" ? p[i]! : p[i]! > 0.5 ? 1 : 0) : argmax(p, i * w, w);
    if (data instanceof BigInt64Array) data[i] = BigInt(label);
    else data[i] = label;
  }
  return { name: "prediction", type: plan.labelType, data };
}

/** `probability_<class>` columns: the groups' probabilities, or `1 - p` and `p` for one probability. */
function probabilityColumns(type: ColumnType, p: Float64Array, n: number, w: number): Column[] {
  if (w > 1) return Array.from({ length: w }, (_, j) => floats(`probability_${j}`, type, p, n, w, j));
  const r = type === "float32" ? Math.fround : (v: number) => v;
  const q = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    q[2 * i] = r(1 - p[i]!);
    q[2 * i + 1] = p[i]!;
  }
  return [floats("probability_0", type, q, n, 2, 0), floats("probability_1", type, q, n, 2, 1)];
}
