/**
 * MLflow's verdict on a column: `_enforce_mlflow_datatype` (mlflow/models/utils.py, MLflow 3.17) ported
 * rule by rule, judging the dtype pandas reads the column as (see pandas-dtypes.ts).
 * test/data/type-verdicts.test.ts asks MLflow itself for the same verdicts.
 */
import type { SignatureType } from "./columns.js";
import type { PandasDtype } from "./pandas-dtypes.js";

/** What MLflow's pyfunc does with a column of a given dtype for a given signature type. */
export type Verdict =
  /** It converts (or keeps) the column. */
  | { readonly kind: "accept" }
  /** int64 to float or double: accepted only when every value is 0 or 1 (or missing). */
  | { readonly kind: "zero-one" }
  /** It refuses: "Incompatible input types ... Can not safely convert A to B", or a failed conversion. */
  | { readonly kind: "refuse"; readonly why: string }
  /**
   * Its check hands the column's Python objects (decimals, dates, bytes, booleans and None) to the model
   * unchanged, where ONNX Runtime refuses them or receives their Python text: mlbatch refuses.
   */
  | { readonly kind: "objects" };

/** numpy's name of each signature type (`DataType.to_numpy()`), as MLflow's messages print it. */
export const SIGNATURE_NUMPY: Readonly<Record<SignatureType, string>> = {
  boolean: "bool",
  integer: "int32",
  long: "int64",
  float: "float32",
  double: "float64",
  string: "str",
  binary: "bytes",
  datetime: "datetime64[ns]",
};

const NUMPY: Readonly<Partial<Record<SignatureType, { kind: "b" | "i" | "f"; size: number }>>> = {
  boolean: { kind: "b", size: 1 },
  integer: { kind: "i", size: 4 },
  long: { kind: "i", size: 8 },
  float: { kind: "f", size: 4 },
  double: { kind: "f", size: 8 },
};

/** The signature types a missing value can be fed to, as NaN. */
export function holdsNaN(type: SignatureType): boolean {
  return type === "float" || type === "double";
}

/**
 * MLflow's verdict on a column of pandas dtype `dtype` for signature type `type`, in the order
 * `_enforce_mlflow_datatype` tests its rules.
 */
export function mlflowVerdict(dtype: PandasDtype, type: SignatureType): Verdict {
  const accept = { kind: "accept" } as const;
  const refuse = (why = `cannot safely convert ${dtype.name} to ${SIGNATURE_NUMPY[type]}`): Verdict => ({
    kind: "refuse",
    why,
  });
  const plainObjects = dtype.objects !== undefined;
  if (type === "string" && (plainObjects || dtype.text)) return plainObjects ? { kind: "objects" } : accept;
  if (type === "binary" && dtype.text) return accept;
  if (type === "binary" && plainObjects) return dtype.objects === "bytes" ? accept : { kind: "objects" };
  const numpy = NUMPY[type];
  // `t.to_numpy() == values.dtype`: equal numpy dtypes (never a pandas extension dtype).
  if (numpy !== undefined && !dtype.extension && dtype.kind === numpy.kind && dtype.size === numpy.size)
    return accept;
  if (type === "datetime") {
    if (dtype.kind === "M")
      return dtype.zoned ? refuse("cannot convert time-zone-aware datetimes to datetime64[ns]") : accept;
    // Object columns are parsed as datetimes: dates (a Spark or pyarrow `date`) are, times are not.
    if (plainObjects)
      return dtype.objects === "date"
        ? accept
        : refuse(`cannot convert ${dtype.objects} objects to datetime64[ns]`);
    return refuse();
  }
  if (type === "boolean" && plainObjects) return { kind: "objects" };
  // `values.dtype == decimal.Decimal` holds for every object dtype: `pd.to_numeric` then decides.
  if (type === "double" && plainObjects) {
    return dtype.objects === "decimal" || dtype.objects === "bool"
      ? accept
      : refuse(`cannot convert ${dtype.objects} objects to numbers`);
  }
  if (numpy === undefined) return refuse();
  let upcast = false;
  if (dtype.kind === numpy.kind) upcast = dtype.size <= numpy.size;
  else if (dtype.kind === "u" && numpy.kind === "i") upcast = dtype.size < numpy.size;
  else if ((dtype.kind === "i" || dtype.kind === "u") && type === "double") upcast = dtype.size <= 6;
  if (upcast) return accept;
  if (dtype.name === "int64" && (type === "float" || type === "double")) return { kind: "zero-one" };
  return refuse();
}
