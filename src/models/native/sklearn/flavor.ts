import { MlbatchError } from "../../../errors.js";
import type { MLmodel, SklearnFlavor } from "../../mlmodel.js";

/**
 * The `sklearn` flavor of a model folder, when mlbatch can read its file: skops. MLflow 1 and 2 wrote no
 * `serialization_format` for their pickles (cloudpickle by default).
 *
 * @returns the flavor, with the estimator file (`data`, relative to the model folder)
 * @throws MlbatchError `E_MODEL_LOAD` when the folder has no sklearn flavor, or stores the model as a
 * pickle (mlbatch never unpickles)
 */
export function skopsFlavor(uri: string, mlmodel: MLmodel): SklearnFlavor {
  const flavor = mlmodel.sklearn;
  if (flavor === undefined) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri} has no "sklearn" flavor (flavors: ${mlmodel.flavors.join(", ") || "none"})`,
    );
  }
  const format = flavor.serializationFormat ?? "cloudpickle";
  if (format !== "skops") {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri} is a scikit-learn model saved as a ${format} (${flavor.data}, scikit-learn ${flavor.sklearnVersion ?? "unknown"}): ` +
        "mlbatch never unpickles a model, because loading a pickle runs whatever code it holds. " +
        'Log it again in the skops format, which mlbatch reads without running code: mlflow.sklearn.log_model(model, name=..., serialization_format="skops") ' +
        `(MLflow 3's default outside Databricks; MLflow 2 offers pickle and cloudpickle only, so log it with MLflow 3); ` +
        "or, if you trust the pickle, run it with MLflow's pyfunc in Python workers: set the loader's pyfunc: auto (or always), " +
        "with a Python that has mlflow (loader.python, $MLBATCH_PYTHON) or loader.env_manager: uv (see docs/pyfunc.md); " +
        "or export it to ONNX (skl2onnx) and log it with mlflow.onnx.",
    );
  }
  return flavor;
}
