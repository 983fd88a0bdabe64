import { MlbatchError, messageOf } from "../errors.js";

/** MLflow's column types (`mlflow.types.DataType`). */
export type SignatureType =
  | "boolean"
  | "integer"
  | "long"
  | "float"
  | "double"
  | "string"
  | "binary"
  | "datetime";

/** A named column of a column-based MLflow signature. */
export interface ColumnSpec {
  readonly name: string;
  readonly type: SignatureType;
  readonly required: boolean;
}

/** The inputs and outputs of a model's signature, when the model has a column-based one. */
export interface Signature {
  readonly inputs: readonly ColumnSpec[] | undefined;
  readonly outputs: readonly ColumnSpec[] | undefined;
}

const TYPES = new Set<string>([
  "boolean",
  "integer",
  "long",
  "float",
  "double",
  "string",
  "binary",
  "datetime",
]);

/**
 * Parses the `signature` of an MLmodel file (its `inputs` and `outputs` are JSON strings). Accepts the
 * `required` flag and the `optional` flag MLflow 2.4 to 2.9 wrote instead. Tensor-based signatures have no
 * column names and give `undefined`.
 *
 * @throws MlbatchError `E_MODEL_LOAD` for a signature that is not valid JSON or has unknown column types
 */
export function parseSignature(raw: unknown, model: string): Signature {
  const signature = (raw ?? {}) as { inputs?: unknown; outputs?: unknown };
  return {
    inputs: parseSpec(signature.inputs, model, "inputs"),
    outputs: parseSpec(signature.outputs, model, "outputs"),
  };
}

function parseSpec(text: unknown, model: string, part: string): ColumnSpec[] | undefined {
  if (typeof text !== "string" || text.trim() === "") return undefined;
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch (error) {
    throw new MlbatchError(
      "E_MODEL_LOAD",
      `model ${model}: its signature ${part} are not valid JSON (${messageOf(error)})`,
    );
  }
  if (!Array.isArray(items)) return undefined;
  const specs: ColumnSpec[] = [];
  for (const item of items as Record<string, unknown>[]) {
    if (item.type === "tensor" || typeof item.name !== "string") return undefined;
    const type = String(item.type);
    if (!TYPES.has(type)) {
      throw new MlbatchError(
        "E_MODEL_LOAD",
        `model ${model}: signature ${part} column "${item.name}" has type "${type}", which mlbatch cannot feed to ` +
          "an ONNX model (supported: boolean, integer, long, float, double, string, binary, datetime)",
      );
    }
    const required = item.required === undefined ? item.optional !== true : item.required !== false;
    specs.push({ name: item.name, type: type as SignatureType, required });
  }
  return specs;
}

/** The tensor element type a column of each signature type is read as, before the graph is known. */
export const FEED_TYPE = {
  boolean: "bool",
  integer: "int32",
  long: "int64",
  float: "float32",
  double: "float64",
  string: "string",
  binary: "string",
  datetime: "string",
} as const;
