import { existsSync } from "node:fs";
import * as z from "zod";
import { MlbatchError } from "../errors.js";
import { defaultCacheDir } from "../registry/cache.js";
import { openRegistry, type Registry, type RetryPolicy } from "../registry/index.js";
import type { RunReport } from "../report/run-report.js";
import { type LoggedRun, logRun, runRecordFromReport } from "../tracking/index.js";
import type { Logger } from "./logger.js";
import type { Service } from "./service.js";

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
    http: z
      .strictObject({
        timeout: z
          .number()
          .positive()
          .optional()
          .describe(
            "Seconds to wait for a tracking server's connection, or for the next bytes of its answer, per request. " +
              "Default: MLFLOW_HTTP_REQUEST_TIMEOUT, else 120 (MLflow's default).",
          ),
        max_retries: z
          .int()
          .min(0)
          .max(10)
          .optional()
          .describe(
            "Retries of a request after a connection error, a timeout, or a 408, 429, 502, 503 or 504 answer. " +
              "Default: MLFLOW_HTTP_REQUEST_MAX_RETRIES, else 7 (MLflow's default).",
          ),
        backoff_factor: z
          .number()
          .min(0)
          .max(120)
          .optional()
          .describe(
            "The n-th retry waits backoff_factor * 2^(n-1) seconds (the first retry none), at most 120 s, or as " +
              "long as the server's Retry-After says. Default: MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR, else 2 (MLflow's default).",
          ),
        backoff_jitter: z
          .number()
          .min(0)
          .optional()
          .describe(
            "Up to this many random seconds added to each backoff. Default: MLFLOW_HTTP_REQUEST_BACKOFF_JITTER, else 1 (MLflow's default).",
          ),
      })
      .prefault({})
      .describe("Timeout and retries of requests to an http(s):// tracking server and its artifact stores."),
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
export type MlflowServiceConfig = z.infer<typeof MlflowServiceConfig>;

/**
 * The MLflow URIs MLflow itself would use: the configured ones, else the environment's, else the local
 * defaults (`sqlite:///mlflow.db` when it exists in the working directory, else `./mlruns`).
 */
export function resolveMlflowUris(
  config: Partial<MlflowServiceConfig>,
  env: NodeJS.ProcessEnv = process.env,
): { trackingUri: string; registryUri: string } {
  const trackingUri =
    config.tracking_uri ??
    (env.MLFLOW_TRACKING_URI || (existsSync("mlflow.db") ? "sqlite:///mlflow.db" : "./mlruns"));
  const registryUri = config.registry_uri ?? (env.MLFLOW_REGISTRY_URI || trackingUri);
  return { trackingUri, registryUri };
}

const HTTP_VARIABLES = {
  timeout: "MLFLOW_HTTP_REQUEST_TIMEOUT",
  maxRetries: "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
  backoffFactor: "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
  backoffJitter: "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
} as const;
const HTTP_DEFAULTS: RetryPolicy = { timeout: 120, maxRetries: 7, backoffFactor: 2, backoffJitter: 1 };

/**
 * Timeout and retries as MLflow's client would use them: the config's, else the `MLFLOW_HTTP_REQUEST_*`
 * variables', else MLflow's defaults (120 s, 7 retries, backoff factor 2, jitter 1 s).
 *
 * @throws MlbatchError `E_CONFIG` when a variable is not a valid number
 */
export function resolveHttpSettings(
  config: Partial<MlflowServiceConfig["http"]> = {},
  env: NodeJS.ProcessEnv = process.env,
): RetryPolicy {
  const configured = {
    timeout: config.timeout,
    maxRetries: config.max_retries,
    backoffFactor: config.backoff_factor,
    backoffJitter: config.backoff_jitter,
  };
  const resolved = { ...HTTP_DEFAULTS };
  for (const key of Object.keys(HTTP_VARIABLES) as (keyof RetryPolicy)[]) {
    resolved[key] = configured[key] ?? fromEnv(HTTP_VARIABLES[key], key, env) ?? HTTP_DEFAULTS[key];
  }
  return resolved;
}

function fromEnv(variable: string, key: keyof RetryPolicy, env: NodeJS.ProcessEnv): number | undefined {
  const text = env[variable]?.trim();
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  const valid =
    key === "maxRetries"
      ? Number.isInteger(value) && value >= 0 && value <= 10
      : Number.isFinite(value) && (key === "timeout" ? value > 0 : value >= 0);
  if (valid) return value;
  throw new MlbatchError(
    "E_CONFIG",
    `${variable}="${text}" is not a valid ${key === "maxRetries" ? "whole number from 0 to 10" : "number of seconds"}. ` +
      "Fix or unset it, or set mlflow_service.http in the config.",
  );
}

/** The model cache's settings: the config's, else enabled under {@link defaultCacheDir}. */
export function resolveCacheSettings(
  config: Partial<MlflowServiceConfig["cache"]> = {},
  env: NodeJS.ProcessEnv = process.env,
): { enable: boolean; dir: string } {
  return { enable: config.enable ?? true, dir: config.dir ?? defaultCacheDir(env) };
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

  /**
   * @param config - tracking_uri, registry_uri, registry_name, http, cache
   * @param logger - the job's logger, once started
   */
  constructor(
    private readonly config: Partial<MlflowServiceConfig> = {},
    private readonly logger: () => Logger | undefined = () => undefined,
  ) {}

  /** The name of the registered model the job loads. */
  get registryName(): string {
    return this.config.registry_name ?? "bikes";
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
    const record = runRecordFromReport(report, { experimentName: this.config.experiment_name ?? "bikes" });
    return logRun(resolveMlflowUris(this.config).trackingUri, record, {
      logger: this.logger(),
      http: resolveHttpSettings(this.config.http),
    });
  }
}
