/**
 * mlbatch's public API: load settings, build and run jobs, or use the parts (readers, writers, registry,
 * loaders) on their own.
 *
 * @example
 * ```ts
 * import { loadSettings, createJob } from "mlbatch";
 * const settings = await loadSettings(["confs/inference.yaml"]);
 * const locals = await createJob(settings.job).execute();
 * ```
 */
export { loadSettings } from "./config/load.js";
export type { Batch, Column, ColumnType } from "./data/batch.js";
export { type ColumnConstraint, Constraints } from "./data/constraints.js";
export { Database } from "./data/database.js";
export { CsvReader } from "./data/readers/csv-reader.js";
export { createReader, ReaderKind } from "./data/readers/index.js";
export { JsonLinesReader } from "./data/readers/json-lines-reader.js";
export { ParquetReader } from "./data/readers/parquet-reader.js";
export type { Reader } from "./data/readers/reader.js";
export {
  checkInputs,
  type InputValidation,
  type SchemaProblem,
  type ValidationReport,
  validateInputs,
} from "./data/schema.js";
export { Source } from "./data/source.js";
export type { StagedOutput, WriteMode } from "./data/writers/atomic.js";
export { CsvWriter } from "./data/writers/csv-writer.js";
export { createWriter, WriterKind } from "./data/writers/index.js";
export { JsonLinesWriter } from "./data/writers/json-lines-writer.js";
export { ParquetWriter } from "./data/writers/parquet-writer.js";
export type { Writer } from "./data/writers/writer.js";
export { type ErrorCode, isMlbatchError, type JobStep, MlbatchError } from "./errors.js";
export { Job, type JobOptions, type JobServices } from "./jobs/base.js";
export { createJob, JobKind } from "./jobs/index.js";
export {
  InferenceJob,
  InferenceJobConfig,
  type InferenceLocals,
  type InferenceValidation,
} from "./jobs/inference.js";
export { ShardedInferenceJob, type ShardLocals } from "./jobs/sharded.js";
export { ValidationConfig } from "./jobs/validation/config.js";
export { resolveMlflowUris } from "./mlflow/settings.js";
export { BuiltinLoader } from "./models/loaders/builtin-loader.js";
export { CustomLoader } from "./models/loaders/custom-loader.js";
export { createLoader, LoaderKind } from "./models/loaders/index.js";
export type { Loader } from "./models/loaders/loader.js";
export { type MLmodel, readMLmodel } from "./models/mlmodel.js";
export type { FeatureSpec, Model, OutputSpec } from "./models/model.js";
export { OnnxModel } from "./models/onnx-model.js";
export { defaultCacheDir, ModelCache } from "./registry/cache.js";
export { openRegistry, type RegistryOptions } from "./registry/index.js";
export { type ModelReference, modelReference, modelUri, parseModelUri } from "./registry/model-uri.js";
export type { ModelVersion, Registry } from "./registry/registry.js";
export { RestStore } from "./registry/rest/rest-store.js";
export { configHash } from "./report/config-hash.js";
export type { RunReport } from "./report/run-report.js";
export { AlertsService } from "./services/alerts.js";
export { ChannelKind, createChannel } from "./services/channels/index.js";
export { webhookPayload, webhookSignature } from "./services/channels/webhook-channel.js";
export { headline, type JobEvent } from "./services/job-event.js";
export { LoggerService } from "./services/logger.js";
export { MlflowService } from "./services/mlflow.js";
export { Settings, settingsJsonSchema } from "./settings.js";
export { parseShardFlag, resolveShard, type Shard, ShardConfig } from "./shard/detect.js";
export { type LoggedRun, logRun, type RunRecord, runRecordFromReport } from "./tracking/index.js";
