import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { MlbatchError, messageOf } from "../errors.js";
import { yaml } from "../packages.js";
import { parseSignature, type Signature } from "./signature.js";

const { parse } = yaml;

/** The `onnx` flavor of an MLmodel file. */
export interface OnnxFlavor {
  /** The model file, relative to the model folder. */
  readonly data: string;
  readonly sessionOptions: Readonly<Record<string, unknown>> | undefined;
}

/** The `xgboost` flavor: XGBoost's own model file. */
export interface XgboostFlavor {
  /** The model file, relative to the model folder (`model.ubj`, `model.json`, `model.xgb`). */
  readonly data: string;
  /** The class saved: `xgboost.core.Booster`, `xgboost.sklearn.XGBClassifier`, ... (MLflow's default: a Booster). */
  readonly modelClass: string;
  /** `ubj` (MLflow 3's default), `json`, or `xgb` (MLflow 2's default: UBJSON from XGBoost 2, legacy binary before). */
  readonly modelFormat: string | undefined;
  readonly xgbVersion: string | undefined;
}

/** The `lightgbm` flavor: a Booster's text model, or a scikit-learn API estimator stored whole. */
export interface LightgbmFlavor {
  /** `model.lgb` for a Booster; `model.skops` / `model.pkl` for an `LGBMModel`. */
  readonly data: string;
  /** `lightgbm.basic.Booster` (MLflow's default), `lightgbm.sklearn.LGBMClassifier`, ... */
  readonly modelClass: string;
  /** `skops`, `pickle` or `cloudpickle` for scikit-learn API estimators (MLflow 3); undefined for a Booster. */
  readonly serializationFormat: string | undefined;
  readonly lgbVersion: string | undefined;
}

/** The `sklearn` flavor. */
export interface SklearnFlavor {
  /** The estimator file, relative to the model folder (`pickled_model`: `model.skops`, `model.pkl`). */
  readonly data: string;
  /** `skops` (MLflow 3's default), `cloudpickle` or `pickle` (MLflow 2's default, when unset). */
  readonly serializationFormat: string | undefined;
  /** The types the model's author trusted for skops loading. */
  readonly skopsTrustedTypes: readonly string[];
  readonly sklearnVersion: string | undefined;
}

/** The `python_function` flavor: what `mlflow.pyfunc.load_model` loads, and the environment it needs. */
export interface PyfuncFlavor {
  /** The module whose `_load_pyfunc` loads the model: `mlflow.pyfunc.model` (a PythonModel), `mlflow.sklearn`, ... */
  readonly loaderModule: string | undefined;
  /** A custom model's pickled PythonModel (`python_model.pkl`), relative to the model folder. */
  readonly pythonModel: string | undefined;
  /** The folder of the modules shipped with `code_paths` (`code`), relative to the model folder. */
  readonly code: string | undefined;
  /** The virtualenv environment file (`python_env.yaml`), relative to the model folder. */
  readonly pythonEnv: string | undefined;
  /** The conda environment file (`conda.yaml`), relative to the model folder. */
  readonly conda: string | undefined;
  /** The Python that saved it (`3.11.7`). */
  readonly pythonVersion: string | undefined;
}

/** What mlbatch needs from a model folder's `MLmodel` file. */
export interface MLmodel {
  readonly directory: string;
  readonly flavors: readonly string[];
  readonly onnx: OnnxFlavor | undefined;
  readonly xgboost?: XgboostFlavor | undefined;
  readonly lightgbm?: LightgbmFlavor | undefined;
  readonly sklearn?: SklearnFlavor | undefined;
  readonly pyfunc?: PyfuncFlavor | undefined;
  readonly signature: Signature;
  /**
   * The signature's outputs as MLflow wrote them (`[{"type": "double", "required": true}]`: a Series, whose
   * column has no name; `[{"type": "tensor", ...}]`: an array), for the pyfunc tier to name and type them.
   */
  readonly rawOutputs?: readonly Record<string, unknown>[] | undefined;
  readonly runId: string | undefined;
  readonly mlflowVersion: string | undefined;
  /**
   * The column names of the input example saved with the model (`saved_input_example_info`, a pandas
   * DataFrame), when there is one: what names a model's features when its signature does not.
   */
  readonly inputExample?: { readonly columns: readonly string[] } | undefined;
}

/**
 * Reads the `MLmodel` file of a model folder.
 *
 * @param directory - the model folder
 * @param model - the model URI, for messages
 * @throws MlbatchError `E_MODEL_LOAD` when the file is missing or malformed
 */
