import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { basename, dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Sqlite from "better-sqlite3";
import { MlbatchError, messageOf } from "../errors.js";
import { localArtifactPath, localRunFile } from "./artifacts.js";
import {
  joinUri,
  type LoggedModelRow,
  loggedModelVersion,
  resolveNumber,
  runModelVersion,
} from "./lookup.js";
import { type ModelReference, versionUri } from "./model-uri.js";
import { notFound } from "./not-found.js";
import type { LookupOptions, ModelVersion, Registry } from "./registry.js";

interface VersionRow {
  name: string;
  version: number;
  source: string | null;
  run_id: string | null;
  status: string | null;
  storage_location?: string | null;
}

const DELETED = "Deleted_Internal";

/**
 * The environment variable that sets how long a lookup waits for another process's write lock on the
 * database, in seconds (default {@link DEFAULT_LOCK_TIMEOUT_SECONDS}); tests set it low.
 */
export const LOCK_TIMEOUT_VARIABLE = "MLBATCH_SQLITE_LOCK_TIMEOUT";
/** Seconds a lookup waits for another process's write lock by default. */
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 30;
/** SQLite's own busy wait per attempt, in ms: short, as it blocks the event loop; retries sleep between. */
const BUSY_WAIT_MS = 100;
const MAX_RETRY_DELAY_MS = 1000;

/** What a {@link SqliteStore} uses besides its file. */
export interface SqliteStoreOptions {
  /** Seconds to wait for another writer's lock (default: `$MLBATCH_SQLITE_LOCK_TIMEOUT`, else 30). */
  readonly lockTimeoutSeconds?: number | undefined;
  /** Where `MLBATCH_SQLITE_LOCK_TIMEOUT` is read (default: this process's environment). */
  readonly env?: NodeJS.ProcessEnv | undefined;
}

/**
 * The registry of an MLflow SQLite store (`sqlite:///mlflow.db`), written by MLflow 2.x or 3.x, opened
 * read-only. Each lookup reads in one transaction; while another process holds a write lock it is
 * retried, with backoff, for a bounded time (MLflow writes the store in rollback-journal or WAL mode).
 *
 * @example
 * ```ts
 * const registry = SqliteStore.open("sqlite:///mlflow.db", "mlflow.db");
 * const version = await registry.getModelVersion({ name: "bikes", alias: "Champion" });
 * ```
 */
export class SqliteStore implements Registry {
  /** MLflow 3 added `model_versions.storage_location`; read at the first lookup that can. */
  private storageLocation: boolean | undefined;

  private constructor(
    readonly uri: string,
    private readonly path: string,
    private readonly db: Sqlite.Database,
    private readonly lockTimeoutMs: number,
  ) {}

  /**
   * Opens the database file read-only.
   *
   * @param uri - the registry URI, for messages
   * @param path - the database file
   * @param options - how long to wait for another writer's lock
   * @throws MlbatchError `E_REGISTRY` when the file is missing, damaged or not an MLflow database;
   * `E_CONFIG` when `MLBATCH_SQLITE_LOCK_TIMEOUT` is not a number of seconds
   */
  static open(uri: string, path: string, options: SqliteStoreOptions = {}): SqliteStore {
    if (!existsSync(path)) {
      throw new MlbatchError(
        "E_REGISTRY",
        `registry ${uri} is unreachable: database file "${path}" does not exist (working directory: ${process.cwd()}). ` +
          "Set mlflow_service.registry_uri (or MLFLOW_REGISTRY_URI / MLFLOW_TRACKING_URI) to your MLflow store.",
      );
    }
    const lockTimeoutMs = lockTimeoutSeconds(options) * 1000;
    let db: Sqlite.Database | undefined;
    try {
      db = new Sqlite(path, { readonly: true, fileMustExist: true, timeout: BUSY_WAIT_MS });
      db.pragma("query_only = true");
    } catch (error) {
      db?.close();
      throw unreadable(uri, path, messageOf(error), error);
    }
    const store = new SqliteStore(uri, path, db, lockTimeoutMs);
    try {
      store.hasStorageLocation(); // a damaged or foreign file fails here, at once
    } catch (error) {
      // A lock is waited for by the first lookup, which can sleep between attempts.
      if (!isBusy(error)) {
        db.close();
        throw isSqliteError(error) ? store.failure(error) : error;
      }
    }
    return store;
  }

  /** @inheritdoc */
  async getModelVersion(ref: ModelReference, options: LookupOptions = {}): Promise<ModelVersion> {
    const lookup = this.db.transaction(() => this.lookup(ref, options));
    return this.reading(() => lookup());
  }

  /** @inheritdoc */
  async getLoggedModel(modelId: string): Promise<ModelVersion> {
    const lookup = this.db.transaction(() => this.loggedModel(modelId));
    return this.reading(() => lookup());
  }

  /** @inheritdoc */
  async getRunModel(runId: string, path: string): Promise<ModelVersion> {
    const lookup = this.db.transaction(() => this.runModel(runId, path));
    return this.reading(() => lookup());
  }

  /** @inheritdoc */
  async modelDirectory(version: ModelVersion): Promise<string> {
    return localArtifactPath(version.artifactUri, dirname(this.path));
  }

  /** @inheritdoc */
  async runArtifact(runId: string, path: string): Promise<Buffer | undefined> {
    const root = await this.reading(
      () =>
        this.db
          .prepare(
            "SELECT artifact_uri FROM runs WHERE run_uuid = ? AND coalesce(lifecycle_stage, 'active') <> 'deleted'",
          )
          .get(runId) as { artifact_uri: string | null } | undefined,
    );
    if (root === undefined) throw notFound.run(runId, path, this.uri);
    if (root.artifact_uri === null) return undefined;
    return localRunFile(root.artifact_uri, path, dirname(this.path));
  }

  /** @inheritdoc */
  close(): void {
    this.db.close();
  }

  /** Runs a read, again while another process holds a write lock, until the lock timeout. */
  private async reading<T>(read: () => T): Promise<T> {
    const deadline = performance.now() + this.lockTimeoutMs;
    for (let delay = 50; ; delay = Math.min(2 * delay, MAX_RETRY_DELAY_MS)) {
      try {
        return read();
      } catch (error) {
        if (!isSqliteError(error)) throw error;
        if (!isBusy(error)) throw this.failure(error);
        const left = deadline - performance.now();
        if (left <= 0) throw this.locked(error);
        await sleep(Math.min(delay, left));
      }
    }
  }

  private lookup(ref: ModelReference, options: LookupOptions): ModelVersion {
    const model = this.db.prepare("SELECT name FROM registered_models WHERE name = ?").get(ref.name);
    if (model === undefined) {
      const models = this.db
        .prepare("SELECT name FROM registered_models ORDER BY name")
        .pluck()
        .all() as string[];
      throw notFound.model(ref, this.uri, models);
    }
    const aliases = (
      this.db
        .prepare("SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias")
        .all(ref.name) as { alias: string; version: number }[]
    ).map((a) => [a.alias, a.version] as const);
    const versions = this.db
      .prepare(
        "SELECT version, coalesce(current_stage, 'None') AS stage FROM model_versions WHERE name = ? AND coalesce(current_stage, '') <> ? ORDER BY version",
      )
      .all(ref.name, DELETED) as { version: number; stage: string }[];
    const resolved = resolveNumber(ref, { aliases, versions }, options);
    const row = this.db
      .prepare(
        `SELECT name, version, source, run_id, status, current_stage${this.hasStorageLocation() ? ", storage_location" : ""}
         FROM model_versions WHERE name = ? AND version = ?`,
      )
      .get(ref.name, resolved.number) as (VersionRow & { current_stage: string | null }) | undefined;
    if (row === undefined || row.current_stage === DELETED) {
      const live = versions.map((v) => v.version);
      if (resolved.alias === undefined) throw notFound.version(ref, live);
      throw notFound.aliasTarget(ref, resolved.number, row !== undefined, live, aliases);
    }
    const source = row.source ?? "";
    return {
      name: row.name,
      version: row.version,
      uri: versionUri(row.name, row.version),
      alias: resolved.alias,
      stage: resolved.stage,
      aliases: aliases.filter(([, version]) => version === row.version).map(([alias]) => alias),
      runId: row.run_id,
      source,
      artifactUri: row.storage_location || this.artifactUriOf(source),
      status: row.status ?? "READY",
    };
  }

  private loggedModel(modelId: string): ModelVersion {
    if (!this.hasTable("logged_models")) {
      throw notFound.loggedModel(
        modelId,
        this.uri,
        ": the store was written by MLflow 2, which has no logged models",
      );
    }
    const row = this.db
      .prepare(
        "SELECT name, artifact_location, source_run_id, status FROM logged_models WHERE model_id = ? AND coalesce(lifecycle_stage, 'active') <> 'deleted'",
      )
      .get(modelId) as LoggedModelRow | undefined;
    if (row === undefined) throw notFound.loggedModel(modelId, this.uri);
    return loggedModelVersion(modelId, row);
  }

  private runModel(runId: string, path: string): ModelVersion {
    const run = this.db
      .prepare(
        "SELECT artifact_uri, experiment_id FROM runs WHERE run_uuid = ? AND coalesce(lifecycle_stage, 'active') <> 'deleted'",
      )
      .get(runId) as { artifact_uri: string | null; experiment_id: number } | undefined;
    if (run === undefined) throw notFound.run(runId, path, this.uri);
    // MLflow 3 keeps a run's models as logged models: runs:/<run>/<name>/... is the logged model of that name.
    const [first = "", ...rest] = path.split("/");
    const logged = this.hasTable("logged_models")
      ? (this.db
          .prepare(
            "SELECT artifact_location FROM logged_models WHERE source_run_id = ? AND name = ? AND experiment_id = ? AND coalesce(lifecycle_stage, 'active') <> 'deleted' ORDER BY creation_timestamp_ms DESC",
          )
          .pluck()
          .get(runId, first, run.experiment_id) as string | undefined)
      : undefined;
    const artifactUri =
      logged !== undefined ? joinUri(logged, rest.join("/")) : joinUri(run.artifact_uri ?? "", path);
    return runModelVersion(runId, path, artifactUri);
  }

  private hasTable(name: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined
    );
  }

  private hasStorageLocation(): boolean {
    this.storageLocation ??= this.db
      .prepare("SELECT name FROM pragma_table_info('model_versions')")
      .pluck()
      .all()
      .includes("storage_location");
    return this.storageLocation;
  }

  /** Resolves the `models:/m-<id>` (MLflow 3) and `runs:/<run>/<path>` forms of a `source`. */
  private artifactUriOf(source: string): string {
    const logged = /^models:\/(m-[0-9a-f]+)$/.exec(source)?.[1];
    if (logged !== undefined) {
      const location = this.db
        .prepare("SELECT artifact_location FROM logged_models WHERE model_id = ?")
        .pluck()
        .get(logged) as string | undefined;
      if (location !== undefined) return location;
    }
    const run = /^runs:\/([^/]+)\/?(.*)$/.exec(source);
    if (run?.[1] !== undefined) {
      const root = this.db.prepare("SELECT artifact_uri FROM runs WHERE run_uuid = ?").pluck().get(run[1]) as
        | string
        | undefined;
      if (root !== undefined) return run[2] ? `${root}/${run[2]}` : root;
    }
    return source;
  }

  /** The error of a read SQLite refused: a damaged file, a file that is not MLflow's, anything else. */
  private failure(error: unknown): MlbatchError {
    const { uri, path } = this;
    const code = String((error as { code?: unknown }).code ?? "");
    const reason = messageOf(error);
    if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
      if (!hasSqliteHeader(path)) return unreadable(uri, path, `not an SQLite database: ${reason}`, error);
      return new MlbatchError(
        "E_REGISTRY",
        `registry ${uri}: the MLflow database "${path}" is damaged (SQLite: ${reason}). Restore it from a ` +
          `backup, or recover what SQLite can still read into a new file: sqlite3 "${path}" ".recover" | ` +
          "sqlite3 recovered.db, then set mlflow_service.registry_uri to sqlite:///recovered.db; or point " +
          "mlflow_service.registry_uri to another MLflow store.",
        { cause: error },
      );
    }
    if (/^no such (table|column)/.test(reason)) return unreadable(uri, path, reason, error);
    return new MlbatchError(
      "E_REGISTRY",
      `registry ${uri}: cannot read the MLflow database "${path}" (SQLite: ${reason}). Check the file and ` +
        "its permissions, or point mlflow_service.registry_uri to another MLflow store.",
      { cause: error },
    );
  }

  /** The error once another process held its write lock for longer than the lock timeout. */
  private locked(error: unknown): MlbatchError {
    const { path } = this;
    const writer = existsSync(`${path}-wal`)
      ? `the store is in WAL mode (${basename(path)}-wal exists) and a connection holds it exclusively (a checkpoint, or locking_mode=EXCLUSIVE)`
      : existsSync(`${path}-journal`)
        ? `a write transaction is committing in rollback-journal mode (${basename(path)}-journal exists)`
        : "a write transaction holds an exclusive lock (rollback-journal mode: BEGIN EXCLUSIVE, or a commit)";
    return new MlbatchError(
      "E_REGISTRY",
      `registry ${this.uri}: the MLflow database "${path}" is locked by another writer: ${writer}; it was ` +
        `still locked after ${this.lockTimeoutMs / 1000} s of retries (SQLite: ${messageOf(error)}). Let that ` +
        "process (an MLflow server, a training or registration script) finish, then run again; or wait longer " +
        `with ${LOCK_TIMEOUT_VARIABLE}=<seconds> (default ${DEFAULT_LOCK_TIMEOUT_SECONDS}).`,
      { cause: error },
    );
  }
}

