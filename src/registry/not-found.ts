import { MlbatchError } from "../errors.js";
import { type ModelReference, modelUri } from "./model-uri.js";

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
  alias(ref: ModelReference, aliases: ReadonlyArray<readonly [string, number]>): MlbatchError {
    const known =
      aliases.length === 0
        ? "it has no aliases"
        : `aliases: ${aliases.map(([alias, version]) => `${alias} -> ${version}`).join(", ")}`;
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `alias "${ref.alias}" not found for model "${ref.name}"; ${known}. Set job.alias_or_version to one of them or to a version number.`,
    );
  },
  version(ref: ModelReference, versions: readonly number[]): MlbatchError {
    const known = versions.length === 0 ? "it has no versions" : `versions: ${versions.join(", ")}`;
    return new MlbatchError(
      "E_MODEL_NOT_FOUND",
      `version ${ref.version} not found for model "${ref.name}"; ${known}. Set job.alias_or_version to one of them or to an alias.`,
    );
  },
};
