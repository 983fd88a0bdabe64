/** The URIs of a tracking server's proxied artifacts (`mlflow-artifacts:`), read and written alike. */
import { ARTIFACTS_API } from "./api.js";

/** Where an `mlflow-artifacts:` URI points. */
export interface ProxiedLocation {
  /** The `host:port` it names (`mlflow-artifacts://host:port/...`); undefined: the tracking server. */
  readonly authority: string | undefined;
  /** The path under the server's artifact root, without leading or trailing slashes. */
  readonly root: string;
}

/**
 * Parses an `mlflow-artifacts:` URI (`mlflow-artifacts:/1/<run>/artifacts`,
 * `mlflow-artifacts://host:5000/1/<run>/artifacts`).
 *
 * @returns undefined for a URI of another scheme
 */
export function proxiedLocation(uri: string): ProxiedLocation | undefined {
  const match = /^mlflow-artifacts:(?:\/\/([^/]*))?\/*(.*?)\/*$/.exec(uri);
  if (match === null) return undefined;
  return { authority: match[1] || undefined, root: match[2] ?? "" };
}

/**
 * The API path of a file or folder under a proxied root: `/api/2.0/mlflow-artifacts/artifacts/<root>/<parts>`,
 * each part URI-encoded.
 */
export function proxiedPath(root: string, parts: readonly string[]): string {
  const all = [...root.split("/"), ...parts].filter((part) => part !== "");
  return `${ARTIFACTS_API}/${all.map(encodeURIComponent).join("/")}`;
}
