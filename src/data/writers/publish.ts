/**
 * Publishing a folder of part files so that its path shows the old output or the whole new one at every
 * instant, a crash included. A folder cannot be renamed over another, so the data live in a hidden
 * sibling (`.mlbatch-parts-...-<name>`) and the output path is a symlink to it: replacing a symlink is one
 * rename. Readers (pandas, pyarrow, Spark, DuckDB) follow the link.
 */
import { lstat, readdir, readFile, readlink, rename, rm, stat, symlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { MlbatchError } from "../../errors.js";
import { parseScratch, scratchPath, track } from "../../scratch.js";

/** The commit marker of a folder mlbatch wrote: Spark's name, with what it holds as JSON. */
export const MARKER = "_SUCCESS";

/** What mlbatch writes in a folder output's marker. */
export interface FolderMarker {
  /** `mlbatch-parts/1` (writers) or `mlbatch-manifest/1` (sharded runs). */
  readonly format: string;
  readonly [key: string]: unknown;
}

/**
 * What is at an output path: nothing, a file, a folder mlbatch wrote (its marker says so), an empty
 * folder, or something else that mlbatch must never replace.
 */
export type Existing = "none" | "file" | "mlbatch-folder" | "empty-folder" | "foreign-folder";

/**
 * The path an output really goes to: symlinks the user made are followed (a link to a shared volume
 * keeps working); mlbatch's own link to a parts folder is the output itself.
 */
export async function outputTarget(path: string): Promise<string> {
  let current = path;
  for (let hops = 0; hops < 16; hops++) {
    const info = await lstat(current).catch(() => undefined);
    if (info === undefined || !info.isSymbolicLink()) return current;
    const target = await readlink(current);
    if (isOwnLink(target)) return current;
    current = resolve(dirname(current), target);
  }
  return current;
}

/** What is at `path` (a resolved output target). */
export async function existing(path: string): Promise<Existing> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return (await lstat(path).catch(() => undefined)) === undefined ? "none" : "file";
  if (!info.isDirectory()) return "file";
  if ((await readMarker(path)) !== undefined) return "mlbatch-folder";
  const names = await readdir(path);
  if (names.length === 0) return "empty-folder";
  // mlbatch 0.1 wrote parts without a marker: exactly its part names (hidden scratch files aside).
  const visible = names.filter((name) => !name.startsWith("."));
  return visible.length > 0 && visible.every((name) => LEGACY_PART.test(name))
    ? "mlbatch-folder"
    : "foreign-folder";
}

/** The part files mlbatch 0.1 wrote into a folder output: `part-00000.parquet`, `part-00001.csv`, ... */
const LEGACY_PART = /^part-\d{5}\.(parquet|csv|jsonl)$/;

/** The marker of a folder mlbatch wrote, or undefined. */
export async function readMarker(folder: string): Promise<FolderMarker | undefined> {
  try {
    const marker = JSON.parse(await readFile(join(folder, MARKER), "utf8")) as FolderMarker;
    return typeof marker.format === "string" && marker.format.startsWith("mlbatch-") ? marker : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes the complete folder `folder` (a `parts` scratch folder beside `path`) the output at `path`.
 * In mode `error` an existing path is refused (atomically: `symlink` fails when the name exists). In
 * mode `overwrite` an older output mlbatch wrote is replaced by one rename of a symlink, then removed;
 * anything else at `path` is refused and left untouched.
 *
 * @throws MlbatchError `E_WRITE` naming the path, why, and what to do; `folder` is then left in place
 */
export async function publishFolder(
  folder: string,
  path: string,
  mode: "error" | "overwrite",
): Promise<void> {
  const link = basename(folder);
  const found = await existing(path);
  if (found === "none") {
    try {
      await symlink(link, path);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // Another writer got there first: what it made is judged like any existing output.
      return publishFolder(folder, path, mode);
    }
  }
  refuseUnless(path, found, "folder", mode);
  const info = await lstat(path);
  if (info.isSymbolicLink()) {
    const previous = resolve(dirname(path), await readlink(path));
    const next = scratchPath(path, "tmp");
    const forget = track(next);
    try {
      await symlink(link, next);
      await rename(next, path);
    } finally {
      await rm(next, { force: true });
      forget();
    }
    if (isOwnLink(basename(previous))) await rm(previous, { recursive: true, force: true });
    return;
  }
  // A real folder (written by mlbatch before outputs were links): it must be moved aside first. Between
  // the two renames the path is empty; the aside copy is named so that the next run puts it back.
  const aside = scratchPath(path, "old");
  await rename(path, aside);
  try {
    await symlink(link, path);
  } catch (error) {
    await rename(aside, path);
    throw error;
  }
  await rm(aside, { recursive: true, force: true });
}

/**
 * Refuses what an output of `expected` kind must not replace: anything in mode `error`; in `overwrite`,
 * a folder where a file goes, a file where a folder goes, or a folder mlbatch did not write.
 *
 * @throws MlbatchError `E_WRITE`
 */
export function refuseUnless(
  path: string,
  found: Existing,
  expected: "file" | "folder",
  mode: "error" | "overwrite",
  what = "outputs",
): void {
  if (found === "none") return;
  if (mode === "error") throw existsError(path, what);
  if (expected === "file" && found !== "file") {
    throw new MlbatchError(
      "E_WRITE",
      `cannot write ${what} "${path}": it is a folder, and this output is one file, so mode overwrite would ` +
        "replace the whole folder; it was left untouched and nothing was written. Name a file inside it " +
        `instead${what === "outputs" ? ", or set max_rows_per_file to write a folder of parts" : ""}.`,
    );
  }
  if (expected === "folder" && found === "file") {
    throw new MlbatchError(
      "E_WRITE",
      `cannot write ${what} "${path}": it is a file, and this output is a folder of part files ` +
        "(max_rows_per_file); it was left untouched and nothing was written. Remove the file or write elsewhere.",
    );
  }
  if (found === "foreign-folder") {
    throw new MlbatchError(
      "E_WRITE",
      `cannot write ${what} "${path}": it is a folder that mlbatch did not write (it has no ${MARKER} marker of ` +
        "mlbatch), so mode overwrite does not replace it; it was left untouched and nothing was written. " +
        "Write elsewhere, or remove the folder yourself if its contents can go.",
    );
  }
}

/** The error for an existing output in mode `error`. */
export function existsError(path: string, what = "outputs"): MlbatchError {
  return new MlbatchError(
    "E_WRITE",
    `cannot write ${what} "${path}": it already exists and the writer's mode is "error", so it was left ` +
      "untouched and nothing was written. Remove it, write elsewhere, or set mode: overwrite to replace it.",
  );
}

/** True for the name of a parts folder mlbatch publishes through a link (`.mlbatch-parts-...`). */
function isOwnLink(target: string): boolean {
  return !target.includes("/") && parseScratch(target)?.kind === "parts";
}
