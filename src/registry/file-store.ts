import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

import { MlbatchError } from "../errors.js";
import { yaml } from "../packages.js";
import { localArtifactPath, localRunFile } from "./artifacts.js";
import { joinUri, loggedModelVersion, resolveNumber, runModelVersion } from "./lookup.js";
import { type ModelReference, versionUri } from "./model-uri.js";
import { notFound } from "./not-found.js";
import type { LookupOptions, ModelVersion, Registry } from "./registry.js";

const { parse } = yaml;

type Meta = Record<string, unknown>;

const DELETED = "Deleted_Internal";

/**
 * The registry of an MLflow file store (`./mlruns`, `file:///.../mlruns`), written by MLflow 2.x or 3.x:
 * `models/<name>/version-<n>/meta.yaml`, `models/<name>/aliases/<alias>`, and in 3.x the logged models
 * `<experiment>/models/m-<id>/meta.yaml`.
 *
 * @example
 * ```ts
 * const registry = FileStore.open("./mlruns", "mlruns");
 * const version = await registry.getModelVersion({ name: "bikes", version: 1 });
 * ```
 */
export class FileStore implements Registry {
  private constructor(
    readonly uri: string,
    private readonly root: string,
  ) {}

  /**
   * @param uri - the registry URI, for messages
   * @param root - the `mlruns` folder
   * @throws MlbatchError `E_REGISTRY` when the folder does not exist
   */
  static open(uri: string, root: string): FileStore {
    if (!existsSync(root) || !statSync(root).isDirectory()) {
      throw new MlbatchError(
        "E_REGISTRY",
        `registry ${uri} is unreachable: folder "${root}" does not exist (working directory: ${process.cwd()}). ` +
          "Set mlflow_service.registry_uri (or MLFLOW_REGISTRY_URI / MLFLOW_TRACKING_URI) to your MLflow store.",
      );
    }
    return new FileStore(uri, root);
  }

  /** @inheritdoc */
  async getModelVersion(ref: ModelReference, options: LookupOptions = {}): Promise<ModelVersion> {
    const modelDir = join(this.root, "models", ref.name);
    if (!existsSync(join(modelDir, "meta.yaml"))) {
      throw notFound.model(ref, this.uri, subfolders(join(this.root, "models")));
    }
    const aliases = this.aliases(modelDir);
    const versions = liveVersions(modelDir);
    const resolved = resolveNumber(ref, { aliases, versions }, options);
    const meta = readMeta(join(modelDir, `version-${resolved.number}`, "meta.yaml"));
    if (meta === undefined || meta.current_stage === DELETED) {
      const live = versions.map((v) => v.version);
      if (resolved.alias === undefined) throw notFound.version(ref, live);
      throw notFound.aliasTarget(ref, resolved.number, meta !== undefined, live, aliases);
    }
    const version = Number(meta.version ?? resolved.number);
    const source = String(meta.source ?? "");
    return {
      name: ref.name,
      version,
      uri: versionUri(ref.name, version),
      alias: resolved.alias,
      stage: resolved.stage,
      aliases: aliases.filter(([, v]) => v === version).map(([alias]) => alias),
      runId: typeof meta.run_id === "string" && meta.run_id !== "" ? meta.run_id : null,
      source,
      artifactUri: stringOr(meta.storage_location) ?? this.artifactUriOf(source, stringOr(meta.model_id)),
      status: String(meta.status ?? "READY"),
    };
  }

  /** @inheritdoc */
  async getLoggedModel(modelId: string): Promise<ModelVersion> {
    for (const experiment of subfolders(this.root)) {
      const meta = readMeta(join(this.root, experiment, "models", modelId, "meta.yaml"));
      const location = stringOr(meta?.artifact_location);
      if (meta !== undefined && location !== undefined && meta.lifecycle_stage !== "deleted") {
        return loggedModelVersion(modelId, {
          name: String(meta.name ?? modelId),
          artifact_location: location,
          source_run_id: stringOr(meta.source_run_id),
          status: meta.status as number | undefined,
        });
      }
    }
    const none = subfolders(this.root).every((e) => !existsSync(join(this.root, e, "models")));
    throw notFound.loggedModel(
      modelId,
      this.uri,
      none ? ": the store has no logged models (MLflow 2 writes none)" : "",
    );
  }

