import * as z from "zod";
import type { ErrorCode } from "../../errors.js";
import { MlbatchError } from "../../errors.js";
import type { MLmodel } from "../mlmodel.js";
import type { FeatureSpec } from "../model.js";
import { FEED_TYPE } from "../signature.js";

/** The loaders' options for natively run flavors (spread into a loader's strict object). */
export const NativeOptionsConfig = {
  probabilities: z
    .boolean()
    .optional()
    .describe(
      "For classifiers of a natively run flavor (scikit-learn, XGBoost, LightGBM): also write the class probabilities, one " +
        "column `probability_<class>` per class (as the library's predict_proba gives them), after what the " +
        "flavor's pyfunc returns. Default false.",
    ),
};

/** What {@link loadNativeModel} takes from a loader's config. */
export interface NativeOptions {
  readonly probabilities?: boolean | undefined;
  /** The loader's `feature_columns`: what names the columns of a model whose signature does not. */
  readonly featureColumns?: readonly string[] | undefined;
  /** The engine's worker threads (`engine_threads`; default: `intra_op_num_threads`, else one per core). */
  readonly engineThreads?: number | undefined;
  readonly intraOpNumThreads?: number | undefined;
}

/**
 * The model's feature columns, in its feature order, as feeds.ts names a single ONNX input's columns: a
 * column signature (by the booster's own feature names when the signature has them all, else in the
 * signature's order), else `feature_columns`, else the booster's `feature_names`, else the input
 * example's columns, else the table's columns in order.
 *
 * @throws MlbatchError `E_CONFIG` when `feature_columns` is set for a model with a column signature or
 * names the wrong number of columns; `E_MODEL_LOAD` when the signature does not fit the booster or names
 * a string column; `E_SCHEMA` when the table's columns do not fit
 */
export function resolveFeatures(
  uri: string,
  mlmodel: MLmodel,
  model: {
    readonly nFeatures: number;
    readonly featureNames: readonly string[] | undefined;
    readonly file: string;
    readonly categories?: readonly (readonly (string | number)[] | undefined)[] | undefined;
  },
  options: NativeOptions,
  tableColumns: readonly string[] | undefined,
): FeatureSpec[] {
  const columns = mlmodel.signature.inputs;
  const { featureColumns } = options;
  const { nFeatures, featureNames } = model;
  if (columns !== undefined) {
    if (featureColumns !== undefined) {
      throw new MlbatchError(
        "E_CONFIG",
        `loader.feature_columns is set, but model ${uri} has a column signature that names its inputs ` +
          `(${columns.map((c) => c.name).join(", ")}): remove loader.feature_columns.`,
      );
    }
    const byName = featureNames?.every((name) => columns.some((c) => c.name === name)) === true;
    const ordered = byName ? featureNames!.map((name) => columns.find((c) => c.name === name)!) : columns;
    if (nFeatures > 0 && ordered.length !== nFeatures) {
      throw new MlbatchError(
        "E_MODEL_LOAD",
        `model ${uri}: its signature has ${ordered.length} input columns, but ${model.file} takes ${nFeatures} features` +
          `${featureNames ? ` (${featureNames.join(", ")})` : ""}. Log the model with a signature of its training columns.`,
      );
    }
    return ordered.map((c, f) => {
      const type = FEED_TYPE[c.type];
      // A string column feeds a feature trained from a pandas category column: by its category codes.
      if (type === "string" && model.categories?.[f] !== undefined) {
        return { name: c.name, signatureType: c.type, type };
      }
      if (type === "string") {
        throw new MlbatchError(
          "E_MODEL_LOAD",
          `model ${uri}: input "${c.name}" is a ${c.type} column in its signature; mlbatch runs ${model.file} on ` +
            "numbers only (a categorical feature by its integer codes). Log the model with the codes as integer columns.",
        );
      }
      return { name: c.name, signatureType: c.type, type };
    });
  }
  const named = pick(featureColumns, featureNames, mlmodel.inputExample?.columns, tableColumns);
  if (named === undefined) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: nothing names the ${nFeatures} columns of ${model.file} (no column signature, no feature names in ` +
        "the model, no input example). Name them, in order, with the loader's feature_columns.",
    );
  }
  if (nFeatures > 0 && named.names.length !== nFeatures) {
    throw new MlbatchError(
      named.code,
      `model ${uri} takes ${nFeatures} features and its signature names no columns, so it would be fed ${named.from}: ` +
        `${named.names.length} columns (${named.names.join(", ")}). Name its ${nFeatures} columns, in order, with the ` +
        "loader's feature_columns, or keep only them with inputs.columns.",
    );
  }
  return named.names.map((name) => ({ name, signatureType: undefined, type: "float64" }));
}

function pick(
  featureColumns: readonly string[] | undefined,
  featureNames: readonly string[] | undefined,
  example: readonly string[] | undefined,
  table: readonly string[] | undefined,
): { names: readonly string[]; from: string; code: ErrorCode } | undefined {
  if (featureColumns !== undefined)
    return { names: featureColumns, from: "loader.feature_columns", code: "E_CONFIG" };
  if (featureNames !== undefined) return { names: featureNames, from: "its feature names", code: "E_SCHEMA" };
  if (example !== undefined)
    return { names: example, from: "the columns of its input example", code: "E_MODEL_LOAD" };
  if (table !== undefined)
    return { names: table, from: "the input's columns in order (id columns left out)", code: "E_SCHEMA" };
  return undefined;
}
