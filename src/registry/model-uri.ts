import { MlbatchError } from "../errors.js";

/** MLflow's model version stages, spelled as MLflow stores them (it matches them case-insensitively). */
export const STAGES = ["None", "Staging", "Production", "Archived"] as const;
/** A model version stage (MLflow 2's way to promote versions; still read by MLflow 3). */
export type Stage = (typeof STAGES)[number];

/**
 * A version of a registered model: by alias, by number, by stage (its newest version in that stage), or
 * the newest version of any stage (`latest`).
 */
export type ModelReference =
  | {
      readonly name: string;
      readonly alias: string;
      readonly version?: undefined;
      readonly stage?: undefined;
    }
  | {
      readonly name: string;
      readonly version: number;
      readonly alias?: undefined;
      readonly stage?: undefined;
    }
  | {
      readonly name: string;
      readonly stage: Stage | "latest";
      readonly alias?: undefined;
      readonly version?: undefined;
    };

/**
 * A model to load: a registered model's version ({@link ModelReference}), an MLflow 3 logged model
 * (`models:/m-<id>`), or a model saved in a run's artifacts (`runs:/<run id>/<path>`).
 */
export type ModelLocation =
  | ModelReference
  | { readonly modelId: string }
  | { readonly runId: string; readonly path: string };

/**
 * The model a job asks for: `registry_name` and `alias_or_version` as in the reference. A string of
 * digits is a version number (aliases cannot be numbers in MLflow), any other string an alias.
 *
 * @example
 * ```ts
 * modelReference("bikes", "Champion"); // { name: "bikes", alias: "Champion" }
 * modelReference("bikes", 3);          // { name: "bikes", version: 3 }
 * ```
 */
export function modelReference(name: string, aliasOrVersion: string | number): ModelReference {
  if (typeof aliasOrVersion === "number") return { name, version: aliasOrVersion };
  if (/^\d+$/.test(aliasOrVersion)) return { name, version: Number(aliasOrVersion) };
  return { name, alias: aliasOrVersion };
}

/**
 * The stage a name means, by MLflow's rule (case-insensitive: `production` is `Production`), or
 * undefined when it names none.
 */
export function canonicalStage(text: string): Stage | undefined {
  return STAGES.find((stage) => stage.toLowerCase() === text.toLowerCase());
}

/** The URI of one version of a registered model, `models:/<name>/<version>`: what a run pins and loads. */
export function versionUri(name: string, version: number): string {
  return `models:/${name}/${version}`;
}

/**
 * The MLflow URI of a location: `models:/<name>@<alias>`, `models:/<name>/<version>`,
 * `models:/<name>/<stage>`, `models:/<name>/latest`, `models:/m-<id>` or `runs:/<run id>/<path>`.
 */
export function modelUri(location: ModelLocation): string {
  if ("modelId" in location) return `models:/${location.modelId}`;
  if ("runId" in location) return `runs:/${location.runId}/${location.path}`;
  if (location.alias !== undefined) return `models:/${location.name}@${location.alias}`;
  if (location.version !== undefined) return versionUri(location.name, location.version);
  return `models:/${location.name}/${location.stage}`;
}

const FORMS =
  "models:/<name>@<alias>, models:/<name>/<version>, models:/<name>/<stage> (None, Staging, Production, " +
  "Archived), models:/<name>/latest, models:/m-<logged model id> or runs:/<run id>/<artifact path>";

/**
 * Parses a model URI as MLflow does (`mlflow.store.artifact.utils.models._parse_model_uri`):
 * `models:/<name>/<suffix>` is a version when the suffix is digits, the newest version when it is
 * `latest` (any case), else a stage (any case); `models:/<name>@<alias>` an alias (split on the last
 * `@`); `models:/<id>` a logged model; and `runs:/<run id>/<path>` a model in a run's artifacts.
 *
 * @example
 * ```ts
 * parseModelUri("models:/bikes/production"); // { name: "bikes", stage: "Production" }
 * parseModelUri("runs:/0123abcd/model");     // { runId: "0123abcd", path: "model" }
 * ```
 * @throws MlbatchError `E_CONFIG` for any other form, or a stage MLflow does not have
 */
export function parseModelUri(uri: string): ModelLocation {
  const invalid = (why: string) =>
    new MlbatchError("E_CONFIG", `invalid model URI "${uri}": ${why}; expected ${FORMS}.`);
  if (uri.startsWith("runs:/")) {
    const match = /^runs:\/+([^/]+)\/(.+?)\/*$/.exec(uri);
    if (match?.[1] === undefined || match[2] === undefined) throw invalid("no run id and artifact path");
    return { runId: match[1], path: match[2] };
  }
  if (!uri.startsWith("models:/")) throw invalid("not a models:/ or runs:/ URI");
  const parts = uri.slice("models:/".length).split("/");
  const [name = "", suffix] = parts;
  if (parts.length > 2 || name.trim() === "") throw invalid("a model URI has a name and at most one suffix");
  if (suffix !== undefined) {
    if (suffix.trim() === "") throw invalid("the suffix after the name is empty");
    if (/^\d+$/.test(suffix)) return { name, version: Number(suffix) };
    if (suffix.toLowerCase() === "latest") return { name, stage: "latest" };
    const stage = canonicalStage(suffix);
    if (stage === undefined) {
      throw invalid(`"${suffix}" is neither a version number, "latest", nor a stage (${STAGES.join(", ")})`);
    }
    return { name, stage };
  }
  const at = name.lastIndexOf("@");
  if (at >= 0) {
    if (at === 0 || at === name.length - 1) throw invalid("an alias URI needs a name and an alias");
    return { name: name.slice(0, at), alias: name.slice(at + 1) };
  }
  if (!/^m-[0-9a-f]+$/.test(name)) {
    throw invalid(
      `"${name}" alone is not a logged model id (m-<hex>); a registered model needs a version, stage, latest or @alias`,
    );
  }
  return { modelId: name };
}
