import { readFileSync } from "node:fs";
import { writeTextAtomically } from "../data/writers/atomic.js";
import { type JobStep, MlbatchError, messageOf } from "../errors.js";
import { type RunReport, runReport } from "../report/run-report.js";
import type { AlertsService } from "../services/alerts.js";
import type { JobEvent } from "../services/job-event.js";
import type { Logger, LoggerService } from "../services/logger.js";
import type { MlflowService } from "../services/mlflow.js";
import type { Service } from "../services/service.js";

/** What every job may be asked besides its work. */
export interface JobOptions {
  /** Where to write the JSON run report (on success and on failure). */
  readonly report?: string | undefined;
  /** The hash of the job's config, recorded in the report. */
  readonly configHash?: string | undefined;
  /** Also log the run (the report's facts, and the report as an artifact) to MLflow tracking. */
  readonly mlflowRun?: boolean | undefined;
}

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
  protected readonly facts: {
    model?: JobEvent["model"];
    /** The resolved version's run and source, for the report. */
    run?: { readonly runId: string | null; readonly source: string };
    inputs?: string;
    rows?: JobEvent["rows"];
    outputs?: string;
    durations: Record<string, number>;
  } = { durations: {} };
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
      if (options.notify && (this.jobOptions.report !== undefined || this.jobOptions.mlflowRun)) {
        await this.report(startedAt, failure, started.includes(mlflow));
      }
      for (const service of started.reverse()) {
        await service
          .stop()
          .catch((error: unknown) => this.logger.warn(`stopping a service failed: ${messageOf(error)}`));
      }
    }
  }

  /** While the job runs, an abort interrupts the database's running statement; returns the undo. */
  protected interruptOnAbort(db: { interrupt(): void }): () => void {
    const signal = this.signal;
    if (signal === undefined) return () => undefined;
    const interrupt = () => db.interrupt();
    signal.addEventListener("abort", interrupt, { once: true });
    return () => signal.removeEventListener("abort", interrupt);
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
   * Writes the run report and logs the run to MLflow tracking, as asked; either failing is a warning,
   * never the job's failure.
   */
  private async report(
    startedAt: Date,
    failure: MlbatchError | undefined,
    mlflowStarted: boolean,
  ): Promise<void> {
    const { model, run, inputs, rows, outputs } = this.facts;
    const event = this.event(failure === undefined ? "finished" : "failed");
    const report: RunReport = runReport({
      version: VERSION,
      job: this.title,
      startedAt,
      finishedAt: new Date(),
      durations: event.durations ?? {},
      configHash: this.jobOptions.configHash,
      model: model && { ...model, runId: run?.runId, source: run?.source },
      inputs,
      outputs,
      rows,
      peakMemoryMb: Math.round(process.resourceUsage().maxRSS / 1024),
      warnings: this.services.logger.warnings,
      error: failure && { step: failure.step, code: failure.code, message: failure.message },
    });
    const path = this.jobOptions.report;
    if (path !== undefined) {
      try {
        await writeTextAtomically(path, `${JSON.stringify(report, null, 2)}\n`, "the run report");
        this.logger.info(`[${this.title}] Report written: ${path}`);
      } catch (error) {
        this.logger.warn(messageOf(error));
      }
    }
    if (this.jobOptions.mlflowRun && mlflowStarted) {
      try {
        const run = await this.services.mlflow.logRun(report);
        this.logger.info(
          { run_id: run.runId, experiment_id: run.experimentId },
          `[${this.title}] Run logged to MLflow`,
        );
      } catch (error) {
        this.logger.warn(`cannot log the run to MLflow tracking: ${messageOf(error)}`);
      }
    }
  }

  /**
   * Runs one step of the job, timing it (under `timing`, the step's name by default) and tagging any
   * failure with the step's name.
   */
  protected async step<T>(step: JobStep, work: () => Promise<T>, timing: string = step): Promise<T> {
    const start = performance.now();
    try {
      this.checkInterrupted();
      return await work();
    } catch (error) {
      const failure = asMlbatchError(error);
      failure.step ??= step;
      throw failure;
    } finally {
      this.facts.durations[timing] = (this.facts.durations[timing] ?? 0) + (performance.now() - start) / 1000;
    }
  }
}

const VERSION = (() => {
  try {
    return (
      JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
    ).version;
  } catch {
    return "unknown";
  }
})();

function asMlbatchError(error: unknown): MlbatchError {
  if (error instanceof MlbatchError) return error;
  return new MlbatchError("E_INTERNAL", `unexpected error: ${messageOf(error)}`, { cause: error });
}
