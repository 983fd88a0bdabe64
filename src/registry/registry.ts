import type { ModelReference, Stage } from "./model-uri.js";

/**
 * A model as the registry records it: a version of a registered model, or (`version` null) an MLflow 3
 * logged model or a model in a run's artifacts, reached by `models:/m-<id>` or `runs:/...`.
 */
export interface ModelVersion {
  /** The registered model's name; a logged model's name; a run's artifact path. */
  readonly name: string;
  /** The version number; null for a logged model or a run's artifacts. */
  readonly version: number | null;
  /** The URI that names exactly this model, e.g. `models:/bikes/2`: what a job loads and records. */
  readonly uri: string;
  /** The alias it was resolved through, if any. */
  readonly alias?: string | undefined;
  /**
   * The stage it was resolved through as its newest version (`models:/bikes/Production`, or an
   * alias_or_version naming a stage), or `latest` (the newest version of all).
   */
  readonly stage?: Stage | "latest" | undefined;
  /** Every alias that points to this version. */
  readonly aliases: readonly string[];
  readonly runId: string | null;
  /** The `source` field: an artifact URI in MLflow 2.x, `models:/m-<id>` in 3.x. */
  readonly source: string;
  /** Where the model's files are: an artifact URI (`file://...`, a path, `mlflow-artifacts:/...`). */
  readonly artifactUri: string;
  readonly status: string;
}

/** How {@link Registry.getModelVersion} resolves an alias. */
export interface LookupOptions {
  /**
   * An alias that does not exist but names a stage (any case) or `latest` resolves to the newest version
   * in that stage, or of all (a job's `alias_or_version`; a `models:/<name>@<alias>` URI never does).
   */
  readonly stageFallback?: boolean | undefined;
}

/** Reads an MLflow Model Registry. One implementation per store kind. */
export interface Registry {
  /** The registry URI, as configured. */
  readonly uri: string;
  /**
   * Resolves an alias, version number, stage or `latest` to a model version. A stage resolves to its
   * newest version, `latest` to the newest version of any stage; deleted versions never count.
   *
   * @throws MlbatchError `E_MODEL_NOT_FOUND` listing what exists (models, aliases, stages or versions)
   */
  getModelVersion(ref: ModelReference, options?: LookupOptions): Promise<ModelVersion>;
  /**
   * Finds an MLflow 3 logged model (`models:/m-<id>`).
   *
   * @throws MlbatchError `E_MODEL_NOT_FOUND` when the store has no such logged model
   */
  getLoggedModel(modelId: string): Promise<ModelVersion>;
  /**
   * Finds a model saved in a run's artifacts (`runs:/<run id>/<path>`).
   *
   * @throws MlbatchError `E_MODEL_NOT_FOUND` when the store has no such run
   */
  getRunModel(runId: string, path: string): Promise<ModelVersion>;
  /**
   * A local folder holding the version's model files (`MLmodel`, `model.onnx`, ...).
   *
   * @throws MlbatchError `E_REGISTRY` when the files cannot be found
   */
  modelDirectory(version: ModelVersion): Promise<string>;
  /**
   * A file of a run's artifacts (`mlbatch/training.profile.json`), read from wherever the run's artifact
   * URI points; undefined when the run has no such file.
   *
   * @throws MlbatchError `E_MODEL_NOT_FOUND` when the store has no such run; `E_REGISTRY` when its
   * artifacts cannot be read
   */
  runArtifact(runId: string, path: string): Promise<Buffer | undefined>;
  /** Releases the store (database handles). */
  close(): void;
}
