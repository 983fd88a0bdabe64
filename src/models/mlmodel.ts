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
  };
}
