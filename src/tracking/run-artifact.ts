import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import Sqlite from "better-sqlite3";
import { isMlbatchError, MlbatchError, messageOf } from "../errors.js";
import { HttpClient } from "../mlflow/client.js";
import { connectionFromEnv, withoutCredentials } from "../mlflow/connection.js";
import { MLFLOW_RETRY_POLICY } from "../mlflow/retry-policy.js";
import { storeLocation } from "../mlflow/store-uri.js";
import { yaml } from "../packages.js";
import { writeArtifacts } from "./local-artifacts.js";
import type { TrackingOptions } from "./options.js";
import { putArtifacts, serverRunArtifactUri } from "./rest-tracking.js";

/** A file for a run's artifacts. */
export interface RunArtifact {
  /** Relative to the run's artifact root, with `/` separators (`mlbatch/training.profile.json`). */
  readonly path: string;
  readonly content: string;
}

/**
 * Adds a file to the artifacts of an existing run, as `MlflowClient.log_artifact` does, in the store the
 * tracking URI names: uploaded to a tracking server's proxied artifacts (or written to the folder it keeps
 * them in, when this machine sees it), or written into a local store's run folder (a file store, or a
 * SQLite store's artifact root). A file already there is replaced whole (written aside and renamed).
 *
 * @example
 * ```ts
 * const uri = await logRunArtifact("sqlite:///mlflow.db", version.runId, {
 *   path: "mlbatch/training.profile.json",
 *   content: JSON.stringify(profile),
 * });
 * // uri: "file:///.../mlruns/1/3f2a.../artifacts/mlbatch/training.profile.json"
 * ```
 * @returns the file's artifact URI (a local store's: its path on this machine)
 * @throws MlbatchError `E_TRACKING` when the store has no such run, or the run's artifacts cannot be
 *   written there (an artifact store mlbatch cannot write: `s3://` not proxied by the server, ...);
 *   `E_AUTH` when a tracking server refuses the credentials; `E_CONFIG` for a tracking URI mlbatch cannot use
 */
export async function logRunArtifact(
  trackingUri: string,
  runId: string,
  artifact: RunArtifact,
  options: TrackingOptions = {},
): Promise<string> {
  const cwd = options.cwd ?? process.cwd();
  const shown = withoutCredentials(trackingUri);
  const store = storeLocation(trackingUri, "tracking", cwd);
  try {
    let root: string;
    if (store.kind === "server") {
      const client = new HttpClient(
        connectionFromEnv(trackingUri, options.env),
        options.http ?? MLFLOW_RETRY_POLICY,
        options.logger,
      );
      try {
        root = await serverRunArtifactUri(client, runId);
        if (!(await putArtifacts(client, root, [artifact], options))) {
          throw new MlbatchError(
            "E_TRACKING",
            `cannot log ${artifact.path} to run ${runId}: its artifact URI ${withoutCredentials(root)} is neither ` +
              "the tracking server's proxied artifacts (mlflow-artifacts:) nor a folder this machine sees. Start the " +
              "server with --serve-artifacts, or log the file with MLflow's client (mlflow artifacts log-artifact).",
          );
        }
      } finally {
        client.close();
      }
    } else {
      const found =
        store.kind === "sqlite" ? sqliteRunRoot(store.path, runId) : fileStoreRunRoot(store.path, runId);
      if (found === undefined) {
        throw new MlbatchError(
          "E_TRACKING",
          `run ${runId} not found in MLflow tracking store ${shown} (or deleted): check ` +
            "mlflow_service.tracking_uri (the store the model version's run was logged to).",
        );
      }
      const storeRoot = store.kind === "sqlite" ? dirname(store.path) : store.path;
      const folder = localFolder(found.uri, storeRoot, found.fallback, cwd);
      if (folder === undefined) {
        throw new MlbatchError(
          "E_TRACKING",
          `cannot log ${artifact.path} to run ${runId}: its artifact URI ${withoutCredentials(found.uri)} is not a ` +
            `folder of this machine, nor found under the store's folder ${storeRoot}. Log the file with ` +
            "MLflow's client (mlflow artifacts log-artifact), where the run's artifacts are.",
        );
      }
      writeArtifacts(folder, [artifact]);
      root = folder;
    }
    const uri = `${root.replace(/\/+$/, "")}/${artifact.path}`;
    options.logger?.info(
      { run_id: runId, artifact: uri },
      `[Tracking] Logged ${artifact.path} to run ${runId} of ${shown}`,
    );
    return uri;
  } catch (error) {
    if (isMlbatchError(error, "E_TRACKING") || isMlbatchError(error, "E_CONFIG")) throw error;
    const message = `cannot log ${artifact.path} to run ${runId} of MLflow tracking ${shown}: ${messageOf(error)}`;
    if (isMlbatchError(error, "E_AUTH")) throw new MlbatchError("E_AUTH", message, { cause: error });
    throw new MlbatchError("E_TRACKING", message, { cause: error });
  }
}

/** A run's artifact URI in a local store, and the folder MLflow's layout puts them in (a moved store's). */
interface LocalRoot {
  readonly uri: string;
  readonly fallback: string | undefined;
}

function sqliteRunRoot(path: string, runId: string): LocalRoot | undefined {
  const db = new Sqlite(path, { fileMustExist: true, readonly: true, timeout: 30_000 });
  try {
    const row = db
      .prepare(
        "SELECT artifact_uri FROM runs WHERE run_uuid = ? AND coalesce(lifecycle_stage, 'active') <> 'deleted'",
      )
      .get(runId) as { artifact_uri: string | null } | undefined;
    return row?.artifact_uri == null ? undefined : { uri: row.artifact_uri, fallback: undefined };
  } finally {
    db.close();
  }
}

function fileStoreRunRoot(root: string, runId: string): LocalRoot | undefined {
  if (!existsSync(root)) return undefined;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const meta = join(root, entry.name, runId, "meta.yaml");
    if (!entry.isDirectory() || !existsSync(meta)) continue;
    const run = (yaml.parse(readFileSync(meta, "utf8")) ?? {}) as Record<string, unknown>;
    if (run.lifecycle_stage === "deleted") return undefined;
    const fallback = join(root, entry.name, runId, "artifacts");
    return { uri: typeof run.artifact_uri === "string" ? run.artifact_uri : fallback, fallback };
  }
  return undefined;
}

/**
 * The folder of a local artifact URI. Stores record absolute paths, so a store copied elsewhere points
 * elsewhere: when not even the run's experiment folder exists there, the longest trailing part of the
 * path whose first folder is found under the store is used (`/old/place/mlruns/1/<run>/artifacts` ->
 * `<store>/mlruns/1/<run>/artifacts`), as the registry reader finds model files; else a file store's own
 * run folder.
 *
 * @returns undefined for a remote URI, or a local one of which nothing is found
 */
function localFolder(
  uri: string,
  storeRoot: string,
  fallback: string | undefined,
  cwd: string,
): string | undefined {
  let path: string;
  if (uri.startsWith("file://")) path = fileURLToPath(uri);
  else if (uri.startsWith("file:")) path = resolve(cwd, uri.slice("file:".length));
  else if (/^[a-z][a-z0-9+.-]+:/i.test(uri)) return undefined;
  else path = isAbsolute(uri) ? uri : resolve(cwd, uri);
  if (existsSync(dirname(dirname(path)))) return path;
  const parts = path.split(sep).filter((part) => part.length > 0);
  for (let i = 1; i < parts.length - 1; i++) {
    if (existsSync(join(storeRoot, parts[i] as string))) return join(storeRoot, ...parts.slice(i));
  }
  return fallback;
}
