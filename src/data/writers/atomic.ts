import { randomBytes } from "node:crypto";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { MlbatchError, messageOf } from "../../errors.js";

/**
 * Runs `produce(tempPath)` on a temporary file beside `path`, then renames it into place. A rename within
 * one folder is atomic: readers see the old file, or the whole new one, never part of it. On failure the
 * temporary file is removed and `path` is left as it was.
 *
 * @throws MlbatchError `E_WRITE`
 */
export async function writeAtomically<T>(
  path: string,
  produce: (tempPath: string) => Promise<T>,
): Promise<T> {
  const folder = dirname(path);
  const temp = join(folder, `.${basename(path)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  try {
    await mkdir(folder, { recursive: true });
    const result = await produce(temp);
    await rename(temp, path);
    return result;
  } catch (error) {
    await rm(temp, { force: true, recursive: true }).catch(() => undefined);
    throw new MlbatchError(
      "E_WRITE",
      `cannot write outputs "${path}": ${messageOf(error)}. Check that outputs.path is in a writable folder ` +
        "with free space; nothing was written.",
      { cause: error },
    );
  }
}
