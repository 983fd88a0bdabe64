import * as z from "zod";
import { ReaderKind } from "../data/readers/index.js";
import { WriterKind } from "../data/writers/index.js";
import { messageOf } from "../errors.js";
import { LoaderKind } from "../models/loaders/index.js";
import { parseModelUri } from "../registry/model-uri.js";
import { AlertsServiceConfig } from "../services/alerts.js";
import { LoggerServiceConfig } from "../services/logger.js";
import { MlflowServiceConfig } from "../services/mlflow.js";
import { ShardConfig } from "../shard/detect.js";
import { ChallengerConfig } from "./challenger/config.js";
import { DriftConfig } from "./drift/config.js";
import { ValidationConfig } from "./validation/config.js";

/** The alias the reference loads by default. */
const DEFAULT_ALIAS = "Champion";

/** Config of `InferenceJob`: the reference's fields, plus `id_columns` and `batch_size`. */
export const InferenceJobConfig = z
  .strictObject({
    KIND: z.literal("InferenceJob"),
    logger_service: LoggerServiceConfig.prefault({}),
    alerts_service: AlertsServiceConfig.prefault({}),
    mlflow_service: MlflowServiceConfig.prefault({}),
    inputs: ReaderKind.describe("Reader of the input data."),
    outputs: WriterKind.describe("Writer of the predictions."),
    alias_or_version: z
      .union([z.string().min(1), z.int().positive()])
      .default(DEFAULT_ALIAS)
      .describe(
        "Registry alias (a name) or version (a number) of the model to load; a name that is no alias " +
          "but a stage (Production, Staging, Archived, None, any case) or latest loads that stage's newest version.",
      ),
    model_uri: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The model to load as an MLflow URI, instead of mlflow_service.registry_name and alias_or_version: " +
          "models:/<name>@<alias>, models:/<name>/<version>, models:/<name>/<stage>, models:/<name>/latest, " +
          "models:/m-<logged model id> or runs:/<run id>/<artifact path>.",
      ),
    loader: LoaderKind.prefault({ KIND: "CustomLoader" }).describe(
      "How the model is loaded and its outputs named.",
    ),
    id_columns: z
      .array(z.string().min(1))
      .optional()
      .describe(
        "Input columns that identify rows: copied first next to the predictions, and shown with failing " +
          "rows in validation reports. Default: the input's pandas index columns (Parquet), else none.",
      ),
    passthrough: z
      .array(z.string().min(1))
      .default([])
      .describe("Other input columns copied to the outputs, after the id columns."),
    model_version_column: z
      .string()
      .min(1)
      .optional()
      .describe("Add a column of this name holding the model version that predicted, e.g. models:/bikes/2."),
    validation: ValidationConfig.prefault({}).describe(
      "Constraints checked with the signature, and what to do with invalid rows.",
    ),
    batch_size: z
      .int()
      .positive()
      .optional()
      .describe(
        "Rows per prediction batch. Default: the engine's, chosen by measurement (docs/benchmarks.md): 16384, " +
          "or 131072 for a model run by MLflow's pyfunc in Python workers (each call costs pandas and MLflow tens of ms).",
      ),
    report: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Write a JSON run report here (on success and on failure): model, rows, durations, memory, error.",
      ),
    report_html: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Write the run report as one self-contained HTML page here (on success and on failure): facts, rows, " +
          "timings, validation, drift, predictions, champion against challenger, as charts (docs/report.md).",
      ),
    challenger: ChallengerConfig.optional(),
    drift: DriftConfig.optional(),
    mlflow_run: z
      .boolean()
      .default(false)
      .describe(
        "Also log the run to MLflow tracking (mlflow_service.tracking_uri and experiment_name): params, metrics, the report.",
      ),
    shard: ShardConfig.optional().describe(
      "Run one shard of the job (a copy of an array job): outputs.path is then a folder of part files. " +
        "Also set by --shard <index>/<count> or detected from the environment; see the guide's 'Sharded runs'.",
    ),
  })
  .superRefine((config, context) => {
    if (config.model_uri === undefined) return;
    if (config.alias_or_version !== DEFAULT_ALIAS) {
      context.addIssue({
        code: "custom",
        path: ["model_uri"],
        message:
          `set together with alias_or_version (${config.alias_or_version}): they both name the model to ` +
          "load; keep one (model_uri names the registered model itself, e.g. models:/bikes/Production)",
      });
    }
    try {
      parseModelUri(config.model_uri);
    } catch (error) {
      context.addIssue({ code: "custom", path: ["model_uri"], message: messageOf(error) });
    }
  })
  .describe("Batch inference: read, check, load the registered model, predict, write, notify.");
export type InferenceJobConfig = z.infer<typeof InferenceJobConfig>;
