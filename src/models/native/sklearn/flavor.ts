import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { MlbatchError, messageOf } from "../../../errors.js";
import type { MLmodel } from "../../mlmodel.js";
import { OTHER_TIER } from "./attrs.js";

/** The `sklearn` flavor of an MLmodel file. */
export interface SklearnFlavor {
  /** The model file, relative to the model folder (`model.skops`, `model.pkl`). */
  readonly pickledModel: string;
  /** `skops`, `pickle` or `cloudpickle`. */
  readonly serializationFormat: string;
  readonly sklearnVersion: string | undefined;
}

/**
 * Reads the `sklearn` flavor of a model folder's MLmodel file.
 *
 * @throws MlbatchError `E_MODEL_LOAD` when the file has no sklearn flavor, or stores the model as a
 * pickle (mlbatch never unpickles)
 */
export async function readSklearnFlavor(uri: string, mlmodel: MLmodel): Promise<SklearnFlavor> {
  let doc: { flavors?: { sklearn?: Record<string, unknown> } };
  try {
    doc = (parse(await readFile(join(mlmodel.directory, "MLmodel"), "utf8")) ?? {}) as typeof doc;
  } catch (error) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: cannot read its MLmodel file (${messageOf(error)})`,
      {
        cause: error,
      },
    );
  }
  const flavor = doc.flavors?.sklearn;
  if (flavor === undefined || flavor === null) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri} has no "sklearn" flavor (flavors: ${mlmodel.flavors.join(", ") || "none"})`,
    );
  }
  // MLflow 1 and 2 wrote no serialization_format for their pickles (cloudpickle by default).
  const format = String(flavor.serialization_format ?? "cloudpickle");
  const file = String(flavor.pickled_model ?? (format === "skops" ? "model.skops" : "model.pkl"));
  const version = typeof flavor.sklearn_version === "string" ? flavor.sklearn_version : undefined;
  if (format !== "skops") {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri} is a scikit-learn model saved as a ${format} (${file}, scikit-learn ${version ?? "unknown"}): ` +
        "mlbatch never unpickles a model, because loading a pickle runs whatever code it holds. " +
        'Log it again in the skops format, which mlbatch reads without running code: mlflow.sklearn.log_model(model, name=..., serialization_format="skops") ' +
        `(MLflow 3's default outside Databricks; MLflow 2 offers pickle and cloudpickle only, so log it with MLflow 3); or ${OTHER_TIER}.`,
    );
  }
  return { pickledModel: file, serializationFormat: format, sklearnVersion: version };
}
