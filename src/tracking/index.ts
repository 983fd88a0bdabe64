import { isMlbatchError, MlbatchError, messageOf } from "../errors.js";
import { withoutCredentials } from "../mlflow/connection.js";
import { resolveHttpSettings } from "../mlflow/settings.js";
import { storeLocation } from "../mlflow/store-uri.js";
import { logRunToFileStore } from "./file-tracking.js";
import type { TrackingOptions } from "./options.js";
import { logRunToServer } from "./rest-tracking.js";
import { checkRunRecord, type LoggedRun, type RunRecord } from "./run-record.js";
import { logRunToSqlite } from "./sqlite-tracking.js";

export { type FromReportOptions, REPORT_ARTIFACT, runRecordFromReport } from "./from-report.js";
export type { TrackingOptions as LogRunOptions } from "./options.js";
export { REQUEST_TAG } from "./rest-tracking.js";
export { logRunArtifact, type RunArtifact } from "./run-artifact.js";
export type { LoggedRun, RunRecord } from "./run-record.js";

/**
 * Logs a finished job run to MLflow tracking, where the tracking URI says, as MLflow itself would record
 * it: a tracking server (`http(s)://`, through its REST API), a SQLite store (`sqlite:///mlflow.db`) or a
 * file store (`./mlruns`, `file:///.../mlruns`). The experiment is created when missing; the run gets its
 * status, times, params, metrics (step 0), tags and artifacts.
 *
 * @example
 * ```ts
 * const { trackingUri } = resolveMlflowUris(config.mlflow_service);
 * const record = runRecordFromReport(report, { experimentName: config.mlflow_service.experiment_name });
 * const run = await logRun(trackingUri, record, { logger, http: resolveHttpSettings(config.mlflow_service.http) });
 * // run.runId: "3f2a...", run.artifactUri: "mlflow-artifacts:/1/3f2a.../artifacts"
 * ```
 * @param trackingUri - where to log (the job's resolved `mlflow_service.tracking_uri`)
 * @param record - the run
 * @param options - logger, environment, HTTP retries, working directory
 * @returns the experiment's and run's ids, and the run's artifact URI
 * @throws MlbatchError `E_TRACKING` when the run cannot be logged (store unreachable or not writable,
 *   experiment deleted, record invalid), `E_AUTH` when a tracking server refuses the credentials,
 *   `E_CONFIG` for a tracking URI mlbatch cannot log to
 */
export async function logRun(
  trackingUri: string,
  record: RunRecord,
  options: TrackingOptions = {},
): Promise<LoggedRun> {
  checkRunRecord(record);
  const shown = withoutCredentials(trackingUri);
  const cwd = options.cwd ?? process.cwd();
  const local = { cwd, logger: options.logger };
  let run: LoggedRun;
  try {
    const store = storeLocation(trackingUri, "tracking", cwd);
    if (store.kind === "server") {
      const http = options.http ?? resolveHttpSettings({}, options.env ?? process.env);
      run = await logRunToServer(trackingUri, record, { logger: options.logger, env: options.env, http });
    } else if (store.kind === "sqlite") {
      run = logRunToSqlite(trackingUri, store.path, record, local);
    } else {
      run = logRunToFileStore(trackingUri, store.path, record, local);
    }
  } catch (error) {
    throw trackingError(error, shown);
  }
  options.logger?.info(
    { run_id: run.runId, experiment_id: run.experimentId, status: record.status },
    `[Tracking] Logged run ${run.runId} (${record.status}) to experiment "${record.experimentName}" ` +
      `(${run.experimentId}) of ${shown}`,
  );
  return run;
}

/** Errors as `E_TRACKING`, naming the store, except the codes that say more (`E_AUTH`, `E_CONFIG`). */
function trackingError(error: unknown, shown: string): MlbatchError {
  if (isMlbatchError(error, "E_TRACKING") || isMlbatchError(error, "E_CONFIG")) return error;
  const message = `cannot log the run to MLflow tracking ${shown}: ${messageOf(error)}`;
  if (isMlbatchError(error, "E_AUTH")) return new MlbatchError("E_AUTH", message, { cause: error });
  return new MlbatchError("E_TRACKING", message, { cause: error });
}
