import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MlbatchError, messageOf } from "../../../errors.js";
import type { MLmodel } from "../../mlmodel.js";
import type { NativePlan } from "../native-model.js";
import { readXgboost } from "./xgboost-model.js";

/**
 * Reads the `xgboost` flavor of a model folder into a plan. pyfunc loads the class MLflow saved
 * (`model_class`): a scikit-learn API classifier (`XGBClassifier`, `XGBRFClassifier`) predicts labels
 * (int64; int32 for `multi:softmax`) and cuts its trees at `best_iteration`; a regressor or a Booster
 * predicts values (float32: a Booster's binary classifier its probability, a `multi:softprob` Booster
 * `[n, classes]` probabilities, a `multi:softmax` one the class index).
 *
 * @throws MlbatchError `E_MODEL_LOAD` when the file is missing or cannot be run
 */
export async function xgboostPlan(uri: string, mlmodel: MLmodel): Promise<NativePlan> {
  const flavor = mlmodel.xgboost!;
  const path = join(mlmodel.directory, flavor.data);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: cannot read its XGBoost model file ${flavor.data} in ${mlmodel.directory} (${messageOf(error)}). Is the model folder complete?`,
      { cause: error },
    );
  }
  const sklearn = flavor.modelClass.startsWith("xgboost.sklearn.");
  const classifier = sklearn && /Classifier$/.test(flavor.modelClass);
  const model = readXgboost(uri, flavor.data, bytes, sklearn);
  const { link, groups } = model;
  const probabilistic = link === "sigmoid" || link === "softmax" || link === "hinge" || link === "argmax";
  const isClassifier = classifier || (probabilistic && model.objective !== "reg:logistic");
  const classes = !isClassifier ? 0 : groups > 1 ? groups : 2;
  const returns = classifier ? "labels" : link === "softmax" ? "probabilities" : "values";
  return {
    library: `xgboost ${model.version.join(".")}`,
    file: flavor.data,
    ensemble: model.ensemble,
    head: { link, groups, precision: "float32", base: model.base, scale: 1, divisor: 1 },
    nFeatures: model.nFeatures,
    featureNames: model.featureNames,
    returns,
    labelType: link === "argmax" ? "int32" : "int64",
    classes,
    categories: model.categories,
  };
}
