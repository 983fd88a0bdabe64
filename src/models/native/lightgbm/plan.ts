import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MlbatchError, messageOf } from "../../../errors.js";
import type { MLmodel } from "../../mlmodel.js";
import type { NativePlan } from "../native-model.js";
import { readLightgbm } from "./lightgbm-model.js";

/**
 * Reads the `lightgbm` flavor of a model folder into a plan. MLflow saves a Booster as `model.lgb`, and
 * pyfunc returns `Booster.predict`: float64 values, a binary model's probability, a multi-class model's
 * `[n, classes]` probabilities. A scikit-learn API estimator (`LGBMClassifier`) is stored whole: as skops
 * it is read by the scikit-learn loader (`sklearn/gbm.ts`), as a pickle it is refused here.
 *
 * @throws MlbatchError `E_MODEL_LOAD` when the file is missing, is not a Booster's, or cannot be run
 */
export async function lightgbmPlan(uri: string, mlmodel: MLmodel): Promise<NativePlan> {
  const flavor = mlmodel.lightgbm!;
  if (!flavor.data.endsWith(".lgb")) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: its lightgbm flavor holds a ${flavor.modelClass} stored whole as ${flavor.data} ` +
        `(${flavor.serializationFormat ?? "pickle"}): mlbatch never unpickles a model, because loading a pickle runs whatever code it holds. ` +
        "Log it with MLflow 3, which stores it as skops, or log its booster: mlflow.lightgbm.log_model(model.booster_, ...); or export it to ONNX.",
    );
  }
  let content: string;
  try {
    content = await readFile(join(mlmodel.directory, flavor.data), "utf8");
  } catch (error) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: cannot read its LightGBM model file ${flavor.data} in ${mlmodel.directory} (${messageOf(error)}). Is the model folder complete?`,
      { cause: error },
    );
  }
  const model = readLightgbm(`model ${uri}: LightGBM model file ${flavor.data}`, content);
  const { link, groups } = model;
  const classes = link === "sigmoid" && model.objective !== "cross_entropy" ? 2 : groups > 1 ? groups : 0;
  return {
    library: `lightgbm${flavor.lgbVersion ? ` ${flavor.lgbVersion}` : ""}`,
    file: flavor.data,
    ensemble: model.ensemble,
    head: {
      link,
      groups,
      precision: "float64",
      base: new Float64Array(groups),
      scale: model.scale,
      divisor: model.divisor,
    },
    nFeatures: model.nFeatures,
    featureNames: model.featureNames,
    returns: groups > 1 ? "probabilities" : "values",
    labelType: "int64",
    classes,
    categories: model.categories,
  };
}
