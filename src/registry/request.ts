import { type ModelLocation, modelReference, modelUri, parseModelUri } from "./model-uri.js";
import type { ModelVersion, Registry } from "./registry.js";

/** The model a job asks for, from its config: `model_uri`, else `registry_name` and `alias_or_version`. */
export interface ModelRequest {
  readonly location: ModelLocation;
  /** The URI asked for, for messages and reports: `models:/bikes@Champion`, `models:/bikes/Production`. */
  readonly uri: string;
  /** Who the request names, for reports: the registered model, the logged model id, the run's path. */
  readonly name: string;
  /** The alias asked for, if any. */
  readonly alias?: string | undefined;
  /**
   * An `alias_or_version` that is no alias of the model may name a stage or `latest` (a registry older
   * than aliases promotes with stages); a `model_uri` means exactly what it says, as in MLflow.
   */
  readonly stageFallback: boolean;
}

/**
 * What a job asks for: `modelUri` (any `models:/` or `runs:/` URI) when set, else the registered model
 * `name` by `aliasOrVersion`.
 *
 * @example
 * ```ts
 * modelRequest("bikes", "Production").uri;                 // "models:/bikes@Production", may be a stage
 * modelRequest("bikes", "Champion", "models:/bikes/2").uri; // "models:/bikes/2"
 * ```
 * @throws MlbatchError `E_CONFIG` when `modelUri` is not a model URI
 */
export function modelRequest(name: string, aliasOrVersion: string | number, uri?: string): ModelRequest {
  const location = uri === undefined ? modelReference(name, aliasOrVersion) : parseModelUri(uri);
  const named =
    "modelId" in location ? location.modelId : "runId" in location ? location.path : location.name;
  return {
    location,
    uri: modelUri(location),
    name: named,
    alias: "modelId" in location || "runId" in location ? undefined : location.alias,
    stageFallback: uri === undefined,
  };
}

/**
 * Resolves a request to the model it names now: a registered version (an alias or a stage resolved
 * once: it may move during the run), a logged model, or a run's artifacts.
 *
 * @throws MlbatchError `E_MODEL_NOT_FOUND` listing what the registry holds
 */
export function resolveModel(registry: Registry, request: ModelRequest): Promise<ModelVersion> {
  const { location } = request;
  if ("modelId" in location) return registry.getLoggedModel(location.modelId);
  if ("runId" in location) return registry.getRunModel(location.runId, location.path);
  return registry.getModelVersion(location, { stageFallback: request.stageFallback });
}

/**
 * What a request resolved to, for the job's log: `models:/bikes@Production to version 3 (no alias
 * "Production": resolved stage Production to version 3, its newest version in that stage)`.
 */
export function resolutionText(request: ModelRequest, resolved: ModelVersion): string {
  if (resolved.version === null) return `${request.uri} to ${resolved.uri} at ${resolved.artifactUri}`;
  const to = `${request.uri} to version ${resolved.version}`;
  const { stage, version } = resolved;
  if (stage === undefined) return to;
  const newest =
    stage === "latest"
      ? `latest to version ${version}, the newest of all versions`
      : `stage ${stage} to version ${version}, its newest version in that stage`;
  return request.alias !== undefined
    ? `${to} (no alias "${request.alias}": resolved ${newest})`
    : `${to} (resolved ${newest})`;
}
