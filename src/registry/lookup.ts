import { type ModelReference, STAGES, type Stage } from "./model-uri.js";
import { type Aliases, fallbackStage, notFound, type StageVersions } from "./not-found.js";
import type { LookupOptions, ModelVersion } from "./registry.js";

/** What a local store reads of a model to resolve a reference: its aliases and its live versions' stages. */
export interface ModelIndex {
  /** `[alias, version]`, by alias. */
  readonly aliases: Aliases;
  /** The versions that are not deleted, with their `current_stage`. */
  readonly versions: ReadonlyArray<{ readonly version: number; readonly stage: string }>;
}

/** How a reference was resolved to a version number. */
export interface Resolution {
  readonly number: number;
  readonly alias?: string | undefined;
  readonly stage?: Stage | "latest" | undefined;
}

/** The newest version in each stage, in MLflow's order of stages (MLflow's `get_latest_versions`). */
export function newestByStage(versions: ModelIndex["versions"]): StageVersions {
  return STAGES.flatMap((stage): [Stage, number][] => {
    const numbers = versions.filter((v) => v.stage === stage).map((v) => v.version);
    return numbers.length === 0 ? [] : [[stage, Math.max(...numbers)]];
  });
}

/**
 * The version number a reference names: an alias's version, a stage's newest version, the newest of
 * all for `latest`, or the number itself (whether it exists is for the store to check). An alias that
 * does not exist falls back, with `stageFallback`, to the stage (any case) or `latest` it names.
 *
 * @throws MlbatchError `E_MODEL_NOT_FOUND` for an alias or a stage the model does not have, listing its
 *   aliases and stages
 */
export function resolveNumber(
  asked: ModelReference,
  index: ModelIndex,
  options: LookupOptions = {},
): Resolution {
  // `latest` cannot be an alias: MLflow 3 reads `@latest` as the newest version.
  const ref: ModelReference =
    asked.alias?.toLowerCase() === "latest" ? { name: asked.name, stage: "latest" } : asked;
  if (ref.version !== undefined) return { number: ref.version };
  const held = { aliases: index.aliases, stages: newestByStage(index.versions) };
  if (ref.alias !== undefined) {
    const number = index.aliases.find(([alias]) => alias === ref.alias)?.[1];
    if (number !== undefined) return { number, alias: ref.alias };
    const stage = options.stageFallback ? fallbackStage(ref.alias) : undefined;
    const found = stage === undefined ? undefined : newest(index, held.stages, stage);
    if (found === undefined) throw notFound.alias(ref, held, options.stageFallback);
    return { number: found, stage };
  }
  const found = newest(index, held.stages, ref.stage);
  if (found === undefined) throw notFound.stage(ref, held);
  return { number: found, stage: ref.stage };
}

function newest(index: ModelIndex, stages: StageVersions, stage: Stage | "latest"): number | undefined {
  if (stage !== "latest") return stages.find(([s]) => s === stage)?.[1];
  return index.versions.length === 0 ? undefined : Math.max(...index.versions.map((v) => v.version));
}

/** A logged model as the SQLite table and the file store's meta.yaml hold it. */
export interface LoggedModelRow {
  readonly name: string;
  readonly artifact_location: string;
  readonly source_run_id?: string | null | undefined;
  /** MLflow's LoggedModelStatus: 1 pending, 2 ready, 3 failed. */
  readonly status?: number | string | null | undefined;
}

/** MLflow's LoggedModelStatus numbers (SQLite, meta.yaml); the REST API names them (`LOGGED_MODEL_READY`). */
const LOGGED_MODEL_STATUS: Record<string, string> = {
  "0": "UNSPECIFIED",
  "1": "PENDING",
  "2": "READY",
  "3": "UPLOAD_FAILED",
};

/** The model of a logged model (`models:/m-<id>`): no version. */
export function loggedModelVersion(modelId: string, row: LoggedModelRow): ModelVersion {
  return {
    name: row.name,
    version: null,
    uri: `models:/${modelId}`,
    aliases: [],
    runId: row.source_run_id || null,
    source: `models:/${modelId}`,
    artifactUri: row.artifact_location,
    status: loggedModelStatus(row.status),
  };
}

/** The model in a run's artifacts (`runs:/<run id>/<path>`): no version. */
export function runModelVersion(runId: string, path: string, artifactUri: string): ModelVersion {
  const uri = `runs:/${runId}/${path}`;
  return { name: path, version: null, uri, aliases: [], runId, source: uri, artifactUri, status: "READY" };
}

/** An artifact URI and a relative path under it. */
export function joinUri(root: string, path: string): string {
  if (path === "") return root;
  return `${root.replace(/\/+$/, "")}/${path}`;
}

function loggedModelStatus(status: LoggedModelRow["status"]): string {
  if (status === undefined || status === null) return "READY";
  const text = String(status);
  return LOGGED_MODEL_STATUS[text] ?? text.replace(/^LOGGED_MODEL_/, "");
}
