import type { ColumnType } from "../../data/batch.js";
import type { MLmodel } from "../mlmodel.js";
import type { OutputSpec } from "../model.js";
import type { OutputNaming } from "../outputs.js";
import type { PyfuncOptions } from "./options.js";

/** MLflow's column types (and spark_udf's result types) as the columns mlbatch writes. */
const COLUMN_TYPE: Readonly<Record<string, ColumnType>> = {
  double: "float64",
  float: "float32",
  long: "int64",
  integer: "int32",
  boolean: "bool",
  string: "string",
  binary: "string",
  datetime: "string",
};

/** numpy's dtypes (a tensor signature's) as the columns mlbatch writes. */
const DTYPE: Readonly<Record<string, ColumnType>> = {
  float64: "float64",
  float32: "float32",
  float16: "float32",
  int64: "int64",
  int32: "int32",
  int16: "int16",
  int8: "int8",
  uint8: "uint8",
  uint16: "int32",
  uint32: "int64",
  bool: "bool",
  str: "string",
  object: "string",
};

/**
 * The columns a pyfunc model's predictions become, as MLflow's spark_udf types them: the output signature's
 * columns (a column without a name, as MLflow infers for a Series, is `prediction`; a type mlbatch does not
 * write, such as `any` or `object`, is text), a tensor output's dtype (`prediction`, or `prediction_<j>` for
 * each of its k columns), else one `prediction` column of `result_type` (default double). The built-in
 * loader's naming keeps the first as `prediction`.
 */
export function pyfuncOutputs(mlmodel: MLmodel, naming: OutputNaming, options: PyfuncOptions): OutputSpec[] {
  const signed = signatureOutputs(mlmodel.rawOutputs);
  const outputs =
    options.resultType !== undefined || signed === undefined
      ? [{ name: "prediction", type: COLUMN_TYPE[options.resultType ?? "double"]! }]
      : signed;
  return naming === "prediction" ? [{ name: "prediction", type: outputs[0]!.type }] : outputs;
}

function signatureOutputs(raw: readonly Record<string, unknown>[] | undefined): OutputSpec[] | undefined {
  if (raw === undefined || raw.length === 0) return undefined;
  const first = raw[0]!;
  if (first.type === "tensor") {
    const spec = (first["tensor-spec"] ?? {}) as { dtype?: unknown; shape?: unknown };
    const type = DTYPE[String(spec.dtype)] ?? "float64";
    const shape = Array.isArray(spec.shape) ? spec.shape.map(Number) : [-1];
    const k = shape.length === 2 && shape[1]! > 1 ? shape[1]! : 1;
    if (k === 1) return [{ name: "prediction", type }];
    return Array.from({ length: k }, (_, j) => ({ name: `prediction_${j}`, type }));
  }
  return raw.map((item, j) => ({
    name: typeof item.name === "string" ? item.name : raw.length === 1 ? "prediction" : `prediction_${j}`,
    type: COLUMN_TYPE[String(item.type)] ?? "string",
  }));
}
