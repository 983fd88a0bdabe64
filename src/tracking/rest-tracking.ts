import { extname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as z from "zod";
import { MlbatchError } from "../errors.js";
import type { Logger } from "../log.js";
import { API, ErrorAnswer, parseAnswer } from "../mlflow/api.js";
import { proxiedLocation, proxiedPath } from "../mlflow/artifact-uri.js";
import { HttpClient, type JsonAnswer } from "../mlflow/client.js";
import { type Connection, connectionFromEnv, withoutCredentials } from "../mlflow/connection.js";
import { MLFLOW_RETRY_POLICY, type RetryPolicy } from "../mlflow/retry-policy.js";
import { writeArtifacts } from "./local-artifacts.js";
import {
  artifactPathParts,
  deletedExperiment,
  type LoggedRun,
  newRunId,
  type RunRecord,
  runTags,
  runUser,
} from "./run-record.js";

/** What a tracking server needs besides the record. */
export interface ServerOptions {
  readonly logger?: Logger | undefined;
  /** Credentials and TLS (`MLFLOW_TRACKING_*`; default: this process's environment). */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Timeout and retries (default: MLflow's). */
  readonly http?: RetryPolicy | undefined;
}

/**
 * The tag that tells which `runs/create` request made a run: after a failure that leaves unsure whether the
 * server created the run, mlbatch searches for it before creating another.
 */
export const REQUEST_TAG = "mlbatch.request_id";

/** MLflow's `runs/log-batch` limits. */
const BATCH = { params: 100, tags: 100, entities: 1000 } as const;
const MEDIA_TYPES: Readonly<Record<string, string>> = {
  ".json": "application/json",
  ".txt": "text/plain",
  ".log": "text/plain",
  ".csv": "text/csv",
  ".html": "text/html",
  ".yaml": "application/x-yaml",
  ".yml": "application/x-yaml",
};

const ExperimentAnswer = z.looseObject({
  experiment: z.looseObject({
    experiment_id: z.string(),
    artifact_location: z.string().optional(),
    lifecycle_stage: z.string().optional(),
  }),
});
const CreatedExperiment = z.looseObject({ experiment_id: z.string() });
const RunInfo = z.looseObject({
  info: z.looseObject({ run_id: z.string(), artifact_uri: z.string().optional() }),
});
const RunAnswer = z.looseObject({ run: RunInfo });
const RunsAnswer = z.looseObject({ runs: z.array(RunInfo).optional() });

/**
 * Logs a finished run to an MLflow tracking server (`http(s)://`) through its REST API, as MLflow's client
 * does: `experiments/get-by-name` (`experiments/create` when missing), `runs/create` (status RUNNING, the
 * tags), `runs/log-batch` (params, and metrics at step 0 timestamped at the run's end), the artifacts
 * (uploaded with `PUT /api/2.0/mlflow-artifacts/artifacts/<path>` for the server's proxied artifacts,
 * written for a `file:` artifact store this machine sees), then `runs/update` (status, end time). A run left
 * unfinished by a failure on the way is marked FAILED (one try).
 *
 * Retries: reads, `runs/log-batch` (the same values again change nothing), uploads (a file replaced) and
 * `runs/update` are retried on every transient failure. `experiments/create` and `runs/create` are not
 * repeated blindly: only when the server surely did not process them (no connection, 408, 429, 503); after
 * a failure that leaves it unsure (timeout, reset, cut answer, 502, 504), the server is asked first whether
 * the experiment exists, or whether a run carries this request's {@link REQUEST_TAG}, and that is used.
 *
 * @example
 * ```ts
 * const run = await logRunToServer("https://mlflow.example.com", record, { logger });
 * ```
 * @throws MlbatchError `E_AUTH` for 401/403, `E_REGISTRY` for other failures of the server, `E_TRACKING` for
 *   a deleted experiment, `E_CONFIG` for an invalid URI or TLS settings
 */
export async function logRunToServer(
  uri: string,
  record: RunRecord,
  options: ServerOptions = {},
): Promise<LoggedRun> {
  const policy = options.http ?? MLFLOW_RETRY_POLICY;
  const connection = connectionFromEnv(uri, options.env);
  const client = new HttpClient(connection, policy, options.logger);
  try {
    const experimentId = await experiment(client, connection, record.experimentName, options.logger);
    const run = await createRun(client, experimentId, record, options.logger);
    try {
      await logBatches(client, run.runId, record);
      await storeArtifacts(client, run, record, options);
      await client.postJson(
        `${API}/runs/update`,
        { run_id: run.runId, status: record.status, end_time: record.endTime },
        { idempotent: true },
      );
    } catch (error) {
      await markFailed(connection, policy, run.runId, record.endTime);
      throw error;
    }
    return run;
  } finally {
    client.close();
  }
}

/** The id of the experiment of that name, created when missing. */
async function experiment(
  client: HttpClient,
  connection: Connection,
  name: string,
  logger: Logger | undefined,
): Promise<string> {
  const existing = await findExperiment(client, connection, name);
  if (existing !== undefined) return existing;
  const answer = await client.postJson(
    `${API}/experiments/create`,
    { name },
    {
      accept: [400],
      reconcile: async () => {
        const id = await findExperiment(client, connection, name);
        return id === undefined ? undefined : { status: 200, json: { experiment_id: id } };
      },
    },
  );
  if (answer.status !== 200) {
    const error = ErrorAnswer.safeParse(answer.json).data;
    // Another process (or our own first try) created it meanwhile.
    const id =
      error?.error_code === "RESOURCE_ALREADY_EXISTS"
        ? await findExperiment(client, connection, name)
        : undefined;
    if (id !== undefined) return id;
    throw new MlbatchError(
      "E_TRACKING",
      `MLflow tracking server ${connection.baseUri} refused to create experiment "${name}": ` +
        `${error?.error_code ?? "HTTP 400"}: ${error?.message ?? "no message"}. Set mlflow_service.experiment_name to a valid name.`,
    );
  }
  const id = parseAnswer(
    CreatedExperiment,
    answer.json,
    "experiments/create",
    connection.baseUri,
  ).experiment_id;
  logger?.info(
    { experiment_id: id },
    `[Tracking] Created experiment "${name}" (${id}) on ${connection.baseUri}`,
  );
  return id;
}

/** The id of the active experiment of that name, or undefined; a deleted one is an error. */
async function findExperiment(
  client: HttpClient,
  connection: Connection,
  name: string,
): Promise<string | undefined> {
  const answer = await client.getJson(`${API}/experiments/get-by-name`, { experiment_name: name }, [404]);
  if (answer.status === 404) return undefined;
  const found = parseAnswer(
    ExperimentAnswer,
    answer.json,
    "experiments/get-by-name",
    connection.baseUri,
  ).experiment;
  if (found.lifecycle_stage === "deleted") {
    throw deletedExperiment(name, found.experiment_id, `MLflow tracking server ${connection.baseUri}`);
  }
  return found.experiment_id;
}

/** Creates the run (RUNNING, with its tags); never two for one call. */
async function createRun(
  client: HttpClient,
  experimentId: string,
  record: RunRecord,
  logger: Logger | undefined,
): Promise<LoggedRun> {
  const requestId = newRunId();
  const tags = { ...runTags(record), [REQUEST_TAG]: requestId };
  const answer = await client.postJson(
    `${API}/runs/create`,
    {
      experiment_id: experimentId,
      user_id: runUser(record),
      start_time: record.startTime,
      run_name: record.runName,
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    },
    {
      reconcile: async () => {
        const search = await client.postJson(
          `${API}/runs/search`,
          {
            experiment_ids: [experimentId],
            filter: `tags.\`${REQUEST_TAG}\` = '${requestId}'`,
            run_view_type: "ALL",
            max_results: 1,
          },
          { idempotent: true },
        );
        const found = parseAnswer(RunsAnswer, search.json, "runs/search", client.connection.baseUri)
          .runs?.[0];
        if (found === undefined) return undefined;
        logger?.info(
          { run_id: found.info.run_id },
          `[Tracking] The server had created run ${found.info.run_id} before the failure: using it`,
        );
        return { status: 200, json: { run: found } } satisfies JsonAnswer;
      },
    },
  );
  const { info } = parseAnswer(RunAnswer, answer.json, "runs/create", client.connection.baseUri).run;
  return { experimentId, runId: info.run_id, artifactUri: info.artifact_uri ?? "" };
}

/** `runs/log-batch` of the params and metrics, in batches within MLflow's limits. */
async function logBatches(client: HttpClient, runId: string, record: RunRecord): Promise<void> {
  const params = Object.entries(record.params).map(([key, value]) => ({ key, value }));
  const metrics = Object.entries(record.metrics).map(([key, value]) => ({
    key,
    value: jsonNumber(value),
    timestamp: record.endTime,
    step: 0,
  }));
  let p = 0;
  let m = 0;
  while (p < params.length || m < metrics.length) {
    const batchParams = params.slice(p, p + BATCH.params);
    const batchMetrics = metrics.slice(m, m + BATCH.entities - batchParams.length);
    p += batchParams.length;
    m += batchMetrics.length;
    await client.postJson(
      `${API}/runs/log-batch`,
      { run_id: runId, params: batchParams, metrics: batchMetrics, tags: [] },
      { idempotent: true },
    );
  }
}

/** Stores the artifacts where the run's artifact URI says. */
async function storeArtifacts(
  client: HttpClient,
  run: LoggedRun,
  record: RunRecord,
  options: ServerOptions,
): Promise<void> {
  if (record.artifacts.length === 0) return;
  if (await putArtifacts(client, run.artifactUri, record.artifacts, options)) return;
  options.logger?.warn(
    `[Tracking] Artifacts of run ${run.runId} not uploaded: its artifact URI ${withoutCredentials(run.artifactUri)} is ` +
      "neither the tracking server's proxied artifacts (mlflow-artifacts:) nor a local folder",
  );
}

/**
 * Stores artifacts under a run's artifact URI: uploaded to the tracking server's proxied artifacts
 * (`mlflow-artifacts:`), or written to a folder this machine sees (`file:`, a path), as MLflow's client
 * does for a server that keeps them on a shared disk.
 *
 * @returns false when the URI is neither (an `s3://` store the server does not proxy, ...): nothing stored
 */
export async function putArtifacts(
  client: HttpClient,
  uri: string,
  artifacts: RunRecord["artifacts"],
  options: ServerOptions,
): Promise<boolean> {
  const proxied = proxiedLocation(uri);
  if (proxied !== undefined) {
    const target = client.forAuthority(proxied.authority, options.env);
    try {
      for (const artifact of artifacts) {
        await target.put(
          proxiedPath(proxied.root, artifactPathParts(artifact.path)),
          Buffer.from(artifact.content),
          MEDIA_TYPES[extname(artifact.path).toLowerCase()] ?? "application/octet-stream",
        );
      }
    } finally {
      if (target !== client) target.close();
    }
    return true;
  }
  if (uri.startsWith("file:") || uri.startsWith("/")) {
    writeArtifacts(
      uri.startsWith("file://") ? fileURLToPath(uri) : resolve(uri.replace(/^file:/, "")),
      artifacts,
    );
    return true;
  }
  return false;
}

/**
 * The artifact URI of a run on a tracking server (`runs/get`).
 *
 * @throws MlbatchError `E_TRACKING` when the server has no such run
 */
export async function serverRunArtifactUri(client: HttpClient, runId: string): Promise<string> {
  const answer = await client.getJson(`${API}/runs/get`, { run_id: runId }, [400, 404]);
  if (answer.status !== 200) {
    throw new MlbatchError(
      "E_TRACKING",
      `run ${runId} not found on the tracking server: check mlflow_service.tracking_uri (the store the run was logged to).`,
    );
  }
  const { info } = parseAnswer(RunAnswer, answer.json, `run ${runId}`, client.connection.baseUri).run;
  return info.artifact_uri ?? "";
}

/** Marks a run left unfinished by a failure as FAILED: one try, its own failure ignored. */
async function markFailed(
  connection: Connection,
  policy: RetryPolicy,
  runId: string,
  endTime: number,
): Promise<void> {
  const client = new HttpClient(connection, { ...policy, maxRetries: 0 });
  try {
    await client.postJson(
      `${API}/runs/update`,
      { run_id: runId, status: "FAILED", end_time: endTime },
      { idempotent: true },
    );
  } catch {
    // the error that stopped the logging is the one to report
  } finally {
    client.close();
  }
}

/** A metric value in MLflow's JSON (protobuf's mapping): non-finite numbers as strings. */
function jsonNumber(value: number): number | string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}
