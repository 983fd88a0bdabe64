/**
 * Inputs on an object store: an `s3://` path resolved to its objects (one object, a glob, a folder-like
 * prefix, or the output of an mlbatch run, read as its `_SUCCESS` lists it), and local copies of them for
 * DuckDB to read: whole, or ranged stand-ins of a Parquet object's row groups. DuckDB's own S3 support (httpfs) downloads itself at run time, which fails offline;
 * so objects are streamed by the SDK into the database's scratch folder (docs/object-stores.md: why, and
 * the disk and memory this takes), keeping their keys, so that Hive folders (`day=1/`) read as columns.
 */
import { mkdir, open, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { MlbatchError } from "../../errors.js";
import type { Database } from "../database.js";
import { quotedString } from "../sql.js";
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
export function localFiles(db: Database, files: readonly string[]): Promise<string[]> {
  return inParallel(files, (file) => localFile(db, file));
}

/** `work` on each item, {@link PARALLEL} at a time (requests to the store), the results in order. */
export async function inParallel<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return results;
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
 * A local stand-in for one row group of a Parquet object, or (`rowGroup` null) for its footer alone: a
 * sparse file of the object's size holding only the magic, the footer and that row group's column
 * chunks, read with ranged requests of the object's current version, or of `pinned` (with its footer's
 * bytes, if known: then the row group's are all that is fetched). DuckDB reads the row group (its rows
 * selected by `file_row_number`, which it pushes down to row groups) and the file's metadata from it;
 * the disk holds what was fetched, not the file. A local path is itself.
 *
 * @throws MlbatchError `E_READ`, `E_AUTH`
 */
export function localParquetPart(
  db: Database,
  file: string,
  rowGroup: number | null,
  pinned?: ObjectVersion,
): Promise<string> {
  if (!isObjectUri(file)) return Promise.resolve(file);
  const key = `${db.scratch()}\n${file}\n${rowGroup}`;
  let copy = copies.get(key);
  if (copy === undefined) {
    const target = parquetPartPath(db, file, rowGroup);
    copy = sparseCopy(db, file, target, rowGroup, pinned).then(() => target);
    copy.catch(() => copies.delete(key));
    copies.set(key, copy);
  }
  return copy;
}

/**
 * Where {@link localParquetPart} puts the stand-in of a row group (or of the footer alone) of an
 * `s3://` object, under the object's key: Hive folders in the key read as columns.
 */
export function parquetPartPath(db: Database, file: string, rowGroup: number | null): string {
  const { bucket, key } = parseObjectUri(file);
  return join(db.scratch(), "row-groups", String(rowGroup ?? "footer"), bucket, key);
}

/**
 * Removes the stand-in {@link localParquetPart} made of a row group (or the footer) of `file`, if any,
 * once it is read (one still being made goes when made).
 */
export function releaseParquetPart(db: Database, file: string, rowGroup: number | null): Promise<void> {
  if (!isObjectUri(file)) return Promise.resolve();
  return releaseCopy(`${db.scratch()}\n${file}\n${rowGroup}`);
}

/**
 * The version of an object every part of an input is read from: its size and entity tag; once its footer
 * was read ({@link parquetLayout}), the footer's bytes, so that a row group's stand-in takes one request.
 */
export interface ObjectVersion {
  readonly size: number;
  readonly etag: string;
  /** The object's last bytes: the footer, its length and the magic. */
  readonly tail?: Buffer | undefined;
}

/**
 * The version given with the footer's bytes, read from the footer's stand-in (made if need be) and held
 * in memory: the row groups' stand-ins are then written with the row group's bytes alone fetched.
 *
 * @throws MlbatchError `E_READ`, `E_AUTH`
 */
export async function parquetLayout(
  db: Database,
  uri: string,
  version: ObjectVersion,
): Promise<ObjectVersion> {
  if (!isObjectUri(uri)) return version;
  const path = await localParquetPart(db, uri, null, version);
  const handle = await open(path, "r");
  try {
    const end = Buffer.alloc(8);
    await handle.read(end, 0, 8, version.size - 8);
    const length = end.readUInt32LE(0) + 8;
    const tail = Buffer.alloc(length);
    await handle.read(tail, 0, length, version.size - length);
    return { ...version, tail };
  } finally {
    await handle.close();
  }
}

/** The magic, the footer and the row group's column chunks of a Parquet object, at their offsets. */
async function sparseCopy(
  db: Database,
  uri: string,
  target: string,
  rowGroup: number | null,
  pinned: ObjectVersion | undefined,
): Promise<void> {
  const store = ObjectStore.fromEnvironment();
  const object: ObjectVersion | undefined = pinned ?? (await store.head(uri));
  if (object === undefined) fail(uri, "there is no such object");
  const { size, etag } = object;
  if (size < 12) fail(uri, `it is ${size} bytes long, too short for Parquet`);
  await mkdir(dirname(target), { recursive: true });
  try {
    // A sparse file of the object's size: only the ranges written take disk.
    const handle = await open(target, "w");
    try {
      await handle.truncate(size);
      await handle.write(MAGIC, 0, 4, 0);
      if (object.tail !== undefined)
        await handle.write(object.tail, 0, object.tail.length, size - object.tail.length);
    } finally {
      await handle.close();
    }
    const put = (start: number, end: number) => store.readRangeInto(uri, start, end, etag, target);
    if (object.tail === undefined) {
      const tail = await store.readRange(uri, size - 8, size, etag);
      const footer = tail.readUInt32LE(0);
      if (!tail.subarray(4).equals(MAGIC) || footer + 12 > size) {
        fail(uri, "not a Parquet file (no PAR1 footer)");
      }
      await put(size - 8 - footer, size);
    }
    if (rowGroup !== null) await put(...(await rowGroupSpan(db, uri, target, rowGroup, size)));
  } catch (error) {
    await rm(target, { force: true });
    throw error;
  }
}

/** What a Parquet file starts and ends with. */
const MAGIC = Buffer.from("PAR1", "latin1");

/** Where a row group's column chunks lie in the object, read from the footer the stand-in holds. */
async function rowGroupSpan(
  db: Database,
  uri: string,
  standIn: string,
  rowGroup: number,
  size: number,
): Promise<[number, number]> {
  // A column chunk starts at its dictionary page, if any (0 or none: at its first data page).
  const first = "least(coalesce(nullif(dictionary_page_offset, 0), data_page_offset), data_page_offset)";
  // On a connection of its own: a part is fetched while the one before is streamed, and a statement on
  // the streaming connection would end that stream (silently: rows would be missing).
  const own = await db.fork();
  let chunks: Record<string, unknown>[];
  try {
    chunks = await own.rows(
      `SELECT min(${first})::BIGINT AS start, max(${first} + total_compressed_size)::BIGINT AS end ` +
        `FROM parquet_metadata(${quotedString(standIn)}) WHERE row_group_id = ${rowGroup}`,
    );
  } finally {
    own.close();
  }
  const start = Number(chunks[0]?.start);
  const end = Number(chunks[0]?.end);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end > size) {
    fail(uri, `its footer has no row group ${rowGroup}`);
  }
  return [start, Math.max(start, end)];
}

/**
 * Removes the local copy of `file` (an `s3://` object) this database made, if any: a caller that has
 * read what it needs of a file (its row groups, its row count) keeps the spool to one file at a time.
 */
export function releaseLocalFile(db: Database, file: string): Promise<void> {
  if (!isObjectUri(file)) return Promise.resolve();
  return releaseCopy(`${db.scratch()}\n${file}`);
}

/** Removes a copy made (or being made) under this key, if any. */
async function releaseCopy(key: string): Promise<void> {
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
