import { mkdir, readdir, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { MlbatchError } from "../../errors.js";

/** A file of a downloaded model folder. */
export interface DownloadedFile {
  /** Relative to the model folder, with `/` separators. */
  readonly path: string;
  readonly size: number;
}

/** What {@link ArtifactSource.download} does when nothing is at the URI. */
export type Missing = "error" | "empty";

/** Where an artifact store puts a model folder's files. */
export interface ArtifactSource {
  /**
   * Copies every file under `uri` into `destination` (an existing, empty folder).
   *
   * @param missing - `empty`: nothing at `uri` gives no files (a run's optional artifacts); `error` (the
   * default): it is an error (a model folder that must be there)
   * @throws MlbatchError `E_REGISTRY` when the files cannot be had
   */
  download(uri: string, destination: string, missing?: Missing): Promise<DownloadedFile[]>;
}

/**
 * The local path of a file under a model folder, refusing names that would escape it (`..`, absolute
 * paths): the names come from a server.
 *
 * @throws MlbatchError `E_REGISTRY` for an unsafe name
 */
export async function prepareTarget(destination: string, path: string, uri: string): Promise<string> {
  const parts = path.split("/");
  if (path === "" || parts.some((p) => p === "" || p === "." || p === ".." || p.includes("\\"))) {
    throw new MlbatchError(
      "E_REGISTRY",
      `the artifact store lists a file named "${path}" under ${uri}: refusing a name that is not a plain relative path.`,
    );
  }
  const target = join(destination, ...parts);
  await mkdir(dirname(target), { recursive: true });
  return target;
}

/**
 * Runs `work` on each item, at most `limit` at a time. After a failure no new item starts, and the
 * failure is thrown once the items under way have settled (so nothing writes after the caller moves on).
 */
export async function eachLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failure !== undefined) throw failure.reason;
  return results;
}

/** Every file under a local folder, with its size, relative paths with `/` separators, sorted. */
export async function listFiles(folder: string): Promise<DownloadedFile[]> {
  const files: DownloadedFile[] = [];
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.push({ path: relative(folder, path).split(sep).join("/"), size: (await stat(path)).size });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}