export async function readMLmodel(directory: string, model: string): Promise<MLmodel> {
  let doc: Record<string, unknown>;
  try {
    doc = (parse(await readFile(join(directory, "MLmodel"), "utf8")) ?? {}) as Record<string, unknown>;
  } catch (error) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${model}: cannot read its MLmodel file in ${directory} (${messageOf(error).split("\n")[0]}). Is this an MLflow model folder?`,
      { cause: error },
    );
  }
  const flavors = (doc.flavors ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const onnx = flavors.onnx;
  return {
    directory,
    flavors: Object.keys(flavors),
    onnx:
      onnx === undefined
        ? undefined
        : {
            data: String(onnx.data ?? "model.onnx"),
            sessionOptions: (onnx.onnx_session_options ?? undefined) as Record<string, unknown> | undefined,
          },
    xgboost: xgboostFlavor(flavors.xgboost),
    lightgbm: lightgbmFlavor(flavors.lightgbm),
    sklearn: sklearnFlavor(flavors.sklearn),
    pyfunc: pyfuncFlavor(flavors.python_function),
    signature: parseSignature(doc.signature, model),
    rawOutputs: rawOutputs(doc.signature),
    runId: typeof doc.run_id === "string" ? doc.run_id : undefined,
    mlflowVersion: typeof doc.mlflow_version === "string" ? doc.mlflow_version : undefined,
    inputExample: await readInputExample(directory, doc.saved_input_example_info),
  };
}

type Flavor = Record<string, unknown> | undefined;

const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function xgboostFlavor(f: Flavor): XgboostFlavor | undefined {
  if (f === undefined) return undefined;
  const modelFormat = text(f.model_format);
  return {
    data: text(f.data) ?? `model.${modelFormat ?? "xgb"}`,
    modelClass: text(f.model_class) ?? "xgboost.core.Booster",
    modelFormat,
    xgbVersion: text(f.xgb_version),
  };
}

function lightgbmFlavor(f: Flavor): LightgbmFlavor | undefined {
  if (f === undefined) return undefined;
  return {
    data: text(f.data) ?? "model.lgb",
    modelClass: text(f.model_class) ?? "lightgbm.basic.Booster",
    serializationFormat: text(f.serialization_format),
    lgbVersion: text(f.lgb_version),
  };
}

function sklearnFlavor(f: Flavor): SklearnFlavor | undefined {
  if (f === undefined) return undefined;
  const trusted = Array.isArray(f.skops_trusted_types) ? f.skops_trusted_types.map(String) : [];
  return {
    data: text(f.pickled_model) ?? (text(f.serialization_format) === "skops" ? "model.skops" : "model.pkl"),
    serializationFormat: text(f.serialization_format),
    skopsTrustedTypes: trusted,
    sklearnVersion: text(f.sklearn_version),
  };
}

function pyfuncFlavor(f: Flavor): PyfuncFlavor | undefined {
  if (f === undefined) return undefined;
  const env = f.env;
  const envs = (typeof env === "object" && env !== null ? env : {}) as Record<string, unknown>;
  return {
    loaderModule: text(f.loader_module),
    pythonModel: text(f.python_model),
    code: text(f.code),
    // MLflow before 2.0 wrote `env: conda.yaml`, a string.
    pythonEnv: text(envs.virtualenv),
    conda: text(envs.conda) ?? text(env),
    pythonVersion: text(f.python_version),
  };
}

function rawOutputs(signature: unknown): Record<string, unknown>[] | undefined {
  const outputs = (signature as { outputs?: unknown } | null | undefined)?.outputs;
  if (typeof outputs !== "string") return undefined;
  try {
    const items: unknown = JSON.parse(outputs);
    return Array.isArray(items) ? (items as Record<string, unknown>[]) : undefined;
  } catch {
    // parseSignature reports it.
    return undefined;
  }
}

/**
 * The column names of a saved DataFrame input example: `{"columns": [...], "data": [...]}` (pandas'
 * `split` orient, MLflow's default), `[{column: value}, ...]` (`records`), or the same under
 * `dataframe_split` / `dataframe_records` (a serving input). An example that is not a DataFrame (a numpy
 * array names no columns) or cannot be read gives undefined: it only ever helps to name columns.
 */
async function readInputExample(
  directory: string,
  info: unknown,
): Promise<{ columns: string[] } | undefined> {
  const { artifact_path: path, type } = (info ?? {}) as { artifact_path?: unknown; type?: unknown };
  if (typeof path !== "string" || type !== "dataframe") return undefined;
  let example: unknown;
  try {
    example = JSON.parse(await readFile(join(directory, path), "utf8"));
  } catch {
    return undefined;
  }
  if (typeof example !== "object" || example === null) return undefined;
  const body = example as { dataframe_split?: unknown; dataframe_records?: unknown };
  const frame = (body.dataframe_split ?? body.dataframe_records ?? example) as
    | { columns?: unknown }
    | Record<string, unknown>[];
  const columns = Array.isArray(frame) ? Object.keys(frame[0] ?? {}) : frame?.columns;
  if (!Array.isArray(columns) || columns.length === 0) return undefined;
  if (!columns.every((c): c is string => typeof c === "string")) return undefined;
  return { columns };
}
