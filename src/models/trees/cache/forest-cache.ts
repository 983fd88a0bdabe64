import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { messageOf } from "../../../errors.js";
import { defaultCacheDir } from "../../../registry/cache.js";
import { parseScratch, scratchPath, track } from "../../../scratch.js";
import { type DebugLog, SILENT } from "../../debug-log.js";
import type { OnnxNode } from "../../onnx/graph.js";
import { compileForest, type Forest } from "../forest/index.js";
import { LAYOUT_VERSION } from "../forest/layout.js";

/**
 * Ensembles whose attributes take fewer bytes are compiled every time: below about 100,000 nodes,
 * compiling takes about as long as hashing the model file and reading a cached forest, and a small model
 * leaves nothing on disk.
 */
export const CACHED_FROM_BYTES = 4 << 20;

const ENTRY = /^[0-9a-f]{64}\.v(\d+)\.forest$/;

type ForestFiles = typeof import("./forest-file.js");

/**
 * The default folder of compiled forests, beside the model cache's: `$XDG_CACHE_HOME/mlbatch/forests`,
 * else `~/.cache/mlbatch/forests`.
 */
export function defaultForestCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(dirname(defaultCacheDir(env)), "forests");
}

/**
 * Compiled forests on disk, keyed by the model file's SHA-256 and the engine's layout version: the second
 * run of a large model reads its forest (32 MB for 200 trees of depth 20) instead of decoding its ONNX
 * file (78 MB) again. An entry is written under a temporary name and renamed into place, so concurrent
 * runs (array-job shards on one machine) each see a whole entry or none; a damaged or truncated one fails
 * its checksum and is compiled and written again. Every failure of the cache falls back to compiling,
 * with a debug line saying why.
 *
 * @example
 * ```ts
 * const cache = new ForestCache(defaultForestCacheDir(), logger);
 * const forest = await cache.forest("model.onnx", ensembleNode);
 * ```
 */
export class ForestCache {
  /**
   * @param dir - the cache folder (made when first written)
   * @param log - where to say what the cache did
   * @param fromBytes - the smallest ensemble cached (bytes of its attributes in the model file)
   */
  constructor(
    readonly dir: string,
    private readonly log: DebugLog = SILENT,
    private readonly fromBytes = CACHED_FROM_BYTES,
  ) {}

  /**
   * The compiled forest of the ensemble `node` of the model file `file`: from the cache, or compiled
   * (and cached, when large).
   *
   * @throws Unsupported when the engine cannot run the ensemble (see {@link compileForest})
   */
  async forest(file: string, node: OnnxNode): Promise<Forest> {
    let size = 0;
    for (const attribute of node.attributes.values()) size += attribute.byteLength;
    if (size < this.fromBytes) return compileForest(node);
    let digest: string;
    try {
      digest = await fileDigest(file);
    } catch (error) {
      this.log.debug(`[Trees] Forest cache not used: cannot hash ${file}: ${messageOf(error)}`);
      return compileForest(node);
    }
    const entry = join(this.dir, `${digest}.v${LAYOUT_VERSION}.forest`);
    // The file format (and its schema) is loaded only for the models large enough to be cached.
    const files = await import("./forest-file.js");
    const cached = this.read(files, entry, digest);
    if (cached !== undefined) return cached;
    const forest = compileForest(node);
    await this.write(files, entry, forest, digest);
    return forest;
  }

  private read(files: ForestFiles, entry: string, digest: string): Forest | undefined {
    if (!existsSync(entry)) {
      this.log.debug(`[Trees] Forest cache: no entry ${entry}; compiling`);
      return undefined;
    }
    try {
      const forest = files.readForest(entry, digest);
      this.log.debug(`[Trees] Forest cache: read ${entry}`);
      return forest;
    } catch (error) {
      this.log.debug(`[Trees] Forest cache: ${entry} not used (${messageOf(error)}); compiling`);
      return undefined;
    }
  }

  private async write(files: ForestFiles, entry: string, forest: Forest, digest: string): Promise<void> {
    const temp = scratchPath(entry, "tmp");
    const forget = track(temp);
    try {
      await mkdir(this.dir, { recursive: true });
      await this.sweep();
      files.writeForest(temp, forest, digest);
      // Atomic: a reader sees the old entry or the whole new one; of two shards, the last rename wins.
      await rename(temp, entry);
      this.log.debug(`[Trees] Forest cache: wrote ${entry}`);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      this.log.debug(`[Trees] Forest cache: cannot write ${entry}: ${messageOf(error)}`);
    } finally {
      forget();
    }
  }

  /** Removes the temporary files of dead runs and the entries of other layout versions. */
  private async sweep(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      const scratch = parseScratch(name);
      const version = ENTRY.exec(name)?.[1];
      const stale =
        scratch !== undefined ? !scratch.live : version !== undefined && Number(version) !== LAYOUT_VERSION;
      if (stale) await rm(join(this.dir, name), { force: true }).catch(() => undefined);
    }
  }
}

/** The SHA-256 of a file (hex), read in pieces of 1 MB. */
export async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}
