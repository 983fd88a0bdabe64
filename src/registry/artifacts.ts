import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { MlbatchError } from "../errors.js";

/**
 * The local folder of an artifact URI written by a local MLflow store (`file:///...`, `file:...` or a
 * plain path). Both MLflow stores write absolute paths, so a store copied to another folder or machine
 * points elsewhere: when the path does not exist, the longest of its trailing parts that exists under
 * `storeRoot` is used instead (`/old/place/mlruns/1/abc/artifacts` -> `<storeRoot>/mlruns/1/abc/artifacts`).
 *
 * @param uri - the artifact URI
 * @param storeRoot - the folder of the store (the SQLite file's folder, or the `mlruns` folder)
 * @throws MlbatchError `E_REGISTRY` for remote URIs, or when no local folder matches
 */
export function localArtifactPath(uri: string, storeRoot: string): string {
  const found = existingLocalPath(uri, storeRoot);
  if (found !== undefined) return found;
  throw new MlbatchError(
    "E_REGISTRY",
    `model files not found at ${uri}, nor under the registry folder ${storeRoot}. ` +
      "The registry points to artifacts that were moved or deleted: copy the store with its artifacts (mlruns/).",
  );
}

/**
 * A file of a run's artifacts in a local store, or undefined when the run has no such file (or no
 * artifacts at all). The run's artifact folder is found as {@link localArtifactPath} finds folders (in a
 * moved store too), then the file under it.
 *
 * @param artifactUri - the run's artifact URI
 * @param path - the file, relative to it, with `/` separators (`mlbatch/training.profile.json`)
 * @param storeRoot - the folder of the store
 * @throws MlbatchError `E_REGISTRY` for remote artifact URIs
 */
export function localRunFile(artifactUri: string, path: string, storeRoot: string): Buffer | undefined {
  const folder = existingLocalPath(artifactUri, storeRoot);
  const file = folder === undefined ? undefined : join(folder, ...path.split("/"));
  return file !== undefined && existsSync(file) ? readFileSync(file) : undefined;
}

/** The local path of an artifact URI, or of its moved copy under the store; undefined when neither exists. */
function existingLocalPath(uri: string, storeRoot: string): string | undefined {
  const path = toPath(uri, storeRoot);
  if (existsSync(path)) return path;
  const parts = path.split(sep).filter((part) => part.length > 0);
  for (let i = 1; i < parts.length; i++) {
    const candidate = join(storeRoot, ...parts.slice(i));
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function toPath(uri: string, storeRoot: string): string {
  if (uri.startsWith("file://")) return fileURLToPath(uri);
  if (uri.startsWith("file:")) return resolve(storeRoot, uri.slice("file:".length));
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1];
  if (scheme !== undefined && scheme.length > 1) {
    const hint =
      scheme === "mlflow-artifacts"
        ? "these artifacts are served by an MLflow tracking server: set mlflow_service.tracking_uri to its http(s):// URI"
        : `artifacts on "${scheme}:" storage are not readable from a local registry yet`;
    throw new MlbatchError("E_REGISTRY", `cannot read model files at ${uri}: ${hint}.`);
  }
  return isAbsolute(uri) ? uri : resolve(storeRoot, uri);
}
