/**
 * LightGBM's scikit-learn API (`LGBMRegressor`, `LGBMClassifier`) inside a skops file: MLflow 3's
 * `mlflow.lightgbm` stores these estimators whole, as skops, and a scikit-learn Pipeline may end with
 * one. The booster is LightGBM's own text model (the state of `lightgbm.basic.Booster` keeps it as
 * `_handle`), read by the LightGBM reader and run in the tree engine, finished as LightGBM finishes it.
 */
import type { Column } from "../../../data/batch.js";
import { MlbatchError } from "../../../errors.js";
import { categoryCodes, categoryLookups } from "../categories.js";
import { finish, type Head } from "../head.js";
import { readLightgbm } from "../lightgbm/lightgbm-model.js";
import { TreeScorer } from "../tree-scorer.js";
import { Attrs, classesOf, NotNative } from "./attrs.js";
import { argmax, type Col, type Estimator, type Frame, type Prediction } from "./frame.js";

/** The LightGBM estimators of its scikit-learn API that mlbatch runs. */
export const LIGHTGBM_ESTIMATORS: ReadonlySet<string> = new Set([
  "lightgbm.sklearn.LGBMRegressor",
  "lightgbm.sklearn.LGBMClassifier",
]);

/**
 * An `LGBMRegressor` or `LGBMClassifier`: `predict` as the estimator's (a regressor's values; a
 * classifier's `predict_proba`, argmax as its label), its trees cut at `best_iteration_` as its predict
 * does. Columns trained as pandas categories take their strings (`pandas_categorical`).
 *
 * @throws NotNative for a custom objective, or a booster the LightGBM reader refuses
 */
export async function lightgbmEstimator(estimator: Attrs, threads: number): Promise<Estimator> {
  const booster = new Attrs(estimator.object("_Booster"), `the booster of ${estimator.type}`);
  const handle = booster.get("_handle");
  if (typeof handle !== "string") {
    throw new NotNative(
      `${estimator.type}._Booster holds no LightGBM text model (its _handle is not a string)`,
    );
  }
  const best = estimator.has("_best_iteration") ? estimator.get("_best_iteration") : undefined;
  let model: ReturnType<typeof readLightgbm>;
  try {
    model = readLightgbm(`${estimator.type}'s booster`, handle, typeof best === "number" ? best : 0);
  } catch (error) {
    if (error instanceof MlbatchError) throw new NotNative(error.message);
    throw error;
  }
  const classifier = estimator.className === "LGBMClassifier";
  const classes = classifier ? classesOf(estimator, "_classes") : undefined;
  if (classifier && model.link !== "sigmoid" && model.link !== "softmax" && model.link !== "ova") {
    throw new NotNative(
      `${estimator.type} with objective "${model.objective}": its predict returns raw scores, which mlbatch does not reproduce`,
    );
  }
  const head: Head = {
    link: model.link,
    groups: model.groups,
    precision: "float64",
    base: new Float64Array(model.groups),
    scale: model.scale,
    divisor: model.divisor,
  };
  const scorer = await TreeScorer.create(model.ensemble, threads);
  const codes = categoryLookups(model.categories);
  const k = classes?.values.length ?? 0;
  return {
    classes,
    description: `${estimator.className} (LightGBM, ${scorer.description})`,
    async predict(frame: Frame): Promise<Prediction> {
      if (model.nFeatures > 0 && frame.columns.length !== model.nFeatures) {
        throw new Error(
          `${estimator.type} takes ${model.nFeatures} features, and is given ${frame.columns.length}`,
        );
      }
      const n = frame.length;
      const features = frame.columns.map((col, f) => feature(estimator, col, codes[f], f));
      const p = finish(head, await scorer.margins(features, n), n);
      if (classes === undefined) return { kind: "values", values: p };
      if (model.groups === 1) {
        const proba = new Float64Array(2 * n);
        for (let i = 0; i < n; i++) {
          proba[2 * i] = 1 - p[i]!;
          proba[2 * i + 1] = p[i]!;
        }
        return { kind: "classes", proba, label: argmax(proba, n, 2) };
      }
      if (model.groups !== k) {
        throw new Error(`${estimator.type} has ${model.groups} tree groups for ${k} classes`);
      }
      return { kind: "classes", proba: p, label: argmax(p, n, k) };
    },
    close: () => scorer.close(),
  };
}

/** A frame column as the engine's feature: numbers as they are, strings of a categorical feature as codes. */
function feature(
  estimator: Attrs,
  col: Col,
  codes: ReadonlyMap<string, number> | undefined,
  f: number,
): Column {
  if (col instanceof Float64Array) return { name: "", type: "float64", data: col };
  if (codes === undefined) {
    throw new Error(
      `${estimator.type} reads feature ${f} as numbers, but it is given strings (the model has no categories for it)`,
    );
  }
  return { name: "", type: "float64", data: categoryCodes(col, codes) };
}
