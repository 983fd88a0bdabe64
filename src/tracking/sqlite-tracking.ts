import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Sqlite from "better-sqlite3";
import { identifierList, quotedIdentifier } from "../data/sql.js";
import { MlbatchError, messageOf } from "../errors.js";
import {
  type LocalStoreOptions,
  localRunArtifacts,
  removeQuietly,
  writeArtifacts,
} from "./local-artifacts.js";
import {
  deletedExperiment,
  type LoggedRun,
  newRunId,
  type RunRecord,
  runTags,
  runUser,
} from "./run-record.js";

/** How long to wait for another process's write to end (MLflow's server, another job). */
const BUSY_TIMEOUT_MS = 30_000;
const TABLES = ["experiments", "runs", "params", "metrics", "tags"] as const;
/** MLflow's experiments live in the `default` workspace unless workspaces are enabled. */
const DEFAULT_WORKSPACE = "default";

type Row = Record<string, string | number | null>;

/**
 * Logs a finished run into an MLflow SQLite store (`sqlite:///mlflow.db`) the way MLflow 2.x and 3.x write
 * it: the experiment when missing (`experiments`, artifact location `<cwd>/mlruns/<id>`), then `runs`,
 * `params`, `metrics` and `latest_metrics` (step 0, timestamped at the run's end) and `tags`, with only the
 * columns the database has, in one transaction that also writes the artifacts under
 * `<artifact location>/<run id>/artifacts`: all of it is there, or none. The database must exist (made by
 * MLflow); it is opened read-write for this only, waiting up to 30 s for another process's write.
 *
 * @example
 * ```ts
 * const run = logRunToSqlite("sqlite:///mlflow.db", "mlflow.db", record, { cwd: process.cwd() });
 * ```
 * @param uri - the tracking URI, for messages
 * @param path - the database file
 * @param record - the run
 * @param options - working directory, logger
 * @throws MlbatchError `E_TRACKING` when the database is missing, not MLflow's, locked for 30 s, or not writable
 */
