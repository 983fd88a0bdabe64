/** Helpers of the REST registry tests: the live MLflow stack, jobs with captured output, predictions. */
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import { inject } from "vitest";
import { MlbatchError } from "../../src/errors.js";
import { InferenceJob, InferenceJobConfig, type InferenceLocals } from "../../src/jobs/inference.js";
import { AlertsService } from "../../src/services/alerts.js";
import { LoggerService } from "../../src/services/logger.js";
import { MlflowService } from "../../src/services/mlflow.js";
import { Capture, INPUTS_TEST, query, REGISTRIES } from "../helpers.js";
import type { MlflowStack } from "../setup/mlflow-server.js";

/** The live MLflow stack of test/setup/mlflow-server.ts. */
export function stack(): MlflowStack {
  const given = inject("mlflow");
  if (given === null) {
    throw new Error(
      "no MLflow test stack: run the REST tests through vitest (test/setup/mlflow-server.ts starts it)",
    );
  }
  return given;
}

/** Retries fast, so that fault tests take seconds: 3 retries, 0.05 s backoff factor and jitter, 5 s timeout. */
export const FAST_HTTP = { timeout: 5, max_retries: 3, backoff_factor: 0.05, backoff_jitter: 0.05 } as const;

/** The mlflow_service of a job against a server (tracking = registry URI), with a cache folder or none. */
export function mlflowService(
  uri: string,
  options: { name?: string; cacheDir?: string | undefined; http?: Record<string, number> } = {},
): Record<string, unknown> {
  return {
    tracking_uri: uri,
    registry_uri: uri,
    registry_name: options.name ?? "bikes",
    http: options.http ?? FAST_HTTP,
    cache: options.cacheDir === undefined ? { enable: false } : { dir: options.cacheDir },
  };
}

/** What a job run left: its locals or its error, its logs (JSON lines) and notifications. */
export interface JobRun {
  readonly locals?: InferenceLocals;
  readonly error?: MlbatchError;
  readonly logs: string;
  readonly alerts: string;
  /** The parsed log lines. */
  readonly lines: readonly { level: number; msg: string; [key: string]: unknown }[];
}

/**
 * Runs an inference job of the bikes inputs, with the logger plumbed into the registry (as
 * InferenceJob.fromConfig does), logs captured at TRACE level.
 */
export async function runJob(config: {
  mlflow_service: Record<string, unknown>;
  outputs: string;
  alias_or_version?: string | number;
}): Promise<JobRun> {
  const parsed = InferenceJobConfig.parse({
    KIND: "InferenceJob",
    inputs: { KIND: "ParquetReader", path: INPUTS_TEST },
    outputs: { KIND: "ParquetWriter", path: config.outputs },
    logger_service: { level: "TRACE" },
    mlflow_service: config.mlflow_service,
    ...(config.alias_or_version === undefined ? {} : { alias_or_version: config.alias_or_version }),
  });
  const logs = new Capture();
  const alerts = new Capture();
  const logger = new LoggerService({ ...parsed.logger_service, serialize: true }, logs);
  const job = InferenceJob.fromConfig(parsed, {
    logger,
    alerts: new AlertsService(parsed.alerts_service, alerts),
    mlflow: new MlflowService(parsed.mlflow_service, () => logger.logger),
  });
  let locals: InferenceLocals | undefined;
  let error: MlbatchError | undefined;
  try {
    locals = await job.execute();
  } catch (failure) {
    if (!(failure instanceof MlbatchError)) throw failure;
    error = failure;
  }
  const lines = logs.lines.map((line) => JSON.parse(line) as JobRun["lines"][number]);
  return { ...(locals && { locals }), ...(error && { error }), logs: logs.text, alerts: alerts.text, lines };
}

/** Runs a job that must succeed, and returns its run. */
export async function succeeding(
  config: Parameters<typeof runJob>[0],
): Promise<JobRun & { locals: InferenceLocals }> {
  const run = await runJob(config);
  if (run.error !== undefined) throw run.error;
  return run as JobRun & { locals: InferenceLocals };
}

/** Runs a job that must fail, and returns its run. */
export async function failing(
  config: Parameters<typeof runJob>[0],
): Promise<JobRun & { error: MlbatchError }> {
  const run = await runJob(config);
  if (run.error === undefined) throw new Error("expected the job to fail, it succeeded");
  return run as JobRun & { error: MlbatchError };
}

/** The largest difference between a predictions file and a column of another file, row by row. */
export async function maxDifference(
  output: string,
  expected: string,
  column = "prediction",
): Promise<number> {
  const [row] = await query(
    `SELECT count(*)::INT AS n, max(abs(p.prediction - e.${column}))::DOUBLE AS diff, bool_and(p.instant = e.instant) AS same_ids
     FROM '${output}' p POSITIONAL JOIN '${expected}' e`,
  );
  if (row?.n !== 3476 || row.same_ids !== true) throw new Error(`unexpected rows: ${JSON.stringify(row)}`);
  return Number(row.diff);
}

/** The messages of the log lines, in order. */
export function messages(run: JobRun): string[] {
  return run.lines.map((line) => line.msg);
}

/** The folder of bikes version N in the MLflow 2 fixture store, which register.py uploads as bikes_mlflow2. */
export function mlflow2ModelDir(version: number): string {
  const store = join(REGISTRIES, "mlflow2-sqlite");
  const db = new Sqlite(join(store, "mlflow.db"), { readonly: true });
  try {
    const source = db
      .prepare("SELECT source FROM model_versions WHERE name = 'bikes' AND version = ?")
      .pluck()
      .get(version) as string;
    return join(store, source.slice(source.indexOf("mlruns/")));
  } finally {
    db.close();
  }
}
