import { isMlbatchError, MlbatchError, messageOf } from "../errors.js";
import type { Logger } from "../log.js";
import { withoutCredentials } from "../mlflow/connection.js";
import type { RetryPolicy } from "../mlflow/retry-policy.js";
import { resolveHttpSettings } from "../mlflow/settings.js";
import { storeLocation } from "../mlflow/store-uri.js";
import { logRunToFileStore } from "./file-tracking.js";
import { logRunToServer } from "./rest-tracking.js";
import { checkRunRecord, type LoggedRun, type RunRecord } from "./run-record.js";
import { logRunToSqlite } from "./sqlite-tracking.js";

export { type FromReportOptions, REPORT_ARTIFACT, runRecordFromReport } from "./from-report.js";
export { REQUEST_TAG } from "./rest-tracking.js";
export { logRunArtifact, type RunArtifact, type RunArtifactOptions } from "./run-artifact.js";
export type { LoggedRun, RunRecord } from "./run-record.js";

/** What {@link logRun} may use besides the URI and the record. */
export interface LogRunOptions {
  /** Where the run's logging (and a tracking server's retries) is logged; silent by default. */
  readonly logger?: Logger | undefined;
  /** Credentials and TLS of a tracking server (`MLFLOW_TRACKING_*`; default: this process's environment). */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Timeout and retries of a tracking server's requests (default: the `MLFLOW_HTTP_REQUEST_*` variables', else MLflow's). */
  readonly http?: RetryPolicy | undefined;
  /** What relative store paths, and MLflow's default artifact root `./mlruns`, are relative to (default: the working directory). */
  readonly cwd?: string | undefined;
}

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
  options: LogRunOptions = {},
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
