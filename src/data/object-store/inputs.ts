/**
 * Inputs on an object store: an `s3://` path resolved to its objects (one object, a glob, a folder-like
 * prefix, or the output of an mlbatch run, read as its `_SUCCESS` lists it), and local copies of them for
 * DuckDB to read. DuckDB's own S3 support (httpfs) downloads itself at run time, which fails offline;
 * so objects are streamed by the SDK into the database's scratch folder (docs/object-stores.md: why, and
 * the disk and memory this takes), keeping their keys, so that Hive folders (`day=1/`) read as columns.
 */
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { MlbatchError } from "../../errors.js";
import type { Database } from "../database.js";
import { globBase, globPattern, isGlob } from "./glob.js";
import { ObjectStore } from "./object-store.js";
import { childUri, folderPrefix, isObjectUri, objectUri, parseObjectUri } from "./uri.js";

/** The marker an mlbatch folder output holds, and the files it lists. */
const MARKER = "_SUCCESS";
/** Downloads at once. */
const PARALLEL = 4;

/** The objects an input path names, in read order, and whether the path is a folder. */
export interface ObjectInputs {
  readonly files: readonly string[];
  readonly folder: boolean;
}

/**
 * Resolves an `s3://` input path: a glob to the objects it matches, an object to itself, a prefix to
 * the objects under it whose names end with one of `extensions` (none under a `.` or `_` name: side
 * files, a writer's staging), or to the files its mlbatch `_SUCCESS` lists, in its order. Objects are
 * sorted by key otherwise.
 *
 * @throws MlbatchError `E_READ` when nothing is there; `E_AUTH` for refused credentials
 * @example
 * ```ts
 * await objectInputFiles("s3://data/events/day=*\/*.parquet", [".parquet"]);
 * ```
 */
export async function objectInputFiles(path: string, extensions: readonly string[]): Promise<ObjectInputs> {
  const store = ObjectStore.fromEnvironment();
  const { bucket, key } = parseObjectUri(path);
  if (isGlob(key)) {
    const base = globBase(key);
    const pattern = globPattern(key);
    const objects = await store.list(objectUri({ bucket, key: base === "" ? "" : `${base}/` }));
    const files = objects.filter((o) => pattern.test(o.key)).map((o) => o.uri);
    if (files.length === 0) fail(path, "no object matches this glob");
    return { files, folder: false };
  }
  if (key !== "" && !key.endsWith("/") && (await store.head(path)) !== undefined) {
    return { files: [path], folder: false };
  }
  const prefix = folderPrefix(key);
  const listed = await markedFiles(store, objectUri({ bucket, key: prefix }));
  if (listed !== undefined) return { files: listed, folder: true };
  const files = (await store.list(objectUri({ bucket, key: prefix })))
    .filter(
      (o) =>
        !o.key
          .slice(prefix.length)
          .split("/")
          .some((name) => /^[._]/.test(name)),
    )
    .filter((o) => extensions.some((ext) => o.key.toLowerCase().endsWith(ext)))
    .map((o) => o.uri);
  if (files.length === 0) {
    fail(path, `there is no such object, and no ${extensions.join(" or ")} object under that prefix`);
  }
  return { files, folder: true };
}

/** The files an mlbatch `_SUCCESS` under the prefix lists (a writer's parts, a sharded run's), if any. */
async function markedFiles(store: ObjectStore, prefix: string): Promise<string[] | undefined> {
  const marker = await store.getText(childUri(prefix, MARKER));
  if (marker === undefined) return undefined;
  let parsed: { format?: unknown; files?: unknown; parts?: { file?: unknown }[] };
  try {
    parsed = JSON.parse(marker.text) as typeof parsed;
  } catch {
    return undefined;
  }
  if (parsed.format === "mlbatch-manifest/1" && Array.isArray(parsed.parts)) {
    return parsed.parts.map((part) => childUri(prefix, String(part.file)));
  }
  if (parsed.format === "mlbatch-parts/1" && Array.isArray(parsed.files)) {
    return parsed.files.map((file) => childUri(prefix, String(file)));
  }
  return undefined;
}

/**
 * Local copies of the files, for DuckDB to read: an `s3://` object is downloaded (once per database) into
 * the database's scratch folder under `<bucket>/<key>`; a local path is itself.
 *
 * @throws MlbatchError `E_READ`, `E_AUTH`
 */
export async function localFiles(db: Database, files: readonly string[]): Promise<string[]> {
  const local = new Array<string>(files.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) local[i] = await localFile(db, files[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, files.length) }, worker));
  return local;
}

/** Copies made or being made, by scratch folder and URI (a database and its forks share a folder). */
const copies = new Map<string, Promise<string>>();

/** The local copy of one file (see {@link localFiles}). */
export function localFile(db: Database, file: string): Promise<string> {
  if (!isObjectUri(file)) return Promise.resolve(file);
  const folder = db.scratch();
  const key = `${folder}\n${file}`;
  let copy = copies.get(key);
  if (copy === undefined) {
    const { bucket, key: objectKey } = parseObjectUri(file);
    const target = join(folder, bucket, objectKey);
    copy = mkdir(dirname(target), { recursive: true })
      .then(() => ObjectStore.fromEnvironment().download(file, target))
      .then(() => target);
    copy.catch(() => copies.delete(key));
    copies.set(key, copy);
  }
  return copy;
}

/**
 * Removes the local copy of `file` (an `s3://` object) this database made, if any: a caller that has
 * read what it needs of a file (its row groups, its row count) keeps the spool to one file at a time.
 */
export async function releaseLocalFile(db: Database, file: string): Promise<void> {
  if (!isObjectUri(file)) return;
  const key = `${db.scratch()}\n${file}`;
  const copy = copies.get(key);
  if (copy === undefined) return;
  copies.delete(key);
  const path = await copy.catch(() => undefined);
  if (path !== undefined) await rm(path, { force: true });
}

function fail(path: string, reason: string): never {
  throw new MlbatchError(
    "E_READ",
    `cannot read inputs "${path}": ${reason}. Check inputs.path, and that the credentials may list the bucket.`,
  );
}
