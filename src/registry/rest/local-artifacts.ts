import { existsSync, statSync } from "node:fs";
import { cp } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { MlbatchError, messageOf } from "../../errors.js";
import { type ArtifactSource, type DownloadedFile, listFiles, type Missing } from "./files.js";

/**
 * Model files in a folder this machine can read (`file:///...` or an absolute path): what a tracking server
 * records when it stores artifacts on its own disk or a shared mount, without proxying them. The folder is
 * copied, so that the cache holds the version as it was.
 *
 * @example
 * ```ts
 * await new LocalArtifacts().download("file:///mnt/mlflow/1/abc/artifacts/model", "downloads/model");
 * ```
 */
export class LocalArtifacts implements ArtifactSource {
  /** @inheritdoc */
  async download(uri: string, destination: string, missing: Missing = "error"): Promise<DownloadedFile[]> {
    const folder = uri.startsWith("file://")
      ? fileURLToPath(uri)
      : uri.startsWith("file:")
        ? uri.slice("file:".length)
        : uri;
    if (missing === "empty" && isAbsolute(folder) && !existsSync(folder)) return [];
    if (!isAbsolute(folder) || !existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new MlbatchError(
        "E_REGISTRY",
        `model files at ${uri} are not visible from this machine: the tracking server stores artifacts in a ` +
          "folder of its own. Start the server with --serve-artifacts (proxied artifacts, the default of " +
          "mlflow server), or make that folder available here at the same path.",
      );
    }
    try {
      await cp(folder, destination, { recursive: true });
    } catch (error) {
      throw new MlbatchError("E_REGISTRY", `cannot copy model files from ${uri}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    const files = await listFiles(destination);
    if (files.length === 0 && missing === "empty") return [];
    if (files.length === 0) {
      throw new MlbatchError("E_REGISTRY", `no model files at ${uri}: the folder is empty.`);
    }
    return files;
  }
}
