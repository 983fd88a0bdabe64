import { type JobStep, MlbatchError, messageOf } from "../errors.js";
import type { AlertsService } from "../services/alerts.js";
import type { Logger, LoggerService } from "../services/logger.js";
import type { MlflowService } from "../services/mlflow.js";
import type { Service } from "../services/service.js";

/** The services every job has, started in this order and stopped in reverse. */
export interface JobServices {
  readonly logger: LoggerService;
  readonly alerts: AlertsService;
  readonly mlflow: MlflowService;
}

/**
 * A job: its services are started before {@link Job.run} and stopped after it, also when it fails; a
 * failure is logged and notified once. Subclasses implement `run` and return their locals.
 *
 * @example
 * ```ts
 * const locals = await job.execute(); // start services, run, stop services
 * ```
 */
export abstract class Job<Locals> {
  /** What notifications call the job, e.g. "Inference Job". */
  protected abstract readonly title: string;

  /** @param services - the logger, alerts and MLflow services */
  constructor(readonly services: JobServices) {}

  /** The job's work, run while its services are started. Returns the job's locals. */
  abstract run(): Promise<Locals>;

  /** The started logger. */
  protected get logger(): Logger {
    return this.services.logger.logger;
  }

  /**
   * Starts the services, runs the job, and stops the services in reverse order, also on failure. A
   * failure is logged with its code and step and sent as a `<title> Failed` notification.
   *
   * @returns the job's locals
   * @throws MlbatchError the failure, with its `step` set
   */
  async execute(): Promise<Locals> {
    const { logger, alerts, mlflow } = this.services;
    const started: Service[] = [];
    try {
      for (const [step, service] of [
        ["services", logger],
        ["services", alerts],
        ["load", mlflow],
      ] as const) {
        await this.step(step, () => service.start());
        started.push(service);
      }
      return await this.run();
    } catch (error) {
      const failure = asMlbatchError(error);
      this.logger.error({ code: failure.code, step: failure.step }, failure.message);
      if (started.includes(alerts))
        alerts.notify(`${this.title} Failed`, `[${failure.code}] ${failure.message}`);
      throw failure;
    } finally {
      for (const service of started.reverse()) {
        await service
          .stop()
          .catch((error: unknown) => this.logger.warn(`stopping a service failed: ${messageOf(error)}`));
      }
    }
  }

  /** Runs one step of the job, tagging any failure with the step's name. */
  protected async step<T>(step: JobStep, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const failure = asMlbatchError(error);
      failure.step ??= step;
      throw failure;
    }
  }
}

function asMlbatchError(error: unknown): MlbatchError {
  if (error instanceof MlbatchError) return error;
  return new MlbatchError("E_INTERNAL", `unexpected error: ${messageOf(error)}`, { cause: error });
}
