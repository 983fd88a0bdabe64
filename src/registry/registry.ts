import type { ModelReference } from "./model-uri.js";

/** A model version as the registry records it. */
export interface ModelVersion {
  readonly name: string;
  readonly version: number;
  /** The alias it was resolved through, if any. */
  readonly alias?: string | undefined;
  /** Every alias that points to this version. */
  readonly aliases: readonly string[];
  readonly runId: string | null;
  /** The `source` field: an artifact URI in MLflow 2.x, `models:/m-<id>` in 3.x. */
  readonly source: string;
  /** Where the model's files are: an artifact URI (`file://...`, a path, `mlflow-artifacts:/...`). */
  readonly artifactUri: string;
  readonly status: string;
}

/** Reads an MLflow Model Registry. One implementation per store kind. */
export interface Registry {
  /** The registry URI, as configured. */
  readonly uri: string;
  /**
   * Resolves an alias or version number to a model version.
   *
   * @throws MlbatchError `E_MODEL_NOT_FOUND` listing what exists (models, aliases or versions)
   */
  getModelVersion(ref: ModelReference): Promise<ModelVersion>;
  /**
   * A local folder holding the version's model files (`MLmodel`, `model.onnx`, ...).
   *
   * @throws MlbatchError `E_REGISTRY` when the files cannot be found
   */
  modelDirectory(version: ModelVersion): Promise<string>;
  /** Releases the store (database handles). */
  close(): void;
}
