import { type Attrs, classesOf, NotNative } from "./attrs.js";
import { argmax, type Estimator, type Frame, numeric, type Prediction } from "./frame.js";
import { expit, softmaxRows } from "./trees.js";

/** `X @ coef_.T + intercept_` in float64, for `k` rows of coefficients. */
function decision(
  model: Attrs,
  frame: Frame,
  coef: Float64Array,
  intercept: Float64Array,
  k: number,
): Float64Array {
  const width = coef.length / k;
  if (frame.columns.length !== width) {
    throw new Error(`${model.type} takes ${width} features, and is given ${frame.columns.length}`);
  }
  const n = frame.length;
  const out = new Float64Array(n * k);
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < n; i++) out[i * k + j] = 0;
    for (let f = 0; f < width; f++) {
      const column = numeric(frame, f, model.type);
      const c = coef[j * width + f]!;
      for (let i = 0; i < n; i++) out[i * k + j] = out[i * k + j]! + column[i]! * c;
    }
    for (let i = 0; i < n; i++) out[i * k + j] = out[i * k + j]! + (intercept[j] ?? 0);
  }
  return out;
}

function interceptOf(model: Attrs): Float64Array {
  const v = model.need("intercept_");
  if (typeof v === "number") return Float64Array.of(v);
  return model.numbers("intercept_");
}

/** LinearRegression, Ridge, Lasso (and ElasticNet, whose predict is the same): one target. */
export function linearRegressor(model: Attrs): Estimator {
  const coefficients = model.array("coef_");
  if (coefficients.shape.length === 2 && coefficients.shape[0] !== 1) {
    throw model.refuse("coef_", "multi-target regressors are not run natively");
  }
  const coef = model.numbers("coef_");
  const intercept = interceptOf(model);
  return {
    classes: undefined,
    description: `${model.className} (float64, ${coef.length} coefficients)`,
    predict: async (frame): Promise<Prediction> => ({
      kind: "values",
      values: decision(model, frame, coef, intercept, 1),
    }),
    close: async () => undefined,
  };
}

/**
 * LogisticRegression as scikit-learn 1.x predicts: binary from one row of coefficients (`expit`),
 * multinomial by softmax, one-vs-rest (`multi_class="ovr"`, or liblinear with more than two classes)
 * by normalized `expit`s.
 */
export function logisticRegression(model: Attrs): Estimator {
  const classes = classesOf(model);
  const coef = model.numbers("coef_");
  const intercept = interceptOf(model);
  const rows = model.array("coef_").shape[0] ?? 1;
  const k = classes.values.length;
  if (!(rows === 1 && k === 2) && rows !== k) {
    throw new NotNative(`${model.type} has ${rows} rows of coefficients for ${k} classes`);
  }
  const multi = model.get("multi_class");
  const ovr =
    multi === "ovr" ||
    ((multi === "auto" || multi === "deprecated" || multi === undefined) &&
      (k <= 2 || model.get("solver") === "liblinear"));
  return {
    classes,
    description: `LogisticRegression (float64, ${k} classes${ovr && k > 2 ? ", one-vs-rest" : ""})`,
    async predict(frame: Frame): Promise<Prediction> {
      const n = frame.length;
      const d = decision(model, frame, coef, intercept, rows);
      if (rows === 1) {
        const proba = new Float64Array(2 * n);
        const label = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          proba[2 * i + 1] = expit(d[i]!);
          proba[2 * i] = 1 - proba[2 * i + 1]!;
          label[i] = d[i]! > 0 ? 1 : 0;
        }
        return { kind: "classes", proba, label };
      }
      const label = argmax(d, n, k);
      if (!ovr) return { kind: "classes", proba: softmaxRows(d, n, k), label };
      const proba = new Float64Array(n * k);
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let j = 0; j < k; j++) sum += proba[i * k + j] = expit(d[i * k + j]!);
        for (let j = 0; j < k; j++) proba[i * k + j] = proba[i * k + j]! / sum;
      }
      return { kind: "classes", proba, label };
    },
    close: async () => undefined,
  };
}
