import { userInfo } from "node:os";
import type { RunReport } from "../report/run-report.js";
import { RUN_NAME_TAG, type RunRecord, USER_TAG } from "./run-record.js";

/** What {@link runRecordFromReport} needs besides the report. */
export interface FromReportOptions {
  /** The experiment to log into (`mlflow_service.experiment_name`). */
  readonly experimentName: string;
  /** The run's name; default `mlbatch-<job>-<start, UTC, YYYYMMDD-HHMMSS>`, e.g. `mlbatch-inference-20261127-101530`. */
  readonly runName?: string | undefined;
  /** The run's user (`mlflow.user`); default the user running this process, as MLflow's client does. */
  readonly user?: string | undefined;
}

/** The name of the report among the run's artifacts. */
export const REPORT_ARTIFACT = "report.json";
/** MLflow's longest tag value. */
const MAX_TAG_LENGTH = 8000;

/**
 * The MLflow run of a job's run report: what ran (params), how much and how fast (metrics), who and what
 * logged it and how it ended (tags), and the report itself (artifact `report.json`). Null facts (a failure
 * before the model was resolved, say) are left out.
 *
 * @example
 * ```ts
 * const record = runRecordFromReport(report, { experimentName: "bikes" });
 * await logRun(trackingUri, record, { logger });
 * ```
 * @param report - the job's run report
 * @param options - the experiment, and optionally the run's name and user
 * @returns the record to give {@link logRun}
 */
export function runRecordFromReport(report: RunReport, options: FromReportOptions): RunRecord {
  const startTime = Date.parse(report.started_at);
  const endTime = Date.parse(report.finished_at);
  const model = report.model;
  const params = strings({
    job: report.job,
    model_uri: model?.uri,
    model_name: model?.name,
    model_version: model?.version,
    model_alias: model?.alias,
    model_run_id: model?.run_id,
    model_source: model?.source,
    inputs_path: report.inputs.path,
    outputs_path: report.outputs.path,
    config_hash: report.config_hash,
  });
  const rows = report.rows;
  const metrics = numbers({
    rows_read: rows.read,
    rows_written: rows.written,
    rows_rejected: rows.rejected,
    rows_per_second: rows.read !== null && report.duration_s > 0 ? rows.read / report.duration_s : null,
    duration_s: report.duration_s,
    peak_memory_mb: report.peak_memory_mb,
    warnings: report.warnings.length,
  });
  for (const [step, seconds] of Object.entries(report.durations)) {
    if (step !== "total") metrics[`duration_${step.replace(/[^\w]+/g, "_")}_s`] = seconds;
  }
  const runName = options.runName ?? `mlbatch-${jobSlug(report.job)}-${stamp(startTime)}`;
  const error = report.error;
  const tags = {
    [RUN_NAME_TAG]: runName,
    [USER_TAG]: options.user ?? currentUser(),
    "mlflow.source.name": "mlbatch",
    "mlflow.source.type": "LOCAL",
    "mlbatch.version": report.mlbatch_version,
    "mlbatch.job": report.job,
    "mlbatch.status": report.status,
    ...strings({
      "mlbatch.error_code": error?.code,
      "mlbatch.error_step": error?.step,
      "mlbatch.error_message": error?.message.slice(0, MAX_TAG_LENGTH),
    }),
  };
  return {
    experimentName: options.experimentName,
    runName,
    status: report.status === "success" ? "FINISHED" : "FAILED",
    startTime,
    endTime: Math.max(startTime, endTime),
    params,
    metrics,
    tags,
    artifacts: [{ path: REPORT_ARTIFACT, content: `${JSON.stringify(report, null, 2)}\n` }],
  };
}

/** The entries whose value is set, as strings. */
function strings(entries: Record<string, string | number | null | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(entries))
    if (value !== null && value !== undefined) out[key] = String(value);
  return out;
}

/** The entries whose value is set. */
function numbers(entries: Record<string, number | null | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(entries))
    if (value !== null && value !== undefined) out[key] = value;
  return out;
}

/** "Inference Job" -> "inference". */
function jobSlug(job: string): string {
  const slug = job
    .replace(/\s*job$/i, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
  return slug || "job";
}

/** YYYYMMDD-HHMMSS, UTC. */
function stamp(time: number): string {
  const iso = new Date(Number.isFinite(time) ? time : Date.now()).toISOString();
  return `${iso.slice(0, 10).replace(/-/g, "")}-${iso.slice(11, 19).replace(/:/g, "")}`;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
