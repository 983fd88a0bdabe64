import type { Logger } from "../log.js";
import type { RetryPolicy } from "../mlflow/retry-policy.js";
import { storeLocation } from "../mlflow/store-uri.js";
import { ModelCache } from "./cache.js";
import { FileStore } from "./file-store.js";
import type { Registry } from "./registry.js";
import { RestStore } from "./rest/rest-store.js";
import { SqliteStore } from "./sqlite-store.js";

export type { ModelVersion, Registry } from "./registry.js";

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
  const store = storeLocation(uri, "registry");
  switch (store.kind) {
    case "server":
      return RestStore.open(uri, {
        logger: options.logger,
        trackingUri: options.trackingUri,
        policy: options.http,
        cache: options.cache?.enable ? new ModelCache(options.cache.dir) : undefined,
        env: options.env,
      });
    case "sqlite":
      return SqliteStore.open(uri, store.path, { env: options.env });
    case "file":
      return FileStore.open(uri, store.path);
  }
}
