import type { Batch } from "../data/batch.js";
import type { FeatureSpec, OutputSpec } from "../data/columns.js";

export type { FeatureSpec, OutputSpec } from "../data/columns.js";

/** Rows per prediction batch when neither the config (`job.batch_size`) nor the engine names another. */
export const DEFAULT_BATCH_SIZE = 16_384;

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
  /** Rows per batch this engine runs best at, when `job.batch_size` is not set; else {@link DEFAULT_BATCH_SIZE}. */
  readonly batchSize?: number | undefined;
  /**
   * Predicts one batch: a batch with the {@link Model.inputs} columns in, the {@link Model.outputs} out.
   *
   * @throws MlbatchError `E_PREDICT`
   */
  predict(batch: Batch): Promise<Batch>;
  /** Releases the runtime session. */
  close(): Promise<void>;
}
