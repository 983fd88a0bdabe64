import * as z from "zod";
import { MlbatchError } from "../errors.js";
import type { Logger } from "../log.js";
import { HttpConfig, resolveHttpSettings, resolveMlflowUris } from "../mlflow/settings.js";
import { defaultCacheDir } from "../registry/cache.js";
import { openRegistry, type Registry } from "../registry/index.js";
import type { RunReport } from "../report/run-report.js";
import {
  type LoggedRun,
  logRun,
  logRunArtifact,
  type RunArtifact,
  runRecordFromReport,
} from "../tracking/index.js";
import { type Service, serviceConfig } from "./service.js";

/** Config of {@link MlflowService} (the reference's field names). */
export const MlflowServiceConfig = z
  .strictObject({
    KIND: z.literal("MlflowService").optional(),
    tracking_uri: z
      .string()
      .min(1)
      .optional()
      .describe(
        "MLflow tracking URI. Default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db when that file exists, else ./mlruns.",
      ),
    registry_uri: z
      .string()
      .min(1)
      .optional()
      .describe("MLflow registry URI. Default: MLFLOW_REGISTRY_URI, else the tracking URI."),
    experiment_name: z
      .string()
      .min(1)
      .default("bikes")
      .describe("Experiment name (kept for the reference's configs)."),
    registry_name: z.string().min(1).default("bikes").describe("Name of the registered model to load."),
    http: HttpConfig.prefault({}).describe(
      "Timeout and retries of requests to an http(s):// tracking server and its artifact stores.",
    ),
    cache: z
      .strictObject({
        enable: z
          .boolean()
          .default(true)
          .describe(
            "Keep models downloaded from a tracking server for the next runs (false, or --no-cache: do not).",
          ),
        dir: z
          .string()
          .min(1)
          .optional()
          .describe(
            "The cache folder. Default: $XDG_CACHE_HOME/mlbatch/models, else ~/.cache/mlbatch/models.",
          ),
      })
      .prefault({})
      .describe("Local cache of model versions downloaded from a tracking server (a version never changes)."),
  })
  .describe("MLflow service: where the Model Registry is, and how a remote one is reached.");
export type MlflowServiceConfig = z.output<typeof MlflowServiceConfig>;
/** {@link MlflowServiceConfig} as a YAML mapping holds it: every field with a default may be left out. */
export type MlflowServiceInput = z.input<typeof MlflowServiceConfig>;

/**
 * The model cache's settings: the config's, its folder by default under {@link defaultCacheDir}.
 *
 * @param config - `mlflow_service.cache`, parsed
 * @param env - the environment (`XDG_CACHE_HOME`, `HOME`; default: this process's)
 */
export function resolveCacheSettings(
  config: MlflowServiceConfig["cache"],
  env: NodeJS.ProcessEnv = process.env,
): { enable: boolean; dir: string } {
  return { enable: config.enable, dir: config.dir ?? defaultCacheDir(env) };
}

/**
 * Opens the MLflow Model Registry for the job on start and closes it on stop.
 *
 * @example
 * ```ts
 * const mlflow = new MlflowService({ registry_uri: "sqlite:///mlflow.db" });
 * await mlflow.start();
 * const version = await mlflow.registry.getModelVersion({ name: "bikes", alias: "Champion" });
 * ```
 */
export class MlflowService implements Service {
  private current: Registry | undefined;
  private readonly config: MlflowServiceConfig;

  /**
   * @param config - tracking_uri, registry_uri, experiment_name, registry_name, http, cache (the schema's
   * defaults for those left out)
   * @param logger - the job's logger, once started
   * @throws MlbatchError `E_CONFIG` when the config is not valid
   */
  constructor(
    config: MlflowServiceInput = {},
    private readonly logger: () => Logger | undefined = () => undefined,
  ) {
    this.config = serviceConfig(MlflowServiceConfig, config, "mlflow_service");
  }

  /** The name of the registered model the job loads. */
  get registryName(): string {
    return this.config.registry_name;
  }

  /** The open registry. @throws MlbatchError `E_INTERNAL` before start */
  get registry(): Registry {
    if (this.current === undefined) throw new MlbatchError("E_INTERNAL", "the MLflow service is not started");
    return this.current;
  }

  /** @inheritdoc */
  async start(): Promise<void> {
    const { trackingUri, registryUri } = resolveMlflowUris(this.config);
    this.current = openRegistry(registryUri, {
      logger: this.logger(),
      trackingUri,
      http: resolveHttpSettings(this.config.http),
      cache: resolveCacheSettings(this.config.cache),
    });
  }

  /** @inheritdoc */
  async stop(): Promise<void> {
    this.current?.close();
    this.current = undefined;
  }

  /**
   * Logs a run report to MLflow tracking (the tracking URI, not the registry's), in the configured
   * experiment: params, metrics, tags and the report as an artifact.
   *
   * @throws MlbatchError `E_TRACKING`, `E_AUTH` or `E_CONFIG` (see {@link logRun})
   */
  async logRun(report: RunReport): Promise<LoggedRun> {
    const record = runRecordFromReport(report, { experimentName: this.config.experiment_name });
    return logRun(resolveMlflowUris(this.config).trackingUri, record, {
      logger: this.logger(),
      http: resolveHttpSettings(this.config.http),
    });
  }

  /**
   * Adds a file to the artifacts of an existing run of MLflow tracking (a model version's run, for
   * instance), replacing one of that path.
   *
   * @returns the file's artifact URI
   * @throws MlbatchError `E_TRACKING`, `E_AUTH` or `E_CONFIG` (see {@link logRunArtifact})
   */
  async logArtifact(runId: string, artifact: RunArtifact): Promise<string> {
    return logRunArtifact(resolveMlflowUris(this.config).trackingUri, runId, artifact, {
      logger: this.logger(),
      http: resolveHttpSettings(this.config.http),
    });
  }
}
