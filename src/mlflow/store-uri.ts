/**
 * MLflow store URIs, read once for the registry and for tracking: a tracking server, a SQLite store or a
 * file store (a folder).
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MlbatchError } from "../errors.js";
import { withoutCredentials } from "./connection.js";

/** The store a URI names. */
export type StoreLocation =
  /** A tracking server: `http(s)://[user:password@]host[:port][/prefix]`. */
  | { readonly kind: "server"; readonly uri: string }
  /** A SQLite store: `sqlite:///<relative>.db`, `sqlite:////<absolute>.db`, as the file's path. */
  | { readonly kind: "sqlite"; readonly path: string }
  /** A file store: a folder (`./mlruns`, `/abs/mlruns`) or a `file:` URI, as the folder's path. */
  | { readonly kind: "file"; readonly path: string };

/** What a store is used for, for messages. */
export type StoreRole = "registry" | "tracking";

/** Why a scheme other than http(s), sqlite and file cannot be used, and what to use instead. */
const UNSUPPORTED: Readonly<Record<StoreRole, (shown: string, scheme: string) => string>> = {
  registry: (shown, scheme) =>
    `registry URI "${shown}": "${scheme}:" registries are not supported; use an MLflow tracking server ` +
    "(http(s)://host:port) or a local MLflow store (sqlite:///path/to/mlflow.db, or the path of an mlruns folder).",
  tracking: (shown, scheme) =>
    `tracking URI "${shown}": mlbatch cannot log runs to "${scheme}:" stores; use an MLflow ` +
    "tracking server (http(s)://host:port) or a local MLflow store (sqlite:///mlflow.db, or an mlruns folder).",
};

/**
 * The store an MLflow registry or tracking URI names, with local paths resolved.
 *
 * @param uri - the URI (`mlflow_service.registry_uri` or `tracking_uri`, resolved)
 * @param role - what the store is used for, for messages
 * @param cwd - what relative paths are relative to (default: the working directory)
 * @throws MlbatchError `E_CONFIG` for a SQLite URI without a path, or a scheme mlbatch cannot read
 * @example
 * ```ts
 * storeLocation("sqlite:///mlflow.db", "registry"); // { kind: "sqlite", path: "<cwd>/mlflow.db" }
 * ```
 */
export function storeLocation(uri: string, role: StoreRole, cwd: string = process.cwd()): StoreLocation {
  if (/^https?:\/\//i.test(uri)) return { kind: "server", uri };
  if (uri.startsWith("sqlite:")) {
    const path = uri.replace(/^sqlite:\/\/\//, "");
    if (path === uri || path === "" || path === ":memory:") {
      throw new MlbatchError(
        "E_CONFIG",
        `invalid SQLite ${role} URI "${withoutCredentials(uri)}": expected sqlite:///<path to mlflow.db>`,
      );
    }
    return { kind: "sqlite", path: resolve(cwd, path) };
  }
  if (uri.startsWith("file://")) return { kind: "file", path: fileURLToPath(uri) };
  if (uri.startsWith("file:")) return { kind: "file", path: resolve(cwd, uri.slice("file:".length)) };
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(uri)?.[1];
  if (scheme !== undefined)
    throw new MlbatchError("E_CONFIG", UNSUPPORTED[role](withoutCredentials(uri), scheme));
  return { kind: "file", path: resolve(cwd, uri) };
}
