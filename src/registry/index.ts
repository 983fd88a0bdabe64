import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MlbatchError } from "../errors.js";
import type { Logger } from "../services/logger.js";
import { FileStore } from "./file-store.js";
import type { Registry } from "./registry.js";
import { SqliteStore } from "./sqlite-store.js";

export type { ModelVersion, Registry } from "./registry.js";

/** What a registry may use besides its URI. */
export interface RegistryOptions {
  /** Where a registry logs what it does (cache hits, retries); silent by default. */
  readonly logger?: Logger | undefined;
}

/**
 * Opens the registry of an MLflow registry URI: `sqlite:///<relative>.db`, `sqlite:////<absolute>.db`,
 * a folder (`./mlruns`, `/abs/mlruns`) or `file:` URI of a file store.
 *
 * @throws MlbatchError `E_REGISTRY` when the store is missing, `E_CONFIG` for URIs mlbatch cannot read
 */
export function openRegistry(uri: string, _options: RegistryOptions = {}): Registry {
  if (uri.startsWith("sqlite:")) {
    const path = uri.replace(/^sqlite:\/\/\//, "");
    if (path === uri || path === "" || path === ":memory:") {
      throw new MlbatchError(
        "E_CONFIG",
        `invalid SQLite registry URI "${uri}": expected sqlite:///<path to mlflow.db>`,
      );
    }
    return SqliteStore.open(uri, resolve(path));
  }
  if (uri.startsWith("file://")) return FileStore.open(uri, fileURLToPath(uri));
  if (uri.startsWith("file:")) return FileStore.open(uri, resolve(uri.slice("file:".length)));
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(uri)?.[1];
  if (scheme !== undefined) {
    throw new MlbatchError(
      "E_CONFIG",
      `registry URI "${uri}": "${scheme}:" registries are not supported; use a local MLflow store ` +
        "(sqlite:///path/to/mlflow.db, or the path of an mlruns folder).",
    );
  }
  return FileStore.open(uri, resolve(uri));
}
