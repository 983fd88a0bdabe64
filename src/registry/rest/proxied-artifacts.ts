import * as z from "zod";
import { MlbatchError } from "../../errors.js";
import { ARTIFACTS_API } from "../../mlflow/api.js";
import { proxiedLocation, proxiedPath } from "../../mlflow/artifact-uri.js";
import type { HttpClient } from "../../mlflow/client.js";
import {
  type ArtifactSource,
  type DownloadedFile,
  eachLimited,
  type Missing,
  prepareTarget,
} from "./files.js";

/** Folders deeper than this are not followed (a model folder is a few levels deep at most). */
const MAX_DEPTH = 16;
/** Files downloaded at once. */
const PARALLEL_DOWNLOADS = 4;

const Listing = z.looseObject({
  files: z
    .array(
      z.looseObject({
        path: z.string(),
        is_dir: z.boolean().optional(),
        file_size: z.union([z.number(), z.string()]).optional(),
      }),
    )
    .optional(),
});

/**
 * The artifacts an MLflow tracking server proxies (`mlflow-artifacts:/<path>`, the default of
 * `mlflow server`): lists the folder through `GET /api/2.0/mlflow-artifacts/artifacts?path=`, one level at
 * a time, then downloads each file through `GET /api/2.0/mlflow-artifacts/artifacts/<path>` and checks its
 * size against the listing. Listing first means no request is ever made for a file that does not exist
 * (MLflow answers those with an error that must not be retried).
 *
 * @example
 * ```ts
 * const source = new ProxiedArtifacts((authority) => client);
 * const files = await source.download("mlflow-artifacts:/1/models/m-abc/artifacts", "downloads/model");
 * ```
 */
export class ProxiedArtifacts implements ArtifactSource {
  /** @param clientFor - the client of the tracking server, or of the `host:port` a URI names */
  constructor(private readonly clientFor: (authority: string | undefined) => HttpClient) {}

  /** @inheritdoc */
  async download(uri: string, destination: string, missing: Missing = "error"): Promise<DownloadedFile[]> {
    const { authority, root } = proxiedLocation(uri) ?? { authority: undefined, root: "" };
    const client = this.clientFor(authority);
    const listed = await this.list(client, root, "", 0, uri);
    if (listed.length === 0 && missing === "empty") return [];
    if (listed.length === 0) {
      throw new MlbatchError(
        "E_REGISTRY",
        `no model files at ${uri}: the tracking server lists nothing there (the folder is empty or does not exist). ` +
          "The model version points to artifacts that were never uploaded or were deleted: register the model again.",
      );
    }
    return eachLimited(listed, PARALLEL_DOWNLOADS, async (file) => {
      const target = await prepareTarget(destination, file.path, uri);
      const size = await client.download(proxiedPath(root, file.path.split("/")), target, file.size);
      return { path: file.path, size };
    });
  }

  /** Every file under `root/relative`, recursively, with the size the server gives. */
  private async list(
    client: HttpClient,
    root: string,
    relative: string,
    depth: number,
    uri: string,
  ): Promise<{ path: string; size: number | undefined }[]> {
    if (depth > MAX_DEPTH) {
      throw new MlbatchError(
        "E_REGISTRY",
        `${uri} nests folders more than ${MAX_DEPTH} deep: not a model folder.`,
      );
    }
    const folder = [root, relative].filter((p) => p !== "").join("/");
    const { json } = await client.getJson(ARTIFACTS_API, { path: folder });
    const parsed = Listing.safeParse(json);
    if (!parsed.success) {
      throw new MlbatchError(
        "E_REGISTRY",
        `the tracking server's artifact listing of ${uri} is not what MLflow answers (${parsed.error.issues[0]?.message}).`,
      );
    }
    const files: { path: string; size: number | undefined }[] = [];
    for (const entry of parsed.data.files ?? []) {
      // MLflow gives the name relative to the listed folder; older servers gave it relative to the root.
      const name = entry.path.split("/").pop() ?? entry.path;
      const path = relative === "" ? name : `${relative}/${name}`;
      if (entry.is_dir) files.push(...(await this.list(client, root, path, depth + 1, uri)));
      else files.push({ path, size: entry.file_size === undefined ? undefined : Number(entry.file_size) });
    }
    return files;
  }
}