  /** @inheritdoc */
  async getRunModel(runId: string, path: string): Promise<ModelVersion> {
    for (const experiment of subfolders(this.root)) {
      const run = readMeta(join(this.root, experiment, runId, "meta.yaml"));
      if (run === undefined || run.lifecycle_stage === "deleted") continue;
      // MLflow 3 keeps a run's models as logged models: runs:/<run>/<name>/... is the logged model of that name.
      const [first = "", ...rest] = path.split("/");
      for (const id of subfolders(join(this.root, experiment, "models"))) {
        const meta = readMeta(join(this.root, experiment, "models", id, "meta.yaml"));
        const location = stringOr(meta?.artifact_location);
        if (meta?.source_run_id === runId && meta.name === first && location !== undefined) {
          return runModelVersion(runId, path, joinUri(location, rest.join("/")));
        }
      }
      return runModelVersion(runId, path, joinUri(stringOr(run.artifact_uri) ?? "", path));
    }
    throw notFound.run(runId, path, this.uri);
  }

  /** @inheritdoc */
  async modelDirectory(version: ModelVersion): Promise<string> {
    return localArtifactPath(version.artifactUri, this.root);
  }

  /** @inheritdoc */
  async runArtifact(runId: string, path: string): Promise<Buffer | undefined> {
    for (const experiment of subfolders(this.root)) {
      const run = readMeta(join(this.root, experiment, runId, "meta.yaml"));
      if (run === undefined || run.lifecycle_stage === "deleted") continue;
      return localRunFile(
        stringOr(run.artifact_uri) ?? join(this.root, experiment, runId, "artifacts"),
        path,
        this.root,
      );
    }
    throw notFound.run(runId, path, this.uri);
  }

  /** @inheritdoc */
  close(): void {}

  private aliases(modelDir: string): [string, number][] {
    const folder = join(modelDir, "aliases");
    if (!existsSync(folder)) return [];
    return readdirSync(folder)
      .sort()
      .map((alias): [string, number] => [alias, Number(readFileSync(join(folder, alias), "utf8").trim())]);
  }

  /** Resolves the `models:/m-<id>` (MLflow 3) and `runs:/<run>/<path>` forms of a `source`. */
  private artifactUriOf(source: string, modelId: string | undefined): string {
    const logged = modelId ?? /^models:\/(m-[0-9a-f]+)$/.exec(source)?.[1];
    const run = /^runs:\/([^/]+)\/?(.*)$/.exec(source);
    for (const experiment of subfolders(this.root)) {
      if (logged !== undefined) {
        const location = stringOr(
          readMeta(join(this.root, experiment, "models", logged, "meta.yaml"))?.artifact_location,
        );
        if (location !== undefined) return location;
      }
      if (run?.[1] !== undefined) {
        const root = stringOr(readMeta(join(this.root, experiment, run[1], "meta.yaml"))?.artifact_uri);
        if (root !== undefined) return run[2] ? `${root}/${run[2]}` : root;
      }
    }
    return source;
  }
}

function readMeta(path: string): Meta | undefined {
  if (!existsSync(path)) return undefined;
  return (parse(readFileSync(path, "utf8")) as Meta | null) ?? {};
}

/** The versions of a model that are not deleted, with their stage, ascending. */
function liveVersions(modelDir: string): { version: number; stage: string }[] {
  return subfolders(modelDir)
    .map((name) => /^version-(\d+)$/.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .flatMap((n) => {
      const meta = readMeta(join(modelDir, `version-${n}`, "meta.yaml"));
      if (meta === undefined || meta.current_stage === DELETED) return [];
      return [{ version: Number(n), stage: String(meta.current_stage ?? "None") }];
    })
    .sort((a, b) => a.version - b.version);
}

function subfolders(path: string): string[] {
  if (!existsSync(path)) return [];
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .sort();
}

function stringOr(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
