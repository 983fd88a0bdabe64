/**
 * The end of every job's run, as asked: the JSON run report written (atomically), the run logged to MLflow
 * tracking. Either failing is a warning, never the job's failure.
 */
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { writeTextAtomically } from "../data/writers/atomic.js";
import { type MlbatchError, messageOf } from "../errors.js";
import { packageFile } from "../packages.js";
import { HTML_REPORT_MARK, htmlReport } from "../report/html.js";
import { runReport } from "../report/run-report.js";
import type { JobEvent } from "../services/job-event.js";
import type { Logger } from "../services/logger.js";
import type { MlflowService } from "../services/mlflow.js";
import type { JobFacts, JobOptions } from "./context.js";

/** mlbatch's version, as its package.json says. */
const VERSION = (() => {
  try {
    return (JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
})();

/** What every JSON run report holds at its start (its first key). */
const JSON_REPORT_MARK = '"mlbatch_version"';

/**
 * Whether a report may be written at `path`: nothing readable is there (a folder is the writer's to
 * refuse), or a report mlbatch wrote (its mark in the first 1 KB). Any other file (an input, say) is left
 * untouched, with a warning: a report never replaces data, whatever path it is given.
 */
async function free(path: string, mark: string, key: string, logger: Logger): Promise<boolean> {
  let head: string;
  try {
    const file = await open(path, "r");
    try {
      const buffer = Buffer.alloc(1024);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
      head = buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await file.close();
    }
  } catch {
    // Nothing there, a folder, or no access: the writer says what it refuses.
    return true;
  }
  if (head.includes(mark)) return true;
  logger.warn(
    `${key} "${path}" exists and is not a run report mlbatch wrote: it was left untouched and no report was written there. Name a new file, or one an earlier run's report is in.`,
  );
  return false;
}

/** A finished run: what the job learned, how it ended, and where its report and run go. */
export interface FinishedRun {
  readonly title: string;
  readonly facts: JobFacts;
  /** The job's last event (its durations up to now). */
  readonly event: JobEvent;
  readonly startedAt: Date;
  readonly failure: MlbatchError | undefined;
  readonly options: JobOptions;
  readonly logger: Logger;
  readonly warnings: readonly string[];
  /** The MLflow service, when it was started (a run is logged only then). */
  readonly mlflow: MlflowService | undefined;
}

/** Writes the run report and logs the run to MLflow tracking, as `run.options` ask. */
export async function reportRun(run: FinishedRun): Promise<void> {
  const { facts, failure, options, logger, title } = run;
  const report = runReport({
    version: VERSION,
    job: title,
    startedAt: run.startedAt,
    finishedAt: new Date(),
    durations: run.event.durations ?? {},
    configHash: options.configHash,
    model: facts.model && { ...facts.model, runId: facts.run?.runId, source: facts.run?.source },
    inputs: facts.inputs,
    outputs: facts.outputs,
    rows: facts.rows,
    peakMemoryMb: Math.round(process.resourceUsage().maxRSS / 1024),
    warnings: run.warnings,
    validation: facts.validation,
    predictions: facts.predictions,
    profile: facts.profile,
    drift: facts.drift,
    challenger: facts.challenger,
    error: failure && { step: failure.step, code: failure.code, message: failure.message },
  });
  if (options.report !== undefined && (await free(options.report, JSON_REPORT_MARK, "job.report", logger))) {
    try {
      await writeTextAtomically(options.report, `${JSON.stringify(report, null, 2)}\n`, "the run report");
      logger.info(`[${title}] Report written: ${options.report}`);
    } catch (error) {
      logger.warn(messageOf(error));
    }
  }
  if (
    options.reportHtml !== undefined &&
    (await free(options.reportHtml, HTML_REPORT_MARK, "job.report_html", logger))
  ) {
    try {
      await writeTextAtomically(options.reportHtml, htmlReport(report), "the HTML run report");
      logger.info(`[${title}] HTML report written: ${options.reportHtml}`);
    } catch (error) {
      logger.warn(messageOf(error));
    }
  }
  if (options.mlflowRun && run.mlflow !== undefined) {
    try {
      const logged = await run.mlflow.logRun(report);
      logger.info(
        { run_id: logged.runId, experiment_id: logged.experimentId },
        `[${title}] Run logged to MLflow`,
      );
    } catch (error) {
      logger.warn(`cannot log the run to MLflow tracking: ${messageOf(error)}`);
    }
  }
}
