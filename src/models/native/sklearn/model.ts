import type { Batch, Column, ColumnData, ColumnType } from "../../../data/batch.js";
import { MlbatchError, messageOf } from "../../../errors.js";
import type { MLmodel } from "../../mlmodel.js";
import type { FeatureSpec, Model, OutputSpec } from "../../model.js";
import { applyAll, type Compiled } from "./compile.js";
import type { Col, Frame, Prediction } from "./frame.js";

/**
 * A scikit-learn model run natively: the batch's columns, by name, feed the pipeline's transformers in
 * float64 (strings as strings) and its final estimator; outputs as MLflow's sklearn pyfunc gives them
 * (`prediction`: a regressor's value, a classifier's label) and, with `probabilities`, one
 * `probability_<class>` column per class in `classes_` order.
 */
export class SklearnModel implements Model {
  readonly outputs: readonly OutputSpec[];

  /**
   * @param positions - for each input, its position among the root step's features
   * @param width - the number of features the root step takes
   */
  constructor(
    readonly uri: string,
    readonly inputs: readonly FeatureSpec[],
    private readonly positions: readonly number[],
    private readonly width: number,
    private readonly compiled: Compiled,
    private readonly probabilities: boolean,
  ) {
    const classes = compiled.estimator.classes;
    this.outputs = [
      { name: "prediction", type: classes?.type ?? "float64" },
      ...(probabilities && classes !== undefined
        ? classes.values.map(
            (c): OutputSpec => ({ name: `probability_${classLabel(c, classes.type)}`, type: "float64" }),
          )
        : []),
    ];
  }

  /** @inheritdoc */
  get engine(): string {
    const { steps, estimator } = this.compiled;
    const pipeline = steps.length > 1 ? `Pipeline(${steps.slice(0, -1).join(", ")}) then ` : "";
    return `scikit-learn natively: ${pipeline}${estimator.description}`;
  }

  /** @inheritdoc */
  async predict(batch: Batch): Promise<Batch> {
    let prediction: Prediction;
    try {
      prediction = await this.compiled.estimator.predict(
        applyAll(this.compiled.transforms, this.frame(batch)),
      );
    } catch (error) {
      if (error instanceof MlbatchError) throw error;
      throw new MlbatchError(
        "E_PREDICT",
        `model ${this.uri} failed to predict a batch of ${batch.length} rows: ${messageOf(error)}`,
        { cause: error },
      );
    }
    return { length: batch.length, columns: this.columns(prediction, batch.length) };
  }

  /** @inheritdoc */
  close(): Promise<void> {
    return this.compiled.estimator.close();
  }

  /** The root step's features: the inputs' columns at their positions, zeros for features nothing reads. */
  private frame(batch: Batch): Frame {
    const columns: Col[] = Array.from({ length: this.width }, () => new Float64Array(batch.length));
    this.inputs.forEach((input, i) => {
      const column = batch.columns.find((c) => c.name === input.name);
      if (column === undefined) {
        throw new MlbatchError("E_PREDICT", `model ${this.uri}: the batch has no column "${input.name}"`);
      }
      columns[this.positions[i]!] = toCol(column);
    });
    return { length: batch.length, columns };
  }

  private columns(prediction: Prediction, n: number): Column[] {
    if (prediction.kind === "values")
      return [{ name: "prediction", type: "float64", data: prediction.values }];
    const classes = this.compiled.estimator.classes?.values ?? [];
    const type = this.outputs[0]!.type;
    const k = classes.length;
    const labels = prediction.label;
    let data: ColumnData;
    if (type === "string") data = Array.from(labels, (j) => String(classes[j]));
    else if (type === "int64") data = BigInt64Array.from(labels, (j) => BigInt(classes[j] as number));
    else if (type === "bool") data = Uint8Array.from(labels, (j) => (classes[j] ? 1 : 0));
    else data = Float64Array.from(labels, (j) => classes[j] as number);
    const out: Column[] = [{ name: "prediction", type, data }];
    if (!this.probabilities) return out;
    for (let j = 0; j < k; j++) {
      const p = new Float64Array(n);
      for (let i = 0; i < n; i++) p[i] = prediction.proba[i * k + j]!;
      out.push({ name: this.outputs[j + 1]!.name, type: "float64", data: p });
    }
    return out;
  }
}

/** A batch column as the pipeline reads it: float64 numbers or strings. */
function toCol(column: Column): Col {
  const data = column.data;
  if (Array.isArray(data)) return data;
  if (data instanceof Float64Array) return data;
  if (data instanceof BigInt64Array) return Float64Array.from(data, Number);
  return Float64Array.from(data as ArrayLike<number>);
}

/** A class label as Python prints it (`str(label)`): `1`, `1.0` for a float class, `True`, `a`. */
function classLabel(c: number | string, type: string): string {
  if (type === "bool") return c ? "True" : "False";
  if (type === "float64" && Number.isInteger(c)) return `${c}.0`;
  return String(c);
}

/** The signature type of an input, and what it is fed as: strings as strings, every other type as float64. */
export function featureSpec(name: string, mlmodel: MLmodel): FeatureSpec {
  const spec = mlmodel.signature.inputs?.find((c) => c.name === name);
  const type: ColumnType = spec?.type === "string" ? "string" : "float64";
  return { name, signatureType: spec?.type, type };
}
