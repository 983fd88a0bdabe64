import { link, mkdir, readdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { MlbatchError, messageOf } from "../../errors.js";
import { scratchPath, track } from "../../scratch.js";
import { isObjectUri } from "../object-store/uri.js";
import { sweepLeftovers } from "./leftovers.js";
import { checkObjectTarget, stageObject } from "./object-stage.js";
import { type OutputShape, type StagedOutput, WriteMode } from "./staged.js";

export { type OutputShape, type StagedOutput, WriteMode };

import { existing, existsError, MARKER, outputTarget, publishFolder, refuseUnless } from "./publish.js";

/**
 * Refuses early, before any work, what the write would refuse at its end: an existing output in mode
 * `error`; in mode `overwrite`, anything mlbatch must not replace (a folder where a file goes, a file
 * where a folder goes, a folder mlbatch did not write).
 *
 * @throws MlbatchError `E_WRITE` naming the path and what to do
 */
export async function checkTarget(path: string, mode: WriteMode, shape: OutputShape = "file"): Promise<void> {
  if (isObjectUri(path)) return checkObjectTarget(path, mode, shape);
  const target = await outputTarget(path);
  refuseUnless(path, await existing(target), shape, mode);
}

/**
 * Runs `produce(tempPath)`, which writes a file (or, for shape `folder`, fills the folder) at `tempPath`
 * beside `path` and returns its row count. A folder gets mlbatch's marker (`_SUCCESS`) when complete. On
 * failure (or discard) the temporary output is removed, and so are the folders made for it: nothing else
 * is changed. Leftovers of dead runs beside the output are swept first. An `s3://` path is staged
 * locally and uploaded on commit (object-stage.ts).
 *
 * @throws MlbatchError `E_WRITE`
 */
export async function stage(
  path: string,
  mode: WriteMode,
  produce: (tempPath: string) => Promise<number>,
  shape: OutputShape = "file",
  what = "outputs",
): Promise<StagedOutput> {
  if (isObjectUri(path)) return stageObject(path, mode, produce, shape, what);
  const target = await outputTarget(path);
  refuseUnless(path, await existing(target), shape, mode, what);
  const temp = scratchPath(target, shape === "folder" ? "parts" : "tmp");
  const forget = track(temp);
  let made: string | undefined;
  const discard = async () => {
    await rm(temp, { force: true, recursive: true });
    forget();
    if (made !== undefined) await removeEmptyFolders(dirname(target), made);
  };
  try {
    made = await mkdir(dirname(target), { recursive: true });
    await sweepLeftovers(dirname(target));
    if (shape === "folder") await mkdir(temp);
    const rows = await produce(temp);
    if (shape === "folder") {
      const files = (await readdir(temp)).sort();
      await writeFile(
        join(temp, MARKER),
        `${JSON.stringify({ format: "mlbatch-parts/1", rows, files }, null, 2)}\n`,
      );
    }
    return {
      path,
      rows,
      commit: async () => {
        try {
          if (shape === "folder") await publishFolder(temp, target, mode);
          else await commitFile(temp, target, path, mode, what);
          forget();
        } catch (error) {
          await discard().catch(() => undefined);
          throw writeFailure(path, error, what);
        }
      },
      discard,
    };
  } catch (error) {
    await discard().catch(() => undefined);
    throw writeFailure(path, error, what);
  }
}

/**
 * Runs `produce(tempPath)` on a temporary file beside `path`, then renames it into place, replacing a
 * file there (never a folder). A rename within one folder is atomic: readers see the old file, or the
 * whole new one, never part of it. On failure the temporary file is removed and `path` is left as it was.
 *
 * @throws MlbatchError `E_WRITE`
 */
export async function writeAtomically(
  path: string,
  produce: (tempPath: string) => Promise<void>,
  what = "file",
): Promise<void> {
  const staged = await stage(
    path,
    "overwrite",
    async (temp) => {
      await produce(temp);
      return 0;
    },
    "file",
    what,
  );
  await staged.commit();
}

/**
 * Writes `text` to `path` atomically (see {@link writeAtomically}), creating its folder: a report, a plan.
 *
 * @param what - what the file is, for messages ("the run report")
 * @throws MlbatchError `E_WRITE`
 * @example
 * ```ts
 * await writeTextAtomically("reports/run.json", `${JSON.stringify(report, null, 2)}\n`, "the run report");
 * ```
 */
export function writeTextAtomically(path: string, text: string, what: string): Promise<void> {
  return writeAtomically(path, (temp) => writeFile(temp, text), what);
}

async function commitFile(
  temp: string,
  target: string,
  path: string,
  mode: WriteMode,
  what: string,
): Promise<void> {
  refuseUnless(path, await existing(target), "file", mode, what);
  if (mode === "overwrite") {
    await rename(temp, target);
    return;
  }
  // link() fails if `target` exists: no window in which another writer's file could be replaced.
  try {
    await link(temp, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw existsError(path, what);
    // Filesystems without hard links: check, then rename (a window remains only there).
    if ((await existing(target)) !== "none") throw existsError(path, what);
    await rename(temp, target);
    return;
  }
  await rm(temp, { force: true });
}

/** Removes `folder` and its parents up to `top`, as long as they are empty (folders a write made). */
async function removeEmptyFolders(folder: string, top: string): Promise<void> {
  for (let current = folder; ; current = dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
    if (resolve(current) === resolve(top) || dirname(current) === current) return;
  }
}

/**
 * A failure to write `path` as `E_WRITE`, naming it and what to do; an {@link MlbatchError} (a read's, a
 * prediction's, an interruption) keeps its code.
 */
export function writeFailure(path: string, error: unknown, what: string): MlbatchError {
  if (error instanceof MlbatchError) return error;
  return new MlbatchError(
    "E_WRITE",
    `cannot write ${what} "${path}": ${messageOf(error)}. Check that the path is in a writable folder ` +
      "with free space; nothing was written.",
    { cause: error },
  );
}
