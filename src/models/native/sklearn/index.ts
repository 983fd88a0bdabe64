import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { MlbatchError, messageOf } from "../../../errors.js";
import type { MLmodel } from "../../mlmodel.js";
import type { Model } from "../../model.js";
import type { NativeOptions } from "../options.js";
import { decodeSkops } from "../skops/index.js";
import { NotNative } from "./attrs.js";
import { type Compiled, compileModel } from "./compile.js";
import { skopsFlavor } from "./flavor.js";
import { featureSpec, SklearnModel } from "./model.js";

/** A skops file of another flavor (MLflow 3's `mlflow.lightgbm` stores a scikit-learn API estimator so). */
export interface SkopsStored {
  /** The file, relative to the model folder. */
  readonly data: string;
  /** The library and its version, for messages (`lightgbm 4.7.0`). */
  readonly library: string;
}

function sklearnStored(uri: string, mlmodel: MLmodel): SkopsStored {
  const flavor = skopsFlavor(uri, mlmodel);
  return { data: flavor.data, library: `scikit-learn ${flavor.sklearnVersion ?? "?"}` };
}

/**
 * Loads an MLflow `sklearn` model saved in the skops format and runs it without Python: the skops file
 * is decoded (nothing in it is executed or constructed), and the estimators mlbatch knows are compiled
 * (trees into the tree engine, linear models and preprocessing into float64 typed-array code).
 *
 * The inputs are the columns the pipeline reads, by the names it was fitted on (`feature_names_in_`),
 * else the signature's, the input example's or the table's, typed per the signature.
 *
 * @param uri - the model URI, for messages
 * @param mlmodel - the model folder's MLmodel
 * @param options - `probabilities`: a classifier's `probability_<class>` columns; `featureColumns`: the
 * names of a model fitted without column names; `engineThreads`
 * @param tableColumns - the input table's columns, which name the features of a model that names none
 * @param stored - the skops file of another flavor, when it is not the sklearn flavor's
 * @throws MlbatchError `E_MODEL_LOAD` for a pickle, a damaged skops file, or an estimator mlbatch does not
 * run natively (named with its full class name); `E_CONFIG` for `feature_columns` that do not fit;
 * `E_SCHEMA` when nothing names a model's features
 * @example
 * ```ts
 * const model = await loadSklearnModel("models:/bikes/3", mlmodel, { probabilities: false });
 * const outputs = await model.predict(batch);
 * await model.close();
 * ```
 */
export async function loadSklearnModel(
  uri: string,
  mlmodel: MLmodel,
  options: NativeOptions,
  tableColumns?: readonly string[],
  stored?: SkopsStored,
): Promise<Model> {
  const { data, library } = stored ?? sklearnStored(uri, mlmodel);
  const file = join(mlmodel.directory, data);
  let compiled: Compiled;
  try {
    const skops = decodeSkops(await readFile(file));
    compiled = await compileModel(skops.root, options.engineThreads ?? availableParallelism());
  } catch (error) {
    const why = error instanceof NotNative ? error.message : `cannot read ${file}: ${messageOf(error)}`;
    throw new MlbatchError("E_MODEL_LOAD", `model ${uri} (${library}): ${why}`, {
      cause: error,
    });
  }
  try {
    const names = featureNames(uri, compiled, mlmodel, options.featureColumns, tableColumns);
    const positions = names.flatMap((_, i) =>
      compiled.reads === undefined || compiled.reads.has(i) ? [i] : [],
    );
    const inputs = positions.map((i) => featureSpec(names[i]!, mlmodel));
    return new SklearnModel(uri, inputs, positions, names.length, compiled, options.probabilities === true);
  } catch (error) {
    await compiled.estimator.close();
    throw error;
  }
}

/** The names of the root step's features, in order. */
function featureNames(
  uri: string,
  compiled: Compiled,
  mlmodel: MLmodel,
  featureColumns: readonly string[] | undefined,
  tableColumns: readonly string[] | undefined,
): readonly string[] {
  const n = compiled.nFeatures;
  if (featureColumns !== undefined) {
    if (compiled.featureNames !== undefined || mlmodel.signature.inputs !== undefined) {
      throw new MlbatchError(
        "E_CONFIG",
        `loader.feature_columns is set, but model ${uri} names its features (${(compiled.featureNames ?? mlmodel.signature.inputs?.map((c) => c.name) ?? []).join(", ")}): remove loader.feature_columns.`,
      );
    }
    if (n !== undefined && featureColumns.length !== n) {
      throw new MlbatchError(
        "E_CONFIG",
        `loader.feature_columns names ${featureColumns.length} columns, but model ${uri} takes ${n} features: name them all, in order.`,
      );
    }
    return featureColumns;
  }
  if (compiled.featureNames !== undefined) return compiled.featureNames;
  const candidates: [string, readonly string[] | undefined][] = [
    ["its signature", mlmodel.signature.inputs?.map((c) => c.name)],
    ["its input example", mlmodel.inputExample?.columns],
    ["the input table", tableColumns],
  ];
  for (const [, names] of candidates)
    if (names !== undefined && (n === undefined || names.length === n)) return names;
  throw new MlbatchError(
    "E_SCHEMA",
    `model ${uri} was fitted on ${n ?? "unnamed"} features without names, and nothing names ${n ?? "them"} columns ` +
      `(${candidates.map(([from, names]) => `${from}: ${names?.length ?? "none"}`).join(", ")}). ` +
      "Log the model with a signature (mlflow.models.infer_signature(X, model.predict(X))), or keep only its feature columns in the input.",
  );
}
