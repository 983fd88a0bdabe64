/**
 * Columnar batches: one typed array per column, never one JS object per row.
 */

/** The element types a batch column can hold (the tensor types ONNX models take and give). */
export type ColumnType =
  | "float32"
  | "float64"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "bool"
  | "string";

/** The storage of a column of `length` values. */
export type ColumnData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | string[];

/** A named, typed column. */
export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly data: ColumnData;
}

/** A slice of a table: `length` rows of the given columns. */
export interface Batch {
  readonly length: number;
  readonly columns: readonly Column[];
}

/** The DuckDB SQL type that holds a column type exactly. */
export const DUCKDB_TYPE: Readonly<Record<ColumnType, string>> = {
  float32: "FLOAT",
  float64: "DOUBLE",
  int8: "TINYINT",
  int16: "SMALLINT",
  int32: "INTEGER",
  int64: "BIGINT",
  uint8: "UTINYINT",
  bool: "BOOLEAN",
  string: "VARCHAR",
};

/** A new zero-filled column store for `length` values of `type`. */
export function allocate(type: ColumnType, length: number): ColumnData {
  switch (type) {
    case "float32":
      return new Float32Array(length);
    case "float64":
      return new Float64Array(length);
    case "int8":
      return new Int8Array(length);
    case "int16":
      return new Int16Array(length);
    case "int32":
      return new Int32Array(length);
    case "int64":
      return new BigInt64Array(length);
    case "uint8":
    case "bool":
      return new Uint8Array(length);
    case "string":
      return new Array<string>(length).fill("");
  }
}

/** The first `length` values of a column store (a view for typed arrays, no copy). */
export function head(data: ColumnData, length: number): ColumnData {
  if (data.length === length) return data;
  return Array.isArray(data) ? data.slice(0, length) : data.subarray(0, length);
}
