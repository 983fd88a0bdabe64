/**
 * The pyfunc tier: every MLflow model mlbatch cannot run natively (a custom `PythonModel`, a pickled
 * scikit-learn estimator, statsmodels, prophet, ...) run by MLflow's own `mlflow.pyfunc.load_model` in Python
 * worker processes, fed Arrow record batches over pipes (python/mlbatch_pyfunc_worker.py). Everything around
 * the model (config, registry, validation, streaming, writing) stays in Node.
 *
 * @example
 * ```ts
 * const model = await loadPyfuncModel("models:/bikes/4", mlmodel, "signature", { envManager: "local" }, table, "custom PythonModel");
 * const out = await model.predict(batch);
 * await model.close();
 * ```
 */
import { MlbatchError } from "../../errors.js";
import type { MLmodel } from "../mlmodel.js";
import type { FeatureSpec, Model } from "../model.js";
import type { OutputNaming } from "../outputs.js";
import { FEED_TYPE } from "../signature.js";
import { builtPython, defaultEnvDir, localPython, type PythonEnvironment } from "./environment.js";
import { PYFUNC_DEFAULTS, type PyfuncOptions } from "./options.js";
import { pyfuncOutputs } from "./outputs.js";
import { PyfuncModel } from "./pyfunc-model.js";
import type { WorkerGroup } from "./zygote.js";

export { PYFUNC_DEFAULTS, type PyfuncOptions, PyfuncOptionsConfig } from "./options.js";
export { PyfuncModel, WORKER_SCRIPT } from "./pyfunc-model.js";

/**
 * What a model folder's pyfunc loads, for logs: `a custom PythonModel (python_model.pkl)`, `mlflow.sklearn`.
 *
 * @returns undefined when the folder has no `python_function` flavor
 */
export function pyfuncKind(mlmodel: MLmodel): string | undefined {
  const flavor = mlmodel.pyfunc;
  if (flavor === undefined) return undefined;
  if (flavor.pythonModel !== undefined) return `a custom PythonModel (${flavor.pythonModel})`;
  return flavor.loaderModule ?? "python_function";
}

/**
 * Loads a model folder into Python workers running `mlflow.pyfunc.load_model`.
 *
 * @param naming - how the outputs are named (`signature`, or `prediction`: the first only)
 * @param why - why pyfunc runs it, for the engine's description
 * @param early - a zygote started ahead (the loader's `prestart`), loaded into if it runs this Python with
 * as many workers, else stopped; when the load fails, the caller stops it
 * @throws MlbatchError `E_MODEL_LOAD` when the folder has no python_function flavor, no Python fits, an
 * environment cannot be built, or a worker cannot load the model (its traceback tail)
 */
export async function loadPyfuncModel(
  uri: string,
  mlmodel: MLmodel,
  naming: OutputNaming,
  options: PyfuncOptions,
  tableColumns: readonly string[] | undefined,
  why: string,
  featureColumns?: readonly string[] | undefined,
  early?: WorkerGroup | undefined,
): Promise<Model> {
  if (mlmodel.pyfunc === undefined) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri} has no python_function flavor (flavors: ${mlmodel.flavors.join(", ") || "none"}), so MLflow's pyfunc cannot load it either. ` +
        "Log it with an MLflow flavor or mlflow.pyfunc.log_model.",
    );
  }
  const environment = await pythonOf(uri, mlmodel, options);
  return PyfuncModel.create({
    uri,
    modelDir: mlmodel.directory,
    inputs: pyfuncInputs(uri, mlmodel, featureColumns, tableColumns),
    outputs: pyfuncOutputs(mlmodel, naming, options),
    environment,
    workers: options.workers,
    timeout: options.timeout ?? PYFUNC_DEFAULTS.timeout,
    why,
    early,
  });
}

function pythonOf(uri: string, mlmodel: MLmodel, options: PyfuncOptions): Promise<PythonEnvironment> {
  const manager = options.envManager ?? PYFUNC_DEFAULTS.env_manager;
  if (manager === "local") return localPython(uri, options.python);
  return builtPython(uri, mlmodel, manager, options.envDir ?? defaultEnvDir());
}

/**
 * The columns a pyfunc model is fed: its column signature's (typed as it declares them: pyfunc enforces the
 * signature on what it gets), else `feature_columns`, the input example's, or the table's, as numbers.
 */
function pyfuncInputs(
  uri: string,
  mlmodel: MLmodel,
  featureColumns: readonly string[] | undefined,
  tableColumns: readonly string[] | undefined,
): FeatureSpec[] {
  const signed = mlmodel.signature.inputs;
  if (signed !== undefined) {
    if (featureColumns !== undefined) {
      throw new MlbatchError(
        "E_CONFIG",
        `loader.feature_columns is set, but model ${uri} has a column signature that names its inputs ` +
          `(${signed.map((c) => c.name).join(", ")}): remove loader.feature_columns.`,
      );
    }
    return signed.map((c) => ({ name: c.name, signatureType: c.type, type: FEED_TYPE[c.type] }));
  }
  const names = featureColumns ?? mlmodel.inputExample?.columns ?? tableColumns;
  if (names === undefined) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: nothing names its input columns (no column signature, no input example). Name them with the loader's feature_columns.`,
    );
  }
  return names.map((name) => ({ name, signatureType: undefined, type: "float64" }));
}
