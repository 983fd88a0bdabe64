/**
 * Placing files so that concurrent shards agree: exclusive creation (the first writer wins, the others
 * see its file) with `link()`, which fails when the name exists and never shows a partial file.
 */
import { link, readFile, rename, rm, writeFile } from "node:fs/promises";
import { ObjectStore } from "../data/object-store/object-store.js";
import { isObjectUri } from "../data/object-store/uri.js";
import { MlbatchError, messageOf } from "../errors.js";

/** Filesystems without hard links (some FUSE mounts) answer these: fall back to other calls. */
const NO_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV", "EMLINK"]);

/**
 * Moves a finished temporary file to `path` unless a file is there already.
 *
 * @returns true when this call placed the file (the temporary file is gone), false when `path` existed
 *   (it is left as it was, and so is the temporary file, for the caller to remove or use)
 * @throws the underlying error (ENOENT when the folder is gone); the temporary file is then removed
 */
export async function placeExclusive(temp: string, path: string): Promise<boolean> {
  let placed: boolean;
  try {
    await link(temp, path);
    placed = true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code === "EEXIST") return false;
    if (!NO_LINKS.has(code)) {
      await rm(temp, { force: true });
      throw error;
    }
    // Without links: an exclusive create, then the content (not atomic for readers, still first-wins).
    placed = await copyExclusive(temp, path).catch(async (copyError: unknown) => {
      await rm(temp, { force: true });
      throw copyError;
    });
    if (!placed) return false;
  }
  await rm(temp, { force: true });
  return true;
}

async function copyExclusive(temp: string, path: string): Promise<boolean> {
  try {
    await writeFile(path, await readFile(temp), { flag: "wx" });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Writes `text` to `path` only if nothing is there yet (through a temporary file beside it; an `s3://`
 * object with a conditional put).
 *
 * @returns true when this call created the file, false when it existed
 * @throws MlbatchError `E_WRITE`
 */
export async function createExclusive(path: string, temp: string, text: string): Promise<boolean> {
  // An object store creates exclusively in one request (If-None-Match: *), no temporary file.
  if (isObjectUri(path))
    return (await ObjectStore.fromEnvironment().putText(path, text, { ifNoneMatch: true })) === "created";
  try {
    await writeFile(temp, text);
    const placed = await placeExclusive(temp, path);
    if (!placed) await rm(temp, { force: true });
    return placed;
  } catch (error) {
    await rm(temp, { force: true });
    throw new MlbatchError("E_WRITE", `cannot write "${path}": ${messageOf(error)}`, { cause: error });
  }
}

/** Moves a temporary file over `path`, replacing what is there (a rename: atomic in one folder). */
export async function replaceWith(temp: string, path: string): Promise<void> {
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
