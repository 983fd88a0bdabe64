import { randomBytes } from "node:crypto";
import { link, lstat, mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { MlbatchError, messageOf } from "../../errors.js";

/** What a writer does when its output already exists: refuse (`error`) or replace it (`overwrite`). */
export type WriteMode = "error" | "overwrite";

/** An output written under a temporary name beside its path: not visible until committed. */
export interface StagedOutput {
  /** Where the output goes. */
  readonly path: string;
  /** How many rows it holds. */
  readonly rows: number;
  /**
   * Moves the output into place, with renames in one folder (readers never see part of it).
   *
   * @throws MlbatchError `E_WRITE` when the path exists and the mode is `error`; nothing is then changed
   */
  commit(): Promise<void>;
  /** Removes the temporary output. */
  discard(): Promise<void>;
}

/**
 * Refuses early, before any work, to write over an existing output in mode `error`.
 *
 * @throws MlbatchError `E_WRITE` naming the path and what to do
 */
export async function checkTarget(path: string, mode: WriteMode): Promise<void> {
  if (mode === "error" && (await exists(path))) throw existing(path);
}

/**
 * Runs `produce(tempPath)`, which writes a file or a folder at `tempPath` (beside `path`) and returns its
 * row count. On failure the temporary output is removed and nothing else is changed.
 *
 * @throws MlbatchError `E_WRITE`
 */
export async function stage(
  path: string,
  mode: WriteMode,
  produce: (tempPath: string) => Promise<number>,
): Promise<StagedOutput> {
  await checkTarget(path, mode);
  const temp = sibling(path, "tmp");
  try {
    await mkdir(dirname(path), { recursive: true });
    const rows = await produce(temp);
    return {
      path,
      rows,
      commit: () => commit(temp, path, mode),
      discard: () => rm(temp, { force: true, recursive: true }),
    };
  } catch (error) {
    await rm(temp, { force: true, recursive: true }).catch(() => undefined);
    throw cannotWrite(path, error);
  }
}

/**
 * Runs `produce(tempPath)` on a temporary file beside `path`, then renames it into place, replacing any
 * file there. A rename within one folder is atomic: readers see the old file, or the whole new one, never
 * part of it. On failure the temporary file is removed and `path` is left as it was.
 *
 * @throws MlbatchError `E_WRITE`
 */
export async function writeAtomically(
  path: string,
  produce: (tempPath: string) => Promise<void>,
): Promise<void> {
  const staged = await stage(path, "overwrite", async (temp) => {
    await produce(temp);
    return 0;
  });
  await staged.commit();
}

async function commit(temp: string, path: string, mode: WriteMode): Promise<void> {
  const folder = (await lstat(temp)).isDirectory();
  try {
    if (mode === "error") {
      if (!folder) {
        // link() fails if `path` exists: no window in which another writer's file could be replaced.
        await link(temp, path).catch(async (error: NodeJS.ErrnoException) => {
          if (error.code === "EEXIST") throw existing(path);
          if (await exists(path)) throw existing(path);
          await rename(temp, path);
        });
        await rm(temp, { force: true });
        return;
      }
      if (await exists(path)) throw existing(path);
      await rename(temp, path);
      return;
    }
    const old = await lstat(path).catch(() => undefined);
    if (old === undefined || (!folder && !old.isDirectory())) {
      await rename(temp, path);
      return;
    }
    // A folder cannot be renamed over another: move the old one aside, then the new one in.
    const aside = sibling(path, "old");
    await rename(path, aside);
    try {
      await rename(temp, path);
    } catch (error) {
      await rename(aside, path);
      throw error;
    }
    await rm(aside, { recursive: true, force: true });
  } catch (error) {
    await rm(temp, { force: true, recursive: true }).catch(() => undefined);
    throw error instanceof MlbatchError ? error : cannotWrite(path, error);
  }
}

/** A hidden name beside `path` that ends like it, so DuckDB infers the same compression (`.csv.gz`). */
function sibling(path: string, kind: string): string {
  return join(
    dirname(path),
    `.mlbatch-${kind}-${process.pid}-${randomBytes(4).toString("hex")}-${basename(path)}`,
  );
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

function existing(path: string): MlbatchError {
  return new MlbatchError(
    "E_WRITE",
    `cannot write outputs "${path}": it already exists and the writer's mode is "error", so it was left ` +
      "untouched and nothing was written. Remove it, write elsewhere, or set mode: overwrite to replace it.",
  );
}

function cannotWrite(path: string, error: unknown): MlbatchError {
  if (error instanceof MlbatchError && error.code === "E_WRITE") return error;
  return new MlbatchError(
    "E_WRITE",
    `cannot write outputs "${path}": ${messageOf(error)}. Check that outputs.path is in a writable folder ` +
      "with free space; nothing was written.",
    { cause: error },
  );
}
