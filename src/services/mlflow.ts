import { existsSync } from "node:fs";
import * as z from "zod";
import { MlbatchError } from "../errors.js";
import { openRegistry, type Registry } from "../registry/index.js";
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
  })
  .describe("MLflow service: where the Model Registry is.");
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
   * @param config - tracking_uri, registry_uri, registry_name
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
    this.current = openRegistry(resolveMlflowUris(this.config).registryUri, { logger: this.logger() });
  }

  /** @inheritdoc */
  async stop(): Promise<void> {
    this.current?.close();
    this.current = undefined;
  }
}
