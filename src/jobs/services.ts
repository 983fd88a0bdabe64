import { AlertsService, type AlertsServiceConfig } from "../services/alerts.js";
import { LoggerService, type LoggerServiceConfig } from "../services/logger.js";
import { MlflowService, type MlflowServiceConfig } from "../services/mlflow.js";
import type { JobServices } from "./base.js";

/**
 * The services a job's config describes, with the job's logger handed to the others once started;
 * `overrides` replace any of them (e.g. services with captured output in tests).
 *
 * @example
 * ```ts
 * const services = servicesFromConfig(config); // { logger, alerts, mlflow }
 * ```
 */
export function servicesFromConfig(
  config: {
    readonly logger_service: LoggerServiceConfig;
    readonly alerts_service: AlertsServiceConfig;
    readonly mlflow_service: MlflowServiceConfig;
  },
  overrides: Partial<JobServices> = {},
): JobServices {
  const logger = overrides.logger ?? new LoggerService(config.logger_service);
  return {
    logger,
    alerts:
      overrides.alerts ??
      new AlertsService(config.alerts_service, process.stdout, { logger: () => logger.logger }),
    mlflow: overrides.mlflow ?? new MlflowService(config.mlflow_service, () => logger.logger),
  };
}
