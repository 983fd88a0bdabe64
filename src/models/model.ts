import type { Batch, ColumnType } from "../data/batch.js";
import type { SignatureType } from "./signature.js";

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

/** A loaded model, ready to predict batches. */
export interface Model {
  /** The model URI it was loaded from (`models:/bikes/2`). */
  readonly uri: string;
  /** The columns it reads, in feeding order. */
  readonly inputs: readonly FeatureSpec[];
  /** The columns it returns. */
  readonly outputs: readonly OutputSpec[];
  /** What runs it, for logs: `onnxruntime`, or `trees (200 trees, ...)`, with why when not the engine. */
  readonly engine: string;
  /**
   * Predicts one batch: a batch with the {@link Model.inputs} columns in, the {@link Model.outputs} out.
   *
   * @throws MlbatchError `E_PREDICT`
   */
  predict(batch: Batch): Promise<Batch>;
  /** Releases the runtime session. */
  close(): Promise<void>;
}
