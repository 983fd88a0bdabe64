/**
 * MLflow's own flavors run without Python.
 *
 * The contract: {@link nativeFlavor} says which flavor of a model folder mlbatch can run natively (or
 * undefined), and {@link loadNativeModel} loads it into a {@link Model} whose outputs are what that
 * flavor's pyfunc returns (`prediction`: a regressor's values, a scikit-learn API classifier's labels, a
 * Booster's probability), with class probabilities as `probability_<class>` columns on request
 * (`probabilities: true`, {@link NativeOptionsConfig}, or by default where pyfunc returns them: a
 * multi-class Booster). Feature columns are named as for ONNX models (a column signature, else
 * `feature_columns`, else the booster's feature names, the input example's columns, the table's).
 *
 * Each flavor has one entry in the dispatch table below (`FLAVORS`): a function from the folder's
 * `MLmodel` to a loaded model. A flavor's reader lives in its own folder (`xgboost/`, `lightgbm/`,
 * `sklearn/`, `skops/`) and, for tree models, gives {@link NativePlan}s (an engine ensemble from
 * `ensemble.ts`, the only file that imports the tree engine, and a {@link Head} that finishes margins as
 * the library does) to {@link NativeModel}. Anything a reader does not support is an `E_MODEL_LOAD`
 * naming the model URI, the file, the thing, and what to do.
 *
 * @example
 * ```ts
 * const mlmodel = await readMLmodel(folder, uri);
 * if (nativeFlavor(mlmodel) !== undefined) {
 *   const model = await loadNativeModel(uri, mlmodel, { probabilities: true }, tableColumns);
 * }
 * ```
 */
import { availableParallelism } from "node:os";
import { MlbatchError } from "../../errors.js";
import type { MLmodel } from "../mlmodel.js";
import type { Model } from "../model.js";
import { type NativeFlavor, nativeFlavor } from "./flavor.js";
import { lightgbmPlan } from "./lightgbm/plan.js";
import { NativeModel } from "./native-model.js";
import type { NativeOptions } from "./options.js";
import { loadSklearnModel } from "./sklearn/index.js";
import { xgboostPlan } from "./xgboost/plan.js";

export { type NativeFlavor, nativeFlavor } from "./flavor.js";
export type { Head, Link } from "./head.js";
export { NativeModel, type NativePlan } from "./native-model.js";
export { type NativeOptions, NativeOptionsConfig } from "./options.js";

type Load = (
  uri: string,
  mlmodel: MLmodel,
  options: NativeOptions,
  tableColumns: readonly string[] | undefined,
) => Promise<Model>;

const threadsOf = (options: NativeOptions) =>
  options.engineThreads ?? (options.intraOpNumThreads || undefined) ?? availableParallelism();

/** The dispatch: one loader per flavor. */
const FLAVORS: { readonly [F in NativeFlavor]: Load } = {
  xgboost: async (uri, mlmodel, options, table) =>
    NativeModel.create(uri, mlmodel, await xgboostPlan(uri, mlmodel), options, table, threadsOf(options)),
  lightgbm: async (uri, mlmodel, options, table) => {
    const flavor = mlmodel.lightgbm!;
    // A Booster is its text (model.lgb), whatever serialization_format says; an estimator, a skops file.
    if (flavor.data.endsWith(".skops")) {
      const library = `lightgbm ${flavor.lgbVersion ?? "?"}`;
      const stored = { data: flavor.data, library };
      return loadSklearnModel(uri, mlmodel, { ...options, engineThreads: threadsOf(options) }, table, stored);
    }
    return NativeModel.create(
      uri,
      mlmodel,
      await lightgbmPlan(uri, mlmodel),
      options,
      table,
      threadsOf(options),
    );
  },
  sklearn: (uri, mlmodel, options, table) =>
    loadSklearnModel(uri, mlmodel, { ...options, engineThreads: threadsOf(options) }, table),
};

/**
 * Loads a model of a natively run flavor ({@link nativeFlavor}) into the tree engine.
 *
 * @param uri - the model URI, for messages
 * @param mlmodel - the model folder's MLmodel
 * @param options - the loader's options: `probabilities`, `featureColumns`, `engineThreads`
 * @param tableColumns - the input table's columns that may feed the model (id columns left out)
 * @returns the model, to predict batches and close
 * @throws MlbatchError `E_MODEL_LOAD` when no flavor runs natively or its file cannot be run (naming the
 * URI, the file and what to do); `E_CONFIG` / `E_SCHEMA` when its columns cannot be named
 * @example
 * ```ts
 * const model = await loadNativeModel("models:/bikes/3", mlmodel, {}, ["hr", "temp"]);
 * const out = await model.predict(batch);
 * await model.close();
 * ```
 */
export function loadNativeModel(
  uri: string,
  mlmodel: MLmodel,
  options: NativeOptions = {},
  tableColumns?: readonly string[],
): Promise<Model> {
  const flavor = nativeFlavor(mlmodel);
  if (flavor === undefined) {
    return Promise.reject(
      new MlbatchError(
        "E_MODEL_LOAD",
        `model ${uri} has no flavor mlbatch runs natively (flavors: ${mlmodel.flavors.join(", ") || "none"}). ` +
          "Log it with mlflow.xgboost, mlflow.lightgbm (a Booster), mlflow.sklearn or mlflow.onnx.",
      ),
    );
  }
  return FLAVORS[flavor](uri, mlmodel, options, tableColumns);
}
