import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { s3Failure } from "../../data/object-store/failures.js";
import { s3Sdk } from "../../data/object-store/sdk.js";
import { MlbatchError, messageOf } from "../../errors.js";
import { retrying } from "../../http/retry.js";
import type { Logger } from "../../log.js";
import {
  logRetry,
  type MlflowTransient,
  mlflowRetries,
  type RetryPolicy,
} from "../../mlflow/retry-policy.js";
import {
  type ArtifactSource,
  type DownloadedFile,
  eachLimited,
  type Missing,
  prepareTarget,
} from "./files.js";

const PARALLEL_DOWNLOADS = 4;
const TRUE = new Set(["true", "1", "yes", "on"]);

/**
 * Model files on S3 or an S3-compatible store (`s3://bucket/prefix`), read with the AWS SDK v3 as MLflow
 * reads them with boto3: credentials, region and profile from the usual AWS variables and files; the
 * endpoint from `MLFLOW_S3_ENDPOINT_URL` (MLflow's) or `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` (the SDK's),
 * with path-style addressing for such custom endpoints; `MLFLOW_S3_IGNORE_TLS=true` skips certificate
 * checks. Requests are retried by the SDK (`max_retries + 1` attempts); a body cut short is downloaded again.
 *
 * @example
 * ```ts
 * const s3 = new S3Artifacts(MLFLOW_RETRY_POLICY);
 * await s3.download("s3://models/1/abc/artifacts/model", "downloads/model");
 * ```
 */
export class S3Artifacts implements ArtifactSource {
  private client: S3Client | undefined;

  /**
   * @param policy - timeout and retries
   * @param logger - where retries are logged
   * @param env - the environment to read (default: this process's)
   */
  constructor(
    private readonly policy: RetryPolicy,
    private readonly logger?: Logger | undefined,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** @inheritdoc */
  async download(uri: string, destination: string, missing: Missing = "error"): Promise<DownloadedFile[]> {
    const match = /^s3:\/\/([^/]+)\/?(.*?)\/*$/.exec(uri);
    if (match?.[1] === undefined) {
      throw new MlbatchError("E_REGISTRY", `invalid S3 URI "${uri}": expected s3://<bucket>/<prefix>.`);
    }
    const bucket = match[1];
    const prefix = match[2] === "" ? "" : `${match[2]}/`;
    const objects = await this.list(bucket, prefix, uri);
    if (objects.length === 0 && missing === "empty") return [];
    if (objects.length === 0) {
      throw new MlbatchError(
        "E_REGISTRY",
        `no model files at ${uri}: the bucket has no objects under that prefix. The model version points to ` +
          "artifacts that were never uploaded or were deleted: register the model again.",
      );
    }
    return eachLimited(objects, PARALLEL_DOWNLOADS, async ({ key, size }) => {
      const path = key.slice(prefix.length);
      const target = await prepareTarget(destination, path, uri);
      await this.fetch(bucket, key, size, target);
      return { path, size };
    });
  }

  /** Closes the SDK's connections. */
  close(): void {
    this.client?.destroy();
    this.client = undefined;
  }

  private async s3(): Promise<S3Client> {
    // Loaded on first use: the SDK takes a good part of a cold start, and most models are not on S3.
    const { S3Client } = await s3Sdk();
    const { env } = this;
    const endpoint = env.MLFLOW_S3_ENDPOINT_URL || undefined;
    const custom = endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
    const timeout = this.policy.timeout * 1000;
    this.client ??= new S3Client({
      ...(endpoint === undefined ? {} : { endpoint }),
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
      forcePathStyle: custom !== undefined,
      followRegionRedirects: true,
      maxAttempts: this.policy.maxRetries + 1,
      requestHandler: {
        connectionTimeout: timeout,
        socketTimeout: timeout,
        ...(TRUE.has((env.MLFLOW_S3_IGNORE_TLS ?? "").toLowerCase())
          ? { httpsAgent: { rejectUnauthorized: false } }
          : {}),
      },
    });
    return this.client;
  }

  private async list(bucket: string, prefix: string, uri: string): Promise<{ key: string; size: number }[]> {
    const objects: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(uri, () =>
        s3Sdk().then(async ({ ListObjectsV2Command }) =>
          (await this.s3()).send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
          ),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined && !object.Key.endsWith("/")) {
          objects.push({ key: object.Key, size: object.Size ?? 0 });
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return objects;
  }

  /** Downloads one object, again when its body comes short. */
  private async fetch(bucket: string, key: string, size: number, target: string): Promise<void> {
    const uri = `s3://${bucket}/${key}`;
    await retrying<void, MlflowTransient>(
      mlflowRetries(this.policy),
      async () => {
        const answer = await this.call(uri, () =>
          s3Sdk().then(async ({ GetObjectCommand }) =>
            (await this.s3()).send(new GetObjectCommand({ Bucket: bucket, Key: key })),
          ),
        );
        let received = 0;
        const body = answer.Body as Readable;
        body.on("data", (chunk: Buffer) => {
          received += chunk.length;
        });
        try {
          await pipeline(body, createWriteStream(target));
        } catch (error) {
          if (typeof (error as { path?: unknown }).path === "string") {
            throw new MlbatchError("E_REGISTRY", `cannot write "${target}": ${messageOf(error)}`, {
              cause: error,
            });
          }
          return {
            transient: { kind: "truncated", reason: `truncated download: ${messageOf(error)}`, cause: error },
          };
        }
        if (received !== size) {
          return {
            transient: {
              kind: "truncated",
              reason: `truncated download: size mismatch, received ${received} of ${size} bytes`,
            },
          };
        }
        return { ok: undefined };
      },
      {
        onRetry: logRetry(this.logger, `GET ${uri}`, this.policy),
        exhausted: (last, tries) =>
          new MlbatchError("E_REGISTRY", `GET ${uri}: ${last.reason} (${tries} tries). Try again.`, {
            cause: last.cause,
          }),
      },
    );
  }

  /** An SDK call whose failures become errors that say what to do. */
  private async call<T>(uri: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof MlbatchError) throw error;
      throw s3Error(uri, error, this.env);
    }
  }
}

function s3Error(uri: string, error: unknown, env: NodeJS.ProcessEnv): MlbatchError {
  const { kind, why } = s3Failure(error);
  const endpoint = env.MLFLOW_S3_ENDPOINT_URL || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  if (kind === "no-credentials") {
    return new MlbatchError(
      "E_AUTH",
      `cannot read model files at ${uri}: no AWS credentials (${why}). Set AWS_ACCESS_KEY_ID and ` +
        "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), as for MLflow's own client.",
      { cause: error },
    );
  }
  if (kind === "refused") {
    return new MlbatchError(
      "E_AUTH",
      `cannot read model files at ${uri}: access denied (${why}). Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY ` +
        "(or AWS_PROFILE) and the bucket's permissions.",
      { cause: error },
    );
  }
  if (kind === "no-bucket") {
    return new MlbatchError("E_REGISTRY", `cannot read model files at ${uri}: ${why}.`, { cause: error });
  }
  return new MlbatchError(
    "E_REGISTRY",
    `cannot read model files at ${uri} (${why}). ` +
      (endpoint === undefined
        ? "For an S3-compatible store, set MLFLOW_S3_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) to its URL."
        : `The S3 endpoint is ${endpoint} (MLFLOW_S3_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL): check that it runs.`),
    { cause: error },
  );
}
