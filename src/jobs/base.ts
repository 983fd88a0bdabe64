import { Database } from "../data/database.js";
import { type JobStep, MlbatchError, messageOf } from "../errors.js";
import type { AlertsService } from "../services/alerts.js";
import type { JobEvent } from "../services/job-event.js";
import type { Logger, LoggerService } from "../services/logger.js";
import type { MlflowService } from "../services/mlflow.js";
import type { Service } from "../services/service.js";
import type { JobFacts, JobOptions, StepContext } from "./context.js";
import { reportRun } from "./reporting.js";

export type { JobOptions } from "./context.js";

/** How a job is run. */
export interface RunOptions {
  /**
   * Aborting it interrupts the job: it stops at the next batch or statement, removes what it was writing,
   * notifies the failure and throws `E_INTERRUPTED` with the abort reason's message (an MlbatchError).
   */
  readonly signal?: AbortSignal | undefined;
}

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
  protected readonly facts: JobFacts = { durations: {} };
  private startedAt = 0;
  /** Aborted when the job is to stop (SIGTERM, SIGINT). */
  protected signal: AbortSignal | undefined;

  /**
   * @param services - the logger, alerts and MLflow services
   * @param jobOptions - the run report's path and the config's hash
   */
  constructor(
    readonly services: JobServices,
    protected readonly jobOptions: JobOptions = {},
  ) {}

  /** The job's work, run while its services are started. Returns the job's locals. */
  abstract run(): Promise<Locals>;

  /** The started logger. */
  protected get logger(): Logger {
    return this.services.logger.logger;
  }

  /** What the job's steps are given: its logger, signal, facts, and {@link Job.step}. */
  protected get context(): StepContext {
    return {
      logger: this.logger,
      signal: this.signal,
      facts: this.facts,
      step: (step, work, timing) => this.step(step, work, timing),
    };
  }

  /**
   * Starts the services, runs the job, and stops the services in reverse order, also on failure. A
   * failure is logged with its code and step and sent as a `<title> Failed` notification.
   *
   * @param options - `signal`: aborting it interrupts the job (see {@link RunOptions})
   * @returns the job's locals
   * @throws MlbatchError the failure, with its `step` set
   */
  execute(options: RunOptions = {}): Promise<Locals> {
    return this.lifecycle(() => this.run(), { signal: options.signal, notify: true });
  }

  /**
   * The lifecycle every entry point of a job shares: services started in order (alerts only when the
   * job notifies), the work, a failure logged once (and notified), services stopped in reverse, also on
   * failure. With `notify`, the run report is written and the run logged to MLflow as asked.
   */
  protected async lifecycle<T>(
    work: () => Promise<T>,
    options: { readonly signal?: AbortSignal | undefined; readonly notify: boolean },
  ): Promise<T> {
    const { logger, alerts, mlflow } = this.services;
    const started: Service[] = [];
    const startedAt = new Date();
    this.startedAt = performance.now();
    this.signal = options.signal;
    let failure: MlbatchError | undefined;
    try {
      const services = options.notify ? ([logger, alerts, mlflow] as const) : ([logger, mlflow] as const);
      for (const service of services) {
        await this.step(service === mlflow ? "load" : "services", () => service.start(), "services");
        started.push(service);
      }
      return await work();
    } catch (error) {
      failure = this.failure(error);
      this.logger.error({ code: failure.code, step: failure.step }, failure.message);
      // Logged where the CLI would print it: the CLI then prints nothing more (once per channel).
      failure.reported =
        started.includes(logger) && logger.writesToStderr && this.logger.isLevelEnabled("error");
      if (started.includes(alerts)) {
        await alerts.notify({
          ...this.event("failed"),
          error: { step: failure.step, code: failure.code, message: failure.message },
        });
      }
      throw failure;
    } finally {
      // A report refused for its path (an input) is not written there at the end either.
      const reports = this.facts.reportsRefused
        ? { ...this.jobOptions, report: undefined, reportHtml: undefined }
        : this.jobOptions;
      const { report, reportHtml, mlflowRun } = reports;
      if (options.notify && (report !== undefined || reportHtml !== undefined || mlflowRun)) {
        await reportRun({
          title: this.title,
          facts: this.facts,
          event: this.event(failure === undefined ? "finished" : "failed"),
          startedAt,
          failure,
          options: reports,
          logger: this.logger,
          warnings: logger.warnings,
          mlflow: started.includes(mlflow) ? mlflow : undefined,
        });
      }
      for (const service of started.reverse()) {
        await service
          .stop()
          .catch((error: unknown) => this.logger.warn(`stopping a service failed: ${messageOf(error)}`));
      }
    }
  }

  /**
   * Runs `work` with a new database, closed after it; while it runs, an abort interrupts the database's
   * running statements.
   */
  protected async withDatabase<T>(work: (db: Database) => Promise<T>): Promise<T> {
    const db = await Database.create();
    const signal = this.signal;
    const interrupt = () => db.interrupt();
    signal?.addEventListener("abort", interrupt, { once: true });
    try {
      return await work(db);
    } finally {
      signal?.removeEventListener("abort", interrupt);
      db.close();
    }
  }

  /** Throws the interruption when the job's signal was aborted (call it between units of work). */
  protected checkInterrupted(): void {
    if (this.signal?.aborted) throw this.signal.reason;
  }

  /**
   * The error a failure is reported as: once the signal is aborted, the interruption (whatever the work
   * threw while it stopped: DuckDB's "Interrupted", a closed worker), else the error itself.
   */
  private failure(error: unknown): MlbatchError {
    const thrown = asMlbatchError(error);
    const reason: unknown = this.signal?.aborted ? this.signal.reason : undefined;
    if (!(reason instanceof MlbatchError)) return thrown;
    const where = thrown.step === undefined ? "" : ` during step ${thrown.step}`;
    const written =
      this.facts.outputs === undefined
        ? "nothing was written (what it was writing is removed)"
        : "its outputs had been written";
    const interrupted = new MlbatchError(
      "E_INTERRUPTED",
      `${reason.message}: the job stopped${where}; ${written}. Run it again to complete it.`,
      { cause: error },
    );
    if (thrown.step !== undefined) interrupted.step = thrown.step;
    return interrupted;
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

  /**
   * Runs one step of the job, timing it (under `timing`, the step's name by default; `null`: not timed)
   * and tagging any failure with the step's name.
   */
  protected async step<T>(step: JobStep, work: () => Promise<T>, timing: string | null = step): Promise<T> {
    const start = performance.now();
    try {
      this.checkInterrupted();
      return await work();
    } catch (error) {
      const failure = asMlbatchError(error);
      failure.step ??= step;
      throw failure;
    } finally {
      if (timing !== null) {
        this.facts.durations[timing] =
          (this.facts.durations[timing] ?? 0) + (performance.now() - start) / 1000;
      }
    }
  }
}

function asMlbatchError(error: unknown): MlbatchError {
  if (error instanceof MlbatchError) return error;
  return new MlbatchError("E_INTERNAL", `unexpected error: ${messageOf(error)}`, { cause: error });
}
