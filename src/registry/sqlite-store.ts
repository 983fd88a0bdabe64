import { existsSync } from "node:fs";
import { dirname } from "node:path";
import Sqlite from "better-sqlite3";
import { MlbatchError, messageOf } from "../errors.js";
import { localArtifactPath } from "./artifacts.js";
import type { ModelReference } from "./model-uri.js";
import { notFound } from "./not-found.js";
import type { ModelVersion, Registry } from "./registry.js";

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
 * The registry of an MLflow SQLite store (`sqlite:///mlflow.db`), written by MLflow 2.x or 3.x, opened
 * read-only.
 *
 * @example
 * ```ts
 * const registry = SqliteStore.open("sqlite:///mlflow.db", "mlflow.db");
 * const version = await registry.getModelVersion({ name: "bikes", alias: "Champion" });
 * ```
 */
export class SqliteStore implements Registry {
  private readonly hasStorageLocation: boolean;

  private constructor(
    readonly uri: string,
    private readonly path: string,
    private readonly db: Sqlite.Database,
  ) {
    const columns = db.prepare("SELECT name FROM pragma_table_info('model_versions')").pluck().all();
    this.hasStorageLocation = columns.includes("storage_location");
  }

  /**
   * Opens the database file read-only.
   *
   * @param uri - the registry URI, for messages
   * @param path - the database file
   * @throws MlbatchError `E_REGISTRY` when the file is missing or is not an MLflow database
   */
  static open(uri: string, path: string): SqliteStore {
    if (!existsSync(path)) {
      throw new MlbatchError(
        "E_REGISTRY",
        `registry ${uri} is unreachable: database file "${path}" does not exist (working directory: ${process.cwd()}). ` +
          "Set mlflow_service.registry_uri (or MLFLOW_REGISTRY_URI / MLFLOW_TRACKING_URI) to your MLflow store.",
      );
    }
    let db: Sqlite.Database | undefined;
    try {
      db = new Sqlite(path, { readonly: true, fileMustExist: true });
      db.pragma("query_only = true");
      return new SqliteStore(uri, path, db);
    } catch (error) {
      db?.close();
      throw new MlbatchError(
        "E_REGISTRY",
        `registry ${uri}: "${path}" is not a readable MLflow database (${messageOf(error)}). ` +
          "Point mlflow_service.registry_uri to the mlflow.db MLflow wrote.",
        { cause: error },
      );
    }
  }

  /** @inheritdoc */
  async getModelVersion(ref: ModelReference): Promise<ModelVersion> {
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
    const number =
      ref.alias === undefined ? ref.version : aliases.find(([alias]) => alias === ref.alias)?.[1];
    if (number === undefined) throw notFound.alias(ref, aliases);
    const row = this.db
      .prepare(
        `SELECT name, version, source, run_id, status, current_stage${this.hasStorageLocation ? ", storage_location" : ""}
         FROM model_versions WHERE name = ? AND version = ?`,
      )
      .get(ref.name, number) as (VersionRow & { current_stage: string | null }) | undefined;
    if (row === undefined || row.current_stage === DELETED) {
      const versions = this.db
        .prepare("SELECT version FROM model_versions WHERE name = ? AND current_stage <> ? ORDER BY version")
        .pluck()
        .all(ref.name, DELETED) as number[];
      if (ref.alias === undefined) throw notFound.version(ref, versions);
      throw notFound.aliasTarget(ref, number, row !== undefined, versions, aliases);
    }
    const source = row.source ?? "";
    return {
      name: row.name,
      version: row.version,
      alias: ref.alias,
      aliases: aliases.filter(([, version]) => version === row.version).map(([alias]) => alias),
      runId: row.run_id,
      source,
      artifactUri: row.storage_location || this.artifactUriOf(source),
      status: row.status ?? "READY",
    };
  }

  /** @inheritdoc */
  async modelDirectory(version: ModelVersion): Promise<string> {
    return localArtifactPath(version.artifactUri, dirname(this.path));
  }

  /** @inheritdoc */
  close(): void {
    this.db.close();
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
}