export function logRunToSqlite(
  uri: string,
  path: string,
  record: RunRecord,
  options: LocalStoreOptions,
): LoggedRun {
  if (!existsSync(path)) {
    throw new MlbatchError(
      "E_TRACKING",
      `MLflow tracking store ${uri}: database file "${path}" does not exist. mlbatch logs runs only into a ` +
        "database MLflow made: run MLflow once against it, or set mlflow_service.tracking_uri to your store.",
    );
  }
  let db: Sqlite.Database | undefined;
  let runFolder: string | undefined;
  try {
    db = new Sqlite(path, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    const store = new SqliteRunWriter(db, uri, dirname(path), options);
    const write = db.transaction(() =>
      store.write(record, (folder) => {
        runFolder = folder;
      }),
    );
    return write.immediate();
  } catch (error) {
    if (runFolder !== undefined) removeQuietly(runFolder);
    if (error instanceof MlbatchError) throw error;
    const busy = (error as { code?: string }).code === "SQLITE_BUSY";
    throw new MlbatchError(
      "E_TRACKING",
      `cannot log the run into MLflow tracking store ${uri} ("${path}"): ${messageOf(error)}` +
        (busy
          ? `. Another process kept the database locked for ${BUSY_TIMEOUT_MS / 1000} s: try again later.`
          : ". Nothing was written. Check that the file is an MLflow database this user may write."),
      { cause: error },
    );
  } finally {
    db?.close();
  }
}

/** The statements of one run's writing, within the caller's transaction. */
class SqliteRunWriter {
  private readonly columns = new Map<string, Set<string>>();

  constructor(
    private readonly db: Sqlite.Database,
    private readonly uri: string,
    private readonly storeRoot: string,
    private readonly options: LocalStoreOptions,
  ) {
    const tables = new Set(
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[],
    );
    const missing = TABLES.filter((table) => !tables.has(table));
    if (missing.length > 0) {
      throw new MlbatchError(
        "E_TRACKING",
        `MLflow tracking store ${uri} is not an MLflow database: it has no ${missing.join(", ")} table. ` +
          "Set mlflow_service.tracking_uri to the mlflow.db MLflow wrote.",
      );
    }
    for (const table of [...TABLES, "latest_metrics"]) {
      if (tables.has(table)) {
        const names = db.prepare("SELECT name FROM pragma_table_info(?)").pluck().all(table) as string[];
        this.columns.set(table, new Set(names));
      }
    }
  }

  /** Writes the run; `created` is told the run's artifact folder before anything is written there. */
  write(record: RunRecord, created: (runFolder: string) => void): LoggedRun {
    const experiment = this.experiment(record.experimentName);
    const runId = newRunId();
    const artifacts = localRunArtifacts(experiment.location, runId, this.storeRoot, this.options.cwd);
    const artifactUri = artifacts?.uri ?? `${experiment.location.replace(/\/+$/, "")}/${runId}/artifacts`;
    this.insert("runs", {
      run_uuid: runId,
      name: record.runName,
      source_type: "UNKNOWN",
      source_name: "",
      entry_point_name: "",
      user_id: runUser(record),
      status: record.status,
      start_time: record.startTime,
      end_time: record.endTime,
      deleted_time: null,
      source_version: "",
      lifecycle_stage: "active",
      artifact_uri: artifactUri,
      experiment_id: experiment.id,
    });
    for (const [key, value] of Object.entries(runTags(record))) {
      this.insert("tags", { key, value, run_uuid: runId });
    }
    for (const [key, value] of Object.entries(record.params)) {
      this.insert("params", { key, value, run_uuid: runId });
    }
    for (const [key, raw] of Object.entries(record.metrics)) {
      const metric = { key, ...sqlMetric(raw), timestamp: record.endTime, step: 0, run_uuid: runId };
      this.insert("metrics", metric);
      if (this.columns.has("latest_metrics")) this.insert("latest_metrics", metric);
    }
    if (artifacts === undefined) {
      if (record.artifacts.length > 0) {
        this.options.logger?.warn(
          `[Tracking] Artifacts of run ${runId} not written: the artifact location ${experiment.location} of ` +
            `experiment "${record.experimentName}" is not a local folder`,
        );
      }
    } else if (record.artifacts.length > 0) {
      created(dirname(artifacts.folder));
      writeArtifacts(artifacts.folder, record.artifacts);
    }
    return { experimentId: String(experiment.id), runId, artifactUri };
  }

  /** The experiment of that name, created as MLflow creates it when missing. */
  private experiment(name: string): { id: number; location: string } {
    const workspace = this.columns.get("experiments")?.has("workspace") ?? false;
    const found = this.db
      .prepare(
        `SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments WHERE name = ?${workspace ? " AND workspace = ?" : ""}`,
      )
      .get(...(workspace ? [name, DEFAULT_WORKSPACE] : [name])) as
      | { experiment_id: number; artifact_location: string | null; lifecycle_stage: string | null }
      | undefined;
    if (found !== undefined) {
      if (found.lifecycle_stage === "deleted") {
        throw deletedExperiment(name, found.experiment_id, `MLflow tracking store ${this.uri}`);
      }
      return {
        id: found.experiment_id,
        location: found.artifact_location ?? this.defaultLocation(found.experiment_id),
      };
    }
    const now = Date.now();
    const id = Number(
      this.insert("experiments", {
        name,
        artifact_location: null,
        lifecycle_stage: "active",
        creation_time: now,
        last_update_time: now,
        workspace: DEFAULT_WORKSPACE,
      }),
    );
    const location = this.defaultLocation(id);
    this.db.prepare("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?").run(location, id);
    this.options.logger?.info(
      { experiment_id: String(id) },
      `[Tracking] Created experiment "${name}" (${id}) in ${this.uri}, artifacts under ${location}`,
    );
    return { id, location };
  }

  /** MLflow's default for a SQLite store: `./mlruns/<id>`, resolved against the working directory. */
  private defaultLocation(id: number): string {
    return `${resolve(this.options.cwd, "mlruns")}/${id}`;
  }

  /** Inserts the values of the columns the table has; returns the new row id. */
  private insert(table: string, values: Row): number | bigint {
    const columns = this.columns.get(table);
    const names = Object.keys(values).filter((name) => columns?.has(name));
    const sql = `INSERT INTO ${quotedIdentifier(table)} (${identifierList(names)}) VALUES (${names.map(() => "?").join(", ")})`;
    return this.db.prepare(sql).run(...names.map((name) => values[name] ?? null)).lastInsertRowid;
  }
}

/** A metric value as MLflow's SQL store keeps it: NaN as 0 with `is_nan`, infinities as the largest doubles. */
function sqlMetric(value: number): { value: number; is_nan: number } {
  if (Number.isNaN(value)) return { value: 0, is_nan: 1 };
  if (value === Number.POSITIVE_INFINITY) return { value: Number.MAX_VALUE, is_nan: 0 };
  if (value === Number.NEGATIVE_INFINITY) return { value: -Number.MAX_VALUE, is_nan: 0 };
  return { value, is_nan: 0 };
}
