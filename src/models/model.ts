import type { Batch } from "../data/batch.js";
import type { FeatureSpec, OutputSpec } from "../data/columns.js";

export type { FeatureSpec, OutputSpec } from "../data/columns.js";

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
