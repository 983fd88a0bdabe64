import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MlbatchError, messageOf } from "../errors.js";
import type { DownloadedFile } from "./rest/files.js";

/** Which model version a cache entry holds: a version of a registry is immutable. */
export interface CacheKey {
  /** The registry URI, without credentials. */
  readonly registryUri: string;
  readonly name: string;
  readonly version: number;
}

/** What an entry records next to the files, to check it on the next run. */
export interface CacheManifest {
  readonly registry_uri: string;
  readonly name: string;
  readonly version: number;
  readonly run_id: string | null;
  readonly source: string;
  readonly artifact_uri: string;
  readonly files: readonly DownloadedFile[];
  readonly created: string;
}

/** Temporary folders of fills that crashed are removed after this long. */
const STALE_TEMP_MS = 24 * 3600 * 1000;

/**
 * A local cache of downloaded model versions: `<root>/<registry>/<model>/<version>/` holds `manifest.json`
 * and the model folder `model/`. An entry is filled atomically: downloaded into a temporary sibling folder,
 * then renamed into place, so a reader sees a complete entry or none. Several processes may fill the same
 * entry at once: each downloads, the first rename wins, the others drop their copy and use the winner's
 * (no lock files, so a crashed process never blocks the others). An entry is used only when its manifest
 * matches the version (same source and run) and every file is there with its size; otherwise it is
 * replaced.
 *
 * @example
 * ```ts
 * const cache = new ModelCache(defaultCacheDir());
 * const key = { registryUri: "https://mlflow.example.com", name: "bikes", version: 2 };
 * const folder = (await cache.lookup(key, version)) ?? (await cache.fill(key, manifest, download)).folder;
 * ```
 */
export class ModelCache {
  /** @param root - the cache folder */
  constructor(readonly root: string) {}

  /** The entry folder of a key. */
  entry(key: CacheKey): string {
    return join(this.root, registrySlug(key.registryUri), slug(key.name), String(key.version));
  }

  /**
   * The model folder of a complete, matching entry; removes an entry that does not match.
   *
   * @param key - the version
   * @param expected - the version's source and run, as the registry gives them now
   */
  async lookup(
    key: CacheKey,
    expected: { readonly source: string; readonly runId: string | null },
  ): Promise<string | undefined> {
    const entry = this.entry(key);
    if (!existsSync(entry)) return undefined;
    if (await isValid(entry, key, expected)) return join(entry, "model");
    await discard(entry);
    return undefined;
  }

  /**
   * Fills the entry of a key: `download` writes the model folder into a temporary folder, which is then
   * renamed into place.
   *
   * @param key - the version
   * @param manifest - what to record besides the files
   * @param download - writes the model files into the folder it is given and lists them
   * @returns the entry's model folder, and whether another process filled it first
   * @throws MlbatchError `E_REGISTRY` when the cache folder is not writable; whatever `download` throws
   */
  async fill(
    key: CacheKey,
    manifest: Omit<CacheManifest, "files" | "created">,
    download: (folder: string) => Promise<readonly DownloadedFile[]>,
  ): Promise<{ folder: string; concurrent: boolean }> {
    const entry = this.entry(key);
    const parent = join(entry, "..");
    const temp = await this.writable(async () => {
      await mkdir(parent, { recursive: true });
      await removeStaleTemps(parent);
      const temp = await mkdtemp(join(parent, `.tmp-${key.version}-${process.pid}-`));
      await mkdir(join(temp, "model"));
      return temp;
    });
    try {
      const files = await download(join(temp, "model"));
      const full: CacheManifest = { ...manifest, files, created: new Date().toISOString() };
      await this.writable(() => writeFile(join(temp, "manifest.json"), `${JSON.stringify(full, null, 2)}\n`));
      for (let attempt = 0; ; attempt++) {
        try {
          await rename(temp, entry);
          return { folder: join(entry, "model"), concurrent: false };
        } catch (error) {
          const expected = { source: manifest.source, runId: manifest.run_id };
          if (existsSync(entry) && (await isValid(entry, key, expected))) {
            await rm(temp, { recursive: true, force: true });
            return { folder: join(entry, "model"), concurrent: true };
          }
          if (attempt > 0 || !existsSync(entry)) throw this.notWritable(error);
          await discard(entry);
        }
      }
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
  }

  private async writable<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.notWritable(error);
    }
  }

  private notWritable(error: unknown): MlbatchError {
    if (error instanceof MlbatchError) return error;
    return new MlbatchError(
      "E_REGISTRY",
      `cannot write to the model cache ${this.root} (${messageOf(error)}). Set mlflow_service.cache.dir to a ` +
        "writable folder, or run without the cache (--no-cache, or mlflow_service.cache.enable: false).",
      { cause: error },
    );
  }
}

/** The default cache folder: `$XDG_CACHE_HOME/mlbatch/models`, else `~/.cache/mlbatch/models`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, home = env.HOME ?? ""): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "mlbatch", "models");
  if (process.platform === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "mlbatch", "models");
  return join(home || (env.USERPROFILE ?? "."), ".cache", "mlbatch", "models");
}

async function isValid(
  entry: string,
  key: CacheKey,
  expected: { readonly source: string; readonly runId: string | null },
): Promise<boolean> {
  try {
    const manifest = JSON.parse(await readFile(join(entry, "manifest.json"), "utf8")) as CacheManifest;
    if (
      manifest.name !== key.name ||
      manifest.version !== key.version ||
      manifest.source !== expected.source ||
      manifest.run_id !== expected.runId ||
      !Array.isArray(manifest.files)
    ) {
      return false;
    }
    for (const file of manifest.files) {
      if ((await stat(join(entry, "model", ...file.path.split("/")))).size !== file.size) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Moves an entry out of the way (atomically), then deletes it. Another process may be doing the same. */
async function discard(entry: string): Promise<void> {
  const trash = `${entry}.trash-${process.pid}-${Date.now()}`;
  try {
    await rename(entry, trash);
  } catch {
    return;
  }
  await rm(trash, { recursive: true, force: true });
}

async function removeStaleTemps(parent: string): Promise<void> {
  for (const name of await readdir(parent)) {
    if (!name.startsWith(".tmp-") && !name.includes(".trash-")) continue;
    const path = join(parent, name);
    const age = Date.now() - (await stat(path).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
    if (age > STALE_TEMP_MS) await rm(path, { recursive: true, force: true });
  }
}

function hash(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** A readable, filesystem-safe folder name; a hash keeps names apart that differ only in case or symbols. */
function slug(name: string): string {
  if (/^[a-z0-9_][a-z0-9_.-]{0,99}$/.test(name)) return name;
  return `${name
    .replace(/[^A-Za-z0-9_.-]/g, "_")
    .replace(/^\./, "_")
    .slice(0, 60)}-${hash(name, 8)}`;
}

function registrySlug(uri: string): string {
  let host = "registry";
  try {
    host = new URL(uri).host || host;
  } catch {
    // not a URL: the hash alone tells registries apart
  }
  return `${host.replace(/[^A-Za-z0-9.-]/g, "_")}-${hash(uri, 12)}`;
}
