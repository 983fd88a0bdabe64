import * as z from "zod";
import { MlbatchError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { API, parseAnswer } from "./api.js";
import { connectionFromEnv } from "./connection.js";
import type { DownloadedFile } from "./files.js";
import { HttpClient } from "./http.js";
import { LocalArtifacts } from "./local-artifacts.js";
import { ProxiedArtifacts } from "./proxied-artifacts.js";
import type { RetryPolicy } from "./retry.js";
import { S3Artifacts } from "./s3-artifacts.js";

const RunAnswer = z.looseObject({
  run: z.looseObject({ info: z.looseObject({ artifact_uri: z.string() }) }),
});
const LoggedModelAnswer = z.looseObject({
  model: z.looseObject({ info: z.looseObject({ artifact_uri: z.string() }) }),
});

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
   * @returns the files, with their sizes
   * @throws MlbatchError `E_REGISTRY` (or `E_AUTH`) when the files cannot be had
   */
  async download(uri: string, destination: string, hops = 0): Promise<DownloadedFile[]> {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
    if (scheme === "mlflow-artifacts") return this.proxied.download(uri, destination);
    if (scheme === "s3" || scheme === "s3a")
      return this.s3.download(uri.replace(/^s3a:/i, "s3:"), destination);
    if (scheme === "file" || (scheme === undefined && uri.startsWith("/"))) {
      return this.local.download(uri, destination);
    }
    if ((scheme === "runs" || scheme === "models") && hops < 3) {
      return this.download(await this.resolve(uri), destination, hops + 1);
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
    if (authority === undefined) return this.tracking;
    const base = new URL(this.tracking.connection.baseUri);
    if (authority === base.host) return this.tracking;
    const uri = `${base.protocol}//${authority}`;
    let client = this.clients.get(uri);
    if (client === undefined) {
      client = new HttpClient(
        connectionFromEnv(uri, this.options.env),
        this.options.policy,
        this.options.logger,
      );
      this.clients.set(uri, client);
    }
    return client;
  }
}
