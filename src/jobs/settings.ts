import { createReader, type Reader } from "../data/readers/index.js";
import { createWriter, type Writer } from "../data/writers/index.js";
import { createLoader, type Loader } from "../models/loaders/index.js";
import type { InferenceJobConfig } from "./inference-config.js";
import { type ValidationPolicy, validationPolicy } from "./validation/config.js";

/** An inference job's settings as its steps take them: the config's, camelCase, readers and writers built. */
export interface InferenceSettings {
  readonly inputs: Reader;
  readonly outputs: Writer;
  readonly loader: Loader;
  readonly aliasOrVersion: InferenceJobConfig["alias_or_version"];
  /** Any `models:/` or `runs:/` URI, instead of the registry name and `aliasOrVersion`. */
  readonly modelUri: InferenceJobConfig["model_uri"];
  /** Absent: the input's own (a Parquet file's pandas index). */
  readonly idColumns: InferenceJobConfig["id_columns"];
  readonly passthrough: InferenceJobConfig["passthrough"];
  readonly modelVersionColumn: InferenceJobConfig["model_version_column"];
  readonly validation: ValidationPolicy;
  readonly batchSize: InferenceJobConfig["batch_size"];
  /** A second version predicting the same batches, if asked. */
  readonly challenger: ChallengerSettings | undefined;
  /** The inputs' profile compared with a reference, if asked. */
  readonly drift: DriftSettings | undefined;
}

/** Which version is the Challenger: `modelUri`, else the registry name and `aliasOrVersion`. */
export interface ChallengerSettings {
  readonly aliasOrVersion: string | number;
  readonly modelUri: string | undefined;
}

/** What the inputs are compared with, by which thresholds, and what a drift does. */
export interface DriftSettings {
  readonly reference: string;
  readonly columns: readonly string[] | undefined;
  readonly thresholds: { readonly moderate: number; readonly significant: number };
  readonly onDrift: "warn" | "fail";
}

/**
 * The settings a validated config describes: the one place an inference job's config is mapped, for a
 * single run and for the shards of a sharded one.
 *
 * @example
 * ```ts
 * const { inputs, outputs, batchSize } = inferenceSettings(InferenceJobConfig.parse(config));
 * ```
 */
export function inferenceSettings(config: InferenceJobConfig): InferenceSettings {
  return {
    inputs: createReader(config.inputs),
    outputs: createWriter(config.outputs),
    loader: createLoader(config.loader),
    aliasOrVersion: config.alias_or_version,
    modelUri: config.model_uri,
    idColumns: config.id_columns,
    passthrough: config.passthrough,
    modelVersionColumn: config.model_version_column,
    validation: validationPolicy(config.validation),
    batchSize: config.batch_size,
    challenger: config.challenger && {
      // The schema takes exactly one of the two.
      aliasOrVersion: config.challenger.alias_or_version ?? "",
      modelUri: config.challenger.model_uri,
    },
    drift: config.drift && {
      reference: config.drift.reference,
      columns: config.drift.columns,
      thresholds: { moderate: config.drift.moderate, significant: config.drift.significant },
      onDrift: config.drift.on_drift,
    },
  };
}
