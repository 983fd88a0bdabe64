import type ort from "onnxruntime-node";
import type { ColumnType } from "../data/batch.js";
import { MlbatchError } from "../errors.js";

const TENSOR_TYPES: Partial<Record<string, ColumnType>> = {
  float32: "float32",
  float64: "float64",
  int64: "int64",
  int32: "int32",
  int16: "int16",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
  string: "string",
};

/** A graph input or output that is a tensor of a type batches hold. */
export interface TensorValue {
  readonly name: string;
  readonly type: ColumnType;
  readonly shape: readonly (number | string)[];
}

/**
 * A graph value as a tensor mlbatch feeds or writes.
 *
 * @param hint - what to do, for a value that is not a tensor (e.g. how to export without ZipMap)
 * @throws MlbatchError `E_MODEL_LOAD` for a value that is not a tensor, or of a type batches do not hold
 */
export function tensorValue(
  uri: string,
  meta: ort.InferenceSession.ValueMetadata,
  role: "input" | "output",
  hint = "",
): TensorValue {
  const type = meta.isTensor ? TENSOR_TYPES[meta.type] : undefined;
  if (!meta.isTensor || type === undefined) {
    const what = meta.isTensor ? `a tensor of ${meta.type}` : "not a tensor (a sequence or a map)";
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${uri}: ${role} "${meta.name}" is ${what}, which mlbatch cannot handle.${meta.isTensor ? "" : hint}`,
    );
  }
  return { name: meta.name, type, shape: meta.shape };
}
