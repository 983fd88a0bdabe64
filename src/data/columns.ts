/**
 * The shared vocabulary of columns between data and models: the columns a model reads (with the MLflow
 * type its signature declares) and writes. It lives here, below `models/`, because validation, reading
 * and writing need it as much as the models do; `models/model.ts` and `models/signature.ts` re-export it.
 */
import type { ColumnType } from "./batch.js";

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

/** An input column a model reads: its name, the signature type it expects, and the type it is fed as. */
export interface FeatureSpec {
  readonly name: string;
  /** The type the model's signature declares, when it has a column signature. */
  readonly signatureType: SignatureType | undefined;
  /** The element type of the tensor the column feeds. */
  readonly type: ColumnType;
}

/** An output column a model produces. */
export interface OutputSpec {
  readonly name: string;
  readonly type: ColumnType;
}
