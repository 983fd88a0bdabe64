import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { MlbatchError, messageOf } from "../errors.js";
import { parseSignature, type Signature } from "./signature.js";

/** The `onnx` flavor of an MLmodel file. */
export interface OnnxFlavor {
  /** The model file, relative to the model folder. */
  readonly data: string;
  readonly sessionOptions: Readonly<Record<string, unknown>> | undefined;
}

/** What mlbatch needs from a model folder's `MLmodel` file. */
export interface MLmodel {
  readonly directory: string;
  readonly flavors: readonly string[];
  readonly onnx: OnnxFlavor | undefined;
  readonly signature: Signature;
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
    signature: parseSignature(doc.signature, model),
    runId: typeof doc.run_id === "string" ? doc.run_id : undefined,
    mlflowVersion: typeof doc.mlflow_version === "string" ? doc.mlflow_version : undefined,
    inputExample: await readInputExample(directory, doc.saved_input_example_info),
  };
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
