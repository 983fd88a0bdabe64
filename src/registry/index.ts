import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MlbatchError } from "../errors.js";
import type { Logger } from "../log.js";
import { ModelCache } from "./cache.js";
import { FileStore } from "./file-store.js";
import type { Registry } from "./registry.js";
import { RestStore } from "./rest/rest-store.js";
import type { RetryPolicy } from "./rest/retry.js";
import { SqliteStore } from "./sqlite-store.js";

export type { ModelVersion, Registry } from "./registry.js";
export type { RetryPolicy } from "./rest/retry.js";

/** What a registry may use besides its URI. */
export interface RegistryOptions {
  /** Where a registry logs what it does (cache hits, retries); silent by default. */
  readonly logger?: Logger | undefined;
  /** The tracking URI: an `http(s)://` one serves runs and proxied artifacts (default: the registry's). */
  readonly trackingUri?: string | undefined;
  /** Timeout and retries of requests to a tracking server (default: MLflow's). */
  readonly http?: RetryPolicy | undefined;
  /** Where a tracking server's models are cached (`dir`), if `enable` (default: no cache). */
  readonly cache?: { readonly enable: boolean; readonly dir: string } | undefined;
  /** Credentials, TLS and AWS settings of remote registries, MLBATCH_SQLITE_LOCK_TIMEOUT of SQLite ones (default: this process's environment). */
  readonly env?: NodeJS.ProcessEnv | undefined;
}

/**
 * Opens the registry of an MLflow registry URI: a tracking server (`http://`, `https://`),
 * `sqlite:///<relative>.db`, `sqlite:////<absolute>.db`, a folder (`./mlruns`, `/abs/mlruns`) or `file:`
 * URI of a file store.
 *
 * @example
 * ```ts
 * const registry = openRegistry("https://mlflow.example.com", { cache: { enable: true, dir: "/var/cache/models" } });
 * ```
 * @throws MlbatchError `E_REGISTRY` when the store is missing, `E_CONFIG` for URIs mlbatch cannot read
 */
export function openRegistry(uri: string, options: RegistryOptions = {}): Registry {
  if (/^https?:\/\//i.test(uri)) {
    return RestStore.open(uri, {
      logger: options.logger,
      trackingUri: options.trackingUri,
      policy: options.http,
      cache: options.cache?.enable ? new ModelCache(options.cache.dir) : undefined,
      env: options.env,
    });
  }
  if (uri.startsWith("sqlite:")) {
    const path = uri.replace(/^sqlite:\/\/\//, "");
    if (path === uri || path === "" || path === ":memory:") {
      throw new MlbatchError(
        "E_CONFIG",
        `invalid SQLite registry URI "${uri}": expected sqlite:///<path to mlflow.db>`,
      );
    }
    return SqliteStore.open(uri, resolve(path), { env: options.env });
  }
  if (uri.startsWith("file://")) return FileStore.open(uri, fileURLToPath(uri));
  if (uri.startsWith("file:")) return FileStore.open(uri, resolve(uri.slice("file:".length)));
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(uri)?.[1];
  if (scheme !== undefined) {
    throw new MlbatchError(
      "E_CONFIG",
      `registry URI "${uri}": "${scheme}:" registries are not supported; use an MLflow tracking server ` +
        "(http(s)://host:port) or a local MLflow store (sqlite:///path/to/mlflow.db, or the path of an mlruns folder).",
    );
  }
  return FileStore.open(uri, resolve(uri));
}
