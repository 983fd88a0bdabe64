import { MlbatchError } from "../errors.js";
import { type ModelReference, modelUri } from "./model-uri.js";

type Aliases = ReadonlyArray<readonly [string, number]>;

/** Messages for a reference the registry does not hold, listing what it does hold. */
export const notFound = {
  model(ref: ModelReference, registry: string, models: readonly string[]): MlbatchError {
    const known = models.length === 0 ? "the registry has no models" : `models: ${models.join(", ")}`;
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `model "${ref.name}" not found in registry ${registry} (${modelUri(ref)}); ${known}. ` +
        "Check mlflow_service.registry_name and the registry URI.",
    );
  },
  alias(ref: ModelReference, aliases: Aliases): MlbatchError {
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `alias "${ref.alias}" not found for model "${ref.name}"; ${listAliases(aliases)}. Set job.alias_or_version to one of them or to a version number.`,
    );
  },
  version(ref: ModelReference, versions: readonly number[]): MlbatchError {
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `version ${ref.version} not found for model "${ref.name}"; ${listVersions(versions)}. Set job.alias_or_version to one of them or to an alias.`,
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
};

function listAliases(aliases: Aliases): string {
  if (aliases.length === 0) return "it has no aliases";
  return `aliases: ${aliases.map(([alias, version]) => `${alias} -> ${version}`).join(", ")}`;
}

function listVersions(versions: readonly number[]): string {
  return versions.length === 0 ? "it has no versions" : `versions: ${versions.join(", ")}`;
}
