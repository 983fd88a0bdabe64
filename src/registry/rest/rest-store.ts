import { readFileSync, rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { MlbatchError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { API, ErrorAnswer, parseAnswer } from "../../mlflow/api.js";
import { HttpClient } from "../../mlflow/client.js";
import { connectionFromEnv } from "../../mlflow/connection.js";
import { MLFLOW_RETRY_POLICY, type RetryPolicy } from "../../mlflow/retry-policy.js";
import { ownedFolder, sweepDeadOwned, track } from "../../scratch.js";
import type { ModelCache } from "../cache.js";
import { joinUri, loggedModelVersion, runModelVersion } from "../lookup.js";
import { type ModelReference, versionUri } from "../model-uri.js";
import { notFound } from "../not-found.js";
import type { LookupOptions, ModelVersion, Registry } from "../registry.js";
import { DownloadUriAnswer, LoggedModelAnswer, RunAnswer } from "./api.js";
import { ArtifactDownloader } from "./download.js";
import type { DownloadedFile } from "./files.js";
import { RestLookup } from "./lookup.js";

/** What a {@link RestStore} uses besides its URI. */
export interface RestStoreOptions {
  /** Where resolutions, cache hits and misses, and retries are logged. */
  readonly logger?: Logger | undefined;
  /** The tracking server (runs, logged models, proxied artifacts), when not the registry's. */
  readonly trackingUri?: string | undefined;
  /** Timeout and retries (default: MLflow's). */
  readonly policy?: RetryPolicy | undefined;
  /** The local model cache; none: each run downloads into a temporary folder, removed on close. */
  readonly cache?: ModelCache | undefined;
  /** Credentials, TLS and AWS settings (default: this process's environment). */
  readonly env?: NodeJS.ProcessEnv | undefined;
}

/**
 * The Model Registry of an MLflow tracking server (`http://`, `https://`), read through its REST API as
 * MLflow's Python client reads it: an alias is resolved on every run (it may have moved), a version's files
 * are found with `model-versions/get-download-uri` and downloaded whole, into the local model cache (a
 * version never changes, so the next run reads it from there without any artifact request).
 *
 * @example
 * ```ts
 * const registry = RestStore.open("https://mlflow.example.com", { cache: new ModelCache(defaultCacheDir()) });
 * const version = await registry.getModelVersion({ name: "bikes", alias: "Champion" });
 * const folder = await registry.modelDirectory(version); // MLmodel, model.onnx, ...
 * registry.close();
 * ```
 */
export class RestStore implements Registry {
  private readonly temporaries: { folder: string; forget: () => void }[] = [];
  private readonly lookup: RestLookup;

  private constructor(
    readonly uri: string,
    private readonly registry: HttpClient,
    private readonly tracking: HttpClient,
    private readonly downloader: ArtifactDownloader,
    private readonly options: RestStoreOptions,
  ) {
    this.lookup = new RestLookup(registry, tracking, uri);
  }

  /**
   * Prepares the clients; no request is made until a model is asked for.
   *
   * @param uri - the registry URI (`http(s)://[user:password@]host[:port][/prefix]`)
   * @param options - logger, tracking URI, retries, cache, environment
   * @throws MlbatchError `E_CONFIG` when the URI or the TLS settings are invalid
   */
  static open(uri: string, options: RestStoreOptions = {}): RestStore {
    const policy = options.policy ?? MLFLOW_RETRY_POLICY;
    const connection = connectionFromEnv(uri, options.env);
    const registry = new HttpClient(connection, policy, options.logger);
    const trackingUri = options.trackingUri;
    const tracking =
      trackingUri !== undefined && /^https?:\/\//i.test(trackingUri)
        ? new HttpClient(connectionFromEnv(trackingUri, options.env), policy, options.logger)
        : registry;
    const downloader = new ArtifactDownloader(tracking, { policy, logger: options.logger, env: options.env });
    return new RestStore(connection.baseUri, registry, tracking, downloader, options);
  }

  /** @inheritdoc */
  async getModelVersion(ref: ModelReference, options: LookupOptions = {}): Promise<ModelVersion> {
    const { found, stage } = await this.lookup.find(ref, options);
    const status = found.status ?? "READY";
    if (status !== "READY") {
      throw new MlbatchError(
        "E_REGISTRY",
        `version ${found.version} of model "${ref.name}" is not ready (status ${status})` +
          (status === "PENDING_REGISTRATION"
            ? ": it is still being registered. Try again in a moment."
            : ": its registration failed. Register the model again, or use another version."),
      );
    }
    if (ref.alias !== undefined && stage === undefined) {
      this.options.logger?.info(
        { model: ref.name, alias: ref.alias, version: found.version },
        `[Registry] Alias ${ref.alias} of model ${ref.name} points to version ${found.version}`,
      );
    }
    const download = await this.registry.getJson(`${API}/model-versions/get-download-uri`, {
      name: ref.name,
      version: String(found.version),
    });
    return {
      name: found.name,
      version: found.version,
      uri: versionUri(found.name, found.version),
      alias: stage === undefined ? ref.alias : undefined,
      stage,
      aliases: found.aliases ?? [],
      runId: found.run_id || null,
      source: found.source ?? "",
      artifactUri: parseAnswer(DownloadUriAnswer, download.json, "get-download-uri", this.uri).artifact_uri,
      status,
    };
  }

  /** @inheritdoc */
  async getLoggedModel(modelId: string): Promise<ModelVersion> {
    const answer = await this.tracking.getJson(
      `${API}/logged-models/${encodeURIComponent(modelId)}`,
      {},
      [400, 404],
    );
    if (answer.status !== 200) {
      const { message } = ErrorAnswer.safeParse(answer.json).data ?? {};
      throw notFound.loggedModel(
        modelId,
        this.uri,
        message === undefined ? " (an MLflow 2 server has no logged models)" : ` (${message})`,
      );
    }
    const { info } = parseAnswer(LoggedModelAnswer, answer.json, `logged model ${modelId}`, this.uri).model;
    return loggedModelVersion(modelId, {
      name: info.name ?? modelId,
      artifact_location: info.artifact_uri,
      source_run_id: info.source_run_id,
      status: info.status,
    });
  }

  /** @inheritdoc */
  async getRunModel(runId: string, path: string): Promise<ModelVersion> {
    const info = await this.runInfo(runId, path);
    const [first = "", ...rest] = path.split("/");
    // MLflow 3 keeps a run's models as logged models: runs:/<run>/<name>/... is the logged model of that name.
    const logged =
      info.experiment_id === undefined
        ? undefined
        : await this.lookup.runLoggedModel(runId, info.experiment_id, first);
    return runModelVersion(
      runId,
      path,
      logged !== undefined ? joinUri(logged, rest.join("/")) : joinUri(info.artifact_uri, path),
    );
  }

  /** @inheritdoc */
  async modelDirectory(version: ModelVersion): Promise<string> {
    const { cache, logger } = this.options;
    const label = version.uri;
    // Only registered versions are cached: a run's artifacts, unlike a version, may change.
    if (cache === undefined || version.version === null) {
      // Named after this process: a later run removes it if this one is killed.
      sweepDeadOwned(tmpdir(), "mlbatch-model");
      const folder = ownedFolder(tmpdir(), "mlbatch-model");
      await mkdir(folder);
      this.temporaries.push({ folder, forget: track(folder) });
      logger?.info(
        { cache: "disabled", directory: folder },
        `[Registry] Download ${label} from ${version.artifactUri} (${cache === undefined ? "no cache" : "not cached"}: into a temporary folder)`,
      );
      await this.fetch(version, folder);
      return folder;
    }
    const key = { registryUri: this.uri, name: version.name, version: version.version };
    const hit = await cache.lookup(key, version);
    if (hit !== undefined) {
      logger?.info({ cache: "hit", directory: hit }, `[Registry] Cache hit: ${label} from ${hit}`);
      return hit;
    }
    logger?.info(
      { cache: "miss", directory: cache.entry(key) },
      `[Registry] Cache miss: download ${label} from ${version.artifactUri}`,
    );
    const manifest = {
      registry_uri: this.uri,
      name: version.name,
      version: version.version,
      run_id: version.runId,
      source: version.source,
      artifact_uri: version.artifactUri,
    };
    const { folder, concurrent } = await cache.fill(key, manifest, (into) => this.fetch(version, into));
    if (concurrent)
      logger?.info(`[Registry] ${label} was cached meanwhile by another process: using its copy`);
    return folder;
  }

  /** @inheritdoc */
  async runArtifact(runId: string, path: string): Promise<Buffer | undefined> {
    const info = await this.runInfo(runId, path);
    // The file's folder is listed (and downloaded: it holds little) rather than the file asked for blindly:
    // a tracking server answers a missing file with an error that is not told from a failure.
    sweepDeadOwned(tmpdir(), "mlbatch-artifact");
    const folder = ownedFolder(tmpdir(), "mlbatch-artifact");
    await mkdir(folder);
    const forget = track(folder);
    try {
      const files = await this.downloader.download(
        joinUri(info.artifact_uri, posix.dirname(path) === "." ? "" : posix.dirname(path)),
        folder,
        "empty",
      );
      const name = posix.basename(path);
      return files.some((f) => f.path === name) ? readFileSync(join(folder, name)) : undefined;
    } finally {
      rmSync(folder, { recursive: true, force: true });
      forget();
    }
  }

  /** @inheritdoc */
  close(): void {
    this.downloader.close();
    this.registry.close();
    if (this.tracking !== this.registry) this.tracking.close();
    for (const { folder, forget } of this.temporaries.splice(0)) {
      rmSync(folder, { recursive: true, force: true });
      forget();
    }
  }

  /** A run's info from the tracking server (`runs/get`). @throws MlbatchError `E_MODEL_NOT_FOUND` */
  private async runInfo(runId: string, path: string) {
    const answer = await this.tracking.getJson(`${API}/runs/get`, { run_id: runId }, [400, 404]);
    if (answer.status !== 200) throw notFound.run(runId, path, this.uri);
    return parseAnswer(RunAnswer, answer.json, `run ${runId}`, this.uri).run.info;
  }

  /** Downloads a version's files and checks that they are an MLflow model folder. */
  private async fetch(version: ModelVersion, folder: string): Promise<DownloadedFile[]> {
    const start = performance.now();
    const files = await this.downloader.download(version.artifactUri, folder);
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    this.options.logger?.info(
      { files: files.length, bytes, seconds: Number(((performance.now() - start) / 1000).toFixed(3)) },
      `[Registry] Downloaded ${version.uri}: ${files.length} files, ${bytes} bytes`,
    );
    if (!files.some((file) => file.path === "MLmodel")) {
      throw new MlbatchError(
        "E_MODEL_LOAD",
        `model ${version.uri} at ${version.artifactUri} has no MLmodel file ` +
          `(files: ${files.map((f) => f.path).join(", ")}). Register the folder that holds MLmodel, as ` +
          "mlflow.<flavor>.log_model writes it.",
      );
    }
    return files;
  }
}
