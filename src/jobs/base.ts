import { type JobStep, MlbatchError, messageOf } from "../errors.js";
import type { AlertsService } from "../services/alerts.js";
import type { JobEvent } from "../services/job-event.js";
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

  /** What the job learned so far (model, rows, outputs, step durations), for its notifications. */
  protected readonly facts: {
    model?: JobEvent["model"];
    rows?: JobEvent["rows"];
    outputs?: string;
    durations: Record<string, number>;
  } = { durations: {} };
  private startedAt = 0;

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
    this.startedAt = performance.now();
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
      if (started.includes(alerts)) {
        await alerts.notify({
          ...this.event("failed"),
          error: { step: failure.step, code: failure.code, message: failure.message },
        });
      }
      throw failure;
    } finally {
      for (const service of started.reverse()) {
        await service
          .stop()
          .catch((error: unknown) => this.logger.warn(`stopping a service failed: ${messageOf(error)}`));
      }
    }
  }

  /** A notification event carrying the facts gathered so far and the durations up to now. */
  protected event(event: JobEvent["event"]): JobEvent {
    const { durations, ...facts } = this.facts;
    return {
      event,
      job: this.title,
      status: event === "finished" ? "success" : "failure",
      ...facts,
      durations: { ...durations, total: (performance.now() - this.startedAt) / 1000 },
    };
  }

  /** Runs one step of the job, timing it and tagging any failure with the step's name. */
  protected async step<T>(step: JobStep, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } catch (error) {
      const failure = asMlbatchError(error);
      failure.step ??= step;
      throw failure;
    } finally {
      this.facts.durations[step] = (this.facts.durations[step] ?? 0) + (performance.now() - start) / 1000;
    }
  }
}

function asMlbatchError(error: unknown): MlbatchError {
  if (error instanceof MlbatchError) return error;
  return new MlbatchError("E_INTERNAL", `unexpected error: ${messageOf(error)}`, { cause: error });
}