function unreadable(uri: string, path: string, reason: string, cause: unknown): MlbatchError {
  return new MlbatchError(
    "E_REGISTRY",
    `registry ${uri}: "${path}" is not a readable MLflow database (${reason}). ` +
      "Point mlflow_service.registry_uri to the mlflow.db MLflow wrote.",
    { cause },
  );
}

/** An error of SQLite itself (better-sqlite3's SqliteError carries SQLite's result code). */
function isSqliteError(error: unknown): boolean {
  return String((error as { code?: unknown } | undefined)?.code ?? "").startsWith("SQLITE_");
}

/** SQLITE_BUSY (another connection holds a conflicting lock) and its extended codes, SQLITE_LOCKED. */
function isBusy(error: unknown): boolean {
  const code = String((error as { code?: unknown }).code ?? "");
  return code.startsWith("SQLITE_BUSY") || code === "SQLITE_LOCKED";
}

/** The file starts as every SQLite 3 database does (so an error means damage, not another kind of file). */
function hasSqliteHeader(path: string): boolean {
  const header = Buffer.alloc(16);
  const fd = openSync(path, "r");
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  return header.toString("latin1") === "SQLite format 3\0";
}

function lockTimeoutSeconds(options: SqliteStoreOptions): number {
  if (options.lockTimeoutSeconds !== undefined) return options.lockTimeoutSeconds;
  const text = (options.env ?? process.env)[LOCK_TIMEOUT_VARIABLE]?.trim();
  if (text === undefined || text === "") return DEFAULT_LOCK_TIMEOUT_SECONDS;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new MlbatchError(
      "E_CONFIG",
      `${LOCK_TIMEOUT_VARIABLE} must be a number of seconds >= 0 (how long to wait for a locked MLflow database); unset it for the default, ${DEFAULT_LOCK_TIMEOUT_SECONDS}.`,
    );
  }
  return seconds;
}
