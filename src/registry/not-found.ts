import { MlbatchError } from "../errors.js";
import { canonicalStage, type ModelReference, modelUri, type Stage } from "./model-uri.js";

/** `[alias, version]` pairs, by alias. */
export type Aliases = ReadonlyArray<readonly [string, number]>;
/** `[stage, newest version in it]` pairs, in MLflow's order of stages. */
export type StageVersions = ReadonlyArray<readonly [Stage, number]>;

/** What a model holds, for messages: its aliases and the newest version in each stage. */
export interface Holdings {
  readonly aliases: Aliases;
  readonly stages: StageVersions;
}

const PROMOTE = (name: string, stage: string) =>
  `MlflowClient().transition_model_version_stage("${name}", <version>, "${stage}")`;

/** Messages for a reference the registry does not hold, listing what it does hold. */
export const notFound = {
  model(ref: ModelReference, registry: string, models: readonly string[]): MlbatchError {
    const known = models.length === 0 ? "the registry has no models" : `models: ${models.join(", ")}`;
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `model "${ref.name}" not found in registry ${registry} (${modelUri(ref)}); ${known}. ` +
        "Check mlflow_service.registry_name (or the name in job.model_uri) and the registry URI.",
    );
  },
  /**
   * An alias the model does not have. With `stageFallback` (a job's alias_or_version) and an alias
   * that names a stage, the model has no version in that stage either.
   */
  alias(ref: ModelReference, held: Holdings, stageFallback = false): MlbatchError {
    const stage = stageFallback && ref.alias !== undefined ? fallbackStage(ref.alias) : undefined;
    const what =
      stage === undefined
        ? `alias "${ref.alias}" not found for model "${ref.name}"`
        : `model "${ref.name}" has no alias "${ref.alias}" and no version ${stage === "latest" ? "at all" : `in stage ${stage}`}`;
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `${what}; ${listAliases(held.aliases)}; ${listStages(held.stages)}. Set job.alias_or_version to one ` +
        "of them (an alias, a stage) or to a version number, or job.model_uri to a models:/ URI.",
    );
  },
  version(ref: ModelReference, versions: readonly number[]): MlbatchError {
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `version ${ref.version} not found for model "${ref.name}"; ${listVersions(versions)}. Set job.alias_or_version to one of them or to an alias.`,
    );
  },
  /** A stage no live version is in, or `latest` of a model without live versions. */
  stage(ref: ModelReference, held: Holdings): MlbatchError {
    const uri = modelUri(ref);
    if (ref.stage === "latest") {
      return new MlbatchError(
        "E_MODEL_NOT_FOUND",
        `model "${ref.name}" has no versions (${uri}): every version was deleted, or none was registered. ` +
          `Register one (mlflow.register_model(<model URI>, "${ref.name}")) or load another model.`,
      );
    }
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `no version of model "${ref.name}" is in stage ${ref.stage} (${uri}); ${listStages(held.stages)}; ` +
        `${listAliases(held.aliases)}. Ask for one of them, or promote a version to ${ref.stage} ` +
        `(${PROMOTE(ref.name ?? "", ref.stage ?? "")}).`,
    );
  },
  /**
   * An alias that points to a version the registry no longer holds (deleted, or never there: MLflow
   * removes the aliases of a version it deletes, so a store edited by hand or restored in part).
   */
  aliasTarget(
    ref: ModelReference,
    version: number,
    deleted: boolean,
    versions: readonly number[],
    aliases: Aliases,
  ): MlbatchError {
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `alias "${ref.alias}" of model "${ref.name}" points to version ${version}, which does not exist` +
        `${deleted ? " (deleted)" : ""}; ${listVersions(versions)}; ${listAliases(aliases)}. Point the alias ` +
        `at an existing version (MlflowClient().set_registered_model_alias("${ref.name}", "${ref.alias}", <version>)) ` +
        "or set job.alias_or_version to a version.",
    );
  },
  /** A `models:/m-<id>` the store has no logged model for. */
  loggedModel(modelId: string, registry: string, why = ""): MlbatchError {
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `logged model ${modelId} (models:/${modelId}) not found in registry ${registry}${why}. Check the ` +
        "id (MLflow 3 shows it on the model's page and in the version's source), or load a registered " +
        "version (models:/<name>/<version>).",
    );
  },
  /** A `runs:/<run id>/...` the store has no run for. */
  run(runId: string, path: string, registry: string): MlbatchError {
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `run ${runId} (runs:/${runId}/${path}) not found in ${registry}. Check the run id (the run's page ` +
        "in MLflow), and that the registry URI is the store the run was logged to.",
    );
  },
};

/** The stage (or `latest`) an alias_or_version that is no alias stands for, if any (MLflow's case rule). */
export function fallbackStage(alias: string): Stage | "latest" | undefined {
  return alias.toLowerCase() === "latest" ? "latest" : canonicalStage(alias);
}

function listAliases(aliases: Aliases): string {
  if (aliases.length === 0) return "it has no aliases";
  return `aliases: ${aliases.map(([alias, version]) => `${alias} -> ${version}`).join(", ")}`;
}

function listStages(stages: StageVersions): string {
  if (stages.length === 0) return "no version is in any stage";
  return `stages (newest version in each): ${stages.map(([stage, version]) => `${stage} -> ${version}`).join(", ")}`;
}

function listVersions(versions: readonly number[]): string {
  return versions.length === 0 ? "it has no versions" : `versions: ${versions.join(", ")}`;
}
