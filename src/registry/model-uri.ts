import { MlbatchError } from "../errors.js";

/** A registered model, by alias or by version number. */
export type ModelReference =
  | { readonly name: string; readonly alias: string; readonly version?: undefined }
  | { readonly name: string; readonly version: number; readonly alias?: undefined };

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

/** The MLflow URI of a reference: `models:/<name>@<alias>` or `models:/<name>/<version>`. */
export function modelUri(ref: ModelReference): string {
  return ref.alias === undefined ? `models:/${ref.name}/${ref.version}` : `models:/${ref.name}@${ref.alias}`;
}

/**
 * Parses `models:/<name>@<alias>` (split on the last `@`) and `models:/<name>/<version>`.
 *
 * @throws MlbatchError `E_CONFIG` for any other form
 */
export function parseModelUri(uri: string): ModelReference {
  const body = uri.startsWith("models:/") ? uri.slice("models:/".length) : undefined;
  const at = body?.lastIndexOf("@") ?? -1;
  if (body !== undefined && at > 0 && at < body.length - 1) {
    return { name: body.slice(0, at), alias: body.slice(at + 1) };
  }
  const match = body === undefined ? null : /^(.+)\/(\d+)$/.exec(body);
  if (match?.[1] !== undefined) return { name: match[1], version: Number(match[2]) };
  throw new MlbatchError(
    "E_CONFIG",
    `invalid model URI "${uri}": expected models:/<name>@<alias> or models:/<name>/<version>`,
  );
}
