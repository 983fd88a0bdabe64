import { MlbatchError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { API, parseAnswer } from "../../mlflow/api.js";
import type { HttpClient } from "../../mlflow/client.js";
import type { RetryPolicy } from "../../mlflow/retry-policy.js";
import { LoggedModelAnswer, RunAnswer } from "./api.js";
import type { DownloadedFile, Missing } from "./files.js";
import { LocalArtifacts } from "./local-artifacts.js";
import { ProxiedArtifacts } from "./proxied-artifacts.js";
import { S3Artifacts } from "./s3-artifacts.js";

/**
 * Downloads a model version's folder from wherever its artifact URI points: the tracking server's proxied
 * artifacts (`mlflow-artifacts:`), S3 (`s3://`), a folder this machine sees (`file:`, a path), or, through
 * the tracking server, a run's artifacts (`runs:/<run>/<path>`) or an MLflow 3 logged model (`models:/m-<id>`).
 *
 * @example
 * ```ts
 * const downloader = new ArtifactDownloader(trackingClient, { policy: MLFLOW_RETRY_POLICY });
 * const files = await downloader.download("mlflow-artifacts:/1/abc/artifacts/model", "downloads/model");
 * downloader.close();
 * ```
 */
export class ArtifactDownloader {
  /** The clients of other servers `mlflow-artifacts://host:port/` URIs named, by `host:port`. */
  private readonly clients = new Map<string, HttpClient>();
  private readonly proxied: ProxiedArtifacts;
  private readonly s3: S3Artifacts;
  private readonly local = new LocalArtifacts();

  /**
   * @param tracking - the tracking server's client (runs, logged models, proxied artifacts)
   * @param options - retries, logger, and the environment (credentials, AWS settings)
   */
  constructor(
    private readonly tracking: HttpClient,
    private readonly options: {
      readonly policy: RetryPolicy;
      readonly logger?: Logger | undefined;
      readonly env?: NodeJS.ProcessEnv | undefined;
    },
  ) {
    this.proxied = new ProxiedArtifacts((authority) => this.clientFor(authority));
    this.s3 = new S3Artifacts(options.policy, options.logger, options.env);
  }

  /**
   * Copies the folder an artifact URI points to into `destination` (an existing, empty folder).
   *
   * @param missing - `empty`: nothing there gives no files; `error` (the default): it is an error
   * @returns the files, with their sizes
   * @throws MlbatchError `E_REGISTRY` (or `E_AUTH`) when the files cannot be had
   */
  async download(
    uri: string,
    destination: string,
    missing: Missing = "error",
    hops = 0,
  ): Promise<DownloadedFile[]> {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
    if (scheme === "mlflow-artifacts") return this.proxied.download(uri, destination, missing);
    if (scheme === "s3" || scheme === "s3a")
      return this.s3.download(uri.replace(/^s3a:/i, "s3:"), destination, missing);
    if (scheme === "file" || (scheme === undefined && uri.startsWith("/"))) {
      return this.local.download(uri, destination, missing);
    }
    if ((scheme === "runs" || scheme === "models") && hops < 3) {
      return this.download(await this.resolve(uri), destination, missing, hops + 1);
    }
    throw new MlbatchError(
      "E_REGISTRY",
      `cannot read model files at ${uri}: ${scheme === undefined ? "a relative path" : `"${scheme}:" storage`} is not ` +
        "supported by mlbatch. Supported: the tracking server's proxied artifacts (mlflow-artifacts:, the default of " +
        "mlflow server --serve-artifacts), s3://, and folders this machine can read (file:).",
    );
  }

  /** Closes every connection. */
  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    this.s3.close();
  }

  /** The artifact URI behind `runs:/<run>/<path>` or `models:/m-<id>`, asked to the tracking server. */
  private async resolve(uri: string): Promise<string> {
    const run = /^runs:\/+([^/]+)\/*(.*?)\/*$/.exec(uri);
    if (run?.[1] !== undefined) {
      const { json } = await this.tracking.getJson(`${API}/runs/get`, { run_id: run[1] });
      const root = parseAnswer(RunAnswer, json, uri, this.server).run.info.artifact_uri.replace(/\/+$/, "");
      return run[2] ? `${root}/${run[2]}` : root;
    }
    const logged = /^models:\/+(m-[0-9a-f]+)\/*$/.exec(uri)?.[1];
    if (logged !== undefined) {
      const { json } = await this.tracking.getJson(`${API}/logged-models/${logged}`);
      return parseAnswer(LoggedModelAnswer, json, uri, this.server).model.info.artifact_uri;
    }
    throw new MlbatchError(
      "E_REGISTRY",
      `cannot read model files at ${uri}: expected runs:/<run id>/<path> or models:/m-<logged model id>.`,
    );
  }

  private get server(): string {
    return this.tracking.connection.baseUri;
  }

  /** The tracking server's client, or one for the `host:port` an `mlflow-artifacts://host:port/` URI names. */
  private clientFor(authority: string | undefined): HttpClient {
    const known = authority === undefined ? undefined : this.clients.get(authority);
    if (known !== undefined) return known;
    const client = this.tracking.forAuthority(authority, this.options.env);
    if (authority !== undefined && client !== this.tracking) this.clients.set(authority, client);
    return client;
  }
}
