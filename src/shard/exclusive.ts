/**
 * Placing files so that concurrent shards agree: exclusive creation (the first writer wins, the others
 * see its file) with `link()`, which fails when the name exists and never shows a partial file.
 */
import { link, readFile, rename, rm, writeFile } from "node:fs/promises";
import { MlbatchError, messageOf } from "../errors.js";

/** Filesystems without hard links (some FUSE mounts) answer these: fall back to other calls. */
const NO_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV", "EMLINK"]);

/**
 * Moves a finished temporary file to `path` unless a file is there already; the temporary file is
 * removed in both cases.
 *
 * @returns true when this call placed the file, false when `path` existed (it is left as it was)
 * @throws the underlying error (ENOENT when the folder is gone)
 */
export async function placeExclusive(temp: string, path: string): Promise<boolean> {
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code === "EEXIST") return false;
    if (!NO_LINKS.has(code)) throw error;
    // Without links: an exclusive create, then the content (not atomic for readers, still first-wins).
    return copyExclusive(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
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
 * Writes `text` to `path` only if nothing is there yet (through a temporary file beside it).
 *
 * @returns true when this call created the file, false when it existed
 * @throws MlbatchError `E_WRITE`
 */
export async function createExclusive(path: string, temp: string, text: string): Promise<boolean> {
  try {
    await writeFile(temp, text);
    return await placeExclusive(temp, path);
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
