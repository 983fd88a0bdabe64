/**
 * `s3://bucket/key` URIs: recognised, split and joined in one place, so that every reader, writer and the
 * sharded commit name objects the same way.
 */
import { MlbatchError } from "../../errors.js";

/** An object (or a prefix) of a bucket. */
export interface ObjectLocation {
  readonly bucket: string;
  /** The key, or a prefix of keys; no leading slash. */
  readonly key: string;
}

const S3 = /^s3:\/\/([^/]+)(?:\/(.*))?$/;

/** True when `path` names an object store location (`s3://...`) rather than a local path. */
export function isObjectUri(path: string): boolean {
  return path.startsWith("s3://");
}

/**
 * Splits an `s3://bucket/key` URI.
 *
 * @throws MlbatchError `E_CONFIG` when it has no bucket
 * @example
 * ```ts
 * parseObjectUri("s3://data/in/day=1/a.parquet"); // { bucket: "data", key: "in/day=1/a.parquet" }
 * ```
 */
export function parseObjectUri(uri: string): ObjectLocation {
  const match = S3.exec(uri);
  if (match?.[1] === undefined) {
    throw new MlbatchError("E_CONFIG", `invalid S3 URI "${uri}": expected s3://<bucket>/<key>.`);
  }
  return { bucket: match[1], key: match[2] ?? "" };
}

/** `s3://bucket/key`. */
export function objectUri(location: ObjectLocation): string {
  return `s3://${location.bucket}/${location.key}`;
}

/** The URI of `name` under the prefix `uri` (a folder-like URI, with or without its trailing slash). */
export function childUri(uri: string, name: string): string {
  return `${uri.replace(/\/+$/, "")}/${name}`;
}

/** The key as a prefix of a folder: `a/b/` (empty for the bucket's root). */
export function folderPrefix(key: string): string {
  const trimmed = key.replace(/\/+$/, "");
  return trimmed === "" ? "" : `${trimmed}/`;
}
