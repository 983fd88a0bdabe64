/**
 * Outputs on an object store (`s3://`), with the guarantees of local ones and no renames: the output is
 * written to a local scratch file (or folder of parts), then uploaded on commit. One file is one object,
 * uploaded in one request or as a multipart upload completed only at the end: readers see the old object
 * or the whole new one. In mode `error` the upload is conditional (`If-None-Match: *`): of two runs, one
 * wins and the other is refused, nothing replaced. A folder of parts goes under a prefix of its own
 * (`<path>/<run>/part-00000.parquet`) and is published by its `_SUCCESS` marker, written last; in mode
 * `overwrite` the parts of the output it replaces are then deleted.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { MlbatchError, messageOf } from "../../errors.js";
import { ownedFolder, sweepDeadOwned, track } from "../../scratch.js";
import { ObjectStore } from "../object-store/object-store.js";
import { childUri, folderPrefix, objectUri, parseObjectUri } from "../object-store/uri.js";
import { type Existing, existsError, MARKER, refuseUnless } from "./publish.js";
import type { OutputShape, StagedOutput, WriteMode } from "./staged.js";

const UPLOAD_PREFIX = "mlbatch-upload";

/**
 * What is at an `s3://` output: an object (`file`), a prefix with mlbatch's `_SUCCESS` marker
 * (`mlbatch-folder`), a prefix with other objects (`foreign-folder`), or nothing (also: only the
 * plan and parts of a sharded run not committed yet).
 *
 * @throws MlbatchError `E_AUTH`, `E_WRITE`
 */
export async function existingObject(uri: string): Promise<Existing> {
  const store = ObjectStore.fromEnvironment();
  const { bucket, key } = parseObjectUri(uri);
  if (key !== "" && !key.endsWith("/") && (await store.head(uri, "write")) !== undefined) return "file";
  const prefix = objectUri({ bucket, key: folderPrefix(key) });
  const marker = await store.getText(childUri(prefix, MARKER), "write");
  if (marker !== undefined && markerFormat(marker.text)?.startsWith("mlbatch-")) return "mlbatch-folder";
  const objects = await store.list(prefix);
  // What an uncommitted sharded run leaves (its plan, parts under a plan's id) is no output yet.
  const start = prefix.length;
  return objects.every((o) => SHARD_STAGING.test(o.uri.slice(start))) ? "none" : "foreign-folder";
}

/** The objects of a sharded run before its commit (shard/layout.ts): `_plan.json`, `plan-<id>/part-<unit>.parquet`. */
const SHARD_STAGING = /^(_plan\.json|plan-[0-9a-f]+\/part-\d+\.parquet)$/;

/**
 * Refuses early what {@link stageObject} would refuse at its end (see `checkTarget` in atomic.ts).
 *
 * @throws MlbatchError `E_WRITE`, `E_AUTH`
 */
export async function checkObjectTarget(uri: string, mode: WriteMode, shape: OutputShape): Promise<void> {
  refuseUnless(uri, await existingObject(uri), shape, mode);
}

/**
 * Runs `produce(tempPath)` on a local scratch file (shape `folder`: a folder it fills with parts), and
 * returns the output staged: `commit()` uploads it to `uri`, `discard()` removes the scratch copy.
 *
 * @throws MlbatchError `E_WRITE` (`E_AUTH` for refused credentials); nothing is left on the store
 */
export async function stageObject(
  uri: string,
  mode: WriteMode,
  produce: (tempPath: string) => Promise<number>,
  shape: OutputShape,
  what: string,
): Promise<StagedOutput> {
  refuseUnless(uri, await existingObject(uri), shape, mode, what);
  sweepDeadOwned(tmpdir(), UPLOAD_PREFIX);
  const folder = ownedFolder(tmpdir(), UPLOAD_PREFIX);
  const forget = track(folder);
  const discard = async () => {
    await rm(folder, { recursive: true, force: true });
    forget();
  };
  try {
    await mkdir(folder, { recursive: true });
    const { key } = parseObjectUri(uri);
    // Named like the object, so that DuckDB infers the same format and compression (`.csv.gz`).
    const temp = join(folder, basename(key.replace(/\/+$/, "")) || "output");
    if (shape === "folder") await mkdir(temp);
    const rows = await produce(temp);
    return {
      path: uri,
      rows,
      commit: async () => {
        try {
          if (shape === "folder") await uploadFolder(temp, uri, mode, rows, what);
          else await uploadFile(temp, uri, mode, what);
        } catch (error) {
          throw cannotUpload(uri, error, what);
        } finally {
          await discard();
        }
      },
      discard,
    };
  } catch (error) {
    await discard();
    throw cannotUpload(uri, error, what);
  }
}

async function uploadFile(temp: string, uri: string, mode: WriteMode, what: string): Promise<void> {
  const store = ObjectStore.fromEnvironment();
  if (mode === "overwrite") {
    refuseUnless(uri, await existingObject(uri), "file", mode, what);
    await store.putFile(uri, temp);
    return;
  }
  if ((await store.putFile(uri, temp, { ifNoneMatch: true })) === "exists") throw existsError(uri, what);
}

/**
 * Uploads the parts under `<uri>/<run>/`, then the marker listing them (conditionally in mode `error`),
 * then deletes the parts of the output it replaced. Parts uploaded before a failure are deleted.
 */
async function uploadFolder(temp: string, uri: string, mode: WriteMode, rows: number, what: string) {
  const store = ObjectStore.fromEnvironment();
  const marker = childUri(uri, MARKER);
  refuseUnless(uri, await existingObject(uri), "folder", mode, what);
  const previous = await store.getText(marker, "write");
  const run = `run-${new Date().toISOString().replace(/[-:.]/g, "")}-${randomBytes(4).toString("hex")}`;
  const names = (await readdir(temp)).sort();
  const files = names.map((name) => `${run}/${name}`);
  const uploaded: string[] = [];
  try {
    for (const [i, name] of names.entries()) {
      const target = childUri(uri, files[i]!);
      await store.putFile(target, join(temp, name));
      uploaded.push(target);
    }
    const text = `${JSON.stringify({ format: "mlbatch-parts/1", rows, files }, null, 2)}\n`;
    // The marker replaces only the one read before: another run's, written meanwhile, is refused.
    const condition = previous === undefined ? { ifNoneMatch: true } : { ifMatch: previous.etag };
    if ((await store.putText(marker, text, condition)) === "exists") throw existsError(uri, what);
  } catch (error) {
    await store.delete(uploaded).catch(() => undefined);
    throw error;
  }
  const old = previous === undefined ? [] : markedNames(previous.text);
  const stale = old.filter((name) => !files.includes(name)).map((name) => childUri(uri, name));
  await store.delete(stale).catch(() => undefined);
}

function markerFormat(text: string): string | undefined {
  try {
    const format = (JSON.parse(text) as { format?: unknown }).format;
    return typeof format === "string" ? format : undefined;
  } catch {
    return undefined;
  }
}

/** The files a writer's marker lists. */
function markedNames(text: string): string[] {
  try {
    const files = (JSON.parse(text) as { files?: unknown }).files;
    return Array.isArray(files) ? files.map(String) : [];
  } catch {
    return [];
  }
}

function cannotUpload(uri: string, error: unknown, what: string): MlbatchError {
  if (error instanceof MlbatchError) return error;
  return new MlbatchError(
    "E_WRITE",
    `cannot write ${what} "${uri}": ${messageOf(error)}. Check that the local temporary folder ` +
      `(${tmpdir()}) has free space for the output; nothing was written.`,
    { cause: error },
  );
}
