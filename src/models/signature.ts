import type { SignatureType } from "../data/columns.js";
import { MlbatchError, messageOf } from "../errors.js";

export type { SignatureType } from "../data/columns.js";

/** A named column of a column-based MLflow signature. */
export interface ColumnSpec {
  readonly name: string;
  readonly type: SignatureType;
  readonly required: boolean;
}

/** An output column a signature names; its type may be one mlbatch does not feed (`object`, `any`, ...). */
export interface OutputColumnSpec {
  readonly name: string;
  readonly type: string;
}

/** An input of a tensor-based signature: `{"type": "tensor", "tensor-spec": {"dtype", "shape"}}`. */
export interface TensorSpec {
  /** The tensor's name, when the signature has several (a dict of arrays); MLflow writes none for one. */
  readonly name: string | undefined;
  /** numpy's name of the element type: `float32`, `float64`, `int64`, ... */
  readonly dtype: string;
  /** Dimensions, -1 for a variable one (the rows). */
  readonly shape: readonly number[];
}

/** The inputs and outputs of a model's signature. */
export interface Signature {
  /** The input columns of a column-based signature; undefined for a tensor-based one or none. */
  readonly inputs: readonly ColumnSpec[] | undefined;
  /** The output columns a signature names, when it names them. */
  readonly outputs: readonly OutputColumnSpec[] | undefined;
  /** The inputs of a tensor-based signature (models trained on numpy arrays, torch and keras exports). */
  readonly tensorInputs?: readonly TensorSpec[] | undefined;
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
 * `required` flag and the `optional` flag MLflow 2.4 to 2.9 wrote instead. Tensor-based inputs have no
 * column names: they give `tensorInputs`, and `inputs` undefined. Outputs give their names only, whatever
 * their types (MLflow 3 infers `any` or `object` for a classifier's dictionaries of probabilities).
 *
 * @throws MlbatchError `E_MODEL_LOAD` for a signature that is not valid JSON or has input columns of
 * types mlbatch cannot feed
 */
export function parseSignature(raw: unknown, model: string): Signature {
  const signature = (raw ?? {}) as { inputs?: unknown; outputs?: unknown };
  const inputs = parseJson(signature.inputs, model, "inputs");
  const outputs = parseJson(signature.outputs, model, "outputs");
  const tensorInputs = parseTensors(inputs);
  return {
    inputs: tensorInputs === undefined ? parseColumns(inputs, model) : undefined,
    outputs: outputs?.every((item) => typeof item.name === "string" && item.type !== "tensor")
      ? outputs.map((item) => ({ name: String(item.name), type: String(item.type) }))
      : undefined,
    ...(tensorInputs === undefined ? {} : { tensorInputs }),
  };
}

function parseJson(text: unknown, model: string, part: string): Record<string, unknown>[] | undefined {
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
  if (!Array.isArray(items) || items.length === 0) return undefined;
  return items.filter((item): item is Record<string, unknown> => typeof item === "object" && item !== null);
}

function parseTensors(items: readonly Record<string, unknown>[] | undefined): TensorSpec[] | undefined {
  if (items === undefined || !items.every((item) => item.type === "tensor")) return undefined;
  return items.map((item) => {
    const spec = (item["tensor-spec"] ?? {}) as { dtype?: unknown; shape?: unknown };
    return {
      name: typeof item.name === "string" ? item.name : undefined,
      dtype: String(spec.dtype ?? ""),
      shape: Array.isArray(spec.shape) ? spec.shape.map(Number) : [],
    };
  });
}

function parseColumns(
  items: readonly Record<string, unknown>[] | undefined,
  model: string,
): ColumnSpec[] | undefined {
  if (items === undefined) return undefined;
  const specs: ColumnSpec[] = [];
  for (const item of items) {
    if (item.type === "tensor" || typeof item.name !== "string") return undefined;
    const type = String(item.type);
    if (!TYPES.has(type)) {
      throw new MlbatchError(
        "E_MODEL_LOAD",
        `model ${model}: signature inputs column "${item.name}" has type "${type}", which mlbatch cannot feed to ` +
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
